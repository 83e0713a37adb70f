"""Source kinds. Adding a kind = a module here with a `Source` subclass and its `Kind` in `KINDS`
(see `stream_ops.kinds`); the schema, validation, docs tables and `source_class` read it."""
from __future__ import annotations

from ..config import GAIN_DB_MAX, GAIN_DB_MIN
from ..kinds import Key, boolean, implementation, text
from .base import Source, SourceSlot

# Keys every source has, whatever its kind.
COMMON_KEYS = (
    Key("label", text("Name shown in the control panel. 控制台上显示的名称。"), default="the name"),
    Key("audio", boolean("Take this source's audio at all. 是否使用该源的声音。"), default=True),
    Key("gain_db", {"type": "number", "minimum": GAIN_DB_MIN, "maximum": GAIN_DB_MAX,
                    "description": "Audio gain in dB. 音量增益。"}, default=0.0, live=True, load=float),
    Key("muted", boolean("Start muted. 开始时静音。"), default=False, live=True),
)


def source_class(kind: str) -> type[Source]:
    """The `Source` subclass of a kind (its module imported on first use)."""
    return implementation("sources", kind)


__all__ = ["COMMON_KEYS", "Source", "SourceSlot", "source_class"]
