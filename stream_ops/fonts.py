"""The CJK font every overlay renders with.

Noto Sans CJK comes from the `noto-cjk-sans-otc` wheel, so Chinese renders with
no system font installed. Index 2 of the collection is the Simplified Chinese face.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

SC_INDEX = 2  # NotoSansCJK-Regular.ttc: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK


def font_path() -> Path:
    import noto_cjk_sans_otc

    return Path(str(noto_cjk_sans_otc.FONT_PATH))


@lru_cache(maxsize=64)
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK SC at `size` pixels (cached: loading the 19 MB collection is slow)."""
    return ImageFont.truetype(str(font_path()), size=max(4, int(size)), index=SC_INDEX)
