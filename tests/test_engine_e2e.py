"""The live engine end to end, with real peers on loopback.

ffmpeg publishers push RTMP/SRT into listen sources; ffmpeg listeners play the
platforms; we decode what they receive and judge colours before and after.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

import av
import psutil
import pytest

from peers import FFMPEG, Publisher, Receiver, ShowProcess, free_port, looks_like, wait_until

pytestmark = pytest.mark.slow


def show_yaml(cam_port: int, srt_port: int | None, outputs: str, extra_sources: str = "") -> str:
    srt_source = f'cam2: {{kind: srt, listen: "srt://127.0.0.1:{srt_port}"}}' if srt_port else ""
    return f"""
    show:
      name: e2e
      video: {{width: 640, height: 360, fps: 30, bitrate_kbps: 800, keyframe_s: 1, preset: ultrafast}}
      audio: {{sample_rate: 44100, channels: 2, bitrate_kbps: 64}}
      start_scene: cam
    sources:
      cam1: {{kind: rtmp, listen: "rtmp://127.0.0.1:{cam_port}/live/cam1"}}
      blue: {{kind: color, color: "#0000ff"}}
      green: {{kind: color, color: "#008000"}}
      {srt_source}
      {extra_sources}
    scenes:
      cam:
        layers: [{{source: cam1}}]
      blue:
        layers: [{{source: blue}}]
      green:
        layers: [{{source: green}}]
    outputs:
{outputs}
    """


@pytest.fixture
def rig(tmp_path):
    """A show with an RTMP camera, an RTMP target and an SRT target, all on loopback."""
    cam_port, rtmp_out, srt_out = free_port(), free_port(), free_port()
    receivers = {"rtmp": Receiver(f"rtmp://127.0.0.1:{rtmp_out}/live/key123"),
                 "srt": Receiver(f"srt://127.0.0.1:{srt_out}")}
    outputs = f"""      platform: {{kind: rtmp, url: "rtmp://127.0.0.1:{rtmp_out}/live", key: "${{E2E_KEY}}", autostart: true}}
      gateway: {{kind: srt, url: "srt://127.0.0.1:{srt_out}", autostart: true}}
      record: {{kind: file, path: "rec/{{show}}.ts", autostart: true}}"""
    show = ShowProcess(tmp_path, show_yaml(cam_port, None, outputs), env={"E2E_KEY": "key123"})
    publisher = Publisher(f"rtmp://127.0.0.1:{cam_port}/live/cam1", color="red")
    ports = {"cam": cam_port, "rtmp": rtmp_out, "srt": srt_out}
    yield show, receivers, publisher, ports
    publisher.stop()
    for r in receivers.values():
        r.stop()
    show.stop()


def test_switch_reaches_every_target(rig):
    show, receivers, publisher, _ = rig
    wait_until(lambda: show.source("cam1")["state"] == "live", 15, message="cam1 live")
    for name, r in receivers.items():
        wait_until(lambda: r.sees("red"), 15, message=f"red at the {name} target")
    status, body = show.request("POST", "/api/program", {"scene": "blue"})
    assert status == 200 and body["program"] == "blue"
    for name, r in receivers.items():
        wait_until(lambda: r.sees("blue"), 5, message=f"blue at the {name} target")
    # The source reports what really arrives.
    cam = show.source("cam1")
    assert (cam["width"], cam["height"]) == (640, 360) and cam["fps"] > 20
    out = show.output("platform")
    assert out["state"] == "live" and out["kbps"] > 0 and out["bytes"] > 0
    assert "key123" not in show.log() and "key123" not in str(show.state())
    assert out["target"].endswith("/****")


def test_fade_passes_through_a_mix(rig):
    show, receivers, _, _ = rig
    r = receivers["rtmp"]
    show.request("POST", "/api/program", {"scene": "blue"})
    wait_until(lambda: r.sees("blue"), 15, message="blue")
    show.request("POST", "/api/program", {"scene": "green", "transition": "fade", "duration_ms": 1000})
    wait_until(lambda: r.sees("green"), 5, message="green after the fade")
    # Somewhere during the fade the picture was neither pure blue nor pure green.
    mixed = [c for _, c in list(r.frames)[-90:] if not looks_like(c, "blue", 30) and not looks_like(c, "green", 30)]
    assert len(mixed) >= 5, "a 1 s fade should show intermediate frames"


def test_dead_target_leaves_the_others_alone_and_reconnects(rig):
    show, receivers, _, ports = rig
    show.request("POST", "/api/program", {"scene": "blue"})
    srt = receivers["srt"]
    rtmp = receivers["rtmp"]
    wait_until(lambda: rtmp.sees("blue") and srt.sees("blue"), 15, message="both targets live")
    wait_until(lambda: show.output("platform")["state"] == "live", 10, message="platform live")
    rtmp.stop()                                      # the platform goes away mid-show
    killed_at = time.monotonic()
    wait_until(lambda: show.output("platform")["state"] in ("reconnecting", "connecting"), 10, message="platform reconnecting")
    # Meanwhile the SRT target kept receiving without a gap.
    time.sleep(2)
    recent = [t for t, _ in srt.frames if t >= killed_at - 0.5]
    gaps = [b - a for a, b in zip(recent, recent[1:])]
    assert recent and max(gaps) < 0.5, f"SRT target stalled for {max(gaps):.2f} s while RTMP target was dead"
    # The platform comes back; the output finds it by itself.
    back = Receiver(f"rtmp://127.0.0.1:{ports['rtmp']}/live/key123")
    receivers["rtmp"] = back
    wait_until(lambda: back.sees("blue"), 20, message="picture at the returned RTMP target")
    wait_until(lambda: show.output("platform")["state"] == "live", 10, message="platform live again")
    assert show.output("platform")["reconnects"] >= 1


def test_publisher_drop_shows_slate_and_recovers(rig):
    show, receivers, publisher, ports = rig
    r = receivers["rtmp"]
    wait_until(lambda: r.sees("red"), 15, message="red camera on program")
    publisher.stop()
    dropped = time.monotonic()
    wait_until(lambda: not r.sees("red"), 5, message="camera gone from program")
    wait_until(lambda: show.source("cam1")["state"] in ("no_signal", "connecting"), 3, message="cam1 reported down")
    # The slate (dark, striped) took its place; time to it is well under a second of receiver time.
    slate_frames = [(t, c) for t, c in r.frames if t > dropped and max(c) < 110]
    assert slate_frames, "the slate should replace a dead source"
    # The publisher returns: the listen source takes it again without anyone doing anything.
    again = Publisher(f"rtmp://127.0.0.1:{ports['cam']}/live/cam1", color="red")
    try:
        wait_until(lambda: r.sees("red"), 20, message="camera back on program")
        assert show.source("cam1")["state"] == "live"
    finally:
        again.stop()


def test_srt_listen_source(tmp_path):
    cam_port, srt_port, out_port = free_port(), free_port(), free_port()
    receiver = Receiver(f"rtmp://127.0.0.1:{out_port}/live/x")
    outputs = f'      p: {{kind: rtmp, url: "rtmp://127.0.0.1:{out_port}/live/x", autostart: true}}'
    yaml_text = show_yaml(cam_port, srt_port, outputs).replace("layers: [{source: blue}]", "layers: [{source: cam2}]")
    show = ShowProcess(tmp_path, yaml_text)
    pub = Publisher(f"srt://127.0.0.1:{srt_port}", color="yellow")
    try:
        show.request("POST", "/api/program", {"scene": "blue"})   # the "blue" scene now shows cam2
        wait_until(lambda: show.source("cam2")["state"] == "live", 20, message="SRT source live")
        wait_until(lambda: receiver.sees("yellow"), 10, message="SRT picture at the target")
    finally:
        pub.stop()
        receiver.stop()
        show.stop()


def test_recording_survives_sigkill_and_sigterm_leaves_no_child(tmp_path):
    outputs = '      record: {kind: file, path: "rec/take.ts", autostart: true}'
    show = ShowProcess(tmp_path, show_yaml(free_port(), None, outputs))
    rec = tmp_path / "rec" / "take.ts"
    wait_until(lambda: rec.exists() and rec.stat().st_size > 200_000, 20, message="recording growing")
    children = show.children()
    assert children, "the RTMP listen source should run in an ffmpeg child"
    show.stop(signal.SIGKILL)
    # The kernel ends the children with their parent (PR_SET_PDEATHSIG): no listener keeps the port.
    def gone(pid: int) -> bool:
        return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    wait_until(lambda: all(gone(pid) for pid in children), 5, message="ffmpeg children gone after SIGKILL")
    with av.open(str(rec)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded >= 30, f"only {decoded} frames decodable after SIGKILL"

    # A clean stop (SIGTERM): exit 0, no ffmpeg child left, recording closed and playable.
    cam_port = free_port()
    outputs = '      record: {kind: file, path: "rec/clean.ts", autostart: true}'
    show2 = ShowProcess(tmp_path / "two" if (tmp_path / "two").mkdir() or True else tmp_path,
                        show_yaml(cam_port, None, outputs))
    pub = Publisher(f"rtmp://127.0.0.1:{cam_port}/live/cam1")
    try:
        wait_until(lambda: show2.source("cam1")["state"] == "live", 15, message="cam1 live")
        kids = show2.children()
        assert kids, "the RTMP source should run in an ffmpeg child"
        assert show2.stop(signal.SIGTERM) == 0
        time.sleep(0.5)
        alive = [pid for pid in kids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"children left after SIGTERM: {alive}"
    finally:
        pub.stop()
        show2.stop(signal.SIGKILL)
    with av.open(str(tmp_path / "two" / "rec" / "clean.ts")) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 15


def test_api_refuses_bad_input_clearly(tmp_path):
    show = ShowProcess(tmp_path, show_yaml(free_port(), None, '      record: {kind: file, path: "r.ts"}'))
    try:
        assert show.request("GET", "/api/state", token=None)[0] == 401
        assert show.request("GET", "/api/state", token="wrong")[0] == 401
        assert show.request("GET", "/metrics", token=None)[0] == 401
        assert show.request("GET", "/healthz", token=None)[0] == 200
        status, body = show.request("POST", "/api/program", {"scene": "nope"})
        assert status == 404 and "nope" in body["error"]
        assert show.request("POST", "/api/outputs/nope/start")[0] == 404
        assert show.request("POST", "/api/sources/nope/audio", {"muted": True})[0] == 404
        for bad in (b"{", b"[]", b'"x"', b'{"scene": 5}', b'{"scene": "blue", "transition": "wipe"}',
                    b'{"scene": "blue", "duration_ms": -1}', b'{"scene": "blue", "bogus": 1}', b"\xff\xfe",
                    b'{"scene": "blue", "duration_ms": "fast"}', b'{"scene": null}'):
            status, body = show.request("POST", "/api/program", raw=bad)
            assert status == 422, (bad, status, body)
            assert isinstance(body, dict) and body["error"]
        assert show.request("POST", "/api/sources/blue/audio", {"gain_db": "loud"})[0] == 422
        assert show.request("POST", "/api/sources/blue/audio", {"gain_db": 99})[0] == 422
        assert show.request("POST", "/api/sources/blue/audio", {})[0] == 422
        assert show.request("POST", "/api/take", raw=b"x" * 20000)[0] == 413
        status, body = show.request("POST", "/api/sources/blue/audio", {"gain_db": -6, "muted": True})
        assert status == 200 and body == {"name": "blue", "gain_db": -6.0, "muted": True}
        status, text = show.request("GET", "/metrics")
        assert status == 200 and "stream_ops_frames_total" in text
        # Preview then take swaps them.
        assert show.request("POST", "/api/preview", {"scene": "green"})[1]["preview"] == "green"
        status, body = show.request("POST", "/api/take", {"transition": "cut"})
        assert (body["program"], body["preview"]) == ("green", "cam")
    finally:
        show.stop()


def test_pull_source_retries_until_the_server_appears(tmp_path):
    """A pull source whose server is not up yet backs off and comes live when it is."""
    pull_port, out_port = free_port(), free_port()
    receiver = Receiver(f"rtmp://127.0.0.1:{out_port}/live/x")
    outputs = f'      p: {{kind: rtmp, url: "rtmp://127.0.0.1:{out_port}/live/x", autostart: true}}'
    extra = f'site: {{kind: pull, url: "rtmp://127.0.0.1:{pull_port}/live/site"}}'
    yaml_text = show_yaml(free_port(), None, outputs, extra).replace("layers: [{source: green}]", "layers: [{source: site}]")
    show = ShowProcess(tmp_path, yaml_text)
    server = None
    try:
        show.request("POST", "/api/program", {"scene": "green"})           # "green" shows the pull source
        time.sleep(2.5)
        assert show.source("site")["state"] in ("connecting", "no_signal")
        # An ffmpeg RTMP server (listen mode output) that serves one player: our pull source.
        server = subprocess.Popen([FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                                   "-i", "color=c=yellow:s=320x180:r=30", "-c:v", "libx264", "-preset", "ultrafast",
                                   "-g", "30", "-f", "flv", "-listen", "1", f"rtmp://127.0.0.1:{pull_port}/live/site"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: show.source("site")["state"] == "live", 20, message="pull source live")
        wait_until(lambda: receiver.sees("yellow"), 10, message="pulled picture on program")
    finally:
        if server:
            server.kill()
        receiver.stop()
        show.stop()


def test_garbage_on_a_listen_socket_does_not_kill_the_source(tmp_path):
    import socket

    cam_port = free_port()
    show = ShowProcess(tmp_path, show_yaml(cam_port, None, '      r: {kind: file, path: "r.ts"}'))
    def connect() -> socket.socket | None:
        # The source's ffmpeg listens once it has started, and again after each garbage
        # connection made it restart: wait for the listener rather than guess how long that takes.
        try:
            return socket.create_connection(("127.0.0.1", cam_port), timeout=5)
        except ConnectionRefusedError:
            return None

    try:
        for payload in (b"\x03" + os.urandom(3000), b"GET / HTTP/1.1\r\n\r\n", os.urandom(20000)):
            with wait_until(connect, 20, message="the source listening again") as s:
                try:
                    s.sendall(payload)
                    s.settimeout(1)
                    s.recv(100)
                except OSError:
                    pass
            time.sleep(0.5)
        pub = Publisher(f"rtmp://127.0.0.1:{cam_port}/live/cam1", color="red")
        try:
            wait_until(lambda: show.source("cam1")["state"] == "live", 20, message="a real publisher after garbage")
        finally:
            pub.stop()
        assert show.request("GET", "/healthz", token=None)[0] == 200
    finally:
        show.stop()


def test_websocket_sends_state_then_typed_events(tmp_path):
    import asyncio
    import json

    import websockets

    show = ShowProcess(tmp_path, show_yaml(free_port(), None, '      r: {kind: file, path: "r.ts"}'))

    async def scenario() -> None:
        url = f"ws://127.0.0.1:{show.port}/ws"
        with pytest.raises(Exception):
            async with websockets.connect(url) as ws:     # no token: closed with 4401
                await asyncio.wait_for(ws.recv(), 5)
        async with websockets.connect(url + f"?token={show.token}") as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert first["type"] == "state" and first["program"] == "cam"
            await asyncio.to_thread(show.request, "POST", "/api/program", {"scene": "blue"})
            seen = set()
            while "program" not in seen or "levels" not in seen:
                event = json.loads(await asyncio.wait_for(ws.recv(), 5))
                seen.add(event["type"])
                if event["type"] == "program":
                    assert event["scene"] == "blue" and event["previous"] == "cam"
                assert "seq" in event and "ts" in event

    try:
        asyncio.run(scenario())
    finally:
        show.stop()


def test_busy_web_port_and_broken_file_are_explained(tmp_path):
    import socket
    import sys

    (tmp_path / "bad.mp4").write_text("not a video")
    yaml_text = show_yaml(free_port(), None, '      r: {kind: file, path: "r.ts"}',
                          'bad: {kind: file, path: bad.mp4}').replace("layers: [{source: green}]", "layers: [{source: bad}]")
    show = ShowProcess(tmp_path, yaml_text)
    try:
        wait_until(lambda: "Invalid data" in (show.source("bad")["error"] or ""), 10, message="the file's problem in its state")
        assert show.source("bad")["state"] in ("connecting", "no_signal")
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            result = subprocess.run([sys.executable, "-m", "stream_ops", "run", str(show.path), "--port", str(port)],
                                    capture_output=True, text=True, timeout=30, env=show.env)
        assert result.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
    finally:
        show.stop()


def test_output_start_stop_storm_leaves_one_worker(tmp_path):
    """An operator double-clicking start/stop must never end with two pushes to one target."""
    out_port = free_port()
    receiver = None
    show = ShowProcess(tmp_path, show_yaml(free_port(), None, f'      p: {{kind: rtmp, url: "rtmp://127.0.0.1:{out_port}/live/x"}}'))
    try:
        show.request("POST", "/api/program", {"scene": "blue"})
        for _ in range(4):
            assert show.request("POST", "/api/outputs/p/start")[0] == 200
            assert show.request("POST", "/api/outputs/p/stop")[0] == 200
        assert show.request("POST", "/api/outputs/p/start")[0] == 200
        # The target listens only now: an `ffmpeg -listen 1` takes one publisher in its life, and a
        # push child dials as soon as it starts (it has nothing to probe), so one of the storm's
        # short-lived sessions would have used it up.
        receiver = Receiver(f"rtmp://127.0.0.1:{out_port}/live/x")
        wait_until(lambda: show.output("p")["state"] == "live", 20, message="output live after the storm")
        pushes = [p for p in psutil.Process(show.proc.pid).children(recursive=True)
                  if "-progress" in " ".join(p.cmdline())]
        assert len(pushes) == 1, [p.cmdline() for p in pushes]
    finally:
        if receiver:
            receiver.stop()
        show.stop()
