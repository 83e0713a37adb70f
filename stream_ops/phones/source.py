"""`kind: webrtc` sources: a slot that waits for a phone (or a WHIP encoder).

The source itself is passive. The show's PhoneHub answers the phone's offer and
attaches a PhonePeer, which pushes decoded frames into the slot; until then, and
again after the phone drops, the slot says `connecting` and the slate shows.
"""
from __future__ import annotations

from typing import Any

from ..config import SourceConfig
from ..sources.base import Source, SourceSlot
from ..sources.webrtc import WEBRTC

# The phone settings and their defaults, as the kind declares them (sources/webrtc.py).
DEFAULTS: dict[str, Any] = {key.name: key.default for key in WEBRTC.keys}
PHONE_FIELDS = ("phone", "bitrate_kbps", "rtt_ms", "packets_lost", "codec_audio")


# What a phone is asked to send when the show never draws it larger: decoding is most
# of a phone's cost here, and a 720p picture shown as a 480×270 tile wastes ~3/4 of it.
SIZE_STEPS = ((640, 360, 800), (960, 540, 1500), (1280, 720, 2500))


def phone_options(config: SourceConfig, slot_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """The slot's phone settings: show-file options over the defaults, plus the common `audio`.

    Without max_width/max_height in the show file, the phone is asked for the smallest
    16:9 size that still fills the largest rect any scene draws it in (`slot_size`).
    """
    opts = {**DEFAULTS, **{k: v for k, v in config.options.items() if k in DEFAULTS}}
    given = {"max_width", "max_height"} & set(config.options)
    if slot_size and not given:
        sw, sh = slot_size
        w, h, kbps = next(((w, h, k) for w, h, k in SIZE_STEPS if w >= sw and h >= sh), SIZE_STEPS[-1])
        opts["max_width"], opts["max_height"] = w, h
        if "max_bitrate_kbps" not in config.options:
            opts["max_bitrate_kbps"] = kbps
    opts["audio"] = config.audio
    return opts


def mark_waiting(slot: SourceSlot, why: str | None = None) -> None:
    """No phone on this slot (never joined, left, dropped): forget its figures, wait for the next."""
    for key in PHONE_FIELDS:
        slot.extra.pop(key, None)
    slot.extra["phone"] = None
    slot.set_input(None, None, None)
    slot.set_state("connecting", why)


class PhoneSource(Source):
    """Passive: frames arrive when a phone's peer attaches (see PhoneHub)."""

    def start(self) -> None:
        mark_waiting(self.slot)

    def stop(self) -> None:
        # The hub closes the peers (it owns them, on the asyncio loop); here only the state.
        self.slot.set_state("idle")
