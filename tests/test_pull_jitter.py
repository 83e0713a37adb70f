"""A bursty pull (HLS over HTTP) plays smoothly: its picture on program, its state steady.

ffmpeg writes HLS (2 s segments) into a folder that Python's http.server serves on
loopback, so the pull source receives a whole segment at a time, every 2 s. What an
RTMP target receives is decoded and judged frame by frame.
"""
from __future__ import annotations

import asyncio
import functools
import http.server
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from peers import FFMPEG, Receiver, ShowProcess, free_port, looks_like, wait_until

pytestmark = pytest.mark.slow

MEASURE_S = 20.0


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def hls_writer(folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "color=c=yellow:s=320x180:r=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-f", "hls", "-hls_time", "2", "-hls_list_size", "6", "-hls_flags", "delete_segments",
         str(folder / "live.m3u8")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class StateWatch:
    """Every source_state event of one source, from the show's WebSocket."""

    def __init__(self, show: ShowProcess, name: str) -> None:
        self.states: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._url = f"ws://127.0.0.1:{show.port}/ws?token={show.token}"
        self._name = name
        threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True).start()

    async def _watch(self) -> None:
        import websockets

        async with websockets.connect(self._url) as ws:
            while not self._stop.is_set():
                try:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                except websockets.ConnectionClosed:
                    return      # the show stopped
                if event.get("type") == "source_state" and event.get("name") == self._name:
                    if not self.states or self.states[-1][1] != event["state"]:
                        self.states.append((time.monotonic(), event["state"]))

    def stop(self) -> None:
        self._stop.set()


def test_hls_pull_shows_its_picture_without_flapping(tmp_path: Path) -> None:
    folder = tmp_path / "hls"
    folder.mkdir()
    writer = hls_writer(folder)
    server, http_port = serve(folder)
    out_port = free_port()
    receiver = Receiver(f"rtmp://127.0.0.1:{out_port}/live/x")
    show = watch = None
    try:
        wait_until(lambda: (folder / "live.m3u8").exists(), 15, message="HLS playlist written")
        show = ShowProcess(tmp_path, f"""
        show:
          name: hls
          video: {{width: 640, height: 360, fps: 30, bitrate_kbps: 800, keyframe_s: 1, preset: ultrafast}}
          audio: {{sample_rate: 44100, channels: 2, bitrate_kbps: 64}}
          start_scene: site
        sources:
          site: {{kind: pull, url: "http://127.0.0.1:{http_port}/live.m3u8"}}
        scenes:
          site:
            layers: [{{source: site}}]
        outputs:
          p: {{kind: rtmp, url: "rtmp://127.0.0.1:{out_port}/live/x", autostart: true}}
        """)
        watch = StateWatch(show, "site")
        wait_until(lambda: show.source("site")["state"] == "live", 30, message="HLS source live")
        try:
            wait_until(lambda: show.output("p")["state"] == "live", 30, message="program reaching the target")
        except AssertionError as exc:   # say whether the target (an ffmpeg listener) or the output failed
            raise AssertionError(f"{exc}; output {show.output('p')}; receiver exit code {receiver.proc.poll()}") from None
        wait_until(lambda: receiver.sees("yellow"), 30, message="HLS picture at the target")
        time.sleep(4)   # past the first bursts, while the buffer learns the segment rhythm
        start = time.monotonic()
        time.sleep(MEASURE_S)
        end = time.monotonic()
        frames = [c for t, c in receiver.frames if start <= t <= end]
        picture = sum(1 for c in frames if looks_like(c, "yellow"))
        share = picture / max(1, len(frames))
        flaps = [s for t, s in watch.states if start <= t <= end]
        print(f"HLS: {share:.1%} of {len(frames)} frames show the picture; state changes {flaps}")
        assert len(frames) >= MEASURE_S * 25, f"only {len(frames)} program frames in {MEASURE_S:.0f} s"
        assert share >= 0.95, f"{share:.1%} of {len(frames)} program frames show the HLS picture"
        assert not flaps, f"source state changed during the measurement: {flaps}"
        assert show.source("site")["state"] == "live"
        # When the source really stops, the slate comes (after the buffer plays out).
        writer.kill()
        server.shutdown()
        wait_until(lambda: show.source("site")["state"] != "live", 30, message="HLS source down after its server")
        wait_until(lambda: not receiver.sees("yellow"), 5, message="slate instead of the HLS picture")
    finally:
        if watch:
            watch.stop()
        if show:
            show.stop()
        receiver.stop()
        if writer.poll() is None:
            writer.kill()
        server.shutdown()
