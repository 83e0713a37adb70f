"""The job card and QR overlays: the featured job "in one piece" for the program.

Rendered once per change (not per frame) into an RGBA image that the compositor
blends over the rect it was given. Everything scales with that rect, so the same
card reads on a 720p lower third and a 1080p side panel.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont

from stream_ops.fonts import cjk_font

BOX = (12, 18, 32, 215)          # semi-opaque dark navy: readable over any camera image
TITLE = (255, 255, 255, 255)
TEXT = (225, 231, 240, 255)
SALARY = (255, 206, 84, 255)     # warm yellow: the number viewers look for first
CHIP_FILL = (46, 125, 90, 255)
CHIP_TEXT = (255, 255, 255, 255)
QR_LABEL = (255, 255, 255, 255)

_BENEFIT_WORDS = {
    "meals": "包吃", "food": "包吃", "dormitory": "包住", "housing": "包住", "accommodation": "包住",
    "insurance": "五险一金", "social_insurance": "五险一金", "shuttle": "班车", "bonus": "奖金",
    "training": "带薪培训", "weekends": "双休",
}


def render_qr(url: str, size: int) -> Image.Image:
    """A QR code of `url`, `size`×`size` RGBA, black on white with a 4-module quiet zone.

    Modules are whole pixels (integer scale, centred) so a phone camera reads them
    even after the encoder's scaling; the rest of the square is white quiet zone.
    """
    size = max(1, int(size))
    img = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    if not url:
        return img
    modules = qr_modules(url)
    if modules.shape[0] > size:
        return img   # smaller than one pixel a module (a tiny thumbnail): nothing a phone could read
    n = modules.shape[0] + 8
    scale = max(1, size // n)
    side = modules.shape[0] * scale
    offset = (size - side) // 2
    dark = np.kron(modules, np.ones((scale, scale), dtype=bool))
    px = np.array(img)
    px[offset:offset + side, offset:offset + side][dark] = (0, 0, 0, 255)
    return Image.fromarray(px, "RGBA")


def qr_modules(url: str) -> np.ndarray:
    """The QR symbol's modules without quiet zone, True = dark (medium error correction)."""
    qr = segno.make(url, error="m", micro=False)
    return np.array([[bool(v) for v in row] for row in qr.matrix], dtype=bool)


def render_jobcard(ctx: Mapping[str, Any], width: int, height: int, background: str | None = None) -> Image.Image:
    """The featured job as an RGBA card of `width`×`height`; transparent when none is featured.

    `ctx` is the job-fair service's live context:
    `{"job": {...}, "employer": {...}, "stats": {...}, "apply_url": "..."}`.
    `background` (the layer's `#rrggbb` / `#rrggbbaa`) replaces the default dark box.
    """
    width, height = max(1, int(width)), max(1, int(height))
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    job = ctx.get("job") if ctx else None
    if not job:
        return img
    employer = ctx.get("employer") or {}
    apply_url = str(ctx.get("apply_url") or "")

    draw = ImageDraw.Draw(img)
    short = min(width, height)
    radius = max(4, round(short * 0.08))
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=radius, fill=_rgba(background) or BOX)

    # Safe margin inside the box: text never touches the rounded corners.
    pad = max(6, round(short * 0.07))
    inner_w, inner_h = width - 2 * pad, height - 2 * pad

    lines = _card_lines(job, employer)
    text_x, text_y, text_w, text_h = pad, pad, inner_w, inner_h
    if apply_url:
        label_size = max(10, round(short * 0.075))
        label_h = int(label_size * 1.4)
        if width >= height * 1.25:
            # Landscape (lower third, banner): QR on the right, text on the left.
            qr_side = int(min(inner_h - label_h, inner_w * 0.38))
            qx = width - pad - qr_side
            qy = pad + max(0, (inner_h - qr_side - label_h) // 2)
            text_w = max(10, qx - 2 * pad)
        else:
            # Portrait or square (side panel): text on top, QR centred below it.
            qr_side = int(min(inner_w * 0.7, inner_h * 0.5 - label_h))
            qx = (width - qr_side) // 2
            qy = height - pad - label_h - qr_side
            text_h = max(10, qy - 2 * pad)
        if qr_side >= 40:
            img.alpha_composite(_rounded_white(render_qr(apply_url, qr_side), max(2, qr_side // 20)), (qx, qy))
            label_font = _fit_font("扫码报名", qr_side, label_size, 8)
            _draw_centered(draw, "扫码报名", label_font, qx + qr_side // 2, qy + qr_side + int(label_size * 0.2), QR_LABEL)
        else:
            text_x, text_y, text_w, text_h = pad, pad, inner_w, inner_h  # too small for a QR a phone can read

    _draw_text_column(draw, lines, text_x, text_y, text_w, text_h)
    return img


def _card_lines(job: Mapping[str, Any], employer: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """What the card says, top to bottom, as (role, value)."""
    lines: list[tuple[str, Any]] = [("title", str(job.get("title") or job.get("id") or ""))]
    if employer.get("name"):
        lines.append(("employer", str(employer["name"])))
    salary = salary_text(job)
    if salary:
        lines.append(("salary", salary))
    facts = []
    headcount = job.get("headcount")
    if headcount:
        facts.append(f"招聘{headcount}人")
    if job.get("location"):
        facts.append(str(job["location"]))
    if facts:
        lines.append(("facts", "  ·  ".join(facts)))
    chips = benefit_chips(job.get("benefits"))
    if chips:
        lines.append(("chips", chips))
    return lines


# Relative line heights: the title and salary carry the card.
_WEIGHTS = {"title": 1.0, "employer": 0.62, "salary": 0.9, "facts": 0.58, "chips": 0.55}


def _draw_text_column(draw: ImageDraw.ImageDraw, lines: list[tuple[str, Any]], x: int, y: int, w: int, h: int) -> None:
    total = sum(_WEIGHTS[role] for role, _ in lines) * 1.3 + 0.15  # + the gap above the chips
    unit = h / total if total else h
    unit = min(unit, w / 4)  # a very wide rect must not give a giant title
    cursor = float(y)
    for role, value in lines:
        size = max(8, int(unit * _WEIGHTS[role]))
        if role == "chips":
            cursor += unit * 0.15  # chips are boxes: give them air under the text line
            _draw_chips(draw, value, x, int(cursor), w, size)
        else:
            colour = {"title": TITLE, "salary": SALARY}.get(role, TEXT)
            font = _fit_font(value, w, size, max(8, size // 2))
            draw.text((x, int(cursor)), _ellipsize(value, font, w), font=font, fill=colour)
        cursor += size * 1.3


def _draw_chips(draw: ImageDraw.ImageDraw, chips: list[str], x: int, y: int, w: int, size: int) -> None:
    font = cjk_font(max(8, int(size * 0.78)))
    pad_x = max(3, size // 3)
    cx = x
    for chip in chips:
        tw = int(draw.textlength(chip, font=font))
        chip_w = tw + 2 * pad_x
        if cx + chip_w > x + w:
            break  # chips that don't fit are dropped whole, never cut
        draw.rounded_rectangle((cx, y, cx + chip_w, y + size), radius=size // 2, fill=CHIP_FILL)
        draw.text((cx + pad_x, y + size / 2), chip, font=font, fill=CHIP_TEXT, anchor="lm")
        cx += chip_w + max(4, size // 3)


def salary_text(job: Mapping[str, Any]) -> str:
    """The job's free-text 薪资 if given, else built from min/max/unit."""
    for key in ("salary_text", "salary"):
        value = job.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    lo, hi = job.get("salary_min"), job.get("salary_max")
    unit = {"month": "元/月", "day": "元/天", "hour": "元/小时", "year": "元/年"}.get(
        str(job.get("salary_unit") or "month"), str(job.get("salary_unit") or ""))
    if lo and hi:
        return f"{lo}-{hi}{unit}"
    if lo or hi:
        return f"{lo or hi}{unit}"
    return ""


def benefit_chips(benefits: Any) -> list[str]:
    """Benefits as short Chinese chips: ['meals', 'dormitory'] -> ['包吃', '包住']."""
    if not benefits:
        return []
    if isinstance(benefits, str):
        items = [b for b in benefits.replace("，", ",").replace("、", ",").replace(" ", ",").split(",")]
    elif isinstance(benefits, Mapping):
        items = [k for k, v in benefits.items() if v]
    else:
        items = [str(b) for b in benefits]
    chips = [_BENEFIT_WORDS.get(i.strip().lower(), i.strip()) for i in items if i and i.strip()]
    return list(dict.fromkeys(chips))


def _fit_font(text: str, max_w: int, size: int, min_size: int) -> ImageFont.FreeTypeFont:
    """The largest font ≤ size (down to min_size) in which `text` fits max_w."""
    size = max(min_size, size)
    while size > min_size and cjk_font(size).getlength(text) > max_w:
        size = max(min_size, int(size * 0.9))
    return cjk_font(size)


def _ellipsize(text: str, font: ImageFont.FreeTypeFont, max_w: int) -> str:
    if font.getlength(text) <= max_w:
        return text
    while text and font.getlength(text + "…") > max_w:
        text = text[:-1]
    return text + "…"


def _draw_centered(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, cx: int, y: int, fill: tuple) -> None:
    draw.text((cx - font.getlength(text) / 2, y), text, font=font, fill=fill)


def _rgba(colour: str | None) -> tuple[int, int, int, int] | None:
    """'#rrggbb' or '#rrggbbaa' as RGBA; None for anything else (the default box is used)."""
    if not colour or not colour.startswith("#") or len(colour) not in (7, 9):
        return None
    try:
        values = [int(colour[i:i + 2], 16) for i in range(1, len(colour), 2)]
    except ValueError:
        return None
    return (values[0], values[1], values[2], values[3] if len(values) == 4 else 255)


def _rounded_white(qr: Image.Image, radius: int) -> Image.Image:
    """The QR on a white rounded tile (the quiet zone stays white, only corners round)."""
    mask = Image.new("L", qr.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, qr.width - 1, qr.height - 1), radius=radius, fill=255)
    out = Image.new("RGBA", qr.size, (0, 0, 0, 0))
    out.paste(qr, (0, 0), mask)
    return out
