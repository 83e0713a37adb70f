"""PhoneHub: the show's phone slots — tokens, who is publishing where, tally, stats.

One hub per show (created by Show when a source has `kind: webrtc`). It decides
who may publish into a slot (token, slot taken, takeover, the same page coming
back after a drop), owns the PhonePeers, pushes tally to the join pages, and
reports every phone's figures in the slot and as `phone` events.
It receives only what it uses (the phone slots, their settings, the scenes, who is
on air, a way to publish); HTTP lives in web/phone.py and web/operator.py.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from typing import Any, Callable, Collection, Mapping

from ..refusal import Refusal
from ..sources.base import SourceSlot
from ..tokens import same_secret
from .peer import PhonePeer
from .sdp import SdpError, check_offer
from .source import mark_waiting, phone_options

log = logging.getLogger(__name__)

WATCH_S = 1.0          # how often peers are checked for death and the tally refreshed
STATS_EVERY = 2        # watchdog ticks between stats events
# Ends after which the page must not offer again by itself (someone else has the slot, or it was told to stop).
NO_REOFFER = frozenset({"token revoked", "show stopped", "taken over", "same phone reconnected", "dropped",
                        "publisher ended the session"})



def token_env(name: str) -> str:
    """STREAM_OPS_PHONE_TOKEN_<SLOT>: the slot name upper-cased, other characters as `_`."""
    return "STREAM_OPS_PHONE_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


class PageChannel:
    """One open join page (its WebSocket): a bounded outbox so a stuck phone never slows the hub."""

    def __init__(self, slot: str, client: str) -> None:
        self.slot = slot
        self.client = client
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(32)
        self.stats: dict[str, Any] = {}

    def send(self, message: dict[str, Any]) -> None:
        if self.outbox.full():
            try:
                self.outbox.get_nowait()
            except asyncio.QueueEmpty:
                pass
        self.outbox.put_nowait(message)


class PhoneHub:
    """Phone slots of one show.

    `slots`: the engine's slot of each phone source; `sources`: their settings;
    `scenes`: the show's scenes; `on_air()`: the sources on program and the
    sources in preview (on any canvas), for tally; `publish(event, fields)`: where `phone` events go.
    """

    def __init__(self, slots: Mapping[str, SourceSlot], sources: Mapping[str, Any], scenes: Mapping[str, Any],
                 on_air: Callable[[], tuple[Collection[str], Collection[str]]], publish: Callable[..., None],
                 ice_servers: tuple[Any, ...] = (), show_name: str = "") -> None:
        self.slots = slots
        self.sources = sources
        self.scenes = scenes
        self.on_air = on_air
        self.emit = publish
        self.ice_servers = ice_servers
        self.show_name = show_name
        self.names = [n for n, s in sources.items() if s.kind == "webrtc"]
        self.options = {n: phone_options(sources[n], (slots[n].width, slots[n].height) if n in slots else None)
                        for n in self.names}
        self.tokens: dict[str, str] = {}
        self.takeover: dict[str, bool] = {n: False for n in self.names}
        self.peers: dict[str, PhonePeer] = {}          # slot -> the publisher on it
        self.sessions: dict[str, PhonePeer] = {}       # WHIP session id -> peer
        self._session_tokens: dict[str, str] = {}      # session -> the token it was opened with (for DELETE)
        self.pages: dict[str, set[PageChannel]] = {n: set() for n in self.names}
        self._locks = {n: asyncio.Lock() for n in self.names}
        self._tally: dict[str, str] = {}
        self._watch: asyncio.Task[None] | None = None
        for name in self.names:
            self.tokens[name] = os.environ.get(token_env(name)) or secrets.token_urlsafe(16)

    # --- life cycle --------------------------------------------------------
    async def start(self) -> None:
        for name in self.names:
            if self.slot(name).state == "idle":   # the engine starts PhoneSource; this covers a hub used alone
                mark_waiting(self.slot(name))
        self._watch = asyncio.create_task(self._watchdog())

    async def close(self) -> None:
        """Close every peer (the show is stopping)."""
        if self._watch:
            self._watch.cancel()
        await asyncio.gather(*(peer.close("show stopped") for peer in list(self.peers.values())),
                             return_exceptions=True)

    # --- slots and tokens -----------------------------------------------------
    def has(self, name: str) -> bool:
        return name in self.options

    def slot(self, name: str) -> SourceSlot:
        return self.slots[name]

    def token_ok(self, name: str, token: object) -> bool:
        return same_secret(token, self.tokens.get(name))

    def page_settings(self, name: str) -> dict[str, Any]:
        """What the join page is told about its slot (public: no secrets)."""
        label = self.sources[name].label or name
        return {"slot": name, "label": label, "show": self.show_name, **self.options[name]}

    def ice_for_peer(self) -> list[dict[str, Any]]:
        """STUN/TURN servers with credentials, for a page that proved its slot token."""
        return [server.for_peer() for server in self.ice_servers]

    async def rotate(self, name: str, kick: bool = True) -> str:
        """A fresh token; the old link stops working. `kick` also ends the phone that used it."""
        self.tokens[name] = secrets.token_urlsafe(16)
        self._publish(name, "token_rotated", kicked=kick)
        if kick:
            for page in list(self.pages[name]):
                page.send({"type": "revoked"})
            peer = self.peers.get(name)
            if peer is not None:
                await peer.close("token revoked")
        return self.tokens[name]

    def set_takeover(self, name: str, allow: bool) -> None:
        self.takeover[name] = allow
        self._publish(name, "takeover", allow=allow)

    # --- publishing --------------------------------------------------------------
    async def publish(self, name: str, offer: str, token: str | None, client: str | None = None) -> tuple[PhonePeer, str]:
        """Answer a publisher's offer for slot `name`: (peer, answer SDP), or Refusal.

        The slot is taken while its publisher delivers media. A new offer replaces it
        when it comes from the same page (client id), when the old one has gone
        quiet (roaming, a dead phone) or when the operator allowed takeover.
        """
        if not self.has(name):
            raise Refusal(404, f"no phone slot {name!r}; slots: {', '.join(self.names)}")
        if not self.token_ok(name, token):
            raise Refusal(401, "wrong or revoked token for this slot: ask the operator for a new link")
        try:
            check_offer(offer)
        except SdpError as exc:
            raise Refusal(400, str(exc)) from None
        async with self._locks[name]:
            current = self.peers.get(name)
            same_page = bool(client) and current is not None and current.client == client
            if current is not None and not (same_page or current.stale() or self.takeover[name]):
                self._publish(name, "refused", reason="slot taken")
                raise Refusal(409, f"slot {name} already has a phone on it; the operator can allow a takeover")
            peer = PhonePeer(self.slot(name), secrets.token_urlsafe(12), client,
                             audio=bool(self.options[name]["audio"]),
                             max_bitrate_kbps=self.options[name]["max_bitrate_kbps"], closed=self._peer_closed,
                             ice_servers=self.ice_servers)
            try:
                answer = await peer.accept(offer)
            except Exception as exc:   # aiortc rejects what check_offer let through: still the offer's fault
                await peer.close("bad offer")
                reason = str(exc) if isinstance(exc, SdpError) else f"the offer could not be used: {exc}"
                raise Refusal(400, reason) from None
            if current is not None:
                why = "same phone reconnected" if same_page else ("dropped" if current.stale() else "taken over")
                if why == "taken over":
                    self._notify(name, {"type": "kicked"}, client=current.client)
                await current.close(why)
            self.peers[name] = peer
            self.sessions[peer.session] = peer
            self._session_tokens[peer.session] = token or ""
            self.slot(name).extra["phone"] = peer.info()
            self._publish(name, "offer", session=peer.session, codec=peer.codecs.get("video"),
                          audio_codec=peer.codecs.get("audio"), replaced=current is not None)
        return peer, answer

    async def end_session(self, name: str, session: str, token: str | None) -> None:
        """WHIP DELETE: end a session opened with this slot's current token or the one it was opened with."""
        peer = self.sessions.get(session)
        if peer is None or peer.slot.name != name:
            raise Refusal(404, "no such WHIP session (it ended or was replaced)")
        opened_with = self._session_tokens.get(session, "")
        if not (self.token_ok(name, token) or same_secret(token, opened_with)):
            raise Refusal(401, "wrong token for this session")
        await peer.close("publisher ended the session")

    async def _peer_closed(self, peer: PhonePeer, reason: str) -> None:
        self.sessions.pop(peer.session, None)
        self._session_tokens.pop(peer.session, None)
        name = peer.slot.name
        if self.peers.get(name) is peer:
            del self.peers[name]
            mark_waiting(peer.slot)
            if peer.client and reason not in NO_REOFFER:
                # Its page may still be open (we dropped it, not the phone): ask it to offer again now.
                self._notify(name, {"type": "reconnect"}, client=peer.client)
        self._publish(name, "left", session=peer.session, reason=reason)

    # --- pages (tally, stats from the phone) ----------------------------------------
    def tally(self, name: str) -> str:
        """program (red), preview (green) or off: is the phone in what program or preview show."""
        on_program, in_preview = self.on_air()
        if name in on_program:
            return "program"
        if name in in_preview:
            return "preview"
        return "off"

    def page_status(self, name: str, client: str | None = None) -> dict[str, Any]:
        """What a join page is told once a second: tally, slot state, and whether its media is arriving."""
        peer = self.peers.get(name)
        receiving = peer is not None and bool(client) and peer.client == client and not peer.stale()
        return {"type": "tally", "tally": self.tally(name), "state": self.slot(name).state, "receiving": receiving}

    def open_page(self, name: str, client: str) -> PageChannel:
        page = PageChannel(name, client)
        self.pages[name].add(page)
        page.send(self.page_status(name, client))
        return page

    def close_page(self, page: PageChannel) -> None:
        self.pages[page.slot].discard(page)

    def page_stats(self, page: PageChannel, message: dict[str, Any]) -> None:
        """Figures the phone measured itself (RTT, what its encoder really sends); only numbers we asked for."""
        stats = clean_stats(message)
        page.stats = stats
        peer = self.peers.get(page.slot)
        if peer is not None and peer.client == page.client and stats.get("rtt_ms") is not None:
            peer.stats["rtt_ms"] = stats["rtt_ms"]

    def _notify(self, name: str, message: dict[str, Any], client: str | None = None) -> None:
        for page in list(self.pages.get(name, ())):
            if client is None or page.client == client:
                page.send(message)

    def on_air_changed(self) -> None:
        """Program or preview changed: tell the pages whose tally changed."""
        self._push_tally()

    def _push_status(self) -> None:
        """Every page hears from us once a second: its heartbeat, tally and `receiving`."""
        for name in self.names:
            for page in list(self.pages[name]):
                page.send(self.page_status(name, page.client))

    def _push_tally(self) -> None:
        for name in self.names:
            tally = self.tally(name)
            if self._tally.get(name) != tally:
                self._tally[name] = tally
                for page in list(self.pages[name]):
                    page.send(self.page_status(name, page.client))

    # --- watchdog -----------------------------------------------------------------
    async def _watchdog(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(WATCH_S)
            tick += 1
            try:
                await self._check(stats=tick % STATS_EVERY == 0)
            except Exception:   # one bad peer must not stop the checks for the others
                log.exception("phone watchdog failed")

    async def _check(self, stats: bool) -> None:
        now = time.monotonic()
        self._push_status()
        for name, peer in list(self.peers.items()):
            if peer.dead(now):
                await peer.close("no media" if peer.last_media else "never connected")
                continue
            if stats:
                figures = await peer.measure()
                slot = self.slot(name)
                slot.extra.update(phone=peer.info(), bitrate_kbps=figures["bitrate_kbps"],
                                  rtt_ms=figures["rtt_ms"], packets_lost=figures["packets_lost"])
                self._publish(name, "stats", **peer.info(), width=slot.input_width, height=slot.input_height)

    def _publish(self, name: str, event: str, **data: Any) -> None:
        self.emit("phone", name=name, event=event, **data)

    # --- operator view -----------------------------------------------------------
    def info(self, name: str) -> dict[str, Any]:
        peer = self.peers.get(name)
        return {"name": name, "state": self.slot(name).state, "tally": self.tally(name),
                "takeover": self.takeover[name], "options": self.options[name],
                "phone": peer.info() if peer else None}


def clean_stats(message: Mapping[str, Any]) -> dict[str, Any]:
    """Only numbers we asked for: the page is not trusted with anything else."""
    out: dict[str, Any] = {}
    for key in ("bitrate_kbps", "fps", "width", "height", "rtt_ms"):
        value = message.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e6:
            out[key] = round(float(value), 1)
    return out
