"""Live JPEG thumbnails of every source, the preview and the program, for the panel.

One worker thread makes them, and only while at least one client watches: with
the panel closed (or its tab hidden) the thread sleeps and costs nothing. Each
target has its own rate; a source frame that has not changed since the last
thumbnail is not encoded again. Scaling runs in libswscale (PyAV) straight from
the packed yuv420p frame to a small RGB picture, then Pillow writes the JPEG —
the full-size frame is never converted to RGB.

Targets are named `source:NAME`, `preview` and `program` (the main canvas), and
`preview@CANVAS`, `program@CANVAS` for every other canvas (a portrait one). Clients read
`latest(target)` -> (seq, jpeg) and are woken by `watch()` listeners; how they
send (WebSocket, single JPEG) is the web layer's business (web/panel.py).
"""
from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
from PIL import Image

from .config import MAIN_CANVAS
from .frames import to_video_frame

log = logging.getLogger(__name__)

SOURCE_SIZE = (320, 180)
MONITOR_SIZE = (640, 360)
SOURCE_FPS = 5.0
PREVIEW_FPS = 5.0
PROGRAM_FPS = 10.0
JPEG_QUALITY = 70


@dataclass
class Thumb:
    seq: int
    jpeg: bytes
    at: float


def jpeg_of(frame: np.ndarray, width: int, height: int, quality: int = JPEG_QUALITY) -> bytes:
    """A packed yuv420p frame scaled to width×height (libswscale) as JPEG bytes."""
    rgb = to_video_frame(frame).reformat(width=width, height=height, format="rgb24",
                                         interpolation="AREA").to_ndarray()
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    return out.getvalue()


def monitor_size(width: int, height: int) -> tuple[int, int]:
    """An extra canvas's monitor: its own aspect, the longer side as long as the main monitor's."""
    longest = max(MONITOR_SIZE)
    scale = longest / max(width, height, 1)

    def even(v: int) -> int:   # yuv420p wants even sizes
        return max(2, int(round(v * scale / 2)) * 2)

    return even(width), even(height)


def split_target(target: str) -> tuple[str, str]:
    """`program@portrait` -> ("program", "portrait"); `program` -> ("program", "main")."""
    kind, _, canvas = target.partition("@")
    return kind, canvas or MAIN_CANVAS


def target_size(target: str, engine: Any = None) -> tuple[int, int]:
    if target.startswith("source:"):
        return SOURCE_SIZE
    kind, canvas = split_target(target)
    if canvas == MAIN_CANVAS:
        return MONITOR_SIZE   # as it always was, whatever the main canvas's shape
    c = _canvases(engine).get(canvas)
    if c is None:
        raise KeyError(f"unknown canvas {canvas!r}")
    return monitor_size(c.width, c.height)


def _canvases(engine: Any) -> dict[str, Any]:
    return getattr(engine, "canvases", None) or {}


class Thumbnailer:
    """Makes the JPEGs that someone is watching, a few per second, in one thread."""

    def __init__(self, engine: Any, preview_scene: Callable[[], str | None] | None = None) -> None:
        self.engine = engine
        self._preview_scene = preview_scene or (lambda: getattr(engine, "preview", None))
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._watchers: dict[int, tuple[frozenset[str], Callable[[], None]]] = {}
        self._next_id = 0
        self._latest: dict[str, Thumb] = {}
        self._made_from: dict[str, Any] = {}   # what each thumbnail was made from, to skip repeats
        self._due: dict[str, float] = {}
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self.encoded = 0                        # thumbnails made, for tests and the benchmark
        self.cpu_s = 0.0                        # CPU seconds the worker thread has used

    # --- clients -----------------------------------------------------------
    def watch(self, targets: Iterable[str], notify: Callable[[], None]) -> int:
        """Start making `targets`; `notify()` is called (from the worker thread) after each round."""
        with self._lock:
            self._next_id += 1
            wid = self._next_id
            self._watchers[wid] = (frozenset(targets), notify)
            self._wake.notify()
        self._ensure_thread()
        return wid

    def update(self, wid: int, targets: Iterable[str]) -> None:
        with self._lock:
            if wid in self._watchers:
                self._watchers[wid] = (frozenset(targets), self._watchers[wid][1])
                self._wake.notify()

    def unwatch(self, wid: int) -> None:
        with self._lock:
            self._watchers.pop(wid, None)

    @property
    def watched(self) -> frozenset[str]:
        with self._lock:
            return frozenset().union(*(t for t, _ in self._watchers.values()))

    def stats(self) -> dict[str, Any]:
        with self._lock:
            watchers = len(self._watchers)
        return {"watchers": watchers, "watched": sorted(self.watched), "encoded": self.encoded,
                "cpu_s": round(self.cpu_s, 3)}

    def latest(self, target: str) -> Thumb | None:
        return self._latest.get(target)

    def targets(self) -> list[str]:
        """Every target there is: each source, then the preview and the program of each canvas."""
        extra = [f"{kind}@{name}" for name in _canvases(self.engine) if name != MAIN_CANVAS
                 for kind in ("preview", "program")]
        return [f"source:{name}" for name in self.engine.slots] + ["preview", "program"] + extra

    def snapshot(self, target: str) -> bytes:
        """One JPEG made now, for a single `GET` (scripts, tests); call it in a worker thread."""
        frame = self._frame(target)
        return jpeg_of(frame, *target_size(target, self.engine))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._watchers.clear()
            self._wake.notify()

    # --- worker ------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._closed = False
                self._thread = threading.Thread(target=self._run, name="thumbnails", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._watchers and not self._closed:
                    self._wake.wait()   # nobody watching: sleep, zero cost
                if self._closed:
                    return
                wanted = frozenset().union(*(t for t, _ in self._watchers.values()))
                notifies = [n for _, n in self._watchers.values()]
            now = time.monotonic()
            cpu0 = time.thread_time()
            made = False
            for target in sorted(wanted):
                if now >= self._due.get(target, 0.0):
                    self._due[target] = now + 1.0 / self._fps(target)
                    try:
                        made |= self._make(target)
                    except Exception:   # a thumbnail must never take the worker down
                        log.exception("thumbnail %s failed", target)
            self.cpu_s += time.thread_time() - cpu0
            if made:
                for notify in notifies:
                    notify()
            with self._lock:
                soonest = min((self._due.get(t, 0.0) for t in wanted), default=now + 0.2)
                self._wake.wait(max(0.005, soonest - time.monotonic()))

    @staticmethod
    def _fps(target: str) -> float:
        kind = split_target(target)[0]
        return PROGRAM_FPS if kind == "program" else PREVIEW_FPS if kind == "preview" else SOURCE_FPS

    def _frame(self, target: str) -> np.ndarray:
        w, h = target_size(target, self.engine)
        engine = self.engine
        kind, canvas = split_target(target)
        if kind == "program":
            # The main canvas is asked as before, so an engine with one canvas needs no new call.
            frame = engine.program_frame() if canvas == MAIN_CANVAS else engine.program_frame(canvas)
            if frame is None:
                raise LookupError("no program frame yet")
            return frame
        if kind == "preview":
            if canvas == MAIN_CANVAS:
                scene = self._preview_scene()
            else:
                scene = _canvases(engine)[canvas].preview
            if scene is None:
                raise LookupError("no preview scene")
            return engine.render_scene(scene, w, h) if canvas == MAIN_CANVAS else engine.render_scene(scene, w, h, canvas)
        name = target.partition(":")[2]
        slot = engine.slots.get(name)
        if slot is None:
            raise KeyError(f"unknown source {name!r}")
        frame = slot.latest_video()
        return frame if frame is not None else engine.slate(name, w, h)

    def _make(self, target: str) -> bool:
        """Encode `target` if its picture can have changed; True when a new thumbnail exists."""
        w, h = target_size(target, self.engine)
        if target.startswith("source:"):
            name = target.partition(":")[2]
            slot = self.engine.slots.get(name)
            if slot is None:
                return False
            frame = slot.latest_video()
            # Slots are handed frames they own, so the same array object is the same
            # picture: a colour, an image, a paused feed cost one JPEG, not five a second.
            made_from = frame if frame is not None else "slate"
            if self._made_from.get(target) is made_from:
                return False
            self._made_from[target] = made_from
            if frame is None:
                frame = self.engine.slate(name, w, h)
        else:
            try:
                frame = self._frame(target)
            except LookupError:
                return False
        jpeg = jpeg_of(frame, w, h)
        self._seq += 1
        self._latest[target] = Thumb(self._seq, jpeg, time.time())
        self.encoded += 1
        return True
