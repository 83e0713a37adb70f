"""Overlay layers: text, image, colour, QR code, job card.

Each overlay is drawn once with Pillow (RGBA), converted once to YUV planes plus
alpha, and then blended per frame over only the pixels it covers (DESIGN: a
600×60 lower-third on luma costs ~0.02 ms; a full frame ~6 ms). It is drawn
again only when its content changes (a `{{ value }}` it shows changed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np
from PIL import Image, ImageDraw

from . import templates
from .config import LayerConfig, Rect
from .fonts import cjk_font
from .frames import parse_color, yuv_of
from .jobfair.card import render_jobcard, render_qr
from .kinds import RECT, Key, Kind, choice, color, implementation, integer, text


@dataclass
class Patch:
    """Premultiplied YUV + alpha of an overlay, ready to blend at (x, y)."""

    x: int
    y: int
    w: int
    h: int
    y_pm: np.ndarray      # uint16 Y*alpha
    u_pm: np.ndarray      # uint16 U*alpha (half size)
    v_pm: np.ndarray
    inv_y: np.ndarray     # uint16 255-alpha
    inv_c: np.ndarray
    opaque: bool
    y8: np.ndarray        # straight planes, used when opaque
    u8: np.ndarray
    v8: np.ndarray
    empty: bool = False


def rgba_to_patch(img: Image.Image, x: int, y: int, opacity: float = 1.0) -> Patch:
    """Convert once: BT.601 limited-range YUV, alpha premultiplied, chroma alpha 2×2 averaged."""
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
    h, w = rgba.shape[:2]
    r, g, b, a = rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] * opacity
    Y, U, V = yuv_of(r, g, b)

    def half(p: np.ndarray) -> np.ndarray:
        return (p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2]) / 4

    a_c = half(a)
    # Chroma of partly transparent pixels is weighted by their alpha so edges don't fringe.
    U_c = np.where(a_c > 0, half(U * a) / np.maximum(a_c, 1e-3), 128)
    V_c = np.where(a_c > 0, half(V * a) / np.maximum(a_c, 1e-3), 128)
    a_y = np.rint(a).astype(np.uint16)
    a_c16 = np.rint(a_c).astype(np.uint16)
    return Patch(
        x=x, y=y, w=w, h=h,
        y_pm=(np.rint(Y).astype(np.uint16) * a_y), u_pm=(np.rint(U_c).astype(np.uint16) * a_c16),
        v_pm=(np.rint(V_c).astype(np.uint16) * a_c16),
        inv_y=255 - a_y, inv_c=255 - a_c16,
        opaque=bool((a_y == 255).all()),
        y8=np.rint(Y).clip(0, 255).astype(np.uint8), u8=np.rint(U_c).clip(0, 255).astype(np.uint8),
        v8=np.rint(V_c).clip(0, 255).astype(np.uint8),
        empty=bool((a_y == 0).all()),
    )


def blend(planes: tuple[np.ndarray, np.ndarray, np.ndarray], patch: Patch) -> None:
    """Draw a patch onto canvas planes in place, clipped to the canvas."""
    if patch.empty:
        return
    Y, U, V = planes
    H, W = Y.shape
    x0, y0 = max(0, patch.x), max(0, patch.y)
    x1, y1 = min(W, patch.x + patch.w), min(H, patch.y + patch.h)
    if x1 <= x0 or y1 <= y0:
        return
    px, py = x0 - patch.x, y0 - patch.y
    sw, sh = x1 - x0, y1 - y0
    cx0, cy0, cw, ch = x0 // 2, y0 // 2, sw // 2, sh // 2
    cpx, cpy = px // 2, py // 2
    if patch.opaque:
        Y[y0:y1, x0:x1] = patch.y8[py:py + sh, px:px + sw]
        U[cy0:cy0 + ch, cx0:cx0 + cw] = patch.u8[cpy:cpy + ch, cpx:cpx + cw]
        V[cy0:cy0 + ch, cx0:cx0 + cw] = patch.v8[cpy:cpy + ch, cpx:cpx + cw]
        return
    for dst, pm, inv, (ys, xs, hh, ww) in (
        (Y, patch.y_pm, patch.inv_y, (y0, x0, sh, sw)),
        (U, patch.u_pm, patch.inv_c, (cy0, cx0, ch, cw)),
        (V, patch.v_pm, patch.inv_c, (cy0, cx0, ch, cw)),
    ):
        oy, ox = (py, px) if dst is Y else (cpy, cpx)
        region = dst[ys:ys + hh, xs:xs + ww]
        acc = region * inv[oy:oy + hh, ox:ox + ww]      # uint16: 255*255 fits
        acc += pm[oy:oy + hh, ox:ox + ww]
        acc //= 255
        region[...] = acc


class Overlay:
    """A layer drawn with Pillow. Subclasses say what their content depends on and how to draw it."""

    def __init__(self, layer: LayerConfig, rect: Rect, scale: float) -> None:
        self.layer = layer
        self.rect = rect
        self.scale = scale          # canvas scale (preview renders at a smaller size)
        self._key: Hashable = object()
        self._patch: Patch | None = None
        self._ctx: dict[str, Any] | None = None

    def content_key(self, ctx: dict[str, Any]) -> Hashable:
        return None

    def draw(self, ctx: dict[str, Any]) -> Image.Image:
        raise NotImplementedError

    def patch(self, ctx: dict[str, Any]) -> Patch:
        # The show swaps its context dict whole (about once a second): the same dict
        # as last frame means the same content, so skip even computing the key.
        if self._patch is not None and ctx is self._ctx:
            return self._patch
        self._ctx = ctx
        key = self.content_key(ctx)
        if self._patch is None or key != self._key:
            img = self.draw(ctx)
            if img.size != (self.rect.w, self.rect.h):
                img = img.resize((self.rect.w, self.rect.h))
            self._patch = rgba_to_patch(img, self.rect.x, self.rect.y, self.layer.opacity)
            self._key = key
        return self._patch


class ColorOverlay(Overlay):
    def draw(self, ctx: dict[str, Any]) -> Image.Image:
        return Image.new("RGBA", (self.rect.w, self.rect.h), parse_color(self.layer.color))


class ImageOverlay(Overlay):
    def draw(self, ctx: dict[str, Any]) -> Image.Image:
        canvas = Image.new("RGBA", (self.rect.w, self.rect.h), (0, 0, 0, 0))
        with Image.open(str(self.layer.image)) as im:
            im = im.convert("RGBA")
            im.thumbnail((self.rect.w, self.rect.h), Image.LANCZOS)
            canvas.alpha_composite(im, ((self.rect.w - im.width) // 2, (self.rect.h - im.height) // 2))
        return canvas


class TextOverlay(Overlay):
    """Text in a box; `{{ job.title }}` fields are filled from the live context."""

    def content_key(self, ctx: dict[str, Any]) -> Hashable:
        return templates.render(self.layer.text or "", ctx)

    def draw(self, ctx: dict[str, Any]) -> Image.Image:
        return draw_text_box(templates.render(self.layer.text or "", ctx), self.rect.w, self.rect.h,
                             size=max(6, round(self.layer.size * self.scale)), color=self.layer.color,
                             background=self.layer.background, align=self.layer.align)


class QrOverlay(Overlay):
    def content_key(self, ctx: dict[str, Any]) -> Hashable:
        return templates.render(self.layer.qr or "", ctx)

    def draw(self, ctx: dict[str, Any]) -> Image.Image:
        url = templates.render(self.layer.qr or "", ctx)
        side = min(self.rect.w, self.rect.h)
        img = render_qr(url, side)
        fill = parse_color(self.layer.background) if self.layer.background else (0, 0, 0, 0)
        canvas = Image.new("RGBA", (self.rect.w, self.rect.h), fill)
        canvas.alpha_composite(img.convert("RGBA"), ((self.rect.w - img.width) // 2, (self.rect.h - img.height) // 2))
        return canvas


class JobCardOverlay(Overlay):
    """The featured job in one piece; drawn by the job-fair module."""

    def content_key(self, ctx: dict[str, Any]) -> Hashable:
        job = ctx.get("job") or {}
        return (repr(sorted(job.items())) if isinstance(job, dict) else repr(job), ctx.get("apply_url"),
                repr((ctx.get("employer") or {}).get("name") if isinstance(ctx.get("employer"), dict) else None))

    def draw(self, ctx: dict[str, Any]) -> Image.Image:
        return render_jobcard(ctx, self.rect.w, self.rect.h, background=self.layer.background)


def _rect(value: list[int]) -> Rect:
    return Rect(*value)


def _crop(value: list[float]) -> tuple[float, ...]:
    return tuple(float(c) for c in value)


# Keys every layer has. Its kind is not a `kind:` key but the one kind key it has (`text: ...`).
COMMON_KEYS = (
    Key("rect", RECT, default="the whole canvas", load=_rect),
    Key("opacity", {"type": "number", "minimum": 0, "maximum": 1, "description": "0 (invisible) to 1 (solid). 不透明度。"},
        default=1.0),
)
FIT = choice(["contain", "cover", "stretch"], "contain: whole picture, bars; cover: fill, cut edges; stretch. 缩放方式。")
BACKGROUND = Key("background", color("Box fill behind it. 背景色。"))
TEXT_COLOR = Key("color", color("Text colour. 文字颜色。"), default="#ffffff")

KINDS = (
    Kind("layers", "source", "a source's picture (drawn by the compositor) 信号源画面", impl=None,
         example="{source: cam1, rect: [880, 40, 360, 202]}",
         keys=(Key("source", text("Name of a source under sources:. 信号源名称。"), required=True),
               Key("crop", {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1},
                            "minItems": 4, "maxItems": 4, "title": "[l, t, r, b]",
                            "description": "Fractions of the source cut away from each side, 0..1, l + r < 1, "
                                           "t + b < 1. 裁掉源画面的比例：左、上、右、下。",
                            "errorMessage": "must be four fractions [left, top, right, bottom] between 0 and 1, "
                                            "e.g. crop: [0.1, 0, 0.1, 0]",
                            "examples": [[0, 0, 0, 0]]}, load=_crop),
               Key("fit", FIT, default="contain"))),
    Kind("layers", "image", "a still image, aspect kept 图片", impl=ImageOverlay,
         example="{image: assets/logo.png, rect: [40, 40, 160, 90]}",
         keys=(Key("image", text("Image file, relative to the show file's folder. 图片。"), required=True, file=True),)),
    Kind("layers", "text", "one line of text, shrunk to fit its box 文字", impl=TextOverlay,
         example='{text: "龙南市融媒体中心", rect: [40, 620, 600, 60], background: "#00000080"}',
         keys=(Key("text", text("Text; may hold {{ templates }} such as {{ job.title }}. 文字。"), required=True),
               TEXT_COLOR, BACKGROUND,
               Key("size", integer("Font size in canvas pixels. 字号。", 6, 400), default=36),
               Key("align", choice(["left", "center", "right"], "Text alignment. 对齐。"), default="left"))),
    Kind("layers", "color", "a filled box 色块", impl=ColorOverlay,
         example='{color: "#00000080", rect: [0, 600, 1280, 120]}',
         keys=(Key("color", color("Fill colour; with another kind key it is that one's colour. 色块颜色。"),
                   required=True),)),
    Kind("layers", "qr", "a QR code of a URL 二维码", impl=QrOverlay,
         example='{qr: "{{ apply_url }}", rect: [1080, 500, 180, 180]}',
         keys=(Key("qr", text("URL put in a QR code; may hold {{ apply_url }}. 二维码内容。", examples=["{{ apply_url }}"]),
                   required=True),
               BACKGROUND)),
    Kind("layers", "jobcard", "the featured job's card 当前岗位卡片", impl=JobCardOverlay,
         example="{jobcard: true, rect: [40, 440, 560, 240]}",
         keys=(Key("jobcard", {"type": "boolean", "const": True, "description": "The featured job's card. 当前岗位卡片。"},
                   required=True),
               BACKGROUND)),
)


def overlay_class(kind: str) -> Callable[[LayerConfig, Rect, float], Overlay]:
    """The `Overlay` subclass that draws a layer kind."""
    return implementation("layers", kind)


def draw_text_box(text: str, w: int, h: int, size: int, color: str = "#ffffff", background: str | None = None,
                  align: str = "left") -> Image.Image:
    """One line of text (shrunk to fit) vertically centred in a w×h box."""
    img = Image.new("RGBA", (w, h), parse_color(background) if background else (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    pad = max(2, h // 8) if background else 0
    font = cjk_font(size)
    while size > 6:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= w - 2 * pad:
            break
        size = int(size * 0.9)
        font = cjk_font(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left, bottom - top
    if align == "center":
        x = (w - tw) // 2 - left
    elif align == "right":
        x = w - pad - tw - left
    else:
        x = pad - left
    y = (h - th) // 2 - top
    fill = parse_color(color)
    # A thin dark outline keeps text legible over any picture when there is no box.
    stroke = 0 if background else max(1, size // 18)
    draw.text((x, y), text, font=font, fill=fill, stroke_width=stroke, stroke_fill=(0, 0, 0, 200))
    return img
