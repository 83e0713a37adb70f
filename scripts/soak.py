#!/usr/bin/env python
"""A soak under faults (issue 11, item 1): a realistic show for N minutes with real peers.

    python scripts/soak.py [--minutes 20] [--out docs/reliability.md] [--json FILE]

The show is a real `stream-ops run` subprocess. Around it, on 127.0.0.1 only: two
RTMP cameras (ffmpeg publishers), phones over WHIP (aiortc, each in its own child
process), a looping file, an SRT pull source (an ffmpeg SRT listener serving a test
pattern that the show pulls), and five outputs: three RTMP and one SRT target (ffmpeg
listeners that decode what they get) and a file recording. Every peer runs under
`nice` so the machine carries the show first.

A fault schedule (seeded) kills and restores every target several times, drops and
rejoins every publisher, restarts the SRT pull source's server, stops and starts the
recording, and churns WebSocket clients on /ws; operator commands (preview, program,
take) go through the HTTP API every few seconds. Once a second the script samples
/metrics, /api/state and /proc of the show's whole process tree. A monitor on /ws
times every source and output state change (by the events' own timestamps).

It writes a markdown report (default docs/reliability.md) and the same figures as
JSON next to it. Timings depend on the machine's other load, which the report states.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# tests/peers.py holds the one ShowProcess (a real `stream-ops run`) and the ffmpeg path;
# the soak reuses them rather than keeping a second copy that could drift.
from peers import FFMPEG, ShowProcess, free_port  # noqa: E402

TOKEN = "soak-operator-token"
PHONE_TOKEN = "soak-phone-token"
NICE = ["nice", "-n", "10"]     # peers yield to the show: it is what we measure
FPS = 25
CAM_SIZE = "640x360"
PROBE = 16                      # receivers decode to 16x16 grey: enough to stamp frames, next to no CPU
GAP_S = 0.5                     # the goal: no gap longer than this at an untouched target
GOALS = {"gap_s": GAP_S, "output_back_s": 5.0, "slate_s": 0.5, "source_back_s": 1.0, "rss_mb_per_h": 20.0}
SLOPE_MIN_MINUTES = 10         # shorter runs print slopes but do not judge them
SCENES = ["grid", "cam1", "cam2", "phones", "clip", "remote"]


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _devnull_popen(cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=kw.pop("stdout", subprocess.DEVNULL),
                            stderr=subprocess.DEVNULL, **kw)


def _end(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    """End one child we started, by its own pid."""
    if proc is not None and proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


# --- peers -----------------------------------------------------------------------------
class Peer:
    """A child that is started again whenever it exits (a publisher that retries, a platform
    that listens again) until `down()`; `up()` brings it back. Exits we did not cause are
    counted: at a target they mean the show's output hung up by itself."""

    def __init__(self, name: str, cmd: list[str]) -> None:
        self.name, self.cmd = name, cmd
        self.proc: subprocess.Popen[bytes] | None = None
        self.spawns: list[float] = []        # monotonic time of every start
        self.unexpected_exits = 0
        self._down = threading.Event()
        self._quit = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"peer-{name}", daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return _devnull_popen(NICE + self.cmd)

    def _serve(self, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()

    def _run(self) -> None:
        while not self._quit.is_set():
            if self._down.is_set():
                self._quit.wait(0.05)
                continue
            with self._lock:
                if self._down.is_set() or self._quit.is_set():
                    continue
                self.proc = self._spawn()
                self.spawns.append(time.monotonic())
            self._serve(self.proc)
            self.proc.wait()
            if not (self._down.is_set() or self._quit.is_set()):
                self.unexpected_exits += 1
                self._quit.wait(0.3)   # like OBS or a platform: try again shortly

    def down(self) -> float:
        """Kill it (no goodbye, as when a cable is pulled); returns when."""
        with self._lock:
            self._down.set()
            at = time.monotonic()
            _end(self.proc)
        return at

    def up(self) -> float:
        """Start it again; returns the monotonic time of the new start."""
        n = len(self.spawns)
        self._down.clear()
        deadline = time.monotonic() + 5
        while len(self.spawns) == n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.spawns[-1]

    def stop(self) -> None:
        self._quit.set()
        self.down()
        self._thread.join(timeout=5)


def camera_cmd(url: str, pattern: str) -> list[str]:
    """A small camera: a moving test pattern and a tone, x264 ultrafast, 1 s GOP (rejoins get a keyframe fast)."""
    fmt = "flv" if url.startswith("rtmp") else "mpegts"
    return [FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", f"{pattern}=size={CAM_SIZE}:rate={FPS}",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-b:v", "500k", "-g", str(FPS),
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", fmt, url]


class Receiver(Peer):
    """A platform stand-in: an ffmpeg listener (RTMP or SRT) decoding what arrives into tiny grey
    frames, each stamped on arrival; keeps every gap between frames longer than 0.25 s."""

    def __init__(self, name: str, url: str, errors: Path | None = None) -> None:
        self.errors = errors
        listen = ["-listen", "1", "-i", url] if url.startswith("rtmp") else ["-i", url + "?mode=listener"]
        # ffmpeg's default probe: a shorter one (-analyzeduration 1 s, or a byte limit) often ended
        # before the video stream of the FLV showed up, and the listener quit with no stream at all.
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-fflags", "nobuffer", "-flags", "low_delay",
               "-threads", "1", *listen, "-an", "-vf", f"scale={PROBE}:{PROBE}", "-pix_fmt", "gray",
               "-f", "rawvideo", "-flush_packets", "1", "pipe:1"]
        self.url = url
        self.frames = 0
        self.last_frame = 0.0
        self.gaps: list[tuple[float, float]] = []        # (previous frame, next frame), > 0.25 s
        self.first_frames: list[float] = []              # first frame of each session
        super().__init__(name, cmd)

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self.errors is None:
            return _devnull_popen(NICE + self.cmd, stdout=subprocess.PIPE)
        with open(self.errors, "ab") as err:   # the receiver's own complaints, for a post-mortem
            return subprocess.Popen(NICE + self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)

    def _serve(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        size, first = PROBE * PROBE, True
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                return
            now = time.monotonic()
            if first:
                self.first_frames.append(now)
                first = False
            elif now - self.last_frame > 0.25:
                self.gaps.append((self.last_frame, now))
            self.last_frame = now
            self.frames += 1

    def first_frame_after(self, t: float) -> float | None:
        return next((f for f in self.first_frames if f >= t), None)


class Phone:
    """A phone on WHIP: an aiortc publisher in its own (niced) child process, so its encoding
    never competes with the measuring threads for this process's GIL. `drop("kill")` is a phone
    losing Wi-Fi (no goodbye); `drop("leave")` ends the session with a WHIP DELETE."""

    def __init__(self, name: str, whip_url: str, color: str) -> None:
        self.name, self.whip_url, self.color = name, whip_url, color
        self.proc: subprocess.Popen[bytes] | None = None
        self.published: list[float] = []       # when each session's POST got its 201
        self.refused = 0
        self.spawns: list[float] = []

    def join(self) -> float:
        cmd = NICE + [sys.executable, str(Path(__file__).resolve()), "--phone", self.whip_url, PHONE_TOKEN, self.color]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.spawns.append(time.monotonic())
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        return self.spawns[-1]

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            word, _, value = line.decode().strip().partition(" ")
            if word == "published":
                self.published.append(float(value))
            elif word == "refused":
                self.refused += 1

    def drop(self, how: str) -> float:
        at = time.monotonic()
        _end(self.proc, signal.SIGKILL if how == "kill" else signal.SIGTERM)
        return at

    def published_after(self, t: float, timeout: float = 20) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = next((p for p in self.published if p >= t), None)
            if hit is not None:
                return hit
            time.sleep(0.05)
        return None

    def stop(self) -> None:
        _end(self.proc, signal.SIGTERM)


def phone_main(whip_url: str, token: str, color: str) -> int:
    """The phone child: publish over WHIP (again until accepted), stay until SIGTERM, then DELETE."""
    import asyncio

    from phone_fixtures import WhipClient

    base, _, slot = whip_url.rpartition("/whip/")

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        client = None
        for _ in range(100):         # a real phone page offers again while its slot is still taken
            client = WhipClient(base, slot, token, color=color, width=640, height=360, fps=15)
            if await client.publish() == 201:
                print(f"published {time.monotonic()}", flush=True)
                break
            print(f"refused {client.status}", flush=True)
            await asyncio.sleep(0.5)
        await stop.wait()
        if client and client.location:
            try:
                await client.delete()
            except Exception:   # the show may be gone already
                pass
            await client.close()

    asyncio.run(run())
    return 0


# --- the show --------------------------------------------------------------------------
def clip(cache: Path) -> Path:
    """A 10 s looping H.264 + AAC clip (made once)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"soak-clip-{CAM_SIZE}-{FPS}.mp4"
    if not path.exists():
        tmp = path.with_suffix(".part.mp4")
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size={CAM_SIZE}:rate={FPS}", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100",
                        "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "600k", "-g", str(FPS * 2),
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", str(tmp)], check=True)
        tmp.rename(path)
    return path


def show_doc(ports: dict[str, int], clip_path: Path, width: int, height: int) -> dict[str, Any]:
    text = {"rect": [20, height - 80, width // 2, 56], "size": 28, "color": "#ffffff", "background": "#c00000cc"}
    return {
        "show": {"name": "soak", "video": {"width": width, "height": height, "fps": FPS, "bitrate_kbps": 1500,
                                            "keyframe_s": 2, "preset": "veryfast"},
                 "audio": {"sample_rate": 44100, "channels": 2, "bitrate_kbps": 96},
                 "start_scene": "grid", "transition": {"kind": "fade", "duration_ms": 300}, "data_dir": "data"},
        "sources": {
            "cam1": {"kind": "rtmp", "listen": f"rtmp://127.0.0.1:{ports['cam1']}/live/cam1", "label": "机位1"},
            "cam2": {"kind": "rtmp", "listen": f"rtmp://127.0.0.1:{ports['cam2']}/live/cam2", "label": "机位2"},
            "phone1": {"kind": "webrtc", "max_width": 640, "max_height": 360, "label": "手机1"},
            "phone2": {"kind": "webrtc", "max_width": 640, "max_height": 360, "label": "手机2"},
            "clip": {"kind": "file", "path": str(clip_path), "loop": True, "label": "宣传片"},
            "remote": {"kind": "pull", "url": f"srt://127.0.0.1:{ports['remote']}", "label": "远端SRT"},
        },
        "scenes": {
            "grid": {"grid": {"columns": 3, "sources": ["cam1", "cam2", "phone1", "phone2", "clip", "remote"]},
                     "layers": [{"text": "云聘 soak {{ clock }}", **text}]},
            "cam1": {"layers": [{"source": "cam1"}, {"source": "phone1", "rect": [width * 2 // 3, 20, width // 3 - 20,
                                                                                  height // 3 - 20]},
                                {"text": "机位1 camera one", **text}]},
            "cam2": {"layers": [{"source": "cam2"}, {"text": "机位2 camera two", **text}]},
            "phones": {"grid": {"columns": 2, "sources": ["phone1", "phone2"]}},
            "clip": {"layers": [{"source": "clip"}, {"source": "remote", "rect": [width * 2 // 3, 20, width // 3 - 20,
                                                                                  height // 3 - 20]}]},
            "remote": {"layers": [{"source": "remote"}]},
        },
        "outputs": {
            "rtmp1": {"kind": "rtmp", "url": f"rtmp://127.0.0.1:{ports['rtmp1']}/live", "key": "k1", "platform": "channels",
                      "autostart": True},
            "rtmp2": {"kind": "rtmp", "url": f"rtmp://127.0.0.1:{ports['rtmp2']}/live", "key": "k2", "platform": "douyin",
                      "autostart": True},
            "rtmp3": {"kind": "rtmp", "url": f"rtmp://127.0.0.1:{ports['rtmp3']}/live", "key": "k3", "platform": "bilibili",
                      "autostart": True},
            "srt1": {"kind": "srt", "url": f"srt://127.0.0.1:{ports['srt1']}", "platform": "gateway", "autostart": True},
            "record": {"kind": "file", "path": "recordings/{show}-{start:%H%M%S}.ts", "platform": "record",
                       "autostart": True},
        },
    }


# --- measuring -------------------------------------------------------------------------
class Monitor:
    """One operator WebSocket on /ws for the whole run: every source/output state change,
    timed by the event's own `ts` (so the socket's delivery delay does not count)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.states: dict[str, str] = {}
        self.changes: dict[str, list[tuple[float, str]]] = {}
        self.reconnects = 0
        self.resyncs = 0
        self._stop = threading.Event()
        self._offset = time.time() - time.monotonic()   # wall -> monotonic, same clock as the show's
        self._ws: Any = None
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    def _note(self, name: str, state: str, at: float) -> None:
        if self.states.get(name) != state:
            self.states[name] = state
            self.changes.setdefault(name, []).append((at, state))

    def _run(self) -> None:
        from websockets.sync.client import connect

        while not self._stop.is_set():
            try:
                with connect(f"ws://127.0.0.1:{self.port}/ws", additional_headers={"Authorization": f"Bearer {TOKEN}"},
                             max_size=None, open_timeout=10) as ws:
                    self._ws = ws
                    for raw in ws:
                        msg = json.loads(raw)
                        kind = msg.get("type")
                        if kind in ("source_state", "output_state"):
                            self._note(msg["name"], msg["state"], msg["ts"] - self._offset)
                        elif kind == "state":   # the first message, and after a resync
                            self.resyncs += 1
                            now = time.monotonic()
                            for item in msg.get("sources", []) + msg.get("outputs", []):
                                self._note(item["name"], item["state"], now)
            except Exception:
                if self._stop.is_set():
                    return
                self.reconnects += 1
                self._stop.wait(0.5)

    def first(self, name: str, after: float, pred: Callable[[str], bool], timeout: float = 0) -> float | None:
        """The first change of `name` at or after `after` whose state passes `pred` (waits up to timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            for at, state in list(self.changes.get(name, [])):
                if at >= after - 0.05 and pred(state):
                    return at
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:
                pass
        self._thread.join(timeout=5)


def _get(port: int, path: str, timeout: float = 5) -> bytes:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def _post(port: int, path: str, body: Any = None, timeout: float = 10) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def thread_names(pid: int) -> dict[str, int]:
    """Python threads of a process by name, digits folded ("ThreadPoolExecutor-#_#": 6), from one
    `py-spy dump` (empty when py-spy is not installed); tells a thread pool from a leak."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        return {}
    try:
        out = subprocess.run([exe, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names: dict[str, int] = {}
    for m in re.finditer(r'^Thread (?:0x[0-9A-Fa-f]+|\d+) \([^)]*\): "([^"]*)"', out, re.M):
        key = re.sub(r"\d+", "#", m.group(1))
        names[key] = names.get(key, 0) + 1
    return dict(sorted(names.items()))


def _busy() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


class Sampler:
    """Once a second: /proc of the show's tree, /metrics, /api/state, and the machine's load."""

    def __init__(self, show: ShowProcess, t0: float) -> None:
        self.show, self.t0 = show, t0
        self.root = psutil.Process(show.proc.pid)   # type: ignore[union-attr]
        self.samples: list[dict[str, Any]] = []
        self.children_seen: dict[tuple[int, float], str] = {}   # (pid, create_time) -> command
        self.http_failures = 0
        self._cpu: dict[tuple[int, float], float] = {}
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()

    def _cpu_of(self, procs: list[psutil.Process], prev: dict[tuple[int, float], float]) -> tuple[float, dict]:
        """CPU seconds used since the last sample by these processes (new ones count from zero)."""
        now: dict[tuple[int, float], float] = {}
        used = 0.0
        for p in procs:
            try:
                key = (p.pid, p.create_time())
                c = p.cpu_times()
                now[key] = c.user + c.system + c.children_user + c.children_system
            except psutil.Error:
                continue
            used += now[key] - prev.get(key, 0.0 if self.samples else now[key])
        return used, now

    def sample(self) -> dict[str, Any]:
        t = time.monotonic()
        row: dict[str, Any] = {"t": round(t - self.t0, 2)}
        try:
            procs = [self.root] + self.root.children(recursive=True)
        except psutil.Error:
            return row
        rss = fds = threads = ffmpegs = 0
        for p in procs:
            try:
                with p.oneshot():
                    r, f, n = p.memory_info().rss, p.num_fds(), p.num_threads()
                    if p.pid != self.root.pid:
                        key = (p.pid, p.create_time())
                        if key not in self.children_seen:
                            self.children_seen[key] = " ".join(p.cmdline())[-160:]
                        ffmpegs += "ffmpeg" in p.name()
            except psutil.Error:
                continue
            rss, fds, threads = rss + r, fds + f, threads + n
            if p.pid == self.root.pid:
                row.update(rss_main_mb=round(r / 2**20, 1), fds_main=f, threads_main=n)
        row.update(rss_tree_mb=round(rss / 2**20, 1), fds_tree=fds, threads_tree=threads, children=len(procs) - 1,
                   ffmpeg_children=ffmpegs)
        show_cpu, self._cpu = self._cpu_of(procs, self._cpu)
        row["show_cpu_s"] = round(show_cpu, 3)
        busy = _busy()
        row["busy_cpu_s"] = round(busy - self._busy_prev, 3) if self.samples else 0.0
        self._busy_prev = busy
        show_pids = {p.pid for p in procs}
        try:   # the soak and its peers; the show is a child of the soak too, so leave its tree out
            peers = [self._me] + [p for p in self._me.children(recursive=True) if p.pid not in show_pids]
        except psutil.Error:
            peers = [self._me]
        peer_cpu, self._peer_cpu = self._cpu_of(peers, getattr(self, "_peer_cpu", {}))
        row["soak_cpu_s"] = round(peer_cpu, 3)
        row["load1"] = os.getloadavg()[0]
        try:
            m = parse_metrics(_get(self.show.port, "/metrics").decode())
            row["frames"] = m.get("stream_ops_frames_total")
            row["late_frames"] = m.get("stream_ops_late_frames_total")
            row["ws_clients"] = m.get("stream_ops_ws_clients")
            st = json.loads(_get(self.show.port, "/api/state"))
            eng = st["engine"]
            row.update(fps=eng["fps"], encoder_drops=eng["encoder_drops"], render_errors=eng["render_errors"],
                       max_gap_ms=eng["max_gap_ms"])
            row["sources"] = {s["name"]: s["state"] for s in st["sources"]}
            row["outputs"] = {o["name"]: [o["state"], o["reconnects"], o["dropped"]] for o in st["outputs"]}
        except (OSError, ValueError, KeyError):
            self.http_failures += 1
        self.samples.append(row)
        return row

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample()
            next_at += 1.0
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# --- background load: WebSocket clients and the operator -------------------------------------
class WsChurn:
    """WebSocket clients on /ws that come and go: a clean close, a vanished TCP connection, a
    client that stops reading (so its queue overflows), a wrong token (closed with 4401)."""

    def __init__(self, port: int, rng: random.Random) -> None:
        self.port, self.rng = port, rng
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.active = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._run, name="ws-churn", daemon=True)
        self._thread.start()

    def _client(self, mode: str, hold: float) -> None:
        from websockets.sync.client import connect

        self.active += 1
        vanished = False
        try:
            token = "wrong-token" if mode == "bad_token" else TOKEN
            with connect(f"ws://127.0.0.1:{self.port}/ws", additional_headers={"Authorization": f"Bearer {token}"},
                         max_size=None, open_timeout=10) as ws:
                if mode == "bad_token":
                    try:
                        ws.recv(timeout=5)
                    except Exception as exc:   # expected: closed with 4401
                        if "4401" not in str(exc):
                            self.errors.append(f"bad token: {exc}")
                    return
                deadline = time.monotonic() + hold
                while time.monotonic() < deadline and not self._stop.is_set():
                    if mode == "slow":        # connected, never reading: the show must drop its messages, not wait
                        self._stop.wait(0.2)
                    else:
                        try:
                            ws.recv(timeout=0.5)
                        except TimeoutError:
                            pass
                if mode != "clean":            # gone without a goodbye (Wi-Fi, a closed laptop lid)
                    vanished = True
                    ws.socket.shutdown(socket.SHUT_RDWR)
                    ws.socket.close()
        except Exception as exc:
            if not vanished:           # closing a socket we cut ourselves may complain: not the show's fault
                self.errors.append(f"{mode}: {exc.__class__.__name__}: {exc}"[:200])
        finally:
            self.active -= 1
            self.counts[mode] = self.counts.get(mode, 0) + 1

    def _run(self) -> None:
        while not self._stop.wait(self.rng.uniform(1.5, 4.0)):
            if self.active >= 6:
                continue
            mode = self.rng.choice(["clean", "clean", "vanish", "vanish", "slow", "bad_token"])
            hold = self.rng.uniform(8, 20) if mode == "slow" else self.rng.uniform(1, 10)
            t = threading.Thread(target=self._client, args=(mode, hold), daemon=True)
            t.start()
            self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for t in self._threads:
            t.join(timeout=15)


class Operator:
    """Operator commands through the HTTP API every few seconds: preview, take, program (cut or fade)."""

    def __init__(self, port: int, rng: random.Random) -> None:
        self.port, self.rng = port, rng
        self.commands = 0
        self.failures: list[str] = []
        self.post_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="operator", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.rng.uniform(2.0, 5.0)):
            kind = self.rng.choice(["cut", "fade"])
            what = self.rng.choice(["preview", "take", "program", "program", "audio"])
            if what == "preview":
                path, body = "/api/preview", {"scene": self.rng.choice(SCENES)}
            elif what == "take":
                path, body = "/api/take", {"transition": kind, "duration_ms": 300}
            elif what == "program":
                path, body = "/api/program", {"scene": self.rng.choice(SCENES), "transition": kind, "duration_ms": 300}
            else:
                path, body = f"/api/sources/{self.rng.choice(['cam1', 'cam2', 'clip'])}/audio", \
                    {"gain_db": self.rng.choice([-6, -3, 0])}
            started = time.monotonic()
            try:
                status = _post(self.port, path, body)
            except OSError as exc:
                status, body = 0, {"error": str(exc)}
            self.post_ms.append((time.monotonic() - started) * 1000)
            self.commands += 1
            if status != 200:
                self.failures.append(f"{path} -> {status}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


# --- the fault schedule ------------------------------------------------------------------
def schedule(names: dict[str, tuple[float, float]], start: float, end: float, per_entity: int,
             rng: random.Random) -> list[tuple[float, str, float]]:
    """(at, entity, down_s) for every fault: each entity's faults spread evenly over
    [start, end) with jitter, never overlapping its own previous fault and recovery."""
    plan = []
    span = (end - start) / per_entity
    for i_name, (name, (lo, hi)) in enumerate(names.items()):
        stagger = (i_name / max(1, len(names))) * 0.5
        for i in range(per_entity):
            down = rng.uniform(lo, hi)
            at = start + span * (i + 0.05 + 0.4 * ((stagger + rng.uniform(0, 0.5)) % 1.0))
            at = min(at, start + span * (i + 1) - down - 8)   # leave time to recover inside its slice
            plan.append((max(start + span * i, at), name, down))
    return sorted(plan)


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.total = args.minutes * 60
        self.warm = args.warm if args.warm is not None else min(60.0, max(25.0, 0.1 * self.total))
        self.settle = args.settle if args.settle is not None else min(90.0, max(30.0, 0.1 * self.total))
        self.tmp = Path(tempfile.mkdtemp(prefix="stream-ops-soak-"))
        self.faults: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    # --- one fault ---------------------------------------------------------------------
    def _target(self, name: str, down_s: float) -> None:
        rx = self.receivers[name]
        killed = rx.down()
        self.rng_sleep(down_s)
        back = rx.up()
        noticed = self.monitor.first(name, killed, lambda s: s != "live", timeout=1)
        live = self.monitor.first(name, back, lambda s: s == "live", timeout=30)
        deadline = time.monotonic() + 30
        while rx.first_frame_after(back) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        frame = rx.first_frame_after(back)
        self._record(kind="target", name=name, down_s=down_s, killed=killed, restored=back,
                     noticed_s=_d(noticed, killed), live_s=_d(live, back), first_frame_s=_d(frame, back),
                     recovered=frame)

    def _record_output(self, name: str, down_s: float) -> None:
        """The file recording has no target to kill: the operator stops it and starts it again."""
        stopped = time.monotonic()
        _post(self.show.port, f"/api/outputs/{name}/stop")
        idle = self.monitor.first(name, stopped, lambda s: s != "live", timeout=5)
        self.rng_sleep(down_s)
        started = time.monotonic()
        _post(self.show.port, f"/api/outputs/{name}/start")
        live = self.monitor.first(name, started, lambda s: s == "live", timeout=30)
        self._record(kind="recording", name=name, down_s=down_s, killed=stopped, restored=started,
                     noticed_s=_d(idle, stopped), live_s=_d(live, started), recovered=live)

    def _camera(self, name: str, down_s: float) -> None:
        pub = self.cameras[name]
        dropped = pub.down()
        self.rng_sleep(down_s)
        back = pub.up()
        self._source_fault("camera", name, down_s, dropped, back, back)

    def _srt_server(self, name: str, down_s: float) -> None:
        dropped = self.srt_server.down()
        self.rng_sleep(down_s)
        back = self.srt_server.up()
        self._source_fault("pull server", name, down_s, dropped, back, back)

    def _phone(self, name: str, down_s: float) -> None:
        phone = self.phones[name]
        how = "kill" if len([f for f in self.faults if f["name"] == name]) % 2 == 0 else "leave"
        dropped = phone.drop(how)
        self.rng_sleep(down_s)
        spawned = phone.join()
        published = phone.published_after(spawned)
        self._source_fault(f"phone ({how})", name, down_s, dropped, spawned, published)

    def _source_fault(self, kind: str, name: str, down_s: float, dropped: float, rejoined: float,
                      offered: float | None) -> None:
        slate = self.monitor.first(name, dropped, lambda s: s != "live", timeout=2)
        live = self.monitor.first(name, rejoined, lambda s: s == "live", timeout=40)
        self._record(kind=kind, name=name, down_s=down_s, killed=dropped, restored=rejoined,
                     slate_s=_d(slate, dropped), back_s=_d(live, offered if offered else rejoined),
                     back_from_start_s=_d(live, rejoined), recovered=live,
                     slate_state=next((s for t, s in self.monitor.changes.get(name, []) if slate and t == slate), None))

    def _record(self, **fault: Any) -> None:
        fault["at_s"] = round(fault["killed"] - self.t0, 1)
        with self._lock:
            self.faults.append(fault)
        shown = {k: v for k, v in fault.items() if k.endswith("_s") and k != "at_s"}
        log(f"{fault['kind']} {fault['name']}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in shown.items()))

    def rng_sleep(self, s: float) -> None:
        self._stop.wait(s)

    # --- the run -----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        a = self.args
        ports = {n: free_port() for n in ("cam1", "cam2", "rtmp1", "rtmp2", "rtmp3")}
        ports["srt1"] = free_port(socket.SOCK_DGRAM)
        ports["remote"] = free_port(socket.SOCK_DGRAM)
        self.ports = ports
        width, height = (int(x) for x in a.size.split("x"))
        doc = show_doc(ports, clip(Path(tempfile.gettempdir()) / "stream-ops-bench-media"), width, height)
        self._stop = threading.Event()
        self.receivers = {n: Receiver(n, f"rtmp://127.0.0.1:{ports[n]}/live/k{n[-1]}", self.tmp / f"{n}.log")
                          for n in ("rtmp1", "rtmp2", "rtmp3")}
        self.receivers["srt1"] = Receiver("srt1", f"srt://127.0.0.1:{ports['srt1']}", self.tmp / "srt1.log")
        self.srt_server = Peer("remote", camera_cmd(f"srt://127.0.0.1:{ports['remote']}?mode=listener&pkt_size=1316",
                                                    "smptebars"))
        env = {"STREAM_OPS_PHONE_TOKEN_PHONE1": PHONE_TOKEN, "STREAM_OPS_PHONE_TOKEN_PHONE2": PHONE_TOKEN}
        log(f"scratch {self.tmp}; {a.minutes:g} min: warm-up {self.warm:.0f} s, faults, settle {self.settle:.0f} s")
        self.show = ShowProcess(self.tmp, json.dumps(doc, ensure_ascii=False, indent=1), token=TOKEN, env=env)
        self.t0 = time.monotonic()
        self.monitor = Monitor(self.show.port)
        self.sampler = Sampler(self.show, self.t0)
        self.cameras = {"cam1": Peer("cam1", camera_cmd(f"rtmp://127.0.0.1:{ports['cam1']}/live/cam1", "testsrc")),
                        "cam2": Peer("cam2", camera_cmd(f"rtmp://127.0.0.1:{ports['cam2']}/live/cam2", "testsrc2"))}
        base = f"http://127.0.0.1:{self.show.port}"
        self.phones = {f"phone{i + 1}": Phone(f"phone{i + 1}", f"{base}/whip/phone{i + 1}", c)
                       for i, c in zip(range(a.phones), ["#00a000", "#0000ff"])}
        for p in self.phones.values():
            p.join()
        operator = ws = None
        result: dict[str, Any] = {}
        try:
            live_at_start = self._wait_all_live(self.warm)
            fault_end = self.total - self.settle
            baseline = self._rest_values(self.warm - 5, self.warm)
            threads_start = thread_names(self.show.proc.pid)
            operator = self.operator = Operator(self.show.port, self.rng)
            ws = self.ws = WsChurn(self.show.port, self.rng)
            per = max(2, round((fault_end - self.warm) / 150))      # one fault per entity every ~2.5 min
            kinds: dict[str, tuple[float, float]] = {n: (3, 8) for n in self.receivers}
            kinds["record"] = (1, 4)
            kinds.update({n: (2, 6) for n in self.cameras})
            kinds.update({n: (3, 8) for n in self.phones})    # > 2 s: a dead phone's slot frees after 2 s
            kinds["remote"] = (2, 6)
            plan = schedule(kinds, self.t0 + self.warm + 5, self.t0 + fault_end, per, self.rng)
            log(f"{len(plan)} faults planned, {per} per peer; then {self.settle:.0f} s to settle")
            actions: dict[str, Callable[[str, float], None]] = {n: self._target for n in self.receivers}
            actions["record"] = self._record_output
            actions.update({n: self._camera for n in self.cameras})
            actions.update({n: self._phone for n in self.phones})
            actions["remote"] = self._srt_server
            workers = []
            for name in kinds:
                mine = [(at, down) for at, n, down in plan if n == name]
                t = threading.Thread(target=self._faults_of, args=(actions[name], name, mine), daemon=True)
                t.start()
                workers.append(t)
            for t in workers:
                t.join(timeout=self.total + 120)
            ws.stop()
            self.rng_sleep(max(0.0, self.t0 + self.total - time.monotonic()))
            live_at_end = self._wait_all_live(20)
            end = self._rest_values(self.total - 5, None)
            threads_end = thread_names(self.show.proc.pid)
            operator.stop()
            result = self._results(baseline, end)
            result["thread_names"] = {"start": threads_start, "end": threads_end}
            result["all_live"] = {"start": live_at_start, "end": live_at_end, "not_live_at_end": {
                n: s for n, s in self.monitor.states.items() if s != "live"}}
        finally:
            self._stop.set()
            for x in (operator, ws):
                if x is not None:
                    x.stop()
            self.sampler.stop()
            self.monitor.stop()
            code = self.show.stop()
            result["show_exit_code"] = code
            result["leftovers"] = self._leftovers()
            for p in self.phones.values():
                p.stop()
            for peer in [*self.cameras.values(), self.srt_server, *self.receivers.values()]:
                peer.stop()
            result["recordings"] = self._recordings()
            if not a.keep:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return result

    def _faults_of(self, action: Callable[[str, float], None], name: str, plan: list[tuple[float, float]]) -> None:
        for at, down in plan:
            if self._stop.wait(max(0.0, at - time.monotonic())):
                return
            try:
                action(name, down)
            except Exception as exc:   # one broken fault must not end the soak
                log(f"fault on {name} failed: {exc!r}")
                self._record(kind="error", name=name, killed=time.monotonic(), error=repr(exc))

    def _wait_all_live(self, limit: float) -> bool:
        """Wait (bounded) until every source and output is live."""
        deadline = time.monotonic() + limit
        names = list(self.receivers) + ["record", "cam1", "cam2", "clip", "remote", *self.phones]
        while time.monotonic() < deadline:
            if all(self.monitor.states.get(n) == "live" for n in names):
                return True
            time.sleep(0.2)
        missing = [n for n in names if self.monitor.states.get(n) != "live"]
        log(f"not all live after {limit:.0f} s: {', '.join(f'{n}={self.monitor.states.get(n)}' for n in missing)}")
        return False

    def _rest_values(self, t_from: float, t_to: float | None) -> dict[str, float]:
        """Median of the resource figures over a quiet window (seconds since the start)."""
        if t_to is not None:
            self.rng_sleep(max(0.0, self.t0 + t_to - time.monotonic()))
        rows = [r for r in self.sampler.samples if r["t"] >= t_from and "fds_tree" in r] or self.sampler.samples[-3:]
        keys = ("rss_tree_mb", "rss_main_mb", "fds_tree", "fds_main", "threads_tree", "threads_main", "children",
                "ffmpeg_children", "ws_clients")
        return {k: statistics.median(r[k] for r in rows if r.get(k) is not None) for k in keys
                if any(r.get(k) is not None for r in rows)}

    def _alive_children(self) -> list[str]:
        """Children the show had (or any ffmpeg naming our ports or folder) that are still alive."""
        left = []
        for (pid, created), cmd in self.sampler.children_seen.items():
            try:
                if psutil.Process(pid).create_time() == created:
                    left.append(f"{pid} {cmd}")
            except psutil.Error:
                pass
        me = os.getpid()
        needles = [str(self.tmp)] + [f":{p}" for p in self.ports.values()]
        for p in psutil.process_iter(["pid", "ppid", "name", "cmdline"]):
            # our own peers (a publisher retrying against the stopped show) are children of this process
            if p.info["ppid"] == me or "ffmpeg" not in (p.info["name"] or ""):
                continue
            cmd = " ".join(p.info["cmdline"] or [])
            if any(n in cmd for n in needles) and not any(x.startswith(f"{p.pid} ") for x in left):
                left.append(f"{p.pid} {cmd[-160:]}")
        return left

    def _leftovers(self) -> dict[str, Any]:
        """Who outlived the show: at its exit, and after a 10 s grace (those are the ones left behind)."""
        at_exit = self._alive_children()
        lingered: dict[str, float] = {}
        started = time.monotonic()
        still = at_exit
        while still and time.monotonic() - started < 10:
            time.sleep(0.2)
            now = self._alive_children()
            for x in still:
                if x not in now:
                    lingered[x] = round(time.monotonic() - started, 1)
            still = now
        return {"at_exit": at_exit, "gone_after_s": lingered, "left": still}

    def _recordings(self) -> list[dict[str, Any]]:
        out = []
        for f in sorted((self.tmp / "recordings").glob("*.ts")) if (self.tmp / "recordings").exists() else []:
            out.append({"file": f.name, "mb": round(f.stat().st_size / 2**20, 1)})
        return out

    # --- figures -----------------------------------------------------------------------
    def _results(self, start: dict[str, float], end: dict[str, float]) -> dict[str, Any]:
        rows = [r for r in self.sampler.samples if "fds_tree" in r]
        last = next((r for r in reversed(rows) if "frames" in r), {})
        first = next((r for r in rows if r["t"] >= self.warm and "frames" in r), {})
        seconds = (last.get("t", 0) - first.get("t", 0))
        program = {
            "frames": _i(last.get("frames")) - _i(first.get("frames")),
            "expected": round(seconds * FPS),
            "late_frames": _i(last.get("late_frames")) - _i(first.get("late_frames")),
            "encoder_drops": _i(last.get("encoder_drops")) - _i(first.get("encoder_drops")),
            "render_errors": _i(last.get("render_errors")) - _i(first.get("render_errors")),
            "max_gap_ms": last.get("max_gap_ms"),
            "window_s": round(seconds, 1),
            "late_frames_total": _i(last.get("late_frames")),
        }
        # Gaps at each target outside its own faults (from the kill to 2 s after its first frame back).
        gaps = {}
        for name, rx in self.receivers.items():
            own = [(f["killed"], (f.get("recovered") or f["killed"] + 60) + 2) for f in self.faults if f["name"] == name]
            warm_end = self.t0 + self.warm
            mine = [(a, b) for a, b in rx.gaps if a >= warm_end and not any(s - 0.5 <= b and a <= e for s, e in own)]
            total_gap_s = [b - a for a, b in mine]
            gaps[name] = {"largest_s": round(max(total_gap_s, default=0.0), 3),
                          "over_0_5_s": sum(g > GAP_S for g in total_gap_s),
                          "over_0_25_s": len(total_gap_s), "frames": rx.frames,
                          "unexpected_disconnects": rx.unexpected_exits,
                          "at_s": [round(a - self.t0, 1) for a, b in mine if b - a > GAP_S][:20]}
        half = self.total / 2
        trend_rows = [r for r in rows if r["t"] >= max(half, self.warm)]
        slopes = {k: _slope_per_h([(r["t"], r[k]) for r in trend_rows if r.get(k) is not None])
                  for k in ("rss_tree_mb", "rss_main_mb", "fds_tree", "fds_main", "threads_tree", "threads_main",
                            "children")}
        spread = {k: [min(r[k] for r in rows if r["t"] >= self.warm), max(r[k] for r in rows if r["t"] >= self.warm)]
                  for k in ("rss_tree_mb", "rss_main_mb", "fds_tree", "threads_tree", "children")}
        busy = [r["busy_cpu_s"] for r in rows if r["t"] >= self.warm]
        showc = [r["show_cpu_s"] for r in rows if r["t"] >= self.warm]
        soakc = [r["soak_cpu_s"] for r in rows if r["t"] >= self.warm]
        load = {"load1_mean": _mean([r["load1"] for r in rows if r["t"] >= self.warm]),
                "load1_max": max((r["load1"] for r in rows), default=None),
                "busy_cores_mean": _mean(busy), "show_cores_mean": _mean(showc), "peers_cores_mean": _mean(soakc),
                # sampling noise can make this slightly negative when nothing else runs
                "others_cores_mean": max(0.0, _mean([b - s - p for b, s, p in zip(busy, showc, soakc)]) or 0.0),
                "cores": os.cpu_count()}
        timeline = []
        step = max(1, len(rows) // 30)
        for r in rows[::step]:
            timeline.append({k: r.get(k) for k in ("t", "rss_tree_mb", "rss_main_mb", "fds_tree", "threads_tree",
                                                   "children", "ws_clients", "load1")})
        return {
            "machine": machine(), "minutes": self.args.minutes, "seed": self.args.seed, "warm_s": self.warm,
            "settle_s": self.settle, "size": self.args.size, "fps": FPS, "phones": len(self.phones),
            "program": program, "gaps": gaps, "faults": [{k: v for k, v in f.items() if k not in ("killed", "restored",
                                                                                                 "recovered")}
                                                         for f in self.faults],
            "resources": {"start": start, "end": end, "slope_per_h": slopes, "range": spread},
            "load": load, "timeline": timeline,
            "ws": {"clients": self.ws.counts, "errors": self.ws.errors[:20]},
            "operator": {"commands": self.operator.commands, "failures": self.operator.failures[:20],
                         "post_ms_median": _mean([statistics.median(self.operator.post_ms)]) if self.operator.post_ms else None,
                         "post_ms_max": round(max(self.operator.post_ms, default=0), 1)},
            "monitor": {"reconnects": self.monitor.reconnects, "states_seen": self.monitor.resyncs},
            "http_failures": self.sampler.http_failures,
            "peer_unexpected_exits": {n: p.unexpected_exits for n, p in [*self.cameras.items(), ("remote", self.srt_server)]},
        }

def _d(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def _i(x: Any) -> int:
    return int(x or 0)


def _mean(xs: list[float]) -> float | None:
    return round(statistics.fmean(xs), 3) if xs else None


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def _slope_per_h(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value), per hour."""
    if len(points) < 10:
        return None
    mx = statistics.fmean(t for t, _ in points)
    my = statistics.fmean(v for _, v in points)
    den = sum((t - mx) ** 2 for t, _ in points)
    return round(sum((t - mx) * (v - my) for t, v in points) / den * 3600, 2) if den else None


def machine() -> dict[str, Any]:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "os": platform.platform(), "commit": commit or "?",
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


# --- the report --------------------------------------------------------------------------
def _worst(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return max(vals) if vals else None


def _med(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def _missing(xs: list[float | None]) -> int:
    return sum(x is None for x in xs)


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**not met**")


def summarize(r: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(figure, measured, goal, met) rows of the report's first table."""
    rows: list[tuple[str, str, str, bool | None]] = []
    p = r["program"]
    rows.append(("program frames late (clock skipped) / encoder drops / render errors",
                 f"{p['late_frames']} / {p['encoder_drops']} / {p['render_errors']} of {p['frames']} encoded "
                 f"({p['expected']} due in {p['window_s']:.0f} s after warm-up); largest encoder gap "
                 f"{_fmt(p['max_gap_ms'])} ms (whole run)", "0", p["late_frames"] + p["encoder_drops"] == 0))
    g = r["gaps"]
    largest = max(g.values(), key=lambda x: x["largest_s"]) if g else None
    over = sum(x["over_0_5_s"] for x in g.values())
    where = next((n for n, x in g.items() if x is largest), "")
    rows.append((f"gaps > {GAP_S} s at a target outside its own faults (decoded frames at the receiver)",
                 f"{over}; largest {_fmt(largest['largest_s'] if largest else None)} s ({where})",
                 "0", over == 0))
    tf = [f for f in r["faults"] if f["kind"] == "target"]
    worst_live, worst_frame = _worst([f["live_s"] for f in tf]), _worst([f["first_frame_s"] for f in tf])
    miss = _missing([f["first_frame_s"] for f in tf])
    rows.append(("output back after its target returns: state `live` / first frame at the receiver (worst)",
                 f"{_fmt(worst_live)} s / {_fmt(worst_frame)} s over {len(tf)} returns"
                 + (f"; {miss} never came back within 30 s" if miss else ""),
                 f"≤ {GOALS['output_back_s']:g} s",
                 None if worst_frame is None else (worst_frame <= GOALS["output_back_s"] and miss == 0
                                                   and (worst_live or 0) <= GOALS["output_back_s"])))
    noticed = _worst([f["noticed_s"] for f in tf])
    rows.append(("output leaves `live` after its target dies (worst)", f"{_fmt(noticed)} s over {len(tf)} kills"
                 + (f"; {_missing([f['noticed_s'] for f in tf])} never left" if _missing([f['noticed_s'] for f in tf]) else ""),
                 "≤ 2 s (api.md)", None if noticed is None else noticed <= 2.0))
    sf = [f for f in r["faults"] if "slate_s" in f]
    slate, back = _worst([f["slate_s"] for f in sf]), _worst([f["back_s"] for f in sf])
    rows.append(("source to slate after its publisher drops (worst)", f"{_fmt(slate)} s over {len(sf)} drops",
                 f"≤ {GOALS['slate_s']:g} s", None if slate is None else slate <= GOALS["slate_s"]))
    nb = _missing([f["back_s"] for f in sf])
    rows.append(("source `live` again after its publisher rejoins (worst)",
                 f"{_fmt(back)} s" + (f"; {nb} never came back within 40 s" if nb else ""),
                 f"≤ {GOALS['source_back_s']:g} s", None if back is None else back <= GOALS["source_back_s"] and nb == 0))
    res = r["resources"]
    al = r.get("all_live", {})
    rows.append(("every source and output `live` before the first fault / after the settle time",
                 f"{'yes' if al.get('start') else 'no'} / {'yes' if al.get('end') else 'no'}"
                 + (f" (not live: {', '.join(f'{k} {v}' for k, v in al.get('not_live_at_end', {}).items())})"
                    if al.get("not_live_at_end") else ""), "yes / yes", bool(al.get("start") and al.get("end"))))
    rss = res["slope_per_h"].get("rss_tree_mb")
    short = r["minutes"] < SLOPE_MIN_MINUTES   # the second half is still warm-up and fault churn
    rows.append(("RSS growth of the show's tree (least squares, second half)", f"{_fmt(rss)} MB/h "
                 f"(main process {_fmt(res['slope_per_h'].get('rss_main_mb'))} MB/h)"
                 + (f"; a run under {SLOPE_MIN_MINUTES} min is too short to judge a slope" if short else ""),
                 f"< {GOALS['rss_mb_per_h']:g} MB/h", None if rss is None or short else rss < GOALS["rss_mb_per_h"]))
    s, e = res["start"], res["end"]
    for key, label in (("fds_tree", "open descriptors"), ("threads_tree", "threads"), ("children", "child processes")):
        if key in s and key in e:
            rows.append((f"{label} of the tree: start → end (after faults and settle); slope",
                         f"{s[key]:g} → {e[key]:g}; {_fmt(res['slope_per_h'].get(key))} /h", "flat",
                         e[key] <= s[key]))
    lo = r.get("leftovers", {})
    left, at_exit = lo.get("left", []), lo.get("at_exit", [])
    rows.append(("children alive 10 s after the show exited (SIGTERM) / at its exit", f"{len(left)} / {len(at_exit)}",
                 "0 / 0", not left and not at_exit))
    return rows


def render(r: dict[str, Any], label: str) -> str:
    m, ld = r["machine"], r["load"]
    out = ["# Reliability: a soak under faults\n",
           "Written by `scripts/soak.py` (issue 11): a real `stream-ops run` with real peers on 127.0.0.1, "
           "faults on a schedule, the show's process tree sampled every second. Numbers below are from one run.\n",
           f"**{label}**\n",
           HOW_TO_RUN,
           "## This run\n",
           f"- {r['minutes']:g} min ({r['warm_s']:.0f} s warm-up, then faults, then {r['settle_s']:.0f} s to settle "
           f"with every peer back); program {r['size']}@{r['fps']}, x264 veryfast 1.5 Mb/s; seed {r['seed']}",
           f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB; {m['os']}; Python {m['python']}; "
           f"{m['date']}; commit {m['commit']}",
           f"- **Other load**: load average {_fmt(ld['load1_mean'])} mean (max {_fmt(ld['load1_max'])}) on "
           f"{ld['cores']} cores; the machine was busy {_fmt(ld['busy_cores_mean'])} cores on average, of which the "
           f"show's tree {_fmt(ld['show_cores_mean'])}, the soak and its peers {_fmt(ld['peers_cores_mean'])}, and "
           f"**everything else {_fmt(ld['others_cores_mean'])}**. The load average counts every thread waiting "
           "for a core, the show's and the peers' included: above the number of cores, work was queueing. Timings "
           "on a machine whose cores are all taken measure the machine as much as stream-ops.\n",
           "## Against the goals\n", "| figure | measured | goal | |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {verdict(d)} |" for a, b, c, d in summarize(r)]
    out += ["", "## Outputs: each target killed and restored\n",
            "| output | faults | left `live` after the kill, worst s | `live` again after the return, median / worst s "
            "| first frame at the receiver, median / worst s | gaps > 0.5 s outside its faults | largest such gap s "
            "| receiver dropped by the show |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in sorted({f["name"] for f in r["faults"] if f["kind"] in ("target", "recording")}):
        fs = [f for f in r["faults"] if f["name"] == name]
        g = r["gaps"].get(name, {})
        ff = [f.get("first_frame_s") for f in fs]
        out.append(f"| {name} | {len(fs)} | {_fmt(_worst([f.get('noticed_s') for f in fs]))} | "
                   f"{_fmt(_med([f.get('live_s') for f in fs]))} / {_fmt(_worst([f.get('live_s') for f in fs]))} | "
                   + (f"{_fmt(_med(ff))} / {_fmt(_worst(ff))} | {g.get('over_0_5_s', '–')} | {_fmt(g.get('largest_s'))} | "
                      f"{g.get('unexpected_disconnects', '–')} |" if name in r["gaps"] else "– (a file) | – | – | – |"))
    out += ["", "`record` is the file recording: it has no target to kill, so the operator stops and starts it "
            "(a new file each time); its row times the API's `stop` → not live and `start` → live.", "",
            "## Sources: each publisher dropped and rejoined\n",
            "| source | how | drops | to slate (state leaves `live`), median / worst s | `live` again, median / worst s "
            "| never back |", "|---|---|---:|---:|---:|---:|"]
    for name in sorted({f["name"] for f in r["faults"] if "slate_s" in f}):
        fs = [f for f in r["faults"] if f["name"] == name]
        kinds = sorted({f["kind"] for f in fs})
        sl, bk = [f["slate_s"] for f in fs], [f["back_s"] for f in fs]
        out.append(f"| {name} | {', '.join(kinds)} | {len(fs)} | {_fmt(_med(sl))} / {_fmt(_worst(sl))} | "
                   f"{_fmt(_med(bk))} / {_fmt(_worst(bk))} | {_missing(bk)} |")
    out += ["", "Back is timed from the rejoin: a camera's or the SRT server's ffmpeg being started again (so it "
            "includes that ffmpeg's own start and its first keyframe), a phone's WHIP offer being accepted (201).", ""]
    res = r["resources"]
    out += ["## Resources of the show's process tree\n",
            "| figure | start (after warm-up) | end (after settle) | min / max after warm-up | slope per hour (second half) |",
            "|---|---:|---:|---:|---:|"]
    for key, label in (("rss_tree_mb", "RSS, whole tree, MB"), ("rss_main_mb", "RSS, stream-ops process, MB"),
                       ("fds_tree", "open descriptors, tree"), ("fds_main", "open descriptors, stream-ops process"),
                       ("threads_tree", "threads, tree"), ("threads_main", "threads, stream-ops process"),
                       ("children", "child processes"), ("ffmpeg_children", "of which ffmpeg"),
                       ("ws_clients", "/ws clients (the soak's monitor is one)")):
        rng = res["range"].get(key)
        out.append(f"| {label} | {_fmt(res['start'].get(key))} | {_fmt(res['end'].get(key))} | "
                   f"{'–' if not rng else f'{rng[0]:g} / {rng[1]:g}'} | {_fmt(res['slope_per_h'].get(key))} |")
    out += ["", "Over time (every few samples; t in seconds since the show was up):", "",
            "| t | RSS tree MB | RSS main MB | fds | threads | children | /ws clients | load 1 min |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    out += [f"| {x['t']:.0f} | {_fmt(x['rss_tree_mb'])} | {_fmt(x['rss_main_mb'])} | {x['fds_tree']} | "
            f"{x['threads_tree']} | {x['children']} | {_fmt(x['ws_clients'])} | {_fmt(x['load1'])} |" for x in r["timeline"]]
    ws, op = r["ws"], r["operator"]
    out += ["", "## Background traffic\n",
            f"- /ws clients that came and went: {', '.join(f'{k} {v}' for k, v in sorted(ws['clients'].items())) or '–'} "
            "(`clean`: closed; `vanish`: TCP dropped without a close; `slow`: connected but never reading; "
            f"`bad_token`: refused with 4401); client-side errors: {len(ws['errors'])}",
            f"- Operator commands over HTTP: {op.get('commands', 0)}, refused or failed: {len(op.get('failures', []))}; "
            f"POST median {_fmt(op.get('post_ms_median'))} ms, worst {_fmt(op.get('post_ms_max'))} ms",
            f"- Sampler requests (`/metrics`, `/api/state`) that failed: {r['http_failures']}; the monitor's /ws "
            f"reconnected {r['monitor']['reconnects']} times",
            f"- Publishers/servers that exited without being killed: "
            f"{', '.join(f'{k} {v}' for k, v in r['peer_unexpected_exits'].items())}",
            "- Recordings written: " + (", ".join(f"{x['file']} ({x['mb']} MB)" for x in r.get("recordings", [])) or "–"),
            "- Python threads of the stream-ops process by name (py-spy; `#` stands for digits), start → end: "
            + (", ".join(f"{k} {r['thread_names']['start'].get(k, 0)} → {v}" for k, v in r["thread_names"]["end"].items()
                         if r["thread_names"]["start"].get(k, 0) != v) or "unchanged"
               if r.get("thread_names", {}).get("end") else "– (py-spy not installed)"),
            f"- Show exit code after SIGTERM: {r.get('show_exit_code')}; children still alive when it had exited: "
            f"{'; '.join(f'`{x}` (gone {v} s later)' for x, v in r.get('leftovers', {}).get('gone_after_s', {}).items()) or 'none'}"
            f"; left behind: {'; '.join(f'`{x}`' for x in r.get('leftovers', {}).get('left', [])) or 'none'}", "",
            METHOD, r.get("notes", "").strip(), ""]
    return "\n".join(out)


HOW_TO_RUN = """\
## How to run

```sh
.venv/bin/python scripts/soak.py                      # 20 min; writes docs/reliability.md and docs/reliability.json
.venv/bin/python scripts/soak.py --minutes 120        # the full fair
.venv/bin/python scripts/soak.py --minutes 3 --out /tmp/soak.md   # quick look (tests/test_soak.py runs this, slow)
```

Run one soak at a time, on a machine as quiet as you can get; the report states the other
load it saw. The section "Notes" at the end is written by hand and kept when the script
rewrites this file (between the `notes` markers).
"""

METHOD = """\
## What is measured, exactly

- **The show**: `stream-ops run` (a subprocess, as in production) with sources `cam1`, `cam2` (RTMP
  listen), `phone1`, `phone2` (WebRTC/WHIP), `clip` (a looping 10 s H.264 file), `remote` (SRT pull);
  six scenes (a 3×3 grid of all, cameras with picture-in-picture and a lower third, phones, clip);
  outputs `rtmp1`–`rtmp3` (RTMP), `srt1` (SRT), `record` (a `.ts` file), all started with the show.
- **Peers**, all under `nice -n 10`: cameras are ffmpeg (`testsrc`/`testsrc2` 640×360@25 + a tone, x264
  ultrafast 500 kb/s, 1 s GOP) publishing RTMP and started again 0.3 s after any exit (as OBS does);
  the SRT pull server is the same kind of ffmpeg in SRT listener mode; phones are aiortc WHIP clients
  (solid colour 640×360@15 + a tone), one child process each; each target is an ffmpeg listener
  (`-listen 1` for RTMP, `mode=listener` for SRT) decoding what arrives to 16×16 grey frames,
  flushed per frame and stamped on arrival in the soak process.
- **Faults** (seeded, spread evenly with jitter over the time between warm-up and settle, each peer's
  own faults never overlapping; different peers' faults may): a target killed (SIGKILL) for 3–8 s;
  a camera's publisher killed for 2–6 s; a phone killed (as if off Wi-Fi) or leaving with a WHIP
  DELETE, alternately, for 3–8 s; the SRT server killed for 2–6 s; the recording stopped and started
  through the API. Meanwhile /ws clients come and go every 1.5–4 s (closed, vanished, never reading,
  wrong token; at most 6 at once) and an operator posts preview / take / program (cut or fade) /
  fader commands every 2–5 s.
- **Times** come from the show's own events on one /ws connection held by the soak (each event's
  `ts`, so the socket's delay is not counted): *to slate* = the kill → the source's state leaves
  `live` (the engine marks a source `no_signal` 0.4 s after its last frame, checked 10× a second;
  the slate is on the program from then); *back* = the rejoin → `live`; an output's *left live* =
  the kill → its state leaves `live`; *live again* = the target's return → `live`; *first frame* =
  the target's return → the first frame its receiver decodes.
- **Gaps at an untouched target**: every interval between two decoded frames at a receiver longer
  than 0.25 s, after warm-up, leaving out the receiver's own faults (from its kill to 2 s after its
  first frame back). Faults of other peers are in: that is the point.
- **Program frames**: `late_frames` (clock ticks skipped because the clock was late), `encoder_drops`,
  `render_errors` from `/metrics` and `/api/state`, counted from the end of warm-up.
- **Resources**: every second, the stream-ops process and all its descendants from /proc (psutil):
  summed RSS (shared pages of ffmpeg children count once per child), open descriptors, threads,
  children. *Start* is the median over the last 5 s of warm-up, before any fault; *end* the median
  over the last 5 s of the run, after the settle time with every peer back. Slopes are least squares
  over the samples of the second half of the run.
- **Other load**: the machine's busy CPU (psutil system times) minus the show's tree and minus the soak
  process with its peers.
"""

NOTES_DEFAULT = """<!-- notes:start -->
## Notes

(written by hand after a run; the script keeps this section when it rewrites the file)
<!-- notes:end -->"""


def existing_notes(path: Path) -> str:
    if path.exists():
        found = re.search(r"<!-- notes:start -->.*?<!-- notes:end -->", path.read_text("utf-8"), re.S)
        if found:
            return found.group(0)
    return NOTES_DEFAULT


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 5 and sys.argv[1] == "--phone":
        return phone_main(*sys.argv[2:5])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="length of the run (default 20; 120 for the full fair)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"), help="markdown report to write")
    ap.add_argument("--json", help="the figures as JSON (default: the report's path with .json)")
    ap.add_argument("--label", help="a line printed at the top of the report (e.g. 'a 5-minute run on a busy machine')")
    ap.add_argument("--phones", type=int, default=2, choices=(1, 2))
    ap.add_argument("--size", default="1280x720", help="program size (default 1280x720; fps is 25)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--warm", type=float, help="warm-up seconds before the first fault (default 10%% of the run, 25–60 s)")
    ap.add_argument("--settle", type=float, help="seconds with every peer back at the end (default 10%%, 30–90 s)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (show file, log, recordings)")
    ap.add_argument("--from-json", help="no run: write the report again from a run's JSON (e.g. after editing its notes)")
    args = ap.parse_args(argv)
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text("utf-8"))
        result["notes"] = existing_notes(Path(args.out))
        Path(args.out).write_text(render(result, result.get("label") or "", ), "utf-8")
        log(f"wrote {args.out} from {args.from_json}")
        return 0
    if args.minutes * 60 < 120:
        ap.error("--minutes must be at least 2")
    out = Path(args.out)
    js = Path(args.json) if args.json else out.with_suffix(".json")
    soak = Soak(args)
    started = time.monotonic()
    result = soak.run()
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    result["notes"] = existing_notes(out)
    label = args.label or f"A {args.minutes:g}-minute run."
    result["label"] = label
    out.parent.mkdir(parents=True, exist_ok=True)
    if "program" in result:
        out.write_text(render(result, label), "utf-8")
    js.write_text(json.dumps({k: v for k, v in result.items() if k != "notes"}, indent=1, ensure_ascii=False,
                             default=str), "utf-8")
    if "program" in result:
        for figure, measured, goal, ok in summarize(result):
            log(f"{verdict(ok):>12}  {figure}: {measured} (goal {goal})")
    log(f"wrote {out} and {js} in {result['elapsed_s']:.0f} s")
    return 0 if "program" in result else 1


if __name__ == "__main__":
    sys.exit(main())
