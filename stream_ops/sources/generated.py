"""Sources made in-process: test pattern and tone, solid colour, still image.

They cost almost nothing: the picture is drawn once and re-pushed; only the test
pattern's moving marker (proof the program is alive) changes per frame.
"""
from __future__ import annotations

import math
import threading
import time

import av
import numpy as np
from PIL import Image

from .. import frames
from ..kinds import Key, Kind, color, text
from .base import Source, SourceSlot

# SMPTE-like bars: white, yellow, cyan, green, magenta, red, blue (75 %).
BARS = [(191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0), (191, 0, 191), (191, 0, 0), (0, 0, 191)]
TONE_HZ = 1000.0
TONE_DBFS = -20.0


class _Ticker(Source):
    """Pushes a frame (and audio) on its own clock until stopped."""

    interval = 0.1

    def __init__(self, slot: SourceSlot, emit) -> None:
        super().__init__(slot, emit)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.slot.static = True
        self.prepare()
        self.slot.set_input(self.slot.width, self.slot.height, self.config.kind)
        self._thread = threading.Thread(target=self._loop, name=f"source-{self.slot.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self.slot.set_state("idle")

    def prepare(self) -> None:
        pass

    def tick(self, n: int, now: float) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        t0 = time.monotonic()
        n = 0
        while not self._stop.is_set():
            now = time.monotonic()
            self.tick(n, now)
            n += 1
            delay = t0 + n * self.interval - time.monotonic()
            if delay < -1:   # fell far behind (suspended machine): re-anchor rather than burst
                t0, n = time.monotonic(), 0
                delay = 0
            self._stop.wait(max(0.0, delay))


class ColorSource(_Ticker):
    def prepare(self) -> None:
        self.frame = frames.solid(self.slot.width, self.slot.height, self.config.color)

    def tick(self, n: int, now: float) -> None:
        self.slot.push_video(self.frame, now)


class ImageSource(_Ticker):
    def prepare(self) -> None:
        self.frame = image_frame(str(self.config.path), self.slot.width, self.slot.height)

    def tick(self, n: int, now: float) -> None:
        self.slot.push_video(self.frame, now)


class TestSource(_Ticker):
    """Colour bars with a moving marker, and a 1 kHz tone at -20 dBFS."""

    def prepare(self) -> None:
        w, h = self.slot.width, self.slot.height
        self.fps = 30
        self.interval = 1 / self.fps
        self.bars = bars_frame(w, h)
        self.phase = 0.0
        amp = 32767 * 10 ** (TONE_DBFS / 20)
        self.tone_step = 2 * math.pi * TONE_HZ / self.slot.sample_rate
        self.amp = amp
        self.samples_sent = 0
        self.t0 = time.monotonic()

    def tick(self, n: int, now: float) -> None:
        w, h = self.slot.width, self.slot.height
        frame = self.bars.copy()
        y, _, _ = frames.split(frame, w, h)
        # A white block sweeping along the bottom third: a frozen program is obvious.
        bw = max(2, (w // 16) & ~1)
        x = int((n * 4) % max(1, w - bw)) & ~1
        y[h * 3 // 4:h * 3 // 4 + bw, x:x + bw] = 235
        self.slot.push_video(frame, now)
        if self.config.audio:
            due = int((now - self.t0) * self.slot.sample_rate) - self.samples_sent
            if due > 0:
                idx = np.arange(self.samples_sent, self.samples_sent + due)
                mono = (np.sin(idx * self.tone_step) * self.amp).astype(np.int16)
                self.slot.push_audio(np.repeat(mono[:, None], self.slot.channels, axis=1))
                self.samples_sent += due


def bars_frame(w: int, h: int) -> np.ndarray:
    rgb = np.zeros((h, w, 3), np.uint8)
    n = len(BARS)
    for i, color in enumerate(BARS):
        rgb[: h * 3 // 4, i * w // n:(i + 1) * w // n] = color
    # Bottom quarter: a black-to-white ramp, to judge levels.
    ramp = np.linspace(0, 255, w, dtype=np.uint8)
    rgb[h * 3 // 4:] = ramp[None, :, None]
    return frames.from_rgb(rgb)


def image_frame(path: str, w: int, h: int) -> np.ndarray:
    """A still, fitted into w×h (aspect kept, black bars), alpha flattened onto black."""
    with Image.open(path) as im:
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (0, 0, 0, 255))
        bg.alpha_composite(im)
        rgb = np.asarray(bg.convert("RGB"))
    # Straight from RGB to the fitted size: one swscale pass, and odd-sized stills are fine.
    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frames.from_video_frame(vf, w, h, "contain")


KINDS = (
    Kind("sources", "image", "a still image 图片", impl=ImageSource,
         example="still: {kind: image, path: assets/slate.png}",
         keys=(Key("path", text("Still image, relative to the show file's folder. 图片路径。", minLength=1,
                                examples=["assets/slate.png"]), required=True, file=True),)),
    Kind("sources", "test", "colour bars and a 1 kHz tone 测试信号", impl=TestSource, example="bars: {kind: test}"),
    Kind("sources", "color", "a solid colour 纯色", impl=ColorSource, example='red: {kind: color, color: "#ff0000"}',
         keys=(Key("color", color("Fill colour. 纯色。"), required=True),)),
)
