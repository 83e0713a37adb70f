"""A playout buffer for bursty pull sources: frames leave at their own timestamps.

An HLS source delivers a whole segment (2 s of video) in a fraction of a second,
then nothing until the next one; RTSP over a poor link and relays do the same on a
smaller scale. Handed to the slot as they arrive, most of a burst is overwritten
unseen and the slot goes stale between bursts. Here each item is released at
`pts + offset`, where the offset is the largest lag (arrival time minus pts) seen in
the last `WINDOW_S`, plus a margin: the buffer becomes as deep as the source's
bursts, no deeper, and follows a source clock that drifts. A late arrival raises the
offset at once (one visible hold); an early-arriving source lowers it as its old
lags age out. The buffer holds decoded frames, so it is bounded in bytes: when full
`put` refuses, and the reader waits, which leaves the rest of a burst compressed in
the ffmpeg child.

Pure logic with no threads or clocks of its own (times are passed in), so it is
tested in milliseconds; `FfmpegSource` drives it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

WINDOW_S = 20.0          # lags older than this no longer hold the offset up
MARGIN_S = 0.1           # scheduling slack beyond the worst lag seen
MAX_BYTES = 128 << 20    # decoded frames held per source; beyond this the reader waits
DISCONTINUITY_S = 5.0    # a jump in lag this big is a new timeline (restart, HLS discontinuity), not jitter


@dataclass
class Item:
    due: float           # pts in seconds; released at due + offset
    kind: str            # "video" / "audio"
    payload: Any
    size: int


class JitterBuffer:
    """Items in arrival order, released at pts + an offset learned from arrivals."""

    def __init__(self, max_bytes: int = MAX_BYTES, window_s: float = WINDOW_S, margin_s: float = MARGIN_S) -> None:
        self.max_bytes = max_bytes
        self.window_s = window_s
        self.margin_s = margin_s
        self.offset: float | None = None
        self.bytes = 0
        self.late = 0                     # arrivals that came after their release time
        self.resets = 0
        self._items: deque[Item] = deque()
        self._lags: deque[tuple[float, float]] = deque()   # (arrived, lag), lags decreasing from the left

    def __len__(self) -> int:
        return len(self._items)

    @property
    def depth_s(self) -> float:
        """Seconds of media held (between the oldest and newest pts)."""
        return self._items[-1].due - self._items[0].due if len(self._items) > 1 else 0.0

    def full(self) -> bool:
        return self.bytes >= self.max_bytes

    def put(self, pts: float | None, kind: str, payload: Any, size: int, now: float) -> None:
        """Add an item that arrived at `now`; `pts` None plays it at once."""
        if pts is None:
            pts = now - (self.offset or 0.0)
        lag = now - pts
        if self.offset is not None and abs(lag - self._max_lag()) > DISCONTINUITY_S:
            self.reset()
        if self.offset is not None and lag > self.offset:
            self.late += 1
        # Sliding-window maximum: drop lags that can never be the max again.
        while self._lags and self._lags[-1][1] <= lag:
            self._lags.pop()
        self._lags.append((now, lag))
        while self._lags[0][0] < now - self.window_s:
            self._lags.popleft()
        self.offset = self._max_lag() + self.margin_s
        self._items.append(Item(pts, kind, payload, size))
        self.bytes += size

    def _max_lag(self) -> float:
        return self._lags[0][1] if self._lags else 0.0

    def next_due(self) -> float | None:
        """When the oldest item is due (monotonic seconds), or None when empty."""
        if not self._items or self.offset is None:
            return None
        return self._items[0].due + self.offset

    def pop_due(self, now: float) -> list[Item]:
        """Items due by `now`, oldest first."""
        out: list[Item] = []
        while self._items and self.offset is not None and self._items[0].due + self.offset <= now:
            item = self._items.popleft()
            self.bytes -= item.size
            out.append(item)
        return out

    def reset(self) -> None:
        """A new timeline: forget the offset (items already held still play, at once)."""
        self.resets += 1
        self._lags.clear()
        for item in self._items:
            item.due = -1e18
        self.offset = None

    def clear(self) -> None:
        self._items.clear()
        self._lags.clear()
        self.bytes = 0
        self.offset = None
