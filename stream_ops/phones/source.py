"""`kind: webrtc` sources: a slot that waits for a phone (or a WHIP encoder).

The source itself is passive. The show's PhoneHub answers the phone's offer and
attaches a PhonePeer, which pushes decoded frames into the slot; until then, and
again after the phone drops, the slot says `connecting` and the slate shows.
"""
from __future__ import annotations

from typing import Any

from ..config import SourceConfig
from ..sources.base import Source, SourceSlot

DEFAULTS: dict[str, Any] = {"max_width": 1280, "max_height": 720, "max_bitrate_kbps": 2500, "facing": "environment"}
PHONE_FIELDS = ("phone", "bitrate_kbps", "rtt_ms", "packets_lost", "codec_audio")


def phone_options(config: SourceConfig) -> dict[str, Any]:
    """The slot's phone settings: show-file options over the defaults, plus the common `audio`."""
    opts = {**DEFAULTS, **{k: v for k, v in config.options.items() if k in DEFAULTS}}
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
