"""`kind: webrtc`: a phone (or a WHIP encoder) sends its camera to a slot.

Only the declaration lives here: the source itself is `phones.source.PhoneSource`,
named by a string so that aiortc is imported only when a show has phones.
"""
from __future__ import annotations

from ..kinds import Key, Kind, choice, integer

WEBRTC = Kind(
    "sources", "webrtc", "a phone's camera over WebRTC (join link / QR, or WHIP) 手机",
    impl="stream_ops.phones.source:PhoneSource",
    example="phone1: {kind: webrtc, max_width: 1280, max_height: 720, facing: environment}",
    keys=(Key("max_width", integer("Largest width the phone sends; unset: the size the show draws it at, "
                                   "at most 1280. 手机最大发送宽度。", 160, 3840), default=1280),
          Key("max_height", integer("Largest height the phone sends. 手机最大发送高度。", 120, 2160), default=720),
          Key("max_bitrate_kbps", integer("Bitrate cap asked of the phone, kbit/s. 码率上限。", 100, 20000), default=2500),
          Key("facing", choice(["user", "environment"], "Camera to open: user (front) or environment (back). "
                                                        "前置/后置摄像头。"), default="environment")),
)
KINDS = (WEBRTC,)
