"""The compositor: draws a scene's layers onto a yuv420p canvas, never waiting for a source.

Work stays in C or in vectorized numpy on the pixels a layer covers: a source
picture is scaled with libswscale only when it changed (cached per frame), plain
copies go straight into the canvas planes, overlays are blended from patches
converted once. One compositor per canvas and size (each canvas's program; preview thumbnails).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw

from . import frames
from .config import MAIN_CANVAS, LayerConfig, Rect, ShowConfig
from .fonts import cjk_font
from .layouts import scene_layers
from .overlays import Overlay, blend, overlay_class
from .sources.base import SourceSlot
from .transitions import fade_weight


def even_rect(rect: Rect, width: int, height: int) -> Rect:
    """Clip to the canvas and snap to even pixels so chroma (half size) lines up."""
    x = max(0, min(rect.x, width - 2)) & ~1
    y = max(0, min(rect.y, height - 2)) & ~1
    w = max(2, min(rect.w, width - x)) & ~1
    h = max(2, min(rect.h, height - y)) & ~1
    return Rect(x, y, w, h)


@dataclass
class SourceLayer:
    layer: LayerConfig
    rect: Rect
    slot: SourceSlot
    cached_from: np.ndarray | None = None   # the source frame `cached` was made from (held, so never confused)
    cached: np.ndarray | None = None


class Compositor:
    """Renders scenes of one show at one canvas size."""

    def __init__(self, config: ShowConfig, slots: dict[str, SourceSlot], width: int, height: int,
                 context: Callable[[], dict[str, Any]] = dict, canvas: str = MAIN_CANVAS) -> None:
        self.config = config
        self.slots = slots
        self.canvas = canvas          # whose layouts it draws (rects in that canvas's pixels)
        base = config.all_canvases()[canvas]
        self.base_width, self.base_height = base.width, base.height
        self.width, self.height = width & ~1, height & ~1
        self.sx = self.width / base.width
        self.sy = self.height / base.height
        self.context = context
        self._plans: dict[str, list[SourceLayer | Overlay]] = {}
        self._slates: dict[tuple[str, int, int], np.ndarray] = {}
        self._black = frames.blank(self.width, self.height)

    # --- plans -----------------------------------------------------------------
    def plan(self, scene: str) -> list[SourceLayer | Overlay]:
        if scene not in self._plans:
            items: list[SourceLayer | Overlay] = []
            full = Rect(0, 0, self.base_width, self.base_height)
            for layer in scene_layers(self.config, scene, self.canvas):
                rect = even_rect((layer.rect or full).scaled(self.sx, self.sy), self.width, self.height)
                if layer.kind == "source":
                    items.append(SourceLayer(layer, rect, self.slots[layer.source or ""]))
                else:
                    items.append(overlay_class(layer.kind)(layer, rect, min(self.sx, self.sy)))
            self._plans[scene] = items
        return self._plans[scene]

    # --- drawing -----------------------------------------------------------------
    def render(self, scene: str, now: float | None = None) -> np.ndarray:
        """A new canvas (packed yuv420p) with the scene drawn on it."""
        now = now if now is not None else time.monotonic()
        items = self.plan(scene)
        first = items[0] if items else None
        if self._covers_canvas(first):
            # A full-screen picture at the back: start from it (one copy) instead of black + copy.
            canvas = self._source_picture(first, now).copy()   # type: ignore[arg-type]
            items = items[1:]
        else:
            canvas = self._black.copy()
        planes = frames.split(canvas, self.width, self.height)
        ctx: dict[str, Any] | None = None
        for item in items:
            if isinstance(item, SourceLayer):
                self._draw_source(planes, item, now)
            else:
                if ctx is None:
                    ctx = self.context()
                blend(planes, item.patch(ctx))
        return canvas

    def render_fade(self, from_scene: str, to_scene: str, progress: float, now: float | None = None) -> np.ndarray:
        a = self.render(from_scene, now)
        b = self.render(to_scene, now)
        w = fade_weight(progress)
        if w <= 0:
            return a
        if w >= 256:
            return b
        # One integer pass over the whole frame: (b*w + a*(256-w)) >> 8.
        out = b.astype(np.uint16)
        out *= w
        out += a.astype(np.uint16) * (256 - w)
        out >>= 8
        return out.astype(np.uint8)

    def _covers_canvas(self, item: SourceLayer | Overlay | None) -> bool:
        return (isinstance(item, SourceLayer) and item.layer.opacity >= 1.0
                and (item.rect.x, item.rect.y, item.rect.w, item.rect.h) == (0, 0, self.width, self.height))

    def _source_picture(self, item: SourceLayer, now: float) -> np.ndarray:
        """The layer's picture at its rect size; scaled only when the source frame changed."""
        slot, rect, layer = item.slot, item.rect, item.layer
        frame = slot.latest_video(now)
        if frame is None:
            frame = self.slate(slot.name, slot.width, slot.height)
        # Same frame object as last time (a still, a colour, the slate, a feed slower than the
        # program): reuse its scaled picture.
        if frame is not item.cached_from or item.cached is None:
            item.cached = self._fit(frame, slot.width, slot.height, rect.w, rect.h, layer)
            item.cached_from = frame
        return item.cached

    def _draw_source(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], item: SourceLayer, now: float) -> None:
        rect, layer = item.rect, item.layer
        pic = self._source_picture(item, now)
        Y, U, V = planes
        py, pu, pv = frames.split(pic, rect.w, rect.h)
        x, y, w, h = rect.x, rect.y, rect.w, rect.h
        if layer.opacity >= 1.0:
            Y[y:y + h, x:x + w] = py
            U[y // 2:(y + h) // 2, x // 2:(x + w) // 2] = pu
            V[y // 2:(y + h) // 2, x // 2:(x + w) // 2] = pv
        else:
            k = int(round(layer.opacity * 256))
            for dst, src in ((Y[y:y + h, x:x + w], py), (U[y // 2:(y + h) // 2, x // 2:(x + w) // 2], pu),
                             (V[y // 2:(y + h) // 2, x // 2:(x + w) // 2], pv)):
                mix = src.astype(np.uint16) * k
                mix += dst.astype(np.uint16) * (256 - k)
                mix >>= 8
                dst[...] = mix

    @staticmethod
    def _fit(frame: np.ndarray, fw: int, fh: int, w: int, h: int, layer: LayerConfig) -> np.ndarray:
        if layer.crop:
            frame, fw, fh = crop(frame, fw, fh, layer.crop)
        if (fw, fh) == (w, h):
            return frame
        fit = layer.fit
        if fit == "cover" and abs(fw * h - fh * w) <= 0.01 * fw * h:
            # Shapes within 1 % (a crop cut to the rect's shape, rounded to even pixels): one
            # scale straight to the rect, not a scale past it and a copy of the middle.
            fit = "stretch"
        vf = frames.to_video_frame(frame)
        return frames.from_video_frame(vf, w, h, fit)

    # --- slate -------------------------------------------------------------------
    def slate(self, name: str, w: int, h: int) -> np.ndarray:
        key = (name, w, h)
        if key not in self._slates:
            self._slates[key] = slate_frame(self.slots[name].config.label or name if name in self.slots else name, w, h)
        return self._slates[key]


def crop(frame: np.ndarray, w: int, h: int, fractions: tuple[float, float, float, float]) -> tuple[np.ndarray, int, int]:
    """Cut [left, top, right, bottom] fractions away; returns a packed copy and its size."""
    left, top, right, bottom = fractions
    x0 = int(w * left) & ~1
    y0 = int(h * top) & ~1
    x1 = max(x0 + 2, int(w * (1 - right)) & ~1)
    y1 = max(y0 + 2, int(h * (1 - bottom)) & ~1)
    Y, U, V = frames.split(frame, w, h)
    cw, ch = x1 - x0, y1 - y0
    out = np.empty((ch * 3 // 2, cw), np.uint8)
    oy, ou, ov = frames.split(out, cw, ch)
    oy[:] = Y[y0:y1, x0:x1]
    ou[:] = U[y0 // 2:y1 // 2, x0 // 2:x1 // 2]
    ov[:] = V[y0 // 2:y1 // 2, x0 // 2:x1 // 2]
    return out, cw, ch


def slate_frame(label: str, w: int, h: int) -> np.ndarray:
    """The "no signal" picture shown wherever a dead source is used."""
    img = Image.new("RGB", (w, h), (28, 28, 32))
    draw = ImageDraw.Draw(img)
    # Diagonal stripes: unmistakably not a dark camera picture.
    step = max(8, w // 24)
    for x in range(-h, w, step * 2):
        draw.polygon([(x, h), (x + step, h), (x + step + h, 0), (x + h, 0)], fill=(36, 36, 42))
    big = cjk_font(max(10, h // 7))
    small = cjk_font(max(8, h // 16))
    for text, font, dy, fill in (("信号中断", big, -h // 10, (230, 60, 60)), ("NO SIGNAL", small, h // 14, (220, 220, 220)),
                                 (label, small, h // 5, (170, 170, 170))):
        l, t, r, b = draw.textbbox((0, 0), text, font=font)
        draw.text(((w - (r - l)) // 2 - l, h // 2 + dy - (b - t) // 2 - t), text, font=font, fill=fill)
    return frames.from_rgb(np.asarray(img))

