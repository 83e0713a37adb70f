"""Layout arithmetic: grid cells, source slot sizes. Pure functions, no media."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .config import Rect

if TYPE_CHECKING:
    from .config import ShowConfig

UNUSED_SLOT = (320, 180)   # a source drawn in no scene still gets a small 16:9 slot (preview, multiview)


def _even_down(n: int) -> int:
    return max(2, n - n % 2)


def _even_down_0(n: int) -> int:
    return max(0, n - n % 2)


def _even_up(n: float) -> int:
    m = math.ceil(n - 1e-9)
    return max(2, m + m % 2)


def grid_rects(n: int, columns: int, area: Rect, gap: int = 0) -> list[Rect]:
    """`n` equal cells, `columns` per row, left to right then top to bottom, inside `area`.

    rows = ceil(n / columns). Cell sizes are even (the encoder works on 2x2 chroma
    blocks); the few pixels rounding leaves over are split evenly around the grid.
    """
    if n <= 0:
        return []
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    cw = _even_down((area.w - gap * (columns - 1)) // columns)
    ch = _even_down((area.h - gap * (rows - 1)) // rows)
    # Leftover pixels are split around the grid, keeping cells on even pixels (4:2:0 chroma).
    x0 = area.x + _even_down_0((area.w - (columns * cw + gap * (columns - 1))) // 2)
    y0 = area.y + _even_down_0((area.h - (rows * ch + gap * (rows - 1))) // 2)
    return [Rect(x0 + (i % columns) * (cw + gap), y0 + (i // columns) * (ch + gap), cw, ch) for i in range(n)]


def canvas_rect(width: int, height: int) -> Rect:
    return Rect(0, 0, width, height)


def kept_fraction(crop: tuple[float, float, float, float] | None) -> tuple[float, float]:
    """Fractions of the source's width and height left after `crop` (left, top, right, bottom)."""
    if not crop:
        return 1.0, 1.0
    left, top, right, bottom = crop
    return max(1e-3, 1.0 - left - right), max(1e-3, 1.0 - top - bottom)


def slot_size(rect: Rect, crop: tuple[float, float, float, float] | None, width: int, height: int) -> tuple[int, int]:
    """Size a source must have so that its kept (uncropped) part fills `rect` without upscaling.

    Capped at the canvas, rounded up to even numbers.
    """
    kx, ky = kept_fraction(crop)
    return _even_up(min(rect.w / kx, width)), _even_up(min(rect.h / ky, height))


def slot_sizes(config: "ShowConfig") -> dict[str, tuple[int, int]]:
    """For each source, the largest size it is drawn at in any scene (width and height maxed separately),
    on the main canvas; other canvases' layouts may grow it, keeping its shape.

    The engine scales each feed once to this size; layers then take their rect
    from it. Sources used in no scene get `UNUSED_SLOT`.
    """
    width, height = config.video.width, config.video.height
    full = canvas_rect(width, height)
    sizes: dict[str, tuple[int, int]] = {}
    for scene in config.scenes.values():
        for layer in scene.layers:
            if layer.kind != "source" or not layer.source:
                continue
            w, h = slot_size(layer.rect or full, layer.crop, width, height)
            old = sizes.get(layer.source, (0, 0))
            sizes[layer.source] = (max(old[0], w), max(old[1], h))
    # Other canvases: a slot keeps the shape main gave it (a feed is scaled once, letterboxed into
    # its slot, and derived crops assume that shape) and grows to what a layout needs, never past
    # the main canvas: beyond that the compositor upscales, as it would a small feed.
    from .layouts import scene_layers

    for canvas in list(config.all_canvases().values())[1:]:
        for scene in config.scenes:
            for layer in scene_layers(config, scene, canvas.name):
                if layer.kind != "source" or not layer.source:
                    continue
                kx, ky = kept_fraction(layer.crop)
                rect = layer.rect or canvas_rect(canvas.width, canvas.height)
                need_w, need_h = rect.w / kx, rect.h / ky
                old = sizes.get(layer.source)
                if old is None:
                    sizes[layer.source] = (_even_up(min(need_w, max(width, canvas.width))),
                                           _even_up(min(need_h, max(height, canvas.height))))
                    continue
                grow = min(max(need_w / old[0], need_h / old[1]), width / old[0], height / old[1])
                if grow > 1:
                    sizes[layer.source] = (_even_up(old[0] * grow), _even_up(old[1] * grow))
    return {name: sizes.get(name, UNUSED_SLOT) for name in config.sources}


def rect_overflow(rect: Rect, width: int, height: int) -> list[str]:
    """Ways `rect` leaves a width x height canvas, in words; empty when it fits."""
    out = []
    if rect.w <= 0 or rect.h <= 0:
        out.append(f"width and height must be positive, got w={rect.w} h={rect.h}")
        return out
    if rect.x < 0:
        out.append(f"starts {-rect.x} px left of the canvas (x must be at least 0)")
    if rect.y < 0:
        out.append(f"starts {-rect.y} px above the canvas (y must be at least 0)")
    if rect.x + rect.w > width:
        over = rect.x + rect.w - width
        fix = f"make x at most {width - rect.w} or w at most {width - rect.x}" if rect.w <= width else \
            f"make w at most {width - rect.x}"
        out.append(f"goes {over} px past the right edge of the {width}x{height} canvas "
                   f"(x + w = {rect.x + rect.w}; {fix})")
    if rect.y + rect.h > height:
        over = rect.y + rect.h - height
        fix = f"make y at most {height - rect.h} or h at most {height - rect.y}" if rect.h <= height else \
            f"make h at most {height - rect.y}"
        out.append(f"goes {over} px past the bottom edge of the {width}x{height} canvas "
                   f"(y + h = {rect.y + rect.h}; {fix})")
    return out
