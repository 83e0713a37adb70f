"""Source kinds. Adding a kind = a module with a `Source` subclass + one line in KINDS."""
from __future__ import annotations

from typing import Callable

from .base import Source, SourceSlot


def _phone_source():
    from ..phones.source import PhoneSource   # aiortc is imported only when a show has phones

    return PhoneSource


def source_class(kind: str) -> type[Source]:
    from .ffmpeg_source import FfmpegSource
    from .generated import ColorSource, ImageSource, TestSource

    kinds: dict[str, Callable[[], type[Source]]] = {
        "rtmp": lambda: FfmpegSource,
        "srt": lambda: FfmpegSource,
        "pull": lambda: FfmpegSource,
        "file": lambda: FfmpegSource,
        "test": lambda: TestSource,
        "color": lambda: ColorSource,
        "image": lambda: ImageSource,
        "webrtc": _phone_source,
    }
    try:
        return kinds[kind]()
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r}") from None


__all__ = ["Source", "SourceSlot", "source_class"]
