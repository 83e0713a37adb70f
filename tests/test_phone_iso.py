"""Phones recorded on their own (ISO): the encoded video as it arrived, after a SIGKILL.

Two aiortc publishers speak WHIP to a real `stream-ops run` — one sends VP8, one
H.264 — into slots marked for ISO recording. The show is killed; both files must
decode with each phone's picture.
"""
from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import av
import pytest

from peers import ShowProcess, looks_like, wait_until
from phone_fixtures import WhipClient

pytestmark = pytest.mark.slow


def picture_colours(path: Path) -> list[tuple[float, float, float]]:
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.reformat(width=32, height=18, format="rgb24").to_ndarray()[5:13, 8:24].reshape(-1, 3).mean(axis=0)
            out.append(tuple(float(c) for c in rgb))
    return out


def test_phone_iso_files_survive_sigkill(tmp_path: Path) -> None:
    tokens = {"phone1": "tok-phone-one", "phone2": "tok-phone-two"}
    show = ShowProcess(tmp_path, """
    show:
      name: phones
      video: {width: 640, height: 360, fps: 30, bitrate_kbps: 800, keyframe_s: 1, preset: ultrafast}
      audio: {sample_rate: 48000, channels: 2, bitrate_kbps: 64}
    sources:
      phone1: {kind: webrtc}
      phone2: {kind: webrtc}
    scenes:
      both:
        grid: {sources: [phone1, phone2], columns: 2}
    iso:
      sources: all
      path: "rec/{show}-{source}-{start:%Y%m%d-%H%M%S}.mkv"
    """, env={f"STREAM_OPS_PHONE_TOKEN_{n.upper()}": t for n, t in tokens.items()})
    base = f"http://127.0.0.1:{show.port}"
    clients = {"phone1": WhipClient(base, "phone1", tokens["phone1"], color="#ff0000", codec="VP8"),
               "phone2": WhipClient(base, "phone2", tokens["phone2"], color="#0000ff", codec="H264")}
    files: dict[str, Path] = {}

    async def scenario() -> None:
        for client in clients.values():
            assert await client.publish() == 201, client.error
        for name in clients:
            info = await asyncio.to_thread(wait_until, lambda: show.source(name)["iso_file"], 20,
                                           message=f"{name} recorded")
            files[name] = Path(info)
        await asyncio.sleep(4)
        await asyncio.to_thread(show.stop, signal.SIGKILL)
        for client in clients.values():
            await client.close()

    try:
        asyncio.run(scenario())
    finally:
        show.stop()
    assert files["phone1"].suffix == ".mkv" and files["phone2"].suffix == ".ts"
    for name, colour in (("phone1", "red"), ("phone2", "blue")):
        pictures = picture_colours(files[name])
        assert len(pictures) >= 60, f"{name}: only {len(pictures)} frames decodable after SIGKILL"
        assert sum(looks_like(c, colour) for c in pictures) >= 0.95 * len(pictures), f"{name} ISO is not {colour}"
