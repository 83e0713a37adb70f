"""Outputs report what is measured: a target that goes away stops being "live".

Real targets on loopback (ffmpeg listeners) are killed with SIGKILL, the way a
crashed platform ingest or a pulled cable looks to us: no goodbye on the wire.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from peers import Receiver, ShowProcess, free_port, wait_until

pytestmark = pytest.mark.slow

# libsrt alone notices a silent receiver after its 5 s peer-idle timeout (6.4 s
# measured before the relay); a target's loss must show well before that.
LEAVES_LIVE_DEADLINE_S = 4.0


def show_yaml(outputs: str) -> str:
    # A still colour on program: the lowest bitrate (~90 kbps), where buffers take longest to fill.
    return f"""
    show:
      name: honesty
      video: {{width: 640, height: 360, fps: 30, bitrate_kbps: 800, keyframe_s: 1, preset: ultrafast}}
      audio: {{sample_rate: 44100, channels: 2, bitrate_kbps: 64}}
      start_scene: blue
    sources:
      blue: {{kind: color, color: "#0000ff"}}
    scenes:
      blue:
        layers: [{{source: blue}}]
    outputs:
{outputs}
    """


def test_killed_targets_leave_live_and_come_back(tmp_path: Path) -> None:
    ports = {"srt_gone": free_port(), "rtmp_gone": free_port(), "srt_kept": free_port()}
    urls = {"srt_gone": f"srt://127.0.0.1:{ports['srt_gone']}",
            "rtmp_gone": f"rtmp://127.0.0.1:{ports['rtmp_gone']}/live/x",
            "srt_kept": f"srt://127.0.0.1:{ports['srt_kept']}"}
    receivers = {name: Receiver(url) for name, url in urls.items()}
    outputs = "\n".join(f'      {name}: {{kind: {url.split(":")[0]}, url: "{url}", autostart: true}}'
                        for name, url in urls.items())
    show = ShowProcess(tmp_path, show_yaml(outputs))
    try:
        for name, r in receivers.items():
            wait_until(lambda: r.sees("blue"), 20, message=f"blue at {name}")
            wait_until(lambda: show.output(name)["state"] == "live" and show.output(name)["kbps"] > 0, 10,
                       message=f"{name} live")
        receivers["srt_gone"].stop()
        receivers["rtmp_gone"].stop()
        killed_at = time.monotonic()
        for name in ("srt_gone", "rtmp_gone"):
            wait_until(lambda: (lambda o: o["state"] != "live" and o["kbps"] == 0 and o["uptime_s"] == 0)(show.output(name)),
                       LEAVES_LIVE_DEADLINE_S, interval=0.1, message=f"{name} not live, 0 kbps, no uptime")
        # The untouched target kept receiving, without a gap, and is still reported live.
        time.sleep(1.0)
        kept = receivers["srt_kept"]
        recent = [t for t, _ in kept.frames if t >= killed_at - 0.5]
        gaps = [b - a for a, b in zip(recent, recent[1:])]
        assert recent and max(gaps) < 0.5, f"untouched SRT target stalled {max(gaps):.2f} s"
        assert show.output("srt_kept")["state"] == "live" and show.output("srt_kept")["kbps"] > 0
        # The targets return: the outputs find them by themselves and say so.
        for name in ("srt_gone", "rtmp_gone"):
            receivers[name] = Receiver(urls[name])
        for name in ("srt_gone", "rtmp_gone"):
            wait_until(lambda: receivers[name].sees("blue"), 20, message=f"picture at the returned {name}")
            wait_until(lambda: show.output(name)["state"] == "live" and show.output(name)["kbps"] > 0, 10,
                       message=f"{name} live again")
            assert show.output(name)["reconnects"] >= 1
    finally:
        for r in receivers.values():
            r.stop()
        show.stop()


def test_stopped_output_and_recording_show_the_truth(tmp_path: Path) -> None:
    port = free_port()
    receiver = Receiver(f"rtmp://127.0.0.1:{port}/live/x")
    outputs = (f'      push: {{kind: rtmp, url: "rtmp://127.0.0.1:{port}/live/x", autostart: true}}\n'
               '      record: {kind: file, path: "rec/{show}-{start:%Y%m%d-%H%M%S}.ts", autostart: true}')
    show = ShowProcess(tmp_path, show_yaml(outputs))
    try:
        wait_until(lambda: show.output("push")["state"] == "live" and show.output("push")["uptime_s"] > 0, 20,
                   message="push live")
        # The recording names the file being written, not its template.
        rec = wait_until(lambda: show.output("record").get("file"), 10, message="recording file in info")
        assert "{" not in rec and Path(rec).exists() and Path(rec).parent == (tmp_path / "rec").resolve()
        assert Path(rec).name.startswith("honesty-") and rec.endswith(".ts")
        # Autostart is the system's doing, not an operator's.
        starts = [e for e in show.state()["log"] if "output record" in e.get("message", "") and "start" in e["message"]]
        assert starts and all(e["actor"] == "system" for e in starts), starts
        assert show.request("POST", "/api/outputs/push/stop")[0] == 200
        out = show.output("push")
        assert (out["state"], out["kbps"], out["uptime_s"]) == ("idle", 0, 0), out
        time.sleep(1.5)
        out = show.output("push")
        assert (out["state"], out["kbps"], out["uptime_s"]) == ("idle", 0, 0), out
    finally:
        receiver.stop()
        show.stop()


def test_recording_on_a_full_disk_leaves_live(tmp_path: Path) -> None:
    """A file output's target going away is its disk filling up: not live, 0 kbps, and why."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=384k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("needs a small tmpfs (mount) to fill up")
    try:
        show = ShowProcess(tmp_path, show_yaml(f'      rec: {{kind: file, path: "{disk}/rec.ts", autostart: true}}')
                           .replace('kind: color, color: "#0000ff"', "kind: test"))
        try:
            wait_until(lambda: show.output("rec")["state"] == "live", 20, message="recording live")
            out = wait_until(lambda: (lambda o: o if o["state"] != "live" else None)(show.output("rec")), 60,
                             interval=0.1, message="recording not live once the disk is full")
            assert out["kbps"] == 0 and out["uptime_s"] == 0 and "No space left" in (out["error"] or ""), out
        finally:
            show.stop()
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_target_that_never_reads_stalls_only_its_own_output(tmp_path: Path) -> None:
    """A platform that accepts the connection and then reads nothing fills its push child's
    socket, the child's stdin pipe and its output's queue: that output drops (counted) and is
    never live; the encoder and the other RTMP output go on as if nothing happened."""
    import socket

    deaf = socket.create_server(("127.0.0.1", 0))     # accepts (the kernel does), never reads
    port = free_port()
    receiver = Receiver(f"rtmp://127.0.0.1:{port}/live/x")
    outputs = (f'      deaf: {{kind: rtmp, url: "rtmp://127.0.0.1:{deaf.getsockname()[1]}/live/x", autostart: true}}\n'
               f'      fine: {{kind: rtmp, url: "rtmp://127.0.0.1:{port}/live/x", autostart: true}}')
    show = ShowProcess(tmp_path, show_yaml(outputs).replace('kind: color, color: "#0000ff"', "kind: test"))
    try:
        wait_until(lambda: show.output("fine")["state"] == "live", 20, message="fine live")
        watched_from = time.monotonic()
        wait_until(lambda: show.output("deaf")["dropped"] > 0, 30, interval=0.2,
                   message="the deaf target's output dropping its full queue")
        assert show.output("deaf")["state"] != "live" and show.output("deaf")["bytes"] == 0
        recent = [t for t, _ in receiver.frames if t >= watched_from]
        gaps = [b - a for a, b in zip(recent, recent[1:])]
        assert len(recent) > 60 and max(gaps) < 0.5, f"the other target stalled {max(gaps):.2f} s"
        assert show.output("fine")["state"] == "live" and show.output("fine")["dropped"] == 0
    finally:
        receiver.stop()
        show.stop()
        deaf.close()
