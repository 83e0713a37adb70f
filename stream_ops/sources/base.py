"""The source slot: what every source kind feeds and the compositor reads.

A slot holds the latest picture (packed yuv420p at the slot's size), an audio
ring of interleaved int16 samples at the show's rate, and a state measured from
what arrives. Producers (ffmpeg reader threads, aiortc tracks, generators) call
`push_video` / `push_audio` from any thread; the program clock calls
`latest_video` / `pull_audio`. Neither side ever waits for the other.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import SourceConfig

NO_SIGNAL_AFTER_S = 0.4   # no frame for this long: the slate shows (issue: within 0.5 s)
AUDIO_TARGET_S = 0.10     # audio kept buffered to ride out pipe bursts
AUDIO_MAX_S = 0.40        # beyond this the oldest samples are dropped (drift, bursts)

StateListener = Callable[["SourceSlot"], None]


class SourceSlot:
    """Latest frame, audio ring and measured state of one named source."""

    def __init__(self, config: SourceConfig, width: int, height: int, sample_rate: int, channels: int) -> None:
        self.config = config
        self.name = config.name
        self.width = width
        self.height = height
        self.sample_rate = sample_rate
        self.channels = channels
        self.state = "idle"            # idle / connecting / live / no_signal
        self.error: str | None = None
        self.input_width: int | None = None   # measured from what arrives
        self.input_height: int | None = None
        self.input_codec: str | None = None
        self.fps = 0.0
        self.gain_db = config.gain_db
        self.muted = config.muted
        self.peak_db = -math.inf
        self.rms_db = -math.inf
        self.has_audio = False
        self.frames_in = 0
        self.extra: dict[str, object] = {}   # kind-specific figures (phone bitrate, rtt, ...)
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self._frame_at = 0.0
        self._arrivals: deque[float] = deque(maxlen=120)
        self._audio: deque[np.ndarray] = deque()
        self._audio_len = 0
        self._audio_primed = False
        self._listeners: list[StateListener] = []
        # ISO recording: where this source's feed is copied as it arrives (set by
        # `Source.record_iso`), the file being written and when its first frame came.
        self.iso_target: tuple[str, str, Path] | None = None   # (path template, show name, base dir)
        self.iso_file: str | None = None
        self.iso_started = 0.0            # time.time()
        # In-process pictures (test, colour, image) cannot die; a starved generator
        # thread on a busy machine must not put a "no signal" slate on air.
        self.static = False

    # --- producer side -------------------------------------------------
    def push_video(self, frame: np.ndarray, at: float | None = None) -> None:
        """Hand over a packed yuv420p frame of exactly (height*3/2, width)."""
        now = at if at is not None else time.monotonic()
        with self._lock:
            self._frame = frame
            self._frame_at = now
            self._arrivals.append(now)
            self.frames_in += 1
        if self.state != "live":
            self.set_state("live")

    def push_audio(self, samples: np.ndarray) -> None:
        """Interleaved int16 of shape (n, channels) at the show's sample rate."""
        if samples.size == 0:
            return
        with self._lock:
            self.has_audio = True
            self._audio.append(samples)
            self._audio_len += len(samples)
            limit = int(self.sample_rate * AUDIO_MAX_S)
            while self._audio_len > limit and self._audio:
                dropped = self._audio.popleft()
                self._audio_len -= len(dropped)

    def set_state(self, state: str, error: str | None = None) -> None:
        if state == self.state and error == self.error:
            return
        self.state = state
        self.error = error
        if state != "live":
            self.fps = 0.0
        for listener in list(self._listeners):
            listener(self)

    def set_input(self, width: int | None, height: int | None, codec: str | None = None) -> None:
        """Record the resolution the feed really has (before any scaling)."""
        changed = (width, height, codec) != (self.input_width, self.input_height, self.input_codec)
        self.input_width, self.input_height, self.input_codec = width, height, codec
        if changed:
            for listener in list(self._listeners):
                listener(self)

    def on_change(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    # --- consumer side (program clock) ----------------------------------
    def latest_video(self, now: float | None = None) -> np.ndarray | None:
        """The newest frame, or None when the feed is stale (the caller draws the slate)."""
        now = now if now is not None else time.monotonic()
        with self._lock:
            frame, at = self._frame, self._frame_at
        if frame is None or (now - at > NO_SIGNAL_AFTER_S and not self.static):
            return None
        return frame

    def check_stale(self, now: float | None = None) -> None:
        """Called by the engine a few times a second: live -> no_signal when frames stop."""
        now = now if now is not None else time.monotonic()
        if self.state == "live" and now - self._frame_at > NO_SIGNAL_AFTER_S and not self.static:
            self.set_state("no_signal")
        with self._lock:
            recent = [t for t in self._arrivals if now - t <= 1.0]
        if self.state == "live" and recent:
            self.fps = round(len(recent) / 1.0, 1)

    def pull_audio(self, n: int) -> np.ndarray | None:
        """n samples (n, channels) int16, or None when there is nothing to hear.

        Waits until AUDIO_TARGET_S is buffered before it starts playing, so pipe
        bursts do not become clicks; an underrun pads with silence and re-primes.
        """
        with self._lock:
            if not self._audio_primed:
                if self._audio_len < int(self.sample_rate * AUDIO_TARGET_S):
                    return None
                self._audio_primed = True
            out = np.zeros((n, self.channels), np.int16)
            filled = 0
            while filled < n and self._audio:
                chunk = self._audio[0]
                take = min(n - filled, len(chunk))
                out[filled:filled + take] = chunk[:take]
                filled += take
                if take == len(chunk):
                    self._audio.popleft()
                else:
                    self._audio[0] = chunk[take:]
                self._audio_len -= take
            if filled < n:
                self._audio_primed = False
            if filled == 0:
                return None
            return out

    def info(self) -> dict[str, object]:
        """The JSON the API and the panel show for this source."""
        return {
            "name": self.name,
            "label": self.config.label or self.name,
            "kind": self.config.kind,
            "state": self.state,
            "error": self.error,
            "width": self.input_width,
            "height": self.input_height,
            "codec": self.input_codec,
            "fps": self.fps,
            "has_audio": self.has_audio,
            "gain_db": self.gain_db,
            "muted": self.muted,
            "iso_file": self.iso_file,
            **self.extra,
        }


class Source:
    """Base of every source kind: owns a slot, starts and stops its feeder.

    One module per kind (ffmpeg_source.py, generated.py, ...); adding a kind is
    adding a file and a line in `sources/__init__.py`.
    """

    def __init__(self, slot: SourceSlot, emit: Callable[..., None]) -> None:
        self.slot = slot
        self.config = slot.config
        self.emit = emit        # emit(message, level=...) -> operator event log

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def record_iso(self, template: str, show: str, base_dir: Path) -> None:
        """Also record the feed on its own, as it arrives (config.ISO_KINDS; the feeder writes it)."""
        self.slot.iso_target = (template, show, base_dir)
