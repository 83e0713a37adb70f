"""Job card and QR overlays: rendered, then checked pixel by pixel."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stream_ops.fonts import cjk_font
from stream_ops.jobfair.card import benefit_chips, qr_modules, render_jobcard, render_qr, salary_text

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
URL = "https://jobs.example.cn/apply?job=J003"
CTX = {
    "job": {"id": "J003", "title": "数控车床操作工", "salary": "6000-8000元/月", "headcount": 20,
            "location": "县经济开发区", "benefits": ["meals", "dormitory", "五险一金"]},
    "employer": {"id": "E01", "name": "某某精密机械有限公司"},
    "stats": {"applicants": 12},
    "apply_url": URL,
}


def _save(img: Image.Image, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    bg = Image.new("RGBA", img.size, (90, 140, 70, 255))  # a "camera" green to judge contrast
    bg.alpha_composite(img)
    bg.save(ARTIFACTS / name)


@pytest.mark.parametrize("size", [120, 240, 333])
def test_qr_modules_are_where_segno_puts_them(size: int) -> None:
    img = render_qr(URL, size)
    assert img.mode == "RGBA" and img.size == (size, size)
    px = np.array(img)
    modules = qr_modules(URL)
    n = modules.shape[0]
    dark = px[..., 0] < 128
    ys, xs = np.nonzero(dark)
    top, left = int(ys.min()), int(xs.min())  # the top-left finder pattern
    scale = (int(xs.max()) - left + 1) // n
    assert scale >= 1
    # Quiet zone: at least 4 modules of white on every side.
    assert top >= 4 * scale and left >= 4 * scale
    assert size - (left + n * scale) >= 4 * scale - 1
    centres = np.arange(n) * scale + scale // 2
    sampled = dark[np.ix_(top + centres, left + centres)]
    assert (sampled == modules).all()


def test_qr_of_empty_url_is_blank_white() -> None:
    px = np.array(render_qr("", 64))
    assert (px == 255).all()


def test_no_featured_job_gives_a_transparent_card() -> None:
    for ctx in ({}, {"job": None, "employer": None, "stats": {}, "apply_url": URL}):
        img = render_jobcard(ctx, 640, 200)
        assert img.mode == "RGBA" and img.size == (640, 200)
        assert np.array(img)[..., 3].max() == 0


def test_card_draws_box_text_and_qr_landscape() -> None:
    img = render_jobcard(CTX, 900, 300)
    _save(img, "jobcard-900x300.png")
    px = np.array(img)
    # Rounded corners stay transparent, the box is semi-opaque and dark.
    assert px[0, 0, 3] == 0 and px[-1, -1, 3] == 0
    centre_alpha = px[150, 300, 3]
    assert 150 <= centre_alpha <= 255
    # The QR tile sits on the right: white and black pixels both there.
    right = px[:, 600:]
    assert (right[..., :3].min(axis=-1) > 240).sum() > 5000
    assert ((right[..., :3].max(axis=-1) < 30) & (right[..., 3] == 255)).sum() > 2000
    # Title text (white glyphs) in the top-left area.
    title_area = px[20:90, 20:500]
    assert (title_area[..., :3].min(axis=-1) > 200).sum() > 500
    # Salary in warm yellow somewhere in the text column.
    text_col = px[:, :600]
    yellow = (text_col[..., 0] > 200) & (text_col[..., 1] > 160) & (text_col[..., 2] < 140)
    assert yellow.sum() > 300


def test_card_portrait_stacks_qr_under_text() -> None:
    img = render_jobcard(CTX, 400, 600)
    _save(img, "jobcard-400x600.png")
    px = np.array(img)
    top_half_white = (px[:280, :, :3].min(axis=-1) > 240).sum()
    bottom_half_white = (px[300:, :, :3].min(axis=-1) > 240).sum()
    assert bottom_half_white > 10 * max(1, top_half_white // 10)  # the white QR tile is below


def test_chinese_glyphs_render_with_the_bundled_font() -> None:
    font = cjk_font(48)
    img = Image.new("L", (300, 80), 0)
    from PIL import ImageDraw

    ImageDraw.Draw(img).text((10, 10), "扫码报名", font=font, fill=255)
    lit = np.array(img) > 128
    assert lit.sum() > 800
    # Four glyphs side by side, not tofu boxes: each quarter holds ink.
    cols = np.array_split(lit[:, 10:10 + int(font.getlength("扫码报名"))], 4, axis=1)
    assert all(c.sum() > 100 for c in cols)


def test_card_scales_with_rect() -> None:
    small = render_jobcard(CTX, 480, 160)
    big = render_jobcard(CTX, 1440, 480)
    _save(small, "jobcard-480x160.png")
    _save(big, "jobcard-1440x480.png")
    ink_small = (np.array(small)[..., :3].min(axis=-1) > 200).sum()
    ink_big = (np.array(big)[..., :3].min(axis=-1) > 200).sum()
    assert ink_big > 4 * ink_small  # area ×9: text and QR grew with it


def test_card_survives_missing_fields_and_long_text() -> None:
    ctx = {"job": {"title": "高级" * 40}, "employer": {}, "stats": {}, "apply_url": ""}
    img = render_jobcard(ctx, 600, 200)
    assert np.array(img)[..., 3].max() > 0


def test_salary_and_benefit_helpers() -> None:
    assert salary_text({"salary": "面议"}) == "面议"
    assert salary_text({"salary_min": 5000, "salary_max": 7000, "salary_unit": "month"}) == "5000-7000元/月"
    assert salary_text({}) == ""
    assert benefit_chips(["meals", "dormitory", "meals"]) == ["包吃", "包住"]
    assert benefit_chips("包吃、包住，班车") == ["包吃", "包住", "班车"]
    assert benefit_chips({"meals": True, "dormitory": False}) == ["包吃"]


def test_card_takes_the_services_context_and_layer_background() -> None:
    from stream_ops.jobfair.model import Job, Salary

    job = Job("J007", "叉车司机", "E02", headcount=3, salary=Salary(5000, 7000), location="物流园",
              benefits=("包住", "五险一金"))
    ctx = {"job": job.as_dict(), "employer": {"name": "顺达物流有限公司"}, "stats": {}, "apply_url": URL}
    img = render_jobcard(ctx, 800, 260, background="#aa000080")
    _save(img, "jobcard-service-ctx.png")
    px = np.array(img)
    assert tuple(px[130, 400]) == (170, 0, 0, 128)  # box fill from the layer, between text and QR
    assert (px[..., 0] > 200).sum() > 1000
