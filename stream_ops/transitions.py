"""Transitions between two scenes, as pure functions of the frame counter.

The engine asks, per output frame, "how far along is the fade?"; nothing here
touches pixels, so it is tested in microseconds.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transition:
    kind: str            # "cut" | "fade"
    from_scene: str
    to_scene: str
    start_frame: int     # program frame index at which it began
    frames: int          # length in frames (0 for a cut)

    @classmethod
    def begin(cls, kind: str, from_scene: str, to_scene: str, frame: int, duration_ms: int, fps: float) -> "Transition":
        frames = 0 if kind == "cut" else max(1, round(duration_ms * fps / 1000))
        return cls(kind, from_scene, to_scene, frame, frames)

    def progress(self, frame: int) -> float:
        """0.0 at the start, 1.0 once complete. A cut is complete at once."""
        if self.frames <= 0:
            return 1.0
        return min(1.0, max(0.0, (frame - self.start_frame + 1) / self.frames))

    def done(self, frame: int) -> bool:
        return self.progress(frame) >= 1.0

    def reversed(self, frame: int, duration_ms: int, fps: float) -> "Transition":
        """A fade back to `from_scene`, starting from the picture on air at `frame`: a fade
        3/4 of the way in turns round and is 1/4 of the way back (no jump)."""
        back = Transition.begin("fade", self.to_scene, self.from_scene, frame, duration_ms, fps)
        done = round((1.0 - self.progress(frame)) * back.frames)
        # progress(frame) = (frame - start + 1) / frames = done / frames
        return Transition("fade", back.from_scene, back.to_scene, frame + 1 - done, back.frames)


def fade_weight(progress: float) -> int:
    """Weight of the incoming scene in 0..256 (integer blend: out = (a*w + b*(256-w)) >> 8)."""
    # Smoothstep: the eye reads a linear mix as abrupt at both ends.
    p = max(0.0, min(1.0, progress))
    eased = p * p * (3 - 2 * p)
    return int(round(eased * 256))


def crossfade_gains(progress: float) -> tuple[float, float]:
    """(outgoing, incoming) audio gains: equal-power so the level does not dip mid-fade."""
    import math

    p = max(0.0, min(1.0, progress))
    return math.cos(p * math.pi / 2), math.sin(p * math.pi / 2)
