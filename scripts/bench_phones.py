#!/usr/bin/env python3
"""CPU per phone: what receiving one 720p30 phone costs the stream-ops process.

The receiving side is the real phone hub (WHIP, aiortc, decode, scale into the
slot, audio resample) without the engine, so the figure is the phone's own cost;
the program encode is the engine's and is measured elsewhere. Publishers run in a
child process and send pre-encoded 720p30 clips (H.264 baseline or VP8, 2.5 Mbit/s,
moving test pattern with noise, plus Opus) without re-encoding, like a phone's
hardware encoder would: so even six of them fit beside the receiver on 2 cores.

    .venv/bin/python scripts/bench_phones.py                 # VP8 and H.264, 1 and 6 phones
    .venv/bin/python scripts/bench_phones.py --codecs h264 --phones 1 --seconds 10
    .venv/bin/python scripts/bench_phones.py --rig           # the crew's rig through `stream-ops run`:
        6 phones (H.264) + 2 RTMP cameras (1080p) in a grid, 1080p30 program to an RTMP target
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import imageio_ffmpeg  # noqa: E402
import psutil  # noqa: E402

CLIP_S = 40


def make_clips(folder: Path) -> dict[str, Path]:
    """720p30 2.5 Mbit/s clips as a phone would send them, and an Opus track."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    src = ["-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30,noise=alls=12:allf=t,format=yuv420p", "-t", str(CLIP_S)]
    clips = {
        "h264": (folder / "phone.ts", ["-c:v", "libx264", "-profile:v", "baseline", "-level", "3.1", "-preset", "veryfast",
                                       "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "2500k", "-g", "60", "-bf", "0"]),
        "vp8": (folder / "phone.webm", ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "2500k",
                                        "-minrate", "2500k", "-maxrate", "2500k", "-g", "60"]),
    }
    out: dict[str, Path] = {}
    for codec, (path, args) in clips.items():
        if not path.exists():
            subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *src, *args, "-an", str(path)], check=True)
        out[codec] = path
    audio = folder / "phone.ogg"
    if not audio.exists():
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
                        "-t", str(CLIP_S), "-ac", "2", "-c:a", "libopus", "-b:a", "64k", str(audio)], check=True)
    out["audio"] = audio
    return out


# --- publishers (child process) ------------------------------------------------------------
async def publish_all(base: str, clip: str, audio: str, codec: str, slots: list[str], tokens: list[str]) -> None:
    import httpx
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer

    pcs = []
    for slot, token in zip(slots, tokens):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        video = MediaPlayer(clip, decode=False).video
        sound = MediaPlayer(audio, decode=False).audio
        tx = pc.addTransceiver(video, direction="sendonly")
        caps = RTCRtpSender.getCapabilities("video").codecs
        tx.setCodecPreferences([c for c in caps if c.mimeType.lower() == f"video/{codec}"])
        pc.addTransceiver(sound, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{base}/whip/{slot}", content=pc.localDescription.sdp,
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"})
        r.raise_for_status()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
        pcs.append(pc)
    await asyncio.sleep(CLIP_S)


# --- receiver (this process) -------------------------------------------------------------------
def receiver_show(n: int, width: int, height: int) -> SimpleNamespace:
    from stream_ops.config import AudioSettings, SourceConfig
    from stream_ops.events import EventBus
    from stream_ops.sources.base import SourceSlot

    sources = {f"phone{i}": SourceConfig(name=f"phone{i}", kind="webrtc") for i in range(1, n + 1)}
    audio = AudioSettings()
    config = SimpleNamespace(name="bench", sources=sources, scenes={}, audio=audio, public_url=None)
    slots = {k: SourceSlot(v, width, height, audio.sample_rate, audio.channels) for k, v in sources.items()}
    return SimpleNamespace(config=config, bus=EventBus(), engine=SimpleNamespace(slots=slots, program=None, preview=None),
                           base_url="http://127.0.0.1")


async def measure(codec: str, n: int, clips: dict[str, Path], seconds: float, size: tuple[int, int]) -> dict[str, object]:
    import uvicorn
    from starlette.applications import Starlette

    from stream_ops.phones.hub import PhoneHub

    show = receiver_show(n, *size)
    show.bus.bind(asyncio.get_running_loop())
    hub = PhoneHub(show)
    await hub.start()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=hub.routes()), host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    me = psutil.Process()
    slots = list(show.engine.slots.values())
    idle0 = me.cpu_times(); t_idle = time.monotonic()
    await asyncio.sleep(2)
    idle = (sum(me.cpu_times()[:2]) - sum(idle0[:2])) / (time.monotonic() - t_idle)

    env = {**os.environ, "BENCH_TOKENS": json.dumps([hub.tokens[s.name] for s in slots])}
    child = subprocess.Popen([sys.executable, __file__, "--client", base, str(clips[codec]), str(clips["audio"]), codec,
                              *[s.name for s in slots]], env=env)
    posted = time.monotonic()
    try:
        while not all(s.frames_in for s in slots):
            if child.poll() is not None:
                raise SystemExit(f"publisher exited with {child.returncode}")
            await asyncio.sleep(0.01)
        first_frame_s = time.monotonic() - posted
        await asyncio.sleep(3)   # let the bitrate settle
        publisher = psutil.Process(child.pid)
        b0 = await received_bytes(hub)
        c0, p0, f0, t0 = me.cpu_times(), publisher.cpu_times(), sum(s.frames_in for s in slots), time.monotonic()
        await asyncio.sleep(seconds)
        c1, p1, f1, t1 = me.cpu_times(), publisher.cpu_times(), sum(s.frames_in for s in slots), time.monotonic()
        b1 = await received_bytes(hub)
        kbps = [round((b1[k] - b0.get(k, 0)) * 8 / 1000 / (t1 - t0)) for k in b1]
        cores = (sum(c1[:2]) - sum(c0[:2])) / (t1 - t0)
        return {"codec": codec, "phones": n, "slot": f"{size[0]}x{size[1]}",
                "cores_total": round(cores, 3), "cores_idle_hub": round(idle, 3),
                "cores_per_phone": round((cores - idle) / n, 3),
                "fps_per_phone": round((f1 - f0) / (t1 - t0) / n, 1), "received_kbps": kbps,
                "publisher_start_to_first_frame_s": round(first_frame_s, 2),
                "packets_lost": [(await p.measure())["packets_lost"] for p in hub.peers.values()],
                "publisher_process_cores": round((sum(p1[:2]) - sum(p0[:2])) / (t1 - t0), 3)}
    finally:
        child.terminate()
        child.wait()
        await hub.close()
        server.should_exit = True
        await serving


RIG_SHOW = """
show:
  name: rig
  video: {{width: 1920, height: 1080, fps: 30, bitrate_kbps: 4500, keyframe_s: 2, preset: veryfast}}
  audio: {{sample_rate: 44100, channels: 2, bitrate_kbps: 128}}
  start_scene: grid
sources:
  cam1: {{kind: rtmp, listen: "rtmp://127.0.0.1:{cam1}/live/cam1"}}
  cam2: {{kind: rtmp, listen: "rtmp://127.0.0.1:{cam2}/live/cam2"}}
{phones}
scenes:
  grid:
    grid: {{columns: 3, sources: [cam1, cam2, {names}]}}
outputs:
  platform: {{kind: rtmp, url: "rtmp://127.0.0.1:{out}/live", key: "k", autostart: true}}
"""


def rig(seconds: float, clips: dict[str, Path], codec: str = "h264") -> dict[str, object]:
    """Six phones and two cameras into one 1080p30 program, measured in the stream-ops process (and its ffmpeg children)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from peers import Publisher, Receiver, ShowProcess, free_port, wait_until

    names = [f"phone{i}" for i in range(1, 7)]
    tokens = [f"bench-{n}" for n in names]
    ports = {"cam1": free_port(), "cam2": free_port(), "out": free_port()}
    receiver = Receiver(f"rtmp://127.0.0.1:{ports['out']}/live/k")
    phones = "\n".join(f"  {n}: {{kind: webrtc}}" for n in names)
    env = {f"STREAM_OPS_PHONE_TOKEN_{n.upper()}": t for n, t in zip(names, tokens)}
    folder = Path(tempfile.mkdtemp(prefix="stream-ops-rig-"))
    show = ShowProcess(folder, RIG_SHOW.format(phones=phones, names=", ".join(names), **ports), env=env)
    cams = [Publisher(f"rtmp://127.0.0.1:{ports[c]}/live/{c}", color=col, size="1920x1080")
            for c, col in (("cam1", "red"), ("cam2", "blue"))]
    child = subprocess.Popen([sys.executable, __file__, "--client", f"http://127.0.0.1:{show.port}", str(clips[codec]),
                              str(clips["audio"]), codec, *names], env={**os.environ, "BENCH_TOKENS": json.dumps(tokens)})
    try:
        # The publishers stand in for phones and cameras that are other devices in real life:
        # they run at the lowest priority so that what is measured is stream-ops with the
        # machine to itself, as far as one box allows.
        for pid in [child.pid, *(cam.proc.pid for cam in cams)]:
            try:
                os.setpriority(os.PRIO_PROCESS, pid, 19)
            except OSError:
                pass
        wait_until(lambda: all(s["state"] == "live" for s in show.state()["sources"]), 30, message="all 8 sources live")
        time.sleep(3)
        proc = psutil.Process(show.proc.pid)  # type: ignore[union-attr]

        def cpu() -> float:
            total = sum(proc.cpu_times()[:2])
            for c in proc.children(recursive=True):
                try:
                    total += sum(c.cpu_times()[:2])
                except psutil.NoSuchProcess:
                    pass
            return total

        own0, all0, t0 = sum(proc.cpu_times()[:2]), cpu(), time.monotonic()
        frames0 = show.state()["engine"]["frames"]
        time.sleep(seconds)
        own1, all1, t1 = sum(proc.cpu_times()[:2]), cpu(), time.monotonic()
        st = show.state()
        dt = t1 - t0
        return {"rig": f"6 phones ({codec}) + 2 RTMP 1080p cameras -> 1080p30 grid -> RTMP",
                "cores_stream_ops_process": round((own1 - own0) / dt, 2),
                "cores_with_ffmpeg_children": round((all1 - all0) / dt, 2),
                "program_fps": round((st["engine"]["frames"] - frames0) / dt, 1),
                "late_frames": st["engine"]["late_frames"], "encoder_drops": st["engine"].get("encoder_drops"),
                "encode_ms": st["engine"]["encode_ms"], "composite_ms": st["engine"]["composite_ms"],
                "source_fps": {s["name"]: s["fps"] for s in st["sources"]},
                "target_receiving": receiver.count > 0, "machine_cores": psutil.cpu_count(),
                "machine_load_pct": psutil.cpu_percent(interval=1)}
    finally:
        child.terminate()
        child.wait()
        for cam in cams:
            cam.stop()
        show.stop()
        receiver.stop()


async def received_bytes(hub) -> dict[str, int]:
    """Bytes each phone's transport has received so far (aiortc's own counter)."""
    out = {}
    for name, peer in hub.peers.items():
        report = await peer.pc.getStats()
        out[name] = sum(getattr(s, "bytesReceived", 0) or 0 for s in report.values() if s.type == "transport")
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        base, clip, audio, codec, *slots = sys.argv[2:]
        asyncio.run(publish_all(base, clip, audio, codec, slots, json.loads(os.environ["BENCH_TOKENS"])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codecs", default="vp8,h264")
    ap.add_argument("--phones", default="1,6", help="comma-separated counts of simultaneous phones")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--slot", default="1280x720", help="slot size the phones are scaled into")
    ap.add_argument("--rig", action="store_true", help="measure the whole rig through stream-ops run instead")
    ap.add_argument("--clips", default=str(Path(tempfile.gettempdir()) / "stream-ops-phone-bench"))
    args = ap.parse_args()
    folder = Path(args.clips)
    folder.mkdir(parents=True, exist_ok=True)
    clips = make_clips(folder)
    if args.rig:
        print(json.dumps(rig(args.seconds, clips, args.codecs.split(",")[-1]), ensure_ascii=False), flush=True)
        return
    w, h = (int(x) for x in args.slot.split("x"))
    for codec in args.codecs.split(","):
        for n in (int(x) for x in args.phones.split(",")):
            print(json.dumps(asyncio.run(measure(codec, n, clips, args.seconds, (w, h)))), flush=True)


if __name__ == "__main__":
    main()
