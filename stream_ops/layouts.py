"""A scene's layers on each canvas: the one the show file gives, or one derived by a rule.

Pure: rects and crops from rects, no media. The rule (docs/showfile.md, "Canvases"):

- A landscape (or square) canvas other than main: the main layers, scaled to it.
- A portrait canvas (taller than wide):
  - the main source is the scene's largest source layer; when it covers at least half
    the main canvas it fills the portrait canvas, cropped to the canvas's shape around
    the scene's `focus` (default the centre), and the other sources (picture-in-pictures)
    become a row of 16:9 tiles just above the bottom band;
  - when no source covers half (a grid), the sources are stacked in a centred column of
    full-width 16:9 tiles between the bands (two columns when one does not fit);
  - overlays keep their order: those whose centre is in the top half of the main canvas
    go to a top band, the others to a bottom band, stacked, each the canvas width less
    margins; heights are scaled by `overlay_scale` (text sizes too) so text stays
    readable on a phone; a QR code stays square (right-aligned), an image keeps its
    shape, the job card gets a tall box (it lays itself out text above QR in one).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Iterable

from .config import MAIN_CANVAS, LayerConfig, Rect

if TYPE_CHECKING:
    from .config import CanvasConfig, SceneConfig, ShowConfig

DOMINANT = 0.5          # share of the main canvas a source must cover to be "the main source"
TILE_ASPECT = 16 / 9    # picture-in-picture and grid tiles
JOBCARD_ASPECT = 0.8    # a derived job card's height / width: tall enough for text above its QR
BAND_SHARE = 0.6        # both bands together take at most this share of the portrait height


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def overlay_scale(canvas_w: int, main_w: int) -> float:
    """How much an overlay (and its text size) shrinks on a portrait canvas.

    A plain fit to the narrower width would make a 32 px caption of a 1280 px canvas 18 px
    on a 720 px portrait one; 1.5× that (capped at 1) keeps it readable on a phone held upright."""
    return min(1.0, 1.5 * canvas_w / main_w)


def scene_layers(config: "ShowConfig", scene: str, canvas: str = MAIN_CANVAS) -> tuple[LayerConfig, ...]:
    """The layers `scene` draws on `canvas`, rects in that canvas's pixels (main: as written)."""
    sc = config.scenes[scene]
    if canvas == MAIN_CANVAS:
        return sc.layers
    if canvas in sc.layouts:
        return sc.layouts[canvas]
    c = config.all_canvases()[canvas]
    return derive(sc, config.video.width, config.video.height, c.width, c.height)


def canvas_layers(config: "ShowConfig", canvas: "CanvasConfig") -> Iterable[tuple[LayerConfig, int, int]]:
    """Every layer of every scene on `canvas`, with the canvas size its rect is in."""
    for name in config.scenes:
        for layer in scene_layers(config, name, canvas.name):
            yield layer, canvas.width, canvas.height


def derive(scene: "SceneConfig", main_w: int, main_h: int, width: int, height: int) -> tuple[LayerConfig, ...]:
    """The scene, written for a main_w×main_h canvas, laid out for a width×height one."""
    full = Rect(0, 0, main_w, main_h)
    if width >= height:
        sx, sy = width / main_w, height / main_h
        return tuple(replace(l, rect=(l.rect or full).scaled(sx, sy),
                             size=max(6, round(l.size * min(sx, sy)))) for l in scene.layers)
    return _portrait(scene, full, width, height)


def _area(layer: LayerConfig, full: Rect) -> int:
    r = layer.rect or full
    return r.w * r.h


def _portrait(scene: "SceneConfig", full: Rect, width: int, height: int) -> tuple[LayerConfig, ...]:
    margin = _even(width * 0.03)
    gap = margin
    inner_w = width - 2 * margin
    k = overlay_scale(width, full.w)
    sources = [l for l in scene.layers if l.kind == "source"]
    overlays = [l for l in scene.layers if l.kind != "source"]

    # Overlays: each one's height on the portrait canvas, then the bands.
    sized = [(l, *_overlay_size(l, full, inner_w, k)) for l in overlays]
    total = sum(h for _, _, h in sized) + gap * max(0, len(sized) - 1)
    squeeze = min(1.0, (height * BAND_SHARE) / total) if total else 1.0
    top: list[tuple[LayerConfig, int, int]] = []
    bottom: list[tuple[LayerConfig, int, int]] = []
    for layer, w, h in sized:
        r = layer.rect or full
        band = top if r.y + r.h / 2 < full.h / 2 else bottom
        band.append((layer, _even(w * squeeze) if layer.kind in ("qr", "image") else w, _even(h * squeeze)))
    placed: dict[int, LayerConfig] = {}
    y = margin
    for layer, w, h in top:
        placed[id(layer)] = _place(layer, w, h, y, width, margin, k * squeeze)
        y += h + gap
    top_end = y if top else 0
    y = height - margin - sum(h for _, _, h in bottom) - gap * max(0, len(bottom) - 1)
    bottom_start = y if bottom else height
    for layer, w, h in bottom:
        placed[id(layer)] = _place(layer, w, h, y, width, margin, k * squeeze)
        y += h + gap

    drawn: list[LayerConfig] = []
    if sources:
        main = max(sources, key=lambda l: _area(l, full))
        if _area(main, full) >= DOMINANT * full.w * full.h:
            drawn.append(replace(main, rect=Rect(0, 0, width, height), fit="cover",
                                 crop=focus_crop(main.rect or full, width / height, scene.focus, main.crop)))
            pips = [l for l in sources if l is not main]
            if pips:
                n = len(pips)
                tw = _even(min(inner_w / 2, (inner_w - gap * (n - 1)) / n))
                th = _even(tw / TILE_ASPECT)
                ty = max(top_end, bottom_start - gap - th)
                x0 = margin + (inner_w - (n * tw + gap * (n - 1))) // 2
                drawn += [replace(l, rect=Rect(x0 + i * (tw + gap), ty, tw, th), fit="cover")
                          for i, l in enumerate(pips)]
        else:
            drawn += _column(sources, Rect(margin, top_end, inner_w, max(2, bottom_start - top_end)), gap)
    return tuple(drawn) + tuple(placed[id(l)] for l in overlays)


def _overlay_size(layer: LayerConfig, full: Rect, inner_w: int, k: float) -> tuple[int, int]:
    r = layer.rect or full
    if layer.kind == "qr":
        side = _even(min(inner_w, max(r.w, r.h) * k))
        return side, side
    if layer.kind == "jobcard":
        return inner_w, _even(inner_w * JOBCARD_ASPECT)
    if layer.kind == "image":
        w = min(inner_w, r.w * k)
        return _even(w), _even(w * r.h / r.w)
    h = r.h * k
    if layer.kind == "text":
        h = max(h, layer.size * k * 1.4)   # one line of the scaled text always fits
    return inner_w, _even(h)


def _place(layer: LayerConfig, w: int, h: int, y: int, width: int, margin: int, k: float) -> LayerConfig:
    if layer.kind == "qr":
        x = width - margin - w            # right-aligned: a phone's thumb does not cover it
    else:
        x = (width - w) // 2
    return replace(layer, rect=Rect(x, y, w, h), size=max(6, round(layer.size * k)))


def _column(sources: list[LayerConfig], area: Rect, gap: int) -> list[LayerConfig]:
    """Sources as 16:9 tiles, one column (two when one is too tall), centred in `area`."""
    n = len(sources)
    for columns in (1, 2):
        rows = -(-n // columns)
        tw = (area.w - gap * (columns - 1)) / columns
        th = tw / TILE_ASPECT
        if rows * th + gap * (rows - 1) <= area.h or columns == 2:
            break
    if rows * th + gap * (rows - 1) > area.h:       # still too tall: shrink to fit the height
        th = (area.h - gap * (rows - 1)) / rows
        tw = th * TILE_ASPECT
    tw, th = _even(tw), _even(th)
    x0 = area.x + (area.w - (columns * tw + gap * (columns - 1))) // 2
    y0 = area.y + max(0, (area.h - (rows * th + gap * (rows - 1))) // 2)
    return [replace(l, rect=Rect(x0 + (i % columns) * (tw + gap), y0 + (i // columns) * (th + gap), tw, th),
                    fit="cover") for i, l in enumerate(sources)]


def focus_crop(rect: Rect, aspect: float, focus: tuple[float, float] | None,
               crop: tuple[float, float, float, float] | None = None) -> tuple[float, float, float, float] | None:
    """Crop fractions (left, top, right, bottom) that cut a picture shaped like `rect` (after `crop`)
    to `aspect` (w/h), centred on `focus` (fractions of the picture; default the centre) and kept inside it."""
    left, top, right, bottom = crop or (0.0, 0.0, 0.0, 0.0)
    kw, kh = 1 - left - right, 1 - top - bottom
    picture = (rect.w * kw) / (rect.h * kh)
    fx, fy = focus or (0.5, 0.5)
    if picture > aspect:      # too wide: keep a vertical strip
        keep = kw * aspect / picture
        x = min(max(left + fx * kw - keep / 2, left), left + kw - keep)
        out = (x, top, 1 - x - keep, bottom)
    elif picture < aspect:    # too tall: keep a horizontal band
        keep = kh * picture / aspect
        y = min(max(top + fy * kh - keep / 2, top), top + kh - keep)
        out = (left, y, right, 1 - y - keep)
    else:
        out = (left, top, right, bottom)
    out = tuple(round(max(0.0, v), 4) for v in out)
    return None if not any(out) else out  # type: ignore[return-value]
