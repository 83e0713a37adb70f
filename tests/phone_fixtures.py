"""Real publishers for the phone tests: aiortc peers with synthetic pictures and a tone,
a WHIP client over HTTP, and the phone hub served by uvicorn on loopback.

`hub_show()` builds the few parts of a Show the hub uses (config, bus, engine slots,
program/preview) so the phone side is tested before and apart from the engine.
"""
from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, AsyncIterator

import av
import httpx
import numpy as np
import uvicorn
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from stream_ops import frames
from stream_ops.config import AudioSettings, LayerConfig, SceneConfig, SourceConfig
from stream_ops.events import EventBus
from stream_ops.phones.hub import PhoneHub
from stream_ops.phones.source import PhoneSource
from stream_ops.sources.base import SourceSlot
from stream_ops.web.app import studio_app

OPERATOR = "operator-test-token"
VIDEO_CLOCK = 90000


class SolidVideoTrack(MediaStreamTrack):
    """A solid colour at `fps`, as a camera would deliver it (yuv420p frames with real pts)."""

    kind = "video"

    def __init__(self, color: str = "#ff0000", width: int = 640, height: int = 360, fps: int = 30) -> None:
        super().__init__()
        self.picture = frames.solid(width, height, color)
        self.fps = fps
        self._n = 0
        self._t0: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._t0 is None:
            self._t0 = time.monotonic()
        due = self._t0 + self._n / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = av.VideoFrame.from_ndarray(self.picture, format="yuv420p")
        frame.pts = int(self._n * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._n += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """A sine tone, 48 kHz stereo in 20 ms frames (what Opus carries)."""

    kind = "audio"

    def __init__(self, hz: float = 1000.0, dbfs: float = -12.0) -> None:
        super().__init__()
        self.hz = hz
        self.amp = 32767 * 10 ** (dbfs / 20)
        self._n = 0
        self._t0: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._t0 is None:
            self._t0 = time.monotonic()
        samples = 960
        due = self._t0 + self._n * samples / 48000
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = (np.arange(samples) + self._n * samples) / 48000
        mono = (self.amp * np.sin(2 * math.pi * self.hz * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = self._n * samples
        frame.time_base = fractions.Fraction(1, 48000)
        self._n += 1
        return frame


def phone_source(name: str, **options: Any) -> SourceConfig:
    audio = options.pop("audio", True)
    return SourceConfig(name=name, kind="webrtc", audio=audio, options=options)


def hub_show(names: tuple[str, ...] = ("phone1",), width: int = 640, height: int = 360,
             program: str | None = "cam", preview: str | None = None) -> SimpleNamespace:
    """The parts of a Show the hub uses; scene `cam` shows the first slot, `all` every slot."""
    sources = {n: phone_source(n) for n in names}
    scenes = {
        "cam": SceneConfig("cam", (LayerConfig("source", source=names[0]),)),
        "all": SceneConfig("all", tuple(LayerConfig("source", source=n) for n in names)),
        "none": SceneConfig("none", (LayerConfig("color"),)),
    }
    audio = AudioSettings()
    config = SimpleNamespace(name="phone-test", sources=sources, scenes=scenes, outputs={}, audio=audio, public_url=None,
                             path=Path("show.yaml"))
    slots = {n: SourceSlot(sources[n], width, height, audio.sample_rate, audio.channels) for n in names}
    engine = SimpleNamespace(slots=slots, program=program, preview=preview)
    show = SimpleNamespace(config=config, bus=EventBus(), engine=engine, base_url="http://127.0.0.1")
    show.sources = {n: PhoneSource(slots[n], lambda *a, **k: None) for n in names}
    return show


@contextlib.asynccontextmanager
async def serve_hub(show: SimpleNamespace) -> AsyncIterator[tuple[PhoneHub, str]]:
    """The hub's routes behind the operator token gate, on a free loopback port."""
    show.bus.bind(asyncio.get_running_loop())
    for source in show.sources.values():
        source.start()
    engine = show.engine
    scenes = show.config.scenes

    def shown(scene: str | None) -> set[str]:
        return set(scenes[scene].visible_sources()) if scene in scenes else set()

    hub = PhoneHub(engine.slots, show.config.sources, scenes,
                   on_air=lambda: (shown(engine.program), shown(engine.preview)), publish=show.bus.publish,
                   ice_servers=getattr(show.config, "ice_servers", ()), show_name=show.config.name)
    show.phones = hub
    show.bus.listeners.append(lambda event: event.type in ("program", "preview") and hub.on_air_changed())
    await hub.start()
    app = studio_app(show, OPERATOR, hub=hub)
    async with serve_app(app) as base:
        show.base_url = base
        try:
            yield hub, base
        finally:
            await hub.close()


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class WhipClient:
    """An aiortc publisher speaking WHIP: POST offer, 201 answer, DELETE to leave."""

    def __init__(self, base: str, slot: str, token: str, *, color: str = "#ff0000", codec: str | None = None,
                 audio: bool = True, width: int = 640, height: int = 360, fps: int = 30, client: str | None = None) -> None:
        self.base, self.slot, self.token = base, slot, token
        self.color, self.codec, self.audio = color, codec, audio
        self.size, self.fps, self.client = (width, height), fps, client
        self.pc: RTCPeerConnection | None = None
        self.location: str | None = None
        self.status: int | None = None
        self.error: str | None = None

    async def publish(self) -> int:
        """Returns the HTTP status of the POST (201 when accepted)."""
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc = pc
        video = pc.addTransceiver(SolidVideoTrack(self.color, *self.size, fps=self.fps), direction="sendonly")
        if self.codec:
            caps = RTCRtpSender.getCapabilities("video").codecs
            video.setCodecPreferences([c for c in caps if c.mimeType.lower() == f"video/{self.codec.lower()}"])
        if self.audio:
            pc.addTransceiver(ToneTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/sdp"}
        if self.client:
            headers["X-Phone-Client"] = self.client
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{self.base}/whip/{self.slot}", content=pc.localDescription.sdp, headers=headers)
        self.status = r.status_code
        if r.status_code != 201:
            self.error = r.text
            await pc.close()
            return r.status_code
        self.location = r.headers["location"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
        return r.status_code

    async def delete(self) -> int:
        async with httpx.AsyncClient() as http:
            r = await http.delete(f"{self.base}{self.location}", headers={"Authorization": f"Bearer {self.token}"})
        return r.status_code

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()


async def wait_for(predicate: Any, timeout: float = 10.0, step: float = 0.02) -> float:
    """Seconds until predicate() is true; AssertionError after `timeout`."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {getattr(predicate, '__name__', predicate)}")
        await asyncio.sleep(step)
    return time.monotonic() - t0


def slot_rgb(slot: SourceSlot) -> tuple[float, float, float] | None:
    """Mean colour of the slot's centre, or None when it is stale (slate)."""
    frame = slot.latest_video()
    if frame is None:
        return None
    w, h = slot.width, slot.height
    return frames.mean_rgb(frame, w, h, w // 4, h // 4, w // 2, h // 2)


def is_color(rgb: tuple[float, float, float] | None, want: tuple[int, int, int], tol: float = 40) -> bool:
    return rgb is not None and all(abs(a - b) <= tol for a, b in zip(rgb, want))


def audio_rms_dbfs(slot: SourceSlot, seconds: float = 0.2) -> float:
    chunk = slot.pull_audio(int(slot.sample_rate * seconds))
    if chunk is None:
        return -math.inf
    x = chunk.astype(np.float64) / 32768
    return 20 * math.log10(max(float(np.sqrt(np.mean(x * x))), 1e-9))
