"""Output kinds. Adding a kind = a module here with an `Output` subclass and its `Kind` in `KINDS`
(see `stream_ops.kinds`); the schema, validation, docs tables and `output_class` read it."""
from __future__ import annotations

from ..kinds import Key, boolean, implementation, text
from .base import Output

# Keys every output has, whatever its kind.
COMMON_KEYS = (
    Key("platform", text("channels, douyin, bilibili, kuaishou, youtube, gateway, record... 平台。",
                         examples=["channels", "douyin", "bilibili", "kuaishou", "youtube"])),
    Key("label", text("Name shown in the control panel. 控制台显示名称。"), default="the name"),
    Key("autostart", boolean("Start when the show starts. 启动时自动开始。"), default=False),
    Key("canvas", text("The canvas this output carries: main (video:) or one of show.canvases. 输出哪个画布。",
                       examples=["portrait"]), default="main"),
)


def output_class(kind: str) -> type[Output]:
    """The `Output` subclass of a kind."""
    return implementation("outputs", kind)


__all__ = ["COMMON_KEYS", "Output", "output_class"]
