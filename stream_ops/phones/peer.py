"""One publisher (a phone page or a WHIP encoder) feeding one source slot.

aiortc receives, depacketizes and decodes (H.264, VP8, Opus) in its own threads;
this module turns each decoded picture into the slot's packed yuv420p (libswscale,
via frames.from_video_frame) and each audio frame into the show's rate and
channels. Everything here runs on the asyncio loop.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import av
from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from .. import frames
from ..recordings import fill_path
from ..sources.base import SourceSlot
from . import sdp
from .iso import IsoWriter, tee_video

log = logging.getLogger(__name__)


def _allow_loopback_candidates() -> None:
    """On a machine whose only interface is loopback (a studio laptop offline, a CI box),
    aioice gathers no host candidate at all and no phone could ever connect; fall back
    to 127.0.0.1 there. Machines with a real interface are unchanged."""
    import aioice.ice as ice

    original = ice.get_host_addresses
    if getattr(original, "_stream_ops", False):
        return

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        found = original(use_ipv4, use_ipv6)
        return found or (["127.0.0.1"] if use_ipv4 else [])

    host_addresses._stream_ops = True   # type: ignore[attr-defined]
    ice.get_host_addresses = host_addresses


_allow_loopback_candidates()

RECEIVE_BUFFER = 4 * 1024 * 1024   # bytes; capped by net.core.rmem_max
STALE_AFTER_S = 2.0        # no media this long: a new offer for the slot may replace this peer
GIVE_UP_AFTER_S = 15.0     # no media this long: close it (ICE consent would take 30 s)
CONNECT_TIMEOUT_S = 15.0   # an answer that never connects frees the slot after this

Closed = Callable[["PhonePeer", str], Awaitable[None] | None]


class PhonePeer:
    """An RTCPeerConnection that publishes into `slot`; `closed(peer, reason)` is called once when it ends."""

    def __init__(self, slot: SourceSlot, session: str, client: str | None, *, audio: bool,
                 max_bitrate_kbps: int | None, closed: Closed, fit: str = "contain",
                 ice_servers: tuple[Any, ...] = ()) -> None:
        self.slot = slot
        self.session = session
        self.client = client              # the page's random id: the same page coming back may take its place
        self.audio = audio
        self.max_bitrate_kbps = max_bitrate_kbps
        self.fit = fit
        self.created = time.monotonic()
        self.connected_at: float | None = None
        self.first_frame_at: float | None = None
        self.last_media = 0.0
        self.codecs: dict[str, str] = {}
        self.active = True                # False once closed or replaced: never push into the slot again
        self.reason = ""
        self.frames = 0
        self.stats: dict[str, Any] = {"bitrate_kbps": 0.0, "fps": 0.0, "rtt_ms": None, "packets_lost": 0}
        self._stats_mark: tuple[float, int, int] | None = None   # (time, bytes, frames)
        self._closed_cb = closed
        self._tasks: list[asyncio.Task[None]] = []
        self.iso: IsoWriter | None = None    # this connection's video, as it arrived, when the slot is recorded
        # Host candidates only unless the show names STUN/TURN servers (phones on 4G behind NAT).
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[RTCIceServer(**s.for_peer()) for s in ice_servers]))
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    # --- signalling --------------------------------------------------------
    async def accept(self, offer: str) -> str:
        """Take the offer and return the answer (all ICE candidates included: no trickle)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        _widen_receive_buffers(self.pc)
        local = self.pc.localDescription.sdp
        self.codecs = sdp.negotiated(local)
        if "video" not in self.codecs and "audio" not in self.codecs:
            raise sdp.SdpError("no offered codec could be agreed: send H.264 or VP8 video, Opus audio")
        return sdp.with_bandwidth(local, self.max_bitrate_kbps)

    async def close(self, reason: str) -> None:
        """Stop feeding the slot and close the connection; idempotent."""
        if not self.active:
            return
        self.active = False
        self.reason = reason
        for task in self._tasks:
            task.cancel()
        if self.iso is not None:
            await asyncio.to_thread(self.iso.close)   # the file ends cleanly (joins its writer thread)
        try:
            await self.pc.close()
        except Exception:   # a half-open DTLS transport may fail to say goodbye; it is gone either way
            log.debug("closing peer %s failed", self.session, exc_info=True)
        result = self._closed_cb(self, reason)
        if asyncio.iscoroutine(result):
            await result

    # --- health --------------------------------------------------------------
    def state(self) -> str:
        return self.pc.connectionState

    def stale(self, now: float | None = None) -> bool:
        """Gone for practical purposes: failed/closed, or media stopped for STALE_AFTER_S."""
        now = now if now is not None else time.monotonic()
        if not self.active or self.pc.connectionState in ("failed", "closed", "disconnected"):
            return True
        if self.last_media:
            return now - self.last_media > STALE_AFTER_S
        return now - self.created > CONNECT_TIMEOUT_S

    def dead(self, now: float | None = None) -> bool:
        """Worth closing: no media for GIVE_UP_AFTER_S, or never connected."""
        now = now if now is not None else time.monotonic()
        if self.pc.connectionState in ("failed", "closed"):
            return True
        if self.last_media:
            return now - self.last_media > GIVE_UP_AFTER_S
        return now - self.created > CONNECT_TIMEOUT_S

    async def measure(self) -> dict[str, Any]:
        """Refresh bitrate, fps and loss from aiortc's stats (received bytes over the last interval)."""
        report = await self.pc.getStats()
        rx_bytes = sum(getattr(s, "bytesReceived", 0) or 0 for s in report.values() if s.type == "transport")
        lost = sum(getattr(s, "packetsLost", 0) or 0 for s in report.values() if s.type == "inbound-rtp")
        now = time.monotonic()
        if self._stats_mark is not None:
            t0, b0, f0 = self._stats_mark
            dt = max(now - t0, 1e-3)
            self.stats["bitrate_kbps"] = round((rx_bytes - b0) * 8 / 1000 / dt, 1)
            self.stats["fps"] = round((self.frames - f0) / dt, 1)
        self._stats_mark = (now, rx_bytes, self.frames)
        self.stats["packets_lost"] = lost
        return self.stats

    def info(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "state": self.pc.connectionState,
            "codec": self.codecs.get("video"),
            "audio_codec": self.codecs.get("audio"),
            "connected_s": round(time.monotonic() - self.connected_at, 1) if self.connected_at else None,
            **self.stats,
        }

    # --- media ---------------------------------------------------------------
    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected" and self.connected_at is None:
            self.connected_at = time.monotonic()
        elif state in ("failed", "closed") and self.active:
            asyncio.ensure_future(self.close(f"connection {state}"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._record_iso(track)
            self._tasks.append(asyncio.ensure_future(self._video(track)))
        elif track.kind == "audio":
            self._tasks.append(asyncio.ensure_future(self._audio(track)))

    async def _receive(self, track: MediaStreamTrack) -> AsyncIterator[Any]:
        """Frames of a track until it ends or this peer closes."""
        while self.active:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not self.active:
                return
            yield frame

    async def _video(self, track: MediaStreamTrack) -> None:
        slot = self.slot
        size: tuple[int, int] | None = None
        converter = _Converter(slot, self.fit)
        try:
            await self._video_loop(track, slot, converter, size)
        finally:
            converter.close()

    async def _video_loop(self, track: MediaStreamTrack, slot: SourceSlot, converter: "_Converter",
                          size: tuple[int, int] | None) -> None:
        async for frame in self._receive(track):
            now = time.monotonic()
            converter.put(frame, now)
            self.frames += 1
            self.last_media = now
            if self.first_frame_at is None:
                self.first_frame_at = now
            if size != (frame.width, frame.height):   # type: ignore[union-attr]
                size = (frame.width, frame.height)    # type: ignore[union-attr]
                slot.set_input(size[0], size[1], (self.codecs.get("video") or "").lower() or None)
                if self.iso is not None and self.iso.size is None and self.iso.codec is not None:
                    self.iso.set_size(*size)
                    slot.iso_file, slot.iso_started = str(self.iso.path), time.time()

    def _record_iso(self, track: MediaStreamTrack) -> None:
        """When the slot is recorded, copy this connection's encoded video to a file of its own."""
        target = self.slot.iso_target
        if target is None:
            return
        receiver = next((t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        template, show, base_dir = target
        writer = IsoWriter(fill_path(template, show, base_dir, source=self.slot.name))
        if receiver is not None and tee_video(receiver, writer):
            self.iso = writer
        else:
            writer.close()
            log.warning("phone %s: this aiortc cannot hand over encoded frames; not recorded on its own", self.slot.name)

    async def _audio(self, track: MediaStreamTrack) -> None:
        slot = self.slot
        layout = "mono" if slot.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="s16", layout=layout, rate=slot.sample_rate)
        async for frame in self._receive(track):
            self.last_media = time.monotonic()
            if not self.audio:   # audio off for this slot: keep draining so aiortc's queue stays empty
                continue
            for out in resampler.resample(frame):   # type: ignore[arg-type]
                slot.push_audio(out.to_ndarray().reshape(-1, slot.channels))


class _Converter:
    """Scales a phone's pictures into its slot on a thread of its own.

    Scaling runs in C (swscale) and releases the GIL, but on the asyncio loop six
    phones' worth of it delayed every web request and WebRTC packet. Only the
    newest picture matters (the slot keeps just the latest), so a late one is
    replaced, never queued.
    """

    def __init__(self, slot: SourceSlot, fit: str) -> None:
        self.slot, self.fit = slot, fit
        self._cond = threading.Condition()
        self._pending: tuple[Any, float] | None = None
        self._closed = False
        self.replaced = 0
        threading.Thread(target=self._run, name=f"phone-{slot.name}-scale", daemon=True).start()

    def put(self, frame: Any, at: float) -> None:
        with self._cond:
            if self._pending is not None:
                self.replaced += 1
            self._pending = (frame, at)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                frame, at = self._pending   # type: ignore[misc]
                self._pending = None
            try:
                picture = frames.from_video_frame(frame, self.slot.width, self.slot.height, self.fit)
            except Exception:   # one undecodable picture must not end the phone
                log.debug("phone %s: picture dropped", self.slot.name, exc_info=True)
                continue
            self.slot.push_video(picture, at)


def _widen_receive_buffers(pc: RTCPeerConnection) -> None:
    """Give each ICE socket a 4 MB receive buffer.

    Measured: with six 2.5 Mbit/s phones, a keyframe burst arriving while the
    loop converts a picture overflowed the default 208 KB buffer (kernel
    RcvbufErrors) and cost seconds of frozen picture. aiortc has no option for
    it, so this reaches its sockets through aioice (private attributes).
    """
    for transceiver in pc.getTransceivers():
        try:
            protocols = transceiver.receiver.transport.transport._connection._protocols
        except AttributeError:   # another aiortc/aioice layout: keep the default buffer
            return
        for protocol in protocols:
            sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
                except OSError:
                    log.debug("could not widen a receive buffer", exc_info=True)
