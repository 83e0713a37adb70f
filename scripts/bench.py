#!/usr/bin/env python
"""stream-ops benchmarks, side by side with FFmpeg (issue 6).

    python scripts/bench.py [--quick] [--out docs/benchmarks.md] [--json FILE] [--only a,b,...]

Every measured workload is a real `stream-ops run` subprocess (or one ffmpeg
process for the baseline), run one after the other, never two at once. Inputs
are pre-encoded H.264 + AAC files (testsrc2 + sine) so that both sides decode
the very same streams; publishers only copy them (`-c copy`), so their own CPU
is next to nothing, and it is never counted. Outputs go to ffmpeg RTMP listeners
on loopback that copy to the null muxer; they are not counted either.

CPU is user+sys seconds of the measured process tree (psutil, sampled at 5 Hz,
per pid, so children that come and go are counted), over a window after warm-up.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from peers import FFMPEG, PROBE_H, PROBE_W, Receiver, ShowProcess, free_port, looks_like, wait_until  # noqa: E402
from stream_ops import frames  # noqa: E402
from stream_ops.config import Rect  # noqa: E402
from stream_ops.outputs.base import BACKOFF_MAX_S, BACKOFF_START_S  # noqa: E402
from stream_ops.fonts import font_path  # noqa: E402
from stream_ops.geometry import grid_rects  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "stream-ops-bench-media"
FPS = 30
PRESET = "veryfast"
AUDIO = {"sample_rate": 44100, "channels": 2, "bitrate_kbps": 128}
BITRATE = {720: 2500, 1080: 4500}           # program bitrate by program height
INPUT_BITRATE = {720: 2500, 1080: 4500}     # the "cameras" we feed in
LOWER_THIRD = "Online job fair - scan the code to apply"
ALL_ITEMS = ["a", "b", "c", "fanout", "growth", "growth1080", "switch", "take", "g2g", "reconnect", "demo",
             "portrait", "long"]
QUICK_ITEMS = ["a", "b", "c", "fanout", "growth", "switch", "take", "g2g"]


# --- inputs ----------------------------------------------------------------------------


def media(height: int, seconds: int = 10) -> Path:
    """A looping H.264 + AAC file: testsrc2 (moving) and a sine, like a camera would send."""
    width = height * 16 // 9
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"cam{height}p{FPS}-{seconds}s.flv"
    if not path.exists():
        tmp = path.with_suffix(".part.flv")
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={FPS}",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                        "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-b:v", f"{INPUT_BITRATE[height]}k",
                        "-g", str(FPS * 2), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2",
                        str(tmp)], check=True)
        tmp.rename(path)
    return path


class Loop:
    """A child process started again whenever it exits, until stop() (publishers, null targets)."""

    def __init__(self, cmd: list[str], delay: float = 0.25) -> None:
        self.cmd, self.delay = cmd, delay
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if self._stop.is_set():
                    return
                self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
                self.starts += 1
            self.proc.wait()
            self._stop.wait(self.delay)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(timeout=5)


def copy_publisher(path: Path, url: str) -> Loop:
    """Sends a pre-encoded file to an RTMP URL in real time, copying (no encode)."""
    return Loop([FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(path),
                 "-c", "copy", "-f", "flv", url])


def null_target(port: int) -> tuple[Loop, str]:
    """An RTMP "platform" on loopback that takes the stream and throws it away (not measured)."""
    url = f"rtmp://127.0.0.1:{port}/live/x"
    return Loop([FFMPEG, "-hide_banner", "-loglevel", "error", "-listen", "1", "-i", url, "-c", "copy", "-f", "null", "-"],
                delay=0.05), url


class FastReceiver(Receiver):
    """peers.Receiver with low-delay decoding: one decoder thread (frame threads add frames of delay),
    no input buffering, and every tiny RGB frame flushed to the pipe at once. Frames are stamped
    with time.monotonic() in this process, the clock the switch and flip times use."""

    def __init__(self, url: str) -> None:  # noqa: D107 - same fields as Receiver
        self.url = url
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-fflags", "nobuffer", "-flags", "low_delay",
               "-threads", "1",
               "-listen", "1", "-i", url, "-an", "-vf", f"scale={PROBE_W}:{PROBE_H}",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-flush_packets", "1", "pipe:1"]
        self.frames = deque(maxlen=3000)
        self.count = 0
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def first_after(self, t: float, color: str) -> float | None:
        for ts, rgb in list(self.frames):
            if ts > t and looks_like(rgb, color):
                return ts
        return None


# --- measuring ---------------------------------------------------------------------------
def _label(p: psutil.Process, names: dict[str, str]) -> str:
    try:
        cmd = p.cmdline()
    except psutil.Error:
        return "?"
    if not cmd:
        return p.name()
    if "python" in Path(cmd[0]).name:
        return "stream-ops (python)"
    joined = " ".join(cmd)
    for needle, name in names.items():
        if needle in joined:
            return name
    if "pipe:0" in cmd:
        return "ffmpeg push (copy)"
    return "ffmpeg"


def _pss(pid: int) -> int:
    """Proportional set size in bytes: each shared page divided among the processes mapping it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_slope_mib_per_h(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares slope of RSS over time, MiB per hour (None with fewer than 2 samples)."""
    if len(samples) < 2:
        return None
    t0 = samples[0][0]
    xs = [t - t0 for t, _ in samples]
    ys = [r / 2**20 for _, r in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * 3600


def _busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def wait_for_quiet(limit_s: float, log) -> float:
    """Wait (up to limit_s) until the rest of the machine uses < 0.25 core; returns what it used."""
    deadline = time.monotonic() + limit_s
    while True:
        b0, t0 = _busy(), time.monotonic()
        time.sleep(1.0)
        used = (_busy() - b0) / (time.monotonic() - t0)
        if used < 0.25 or time.monotonic() >= deadline:
            if used >= 0.25:
                log(f"machine still busy ({used:.2f} cores used by others); measuring anyway")
            return used


class TreeSampler:
    """CPU and RSS of a process tree at ~5 Hz; a measured window sums CPU per pid."""

    def __init__(self, pid: int, children: bool = True, names: dict[str, str] | None = None, hz: float = 5.0) -> None:
        self.root = psutil.Process(pid)
        self.children = children
        self.names = names or {}
        self.period = 1.0 / hz
        self.keep_rss = False
        self._labels: dict[int, str] = {}
        self.peak_rss = 0
        self.peak_rss_by: dict[str, int] = {}   # per process label, at the sample with the peak total
        self.peak_pss = 0    # shared pages (the ffmpeg binary in every child) counted once
        self.rss_samples: list[tuple[float, int]] = []   # (monotonic, total RSS), when keep_rss is set
        self._n = 0
        self.window: dict[int, dict[str, Any]] | None = None
        self._wall0 = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _procs(self) -> list[psutil.Process]:
        procs = [self.root]
        if self.children:
            try:
                procs += self.root.children(recursive=True)
            except psutil.Error:
                pass
        return procs

    def sample(self) -> None:
        with self._lock:
            rss = pss = 0
            by: dict[str, int] = {}
            self._n += 1
            with_pss = self._n % 5 == 1    # smaps_rollup walks page tables: once a second is enough
            for p in self._procs():
                try:
                    with p.oneshot():
                        ct = p.cpu_times()
                        mem = p.memory_info().rss
                        created = p.create_time()
                except psutil.Error:
                    continue
                rss += mem
                pss += _pss(p.pid) if with_pss else 0
                label = self._labels.get(p.pid) or self._labels.setdefault(p.pid, _label(p, self.names))
                by[label] = by.get(label, 0) + mem
                if self.window is not None:
                    cpu = ct.user + ct.system
                    rec = self.window.get(p.pid)
                    if rec is None:
                        rec = self.window[p.pid] = {"label": label,
                                                    "base": 0.0 if created >= self._wall0 else cpu, "last": cpu}
                    rec["last"] = cpu
            if rss > self.peak_rss:
                self.peak_rss, self.peak_rss_by = rss, by
            self.peak_pss = max(self.peak_pss, pss)
            if self.keep_rss:
                self.rss_samples.append((time.monotonic(), rss))

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def start_window(self) -> None:
        with self._lock:
            self.window = {}
            self._wall0 = time.time()
        self.sample()
        self.t0 = time.monotonic()
        self.threads0 = self._threads()
        self.sys0 = _busy()

    def end_window(self) -> dict[str, Any]:
        self.sample()
        wall = time.monotonic() - self.t0
        threads1 = self._threads()
        busy = (_busy() - self.sys0) / wall
        with self._lock:
            recs = list((self.window or {}).values())
            self.window = None
        per: dict[str, float] = {}
        for r in recs:
            per[r["label"]] = per.get(r["label"], 0.0) + max(0.0, r["last"] - r["base"])
        thread_cpu = {tid: cpu - self.threads0.get(tid, 0.0) for tid, cpu in threads1.items()}
        cpu = sum(per.values())
        return {"wall_s": wall, "cpu_s": cpu, "per_process": per, "threads": thread_cpu,
                "others_cores": max(0.0, busy - cpu / wall)}

    def _threads(self) -> dict[int, float]:
        try:
            return {t.id: t.user_time + t.system_time for t in self.root.threads()}
        except psutil.Error:
            return {}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def py_spy_threads(pid: int) -> dict[int, str]:
    """OS thread id -> Python thread name, from one `py-spy dump` (empty when py-spy is missing)."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        return {}
    try:
        out = subprocess.run([exe, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names = {}
    for m in re.finditer(r'^Thread (0x[0-9A-Fa-f]+|\d+) \(\w+\): "([^"]*)"', out, re.M):
        ident = m.group(1)
        names[int(ident, 16) if ident.startswith("0x") else int(ident)] = m.group(2)
    return names


class Progress:
    """Reads ffmpeg's `-progress pipe:1` reports: frames, program time, dup/drop, speed."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.latest: dict[str, str] = {}
        self._proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        block: dict[str, str] = {}
        assert self._proc.stdout is not None
        for raw in iter(self._proc.stdout.readline, b""):
            k, _, v = raw.decode("utf-8", "replace").strip().partition("=")
            block[k] = v
            if k == "progress":
                self.latest = dict(block)

    def num(self, key: str) -> float:
        try:
            return float(self.latest.get(key, "0").rstrip("x") or 0)
        except ValueError:
            return 0.0


# --- shows -------------------------------------------------------------------------------
def show_yaml(name: str, height: int, sources: dict, scenes: dict, outputs: dict, start: str) -> str:
    """A show file (JSON is YAML) at 16:9 `height`p30 with the bench's encoder settings."""
    doc = {"show": {"name": name, "video": {"width": height * 16 // 9, "height": height, "fps": FPS,
                                            "bitrate_kbps": BITRATE[height], "keyframe_s": 2, "preset": PRESET},
                    "audio": AUDIO, "start_scene": start, "transition": {"kind": "cut", "duration_ms": 0}},
           "sources": sources, "scenes": scenes, "outputs": outputs}
    return json.dumps(doc, ensure_ascii=False, indent=1)


def rtmp_outputs(urls: list[str]) -> dict:
    return {f"out{i + 1}": {"kind": "rtmp", "url": u, "autostart": True} for i, u in enumerate(urls)}


def x264_args(height: int) -> list[str]:
    """The same encoder settings as stream-ops' Encoder (encoder.py), for the ffmpeg baseline."""
    b, gop = BITRATE[height], FPS * 2
    return ["-c:v", "libx264", "-preset", PRESET, "-tune", "zerolatency", "-b:v", f"{b}k", "-maxrate", f"{b}k",
            "-bufsize", f"{2 * b}k", "-g", str(gop),
            "-x264-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", f"{AUDIO['bitrate_kbps']}k", "-ar", str(AUDIO["sample_rate"]), "-ac", "2"]


class Spec:
    """One reference show: its stream-ops scenes and the equivalent ffmpeg filter graph."""

    def __init__(self, key: str, title: str, height: int, inputs: list[tuple[str, int]], scene: dict,
                 graph: str, via_rtmp: bool = False) -> None:
        self.key, self.title, self.height = key, title, height
        self.inputs = inputs          # (source name, input height)
        self.scene = scene            # the scene stream-ops shows
        self.graph = graph            # filter_complex producing [v] and [a]
        self.via_rtmp = via_rtmp      # RTMP publishers into listen sources (else file sources)
        self.patch: Callable[[dict], None] | None = None   # changes the show file (e.g. adds a canvas)
        self.extra_encodes: list[list[str]] = []           # ffmpeg: more `-map ... x264 args` outputs, one target each


def _amix(n: int) -> str:
    if n == 1:
        return "[0:a]aresample=44100[a]"
    return "".join(f"[{i}:a]" for i in range(n)) + f"amix=inputs={n}:normalize=0[a]"


def _overlay_graph(height: int, rects: list[Rect], text: bool = False) -> str:
    """Inputs scaled (bilinear, like our source children) and overlaid at `rects` on black."""
    w = height * 16 // 9
    parts = [f"color=c=black:s={w}x{height}:r={FPS}[bg0]"]
    for i, r in enumerate(rects):
        parts.append(f"[{i}:v]scale={r.w}:{r.h}:flags=bilinear:force_original_aspect_ratio=decrease,"
                     f"pad={r.w}:{r.h}:(ow-iw)/2:(oh-ih)/2[s{i}]")
    last = "bg0"
    for i, r in enumerate(rects):
        nxt = f"bg{i + 1}"
        parts.append(f"[{last}][s{i}]overlay={r.x}:{r.y}:shortest=1:repeatlast=0[{nxt}]")
        last = nxt
    v = f"[{last}]" + (_drawtext(height) if text else "null") + "[v]"
    return ";".join(parts + [v, _amix(len(rects))])


def _drawtext(height: int) -> str:
    s = height / 1080
    font = str(font_path()).replace(":", r"\:")
    return (f"drawtext=fontfile='{font}':text='{LOWER_THIRD}':x={int(80 * s)}:y={int(930 * s)}:fontsize={int(48 * s)}"
            f":fontcolor=white:box=1:boxcolor=0xc00000cc:boxborderw={int(20 * s)}")


def _lower_third(height: int) -> dict:
    s = height / 1080
    return {"text": LOWER_THIRD, "rect": [int(60 * s) & ~1, int(910 * s) & ~1, int(1100 * s) & ~1, int(100 * s) & ~1],
            "size": int(48 * s), "color": "#ffffff", "background": "#c00000cc"}


def spec_a() -> Spec:
    return Spec("a", "(a) 1 × 720p30 → 720p30", 720, [("cam1", 720)], {"layers": [{"source": "cam1"}]},
                "[0:v]null[v];" + _amix(1))


def spec_b() -> Spec:
    names = [f"cam{i + 1}" for i in range(4)]
    # xstack is the cheapest way ffmpeg has to tile: the floor.
    graph = ";".join([f"[{i}:v]scale=960:540:flags=bilinear[s{i}]" for i in range(4)]
                     + ["[s0][s1][s2][s3]xstack=inputs=4:layout=0_0|960_0|0_540|960_540," + _drawtext(1080) + "[v]",
                        _amix(4)])
    return Spec("b", "(b) 4 × 720p30 grid + lower-third → 1080p30", 1080, [(n, 720) for n in names],
                {"grid": {"columns": 2, "sources": names}, "layers": [_lower_third(1080)]}, graph)


PIP = [Rect(32 + i * 268, 904, 256, 144) for i in range(7)]


def spec_c() -> Spec:
    names = ["cam1", "cam2"] + [f"phone{i + 1}" for i in range(6)]
    layers = [{"source": "cam1"}] + [{"source": n, "rect": [r.x, r.y, r.w, r.h]} for n, r in zip(names[1:], PIP)]
    parts = ["[0:v]null[bg0]"]
    for i, r in enumerate(PIP):
        parts.append(f"[{i + 1}:v]scale={r.w}:{r.h}:flags=bilinear[p{i}]")
    for i, r in enumerate(PIP):
        parts.append(f"[bg{i}][p{i}]overlay={r.x}:{r.y}" + ("[v]" if i == len(PIP) - 1 else f"[bg{i + 1}]"))
    graph = ";".join(parts + [_amix(8)])
    return Spec("c", "(c) rig: 2 × 1080p30 + 6 × 720p30 over RTMP, host + PiP → 1080p30", 1080,
                [("cam1", 1080), ("cam2", 1080)] + [(f"phone{i + 1}", 720) for i in range(6)],
                {"layers": layers}, graph, via_rtmp=True)


PORTRAIT = (720, 1280, 2500)   # the portrait canvas added to show (c): width, height, kbit/s


def spec_c_portrait() -> Spec:
    """Show (c) plus a 720x1280 portrait canvas with the derived layout and one RTMP output on it;
    FFmpeg's side: one process, both compositions in one filter_complex, two x264 + AAC encodes."""
    from stream_ops.config import LayerConfig, SceneConfig
    from stream_ops.layouts import derive

    base = spec_c()
    pw, ph, kbps = PORTRAIT
    names = [n for n, _ in base.inputs]
    layers = tuple(LayerConfig(kind="source", source=l["source"], rect=Rect(*l["rect"]) if "rect" in l else None)
                   for l in base.scene["layers"])
    derived = derive(SceneConfig("main", layers), 1920, 1080, pw, ph)
    n = len(names)
    graph = base.graph
    for i in range(n):
        graph = graph.replace(f"[{i}:v]", f"[m{i}]")
    graph = graph.replace("[a]", "[aall]")
    parts = [f"[{i}:v]split=2[m{i}][q{i}]" for i in range(n)] + [graph]
    last = None
    for j, layer in enumerate(derived):
        i, r = names.index(layer.source or ""), layer.rect
        assert r is not None
        chain = f"[q{i}]"
        if layer.crop:
            left, top, right, bottom = layer.crop
            chain += (f"crop=trunc(iw*{1 - left - right:.4f}/2)*2:trunc(ih*{1 - top - bottom:.4f}/2)*2:"
                      f"trunc(iw*{left:.4f}/2)*2:trunc(ih*{top:.4f}/2)*2,")
        chain += f"scale={r.w}:{r.h}:flags=bilinear:force_original_aspect_ratio=increase,crop={r.w}:{r.h}"
        if last is None:   # the main source fills the canvas: the background
            parts.append(chain + "[pb0]")
            last = "pb0"
        else:
            parts.append(chain + f"[pq{j}]")
            nxt = "vp" if j == len(derived) - 1 else f"pb{j}"
            parts.append(f"[{last}][pq{j}]overlay={r.x & ~1}:{r.y & ~1}[{nxt}]")
            last = nxt
    parts.append("[aall]asplit=2[a][ap]")
    spec = Spec("portrait", f"(c) + {pw}×{ph} portrait canvas (derived layout, its own RTMP output)", 1080,
                base.inputs, base.scene, ";".join(parts), via_rtmp=True)

    def patch(doc: dict) -> None:
        doc["show"]["canvases"] = {"portrait": {"width": pw, "height": ph, "bitrate_kbps": kbps}}
        doc["outputs"]["out2"]["canvas"] = "portrait"
    spec.patch = patch
    # x264_args(720) is stream-ops' encoder at 2500 kbit/s: the portrait canvas's settings.
    spec.extra_encodes = [["-map", "[vp]", "-map", "[ap]", *x264_args(720)]]
    return spec


def spec_grid(n: int, height: int = 720) -> Spec:
    """N sources of `height`p30 in a grid → `height`p30."""
    names = [f"cam{i + 1}" for i in range(n)]
    cols = math.ceil(math.sqrt(n))
    rects = grid_rects(n, cols, Rect(0, 0, height * 16 // 9, height))
    key = f"grid{n}" if height == 720 else f"grid{n}-{height}p"
    return Spec(key, f"{n} × {height}p30, grid → {height}p30", height, [(nm, height) for nm in names],
                {"grid": {"columns": cols, "sources": names}}, _overlay_graph(height, rects))


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.warm = args.warm
        self.window = args.seconds
        self.tmp = Path(tempfile.mkdtemp(prefix="stream-ops-bench-"))
        self.results: dict[str, Any] = {}
        self._n = 0

    def log(self, msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def _dir(self, name: str) -> Path:
        self._n += 1
        d = self.tmp / f"{self._n:02d}-{name}"
        d.mkdir(parents=True)
        return d

    # --- stream-ops side ---
    def run_show(self, spec: Spec, n_outputs: int = 1, profile: bool = False, window: float | None = None,
                 rss_trace: bool = False) -> dict[str, Any]:
        wait_for_quiet(self.args.quiet_wait, self.log)
        targets = [null_target(free_port()) for _ in range(n_outputs)]
        sources: dict[str, dict] = {}
        publishers: list[Loop] = []
        names: dict[str, str] = {}
        pub_urls = []
        for name, h in spec.inputs:
            if spec.via_rtmp:
                port = free_port()
                url = f"rtmp://127.0.0.1:{port}/live/{name}"
                sources[name] = {"kind": "rtmp", "listen": url}
                pub_urls.append((media(h), url))
                names[f":{port}/"] = f"ffmpeg source {name} ({h}p)"
            else:
                sources[name] = {"kind": "file", "path": str(media(h)), "loop": True}
                names[str(media(h))] = f"ffmpeg source ({h}p file)"
        text = show_yaml(f"bench-{spec.key}", spec.height, sources, {"main": spec.scene},
                         rtmp_outputs([u for _, u in targets]), "main")
        if spec.patch:
            doc = json.loads(text)
            spec.patch(doc)
            text = json.dumps(doc, ensure_ascii=False, indent=1)
        show = ShowProcess(self._dir(f"show-{spec.key}-{n_outputs}out"), text, token="bench")
        sampler = TreeSampler(show.proc.pid, names=names)
        window = window or self.window
        try:
            publishers = [copy_publisher(p, u) for p, u in pub_urls]
            wait_until(lambda: all(s["state"] == "live" for s in show.state()["sources"]), 40, 0.2,
                       message=f"all sources live in {spec.key}")
            wait_until(lambda: all(o["state"] == "live" for o in show.state()["outputs"]), 30, 0.2,
                       message=f"all outputs live in {spec.key}")
            time.sleep(self.warm)
            e0 = show.state()["engine"]
            sampler.start_window()
            sampler.keep_rss = rss_trace
            thread_names: dict[int, str] = {}
            if profile:
                time.sleep(window / 2)
                thread_names = py_spy_threads(show.proc.pid)
                time.sleep(window / 2)
            else:
                time.sleep(window)
            w = sampler.end_window()
            e1 = show.state()["engine"]
            outs = show.state()["outputs"]
        finally:
            for p in publishers:
                p.stop()
            show.stop()
            sampler.stop()
            for t, _ in targets:
                t.stop()
        res = {
            "cpu_per_s": w["cpu_s"] / w["wall_s"], "wall_s": w["wall_s"], "cpu_s": w["cpu_s"],
            "per_process": {k: v / w["wall_s"] for k, v in sorted(w["per_process"].items(), key=lambda kv: -kv[1])},
            "fps": (e1["frames"] - e0["frames"]) / w["wall_s"],
            "late_frames": e1["late_frames"] - e0["late_frames"], "encoder_drops": e1["encoder_drops"] - e0["encoder_drops"],
            "late_frames_run": e1["late_frames"], "encoder_drops_run": e1["encoder_drops"],
            "max_gap_ms": e1["max_gap_ms"], "composite_ms": e1["composite_ms"], "encode_ms": e1["encode_ms"],
            "peak_rss_mib": sampler.peak_rss / 2**20,
            "peak_rss_by_mib": {k: v / 2**20 for k, v in sorted(sampler.peak_rss_by.items(), key=lambda kv: -kv[1])},
            "peak_pss_mib": sampler.peak_pss / 2**20,
            "outputs_dropped": sum(o["dropped"] for o in outs),
            "others_cores": w["others_cores"], "loadavg": os.getloadavg()[0],
            "canvases": {name: {"fps": (c["frames"] - e0["canvases"][name]["frames"]) / w["wall_s"],
                                "encoder_drops": c["encoder_drops"] - e0["canvases"][name]["encoder_drops"],
                                "encode_ms": c["encode_ms"], "composite_ms": c["composite_ms"]}
                         for name, c in e1.get("canvases", {}).items()},
        }
        if rss_trace:
            trace = sampler.rss_samples
            res["rss_slope_mib_h"] = rss_slope_mib_per_h(trace)
            minute = [r for t, r in trace if t - trace[0][0] <= 60] if trace else []
            last = [r for t, r in trace if trace[-1][0] - t <= 60] if trace else []
            res["rss_first_minute_mib"] = statistics.fmean(minute) / 2**20 if minute else None
            res["rss_last_minute_mib"] = statistics.fmean(last) / 2**20 if last else None
            res["rss_trace_mib"] = [(round(t - trace[0][0], 1), round(r / 2**20, 1)) for t, r in trace[::25]]   # every 5 s
        if profile:
            res["threads"] = {f"{thread_names.get(tid, 'native')} [{tid}]": cpu / w["wall_s"]
                              for tid, cpu in sorted(w["threads"].items(), key=lambda kv: -kv[1]) if cpu > 0.005 * w["wall_s"]}
        self.log(f"stream-ops {spec.key} ×{n_outputs} out: {res['cpu_per_s']:.2f} CPU s/s, {res['fps']:.1f} fps, "
                 f"late {res['late_frames']}, drops {res['encoder_drops']}, rss {res['peak_rss_mib']:.0f} MiB, "
                 f"others {res['others_cores']:.2f} cores")
        return res

    # --- ffmpeg side ---
    def run_ffmpeg(self, spec: Spec, n_encodes: int = 1) -> dict[str, Any]:
        wait_for_quiet(self.args.quiet_wait, self.log)
        d = self._dir(f"ffmpeg-{spec.key}-{n_encodes}enc")
        targets = [null_target(free_port()) for _ in range(n_encodes)]
        cmd = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-stats_period", "0.5",
               "-progress", "pipe:1"]
        pub_urls = []
        for name, h in spec.inputs:
            if spec.via_rtmp:
                url = f"rtmp://127.0.0.1:{free_port()}/live/{name}"
                cmd += ["-fflags", "nobuffer", "-probesize", "1000000", "-analyzeduration", "1000000",
                        "-listen", "1", "-i", url]
                pub_urls.append((media(h), url))
            else:
                cmd += ["-re", "-stream_loop", "-1", "-i", str(media(h))]
        graph = spec.graph
        if n_encodes > 1:
            graph = graph.replace("[v];", "[vall];", 1) if "[v];" in graph else graph
            graph = re.sub(r"\[v\]$", "[vall]", graph)
            graph = re.sub(r"\[a\]$", "[aall]", graph) if graph.endswith("[a]") else graph.replace("[a]", "[aall]")
            graph += f";[vall]split={n_encodes}" + "".join(f"[v{i}]" for i in range(n_encodes))
            graph += f";[aall]asplit={n_encodes}" + "".join(f"[a{i}]" for i in range(n_encodes))
        cmd += ["-filter_complex", graph]
        for i, (_, url) in enumerate(targets):
            vl, al = ("[v]", "[a]") if n_encodes == 1 else (f"[v{i}]", f"[a{i}]")
            cmd += ["-map", vl, "-map", al, *x264_args(spec.height), "-f", "flv", url]
        for extra in spec.extra_encodes:
            targets.append(null_target(free_port()))
            cmd += [*extra, "-f", "flv", targets[-1][1]]
        (d / "cmd.txt").write_text(" ".join(cmd))
        err = open(d / "ffmpeg.log", "wb")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        progress = Progress(proc)
        sampler = TreeSampler(proc.pid, children=False)
        publishers: list[Loop] = []
        try:
            publishers = [copy_publisher(p, u) for p, u in pub_urls]
            wait_until(lambda: proc.poll() is not None or progress.num("frame") > FPS, 60, 0.2,
                       message=f"ffmpeg {spec.key} encoding")
            if proc.poll() is not None:
                raise RuntimeError(f"ffmpeg baseline exited: {(d / 'ffmpeg.log').read_text()[-2000:]}")
            time.sleep(self.warm + ((1 if self.args.quick else 3) if spec.via_rtmp else 0))   # listen inputs open one by one: let it settle
            p0 = dict(progress.latest)
            sampler.start_window()
            time.sleep(self.window)
            w = sampler.end_window()
            p1 = dict(progress.latest)
        finally:
            for p in publishers:
                p.stop()
            proc.kill()
            proc.wait()
            err.close()
            sampler.stop()
            for t, _ in targets:
                t.stop()

        def f(block: dict[str, str], key: str) -> float:
            try:
                return float(block.get(key, "0").rstrip("x") or 0)
            except ValueError:
                return 0.0
        prog_s = (f(p1, "out_time_us") - f(p0, "out_time_us")) / 1e6 or w["wall_s"]
        res = {"cpu_per_s": w["cpu_s"] / prog_s, "cpu_cores": w["cpu_s"] / w["wall_s"], "program_s": prog_s,
               "wall_s": w["wall_s"], "speed": prog_s / w["wall_s"],
               "fps": (f(p1, "frame") - f(p0, "frame")) / w["wall_s"],
               "dup_frames": f(p1, "dup_frames") - f(p0, "dup_frames"), "drop_frames": f(p1, "drop_frames") - f(p0, "drop_frames"),
               "peak_rss_mib": sampler.peak_rss / 2**20, "peak_pss_mib": sampler.peak_pss / 2**20,
               "others_cores": w["others_cores"]}
        self.log(f"ffmpeg {spec.key} ×{n_encodes} enc: {res['cpu_per_s']:.2f} CPU s per program s, speed {res['speed']:.2f}, others {res['others_cores']:.2f} cores")
        return res

    # --- items ---
    def mixing(self, spec: Spec) -> None:
        so = self.run_show(spec, profile=(spec.key == "c"))
        ff = self.run_ffmpeg(spec)
        self.results.setdefault("mixing", {})[spec.key] = {"title": spec.title, "stream_ops": so, "ffmpeg": ff,
                                                           "ratio": so["cpu_per_s"] / ff["cpu_per_s"]}

    def portrait(self) -> None:
        """Show (c) with a portrait canvas: stream-ops (two encodes, two outputs) against one FFmpeg
        doing both compositions and both encodes; and show (c) alone, for what the canvas adds."""
        spec = spec_c_portrait()
        so = self.run_show(spec, n_outputs=2)
        ff = self.run_ffmpeg(spec)
        alone = self.results.get("mixing", {}).get("c", {}).get("stream_ops") or self.run_show(spec_c())
        self.results["portrait"] = {"title": spec.title, "stream_ops": so, "ffmpeg": ff, "c_alone": alone,
                                    "ratio": so["cpu_per_s"] / ff["cpu_per_s"]}

    def fanout(self) -> None:
        spec = spec_b()
        one = self.results.get("mixing", {}).get("b", {}).get("stream_ops") or self.run_show(spec, 1)
        five = self.run_show(spec, 5)
        ten = self.run_show(spec, 10)
        ff1 = self.results.get("mixing", {}).get("b", {}).get("ffmpeg") or self.run_ffmpeg(spec, 1)
        ff5 = self.run_ffmpeg(spec, 5)
        self.results["fanout"] = {"stream_ops_1": one, "stream_ops_5": five, "stream_ops_10": ten,
                                  "ffmpeg_1": ff1, "ffmpeg_5": ff5,
                                  "ratio_5_1": five["cpu_per_s"] / one["cpu_per_s"],
                                  "ratio_10_1": ten["cpu_per_s"] / one["cpu_per_s"],
                                  "ffmpeg_ratio_5_1": ff5["cpu_per_s"] / ff1["cpu_per_s"]}
        self.log(f"fanout: 5/1 {five['cpu_per_s'] / one['cpu_per_s']:.3f}×, 10/1 {ten['cpu_per_s'] / one['cpu_per_s']:.3f}×")

    def growth(self, height: int = 720) -> None:
        """N × `height`p30 sources in a grid → `height`p30: what each added source costs."""
        if height == 720:
            counts = (1, 8) if self.args.quick else (1, 2, 4, 8)
        else:   # 8 × 1080p decodes alone need ~1.3 cores here: stop at 6
            counts = (1, 4) if self.args.quick else (1, 2, 4, 6)
        rows = {}
        for n in counts:
            spec = spec_grid(n, height)
            row = {"stream_ops": self.run_show(spec)}
            if not self.args.quick:
                row["ffmpeg"] = self.run_ffmpeg(spec)
            rows[n] = row
        self.results["growth" if height == 720 else f"growth{height}"] = rows

    def long(self) -> None:
        """Show (c) for --long-seconds: does it hold real time, and does its memory grow?"""
        res = self.run_show(spec_c(), window=self.args.long_seconds, rss_trace=True)
        res["free_cores"] = (os.cpu_count() or 1) - res["cpu_per_s"]
        self.results["long"] = res
        self.log(f"long run: {res['fps']:.1f} fps, late {res['late_frames']}, drops {res['encoder_drops']}, "
                 f"free {res['free_cores']:.2f} cores, RSS slope {_f(res['rss_slope_mib_h'], 1)} MiB/h")

    def switch(self) -> None:
        """POST /api/program returns → first frame of the new colour decoded at an RTMP receiver; beside it the
        receiver's floor: the same cut from a plain ffmpeg x264 → RTMP publisher straight into an identical receiver."""
        port = free_port()
        rx = FastReceiver(f"rtmp://127.0.0.1:{port}/live/x")
        show = ShowProcess(self._dir("switch"), show_yaml("bench-switch", 720, COLOUR_SOURCES, COLOUR_SCENES,
                                                          rtmp_outputs([rx.url]), "red"), token="bench")
        lat, lat_post = [], []
        try:
            wait_until(lambda: rx.sees("red"), 30, message="red at the receiver")
            time.sleep(0.3 if self.args.quick else 1.0)
            colour = "red"
            for i in range(self.args.switches):
                colour = "blue" if colour == "red" else "red"
                t0 = time.monotonic()
                status, body = show.request("POST", "/api/program", {"scene": colour})
                t1 = time.monotonic()
                assert status == 200, body
                seen = wait_until(lambda: rx.first_after(t1, colour), 5, 0.002, message=f"{colour} after switch {i}")
                lat.append((seen - t1) * 1000)
                lat_post.append((t1 - t0) * 1000)
                time.sleep(0.3 + (i % 5) * 0.037)   # land at different phases of the frame clock
        finally:
            show.stop()
            rx.stop()
        floor = self._flips(ShowLikePublisher, self.args.switches, "switch floor")
        self.results["switch"] = {"n": len(lat), "median_ms": statistics.median(lat), "worst_ms": max(lat),
                                  "post_median_ms": statistics.median(lat_post), "samples_ms": [round(x, 1) for x in lat],
                                  "floor": floor}
        self.log(f"switch: median {statistics.median(lat):.0f} ms, worst {max(lat):.0f} ms; "
                 f"floor median {floor['median_ms']:.0f} ms")

    def _time_flips(self, pub: "ColourPublisher", rx: "FastReceiver", n: int, what: str,
                    pause_s: float, step_s: float) -> list[float]:
        """Flip the publisher's colour n times; ms from each flip to the receiver's first frame of it.
        The pauses vary by `step_s` so flips land at different phases of the frame clock."""
        wait_until(lambda: rx.sees("red"), 30, message=f"red at the receiver ({what})")
        time.sleep(0.3 if self.args.quick else 1.0)
        lat, colour = [], "red"
        for i in range(n):
            colour = "blue" if colour == "red" else "red"
            t = pub.flip(colour)
            seen = wait_until(lambda: rx.first_after(t, colour), 5, 0.002, message=f"{colour} after flip {i} ({what})")
            lat.append((seen - t) * 1000)
            time.sleep(pause_s + (i % 5) * step_s)
        return lat

    def _flips(self, publisher: type["ColourPublisher"], n: int, what: str) -> dict[str, Any]:
        """A publisher flips its colour n times straight into a FastReceiver: latency per flip."""
        rx = FastReceiver(f"rtmp://127.0.0.1:{free_port()}/live/x")
        pub = publisher(rx.url)
        try:
            lat = self._time_flips(pub, rx, n, what, 0.3, 0.037)
        finally:
            pub.stop()
            rx.stop()
        return {"n": len(lat), "median_ms": statistics.median(lat), "worst_ms": max(lat),
                "samples_ms": [round(x, 1) for x in lat]}

    def take(self) -> None:
        """The panel's TAKE clicked in headless Chromium → first frame of the new colour decoded at an RTMP receiver."""
        from playwright.sync_api import sync_playwright

        rx = FastReceiver(f"rtmp://127.0.0.1:{free_port()}/live/x")
        show = ShowProcess(self._dir("take"), show_yaml("bench-take", 720, COLOUR_SOURCES, COLOUR_SCENES,
                                                        rtmp_outputs([rx.url]), "red"), token="bench")
        lat = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                base = f"http://127.0.0.1:{show.port}"
                page.goto(f"{base}/?token={show.token}")
                page.wait_for_url(f"{base}/")
                page.wait_for_selector("body:not(.offline)")
                wait_until(lambda: rx.sees("red"), 30, message="red at the receiver")
                time.sleep(0.3 if self.args.quick else 1.0)
                colour = "red"
                for i in range(self.args.switches):
                    colour = "blue" if colour == "red" else "red"
                    page.click(f'.scene[data-key="{colour}"]')
                    page.wait_for_selector(f'.scene[data-key="{colour}"].on-preview')
                    box = page.locator("#take").bounding_box()
                    assert box is not None
                    time.sleep(0.1 + (i % 5) * 0.037)   # land at different phases of the frame clock
                    # The clock starts before the click is sent: the browser's own input handling counts.
                    t0 = time.monotonic()
                    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                    seen = wait_until(lambda: rx.first_after(t0, colour), 5, 0.002, message=f"{colour} after take {i}")
                    lat.append((seen - t0) * 1000)
                    page.wait_for_selector(f'.scene[data-key="{colour}"].on-program')
                browser.close()
        finally:
            show.stop()
            rx.stop()
        self.results["take"] = {"n": len(lat), "median_ms": statistics.median(lat), "worst_ms": max(lat),
                                "samples_ms": [round(x, 1) for x in lat]}
        self.log(f"take: median {statistics.median(lat):.0f} ms, worst {max(lat):.0f} ms")

    def g2g(self) -> None:
        """A publisher flips its colour at a known time; when does the program's receiver see it?"""
        res = {}
        for via in ("direct", "stream-ops"):
            cam_port, out_port = free_port(), free_port()
            rx_url = f"rtmp://127.0.0.1:{out_port}/live/x"
            rx = FastReceiver(rx_url)
            show = None
            if via == "stream-ops":
                show = ShowProcess(self._dir("g2g"), show_yaml(
                    "bench-g2g", 720, {"cam": {"kind": "rtmp", "listen": f"rtmp://127.0.0.1:{cam_port}/live/cam"}},
                    {"cam": {"layers": [{"source": "cam"}]}}, rtmp_outputs([rx_url]), "cam"), token="bench")
                pub = ColourPublisher(f"rtmp://127.0.0.1:{cam_port}/live/cam")
            else:
                pub = ColourPublisher(rx_url)
            try:
                lat = self._time_flips(pub, rx, self.args.flips, via, 0.4, 0.041)
            finally:
                pub.stop()
                if show:
                    show.stop()
                rx.stop()
            res[via] = {"n": len(lat), "median_ms": statistics.median(lat), "worst_ms": max(lat),
                        "samples_ms": [round(x, 1) for x in lat]}
            self.log(f"glass to glass ({via}): median {statistics.median(lat):.0f} ms, worst {max(lat):.0f} ms")
        self.results["g2g"] = res

    def reconnect(self) -> None:
        """Kill the RTMP target, bring it back after a few seconds: when is the output live again?"""
        port = free_port()
        url = f"rtmp://127.0.0.1:{port}/live/x"
        rx = FastReceiver(url)
        show = ShowProcess(self._dir("reconnect"), show_yaml(
            "bench-reconnect", 720, {"red": {"kind": "color", "color": "#ff0000"}}, {"red": {"layers": [{"source": "red"}]}},
            rtmp_outputs([url]), "red"), token="bench")
        try:
            wait_until(lambda: rx.sees("red") and show.output("out1")["state"] == "live", 30, message="output live")
            rx.stop()
            killed = time.monotonic()
            wait_until(lambda: show.output("out1")["state"] != "live", 15, 0.05, message="output not live")
            noticed = time.monotonic() - killed
            time.sleep(max(0.0, self.args.dead_s - (time.monotonic() - killed)))
            back = time.monotonic()
            rx = FastReceiver(url)
            wait_until(lambda: show.output("out1")["state"] == "live", 30, 0.05, message="output live again")
            live_again = time.monotonic() - back
            wait_until(lambda: rx.count > 0, 30, 0.01, message="frame at the returned target")
            frame_again = rx.frames[0][0] - back
        finally:
            show.stop()
            rx.stop()
        self.results["reconnect"] = {"dead_s": self.args.dead_s, "noticed_s": noticed, "live_again_s": live_again,
                                     "first_frame_s": frame_again}
        self.log(f"reconnect: noticed {noticed:.2f} s, live again {live_again:.2f} s, first frame {frame_again:.2f} s")

    def demo(self) -> None:
        """scenes/demo.yaml, copied so it writes into a temporary folder, not the repository."""
        d = self._dir("demo")
        (d / "assets").symlink_to(ROOT / "scenes" / "assets")
        text = (ROOT / "scenes" / "demo.yaml").read_text("utf-8")
        text = text.replace("../data/demo", "data").replace("../recordings/", "recordings/")
        show = ShowProcess(d, text, token="bench")
        sampler = TreeSampler(show.proc.pid)
        res = {}
        try:
            for scene in ("bars", "host", "grid"):
                show.request("POST", "/api/program", {"scene": scene})
                time.sleep(self.warm + 1)
                sampler.start_window()
                time.sleep(self.window)
                w = sampler.end_window()
                res[scene] = w["cpu_s"] / w["wall_s"]
            res["peak_rss_mib"] = sampler.peak_rss / 2**20
            res["engine"] = show.state()["engine"]
        finally:
            show.stop()
            sampler.stop()
        self.results["demo"] = res
        self.log(f"demo: {res}")


COLOUR_SOURCES = {"red": {"kind": "color", "color": "#ff0000"}, "blue": {"kind": "color", "color": "#0000ff"}}
COLOUR_SCENES = {"red": {"layers": [{"source": "red"}]}, "blue": {"layers": [{"source": "blue"}]}}


class ColourPublisher:
    """Raw frames of one solid colour piped into an ffmpeg child that publishes RTMP (x264 ultrafast,
    zerolatency). `flip()` changes the colour at the next frame and returns the monotonic time the
    first frame of the new colour was written to the encoder's pipe."""

    W, H = 640, 360

    def __init__(self, url: str) -> None:
        self.url = url
        self.colour = "red"
        self._frames = {c: frames.solid(self.W, self.H, h).tobytes() for c, h in (("red", "#ff0000"), ("blue", "#0000ff"))}
        self._flipped = threading.Event()
        self._pending: str | None = None
        self.flip_at = 0.0
        self._stop = threading.Event()
        self.proc = self._spawn()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                                 "-s", f"{self.W}x{self.H}", "-r", str(FPS), "-i", "pipe:0", "-c:v", "libx264",
                                 "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(FPS), "-pix_fmt", "yuv420p",
                                 "-f", "flv", self.url], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, bufsize=0)

    def _run(self) -> None:
        t0, n = time.monotonic(), 0
        while not self._stop.is_set():
            if self._pending:
                self.colour, self._pending = self._pending, None
                self.flip_at = time.monotonic()
                self._flipped.set()
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(self._frames[self.colour])
            except (BrokenPipeError, OSError, ValueError):
                if self._stop.is_set():
                    return
                time.sleep(0.3)   # the listener was not up yet: publish again
                self.proc = self._spawn()
                continue
            n += 1
            delay = t0 + n / FPS - time.monotonic()
            if delay < -1:
                t0, n = time.monotonic(), 0
            self._stop.wait(max(0.0, delay))

    def flip(self, colour: str) -> float:
        self._flipped.clear()
        self._pending = colour
        self._flipped.wait(2)
        return self.flip_at

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class ShowLikePublisher(ColourPublisher):
    """ColourPublisher encoding like the switch show: 720p30, the show's x264 settings (preset, zerolatency,
    bitrate, fixed 2 s GOP) and AAC 128 kb/s 44.1 kHz stereo of a tone read in real time: the receiver's floor."""

    W, H = 1280, 720

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                                 "-s", f"{self.W}x{self.H}", "-r", str(FPS), "-i", "pipe:0",
                                 "-re", "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={AUDIO['sample_rate']}",
                                 *x264_args(720), "-f", "flv", self.url], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, bufsize=0)


# --- the report -----------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ver = subprocess.run([FFMPEG, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return {"cpu": model, "cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "ffmpeg": ver, "os": platform.platform(), "commit": commit,
            "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}


HOW_TO_RUN = """\
## How to run

```sh
.venv/bin/python scripts/bench.py --quick                 # < 2 min: 2.5 s windows, growth 1 and 8 only, no FFmpeg growth
                                                          # baseline, no reconnect/demo; writes docs/benchmarks.md too
.venv/bin/python scripts/bench.py                         # full run, < 30 min (10 of them: `long`); rewrites docs/benchmarks.md
.venv/bin/python scripts/bench.py --only long --long-seconds 600 --out /tmp/l.md   # show (c) for 10 minutes
.venv/bin/python scripts/bench.py --json bench.json       # also every figure as JSON
.venv/bin/python scripts/bench.py --only a,b,switch --seconds 5 --out /tmp/b.md   # a subset
```

The first run also encodes the input files (≈ 15 s, cached in `$TMPDIR/stream-ops-bench-media`).
Items for `--only`: `a`, `b`, `c` (mixing cost vs FFmpeg), `fanout` (1, 5, 10 outputs), `growth`
(N × 720p), `growth1080` (N × 1080p), `switch` (with its floor), `take` (the panel's TAKE in
headless Chromium), `g2g` (glass to glass), `reconnect`, `demo`, `portrait` (show (c) plus a
portrait canvas), `long` (show (c) for `--long-seconds`, default 600: real time, free CPU,
memory and its slope). Run it on an otherwise idle machine: the workloads run one after the
other, never two at once, and anything else running skews them.
The section "What dominates show (c)" below is written by hand and kept when the script
rewrites this file (between the `analysis` markers).
"""

METHOD = """\
## What is measured, exactly

- **Inputs.** Each "camera" is a pre-encoded H.264 + AAC file made once by the script
  (`testsrc2` moving pattern + 440 Hz sine; 720p30 at 2.5 Mb/s or 1080p30 at 4.5 Mb/s,
  x264 veryfast, GOP 2 s, cached in `$TMPDIR/stream-ops-bench-media`). Both sides decode
  exactly these streams.
  - Shows (a), (b) and the growth series: stream-ops reads them as `file` sources
    (its ffmpeg child: `-re -stream_loop -1 -i FILE`, decode, scale to the slot, NUT pipe);
    the FFmpeg baseline reads the same files with the same `-re -stream_loop -1 -i FILE`.
  - Show (c): 8 publishers (`ffmpeg -re -stream_loop -1 -i FILE -c copy -f flv rtmp://…`,
    copying, ~0 CPU, **not counted**) push into 8 `rtmp` listen sources, one port each; the
    FFmpeg baseline listens on 8 ports the same way (`-listen 1 -i rtmp://…` × 8) and
    receives the same publishers.
- **Outputs.** Each output is an RTMP push to an ffmpeg listener on loopback
  (`-listen 1 -i rtmp://… -c copy -f null -`), **not counted**. stream-ops' own push
  children (ffmpeg copying the FLV stream-ops muxed, `-f data` in and out, to `rtmp://`)
  **are** counted: they are part of it.
- **stream-ops**: `stream-ops run SHOW` (a subprocess, `STREAM_OPS_TOKEN` set), one
  libx264 + AAC encode (PyAV, in-process) per program. CPU = user + sys of the Python
  process and all its children (source ffmpeg children, push children), per pid, sampled
  at 5 Hz with psutil, over a window of N s that starts after all sources and outputs are
  live plus a warm-up. One program second = one wall second (its clock is real time).
- **FFmpeg baseline**: ONE ffmpeg process doing the same static composition with
  `-filter_complex` (scale `flags=bilinear` like our source children; `xstack` for the
  2×2 grid, `overlay` for PiP and other grids, `drawtext` with a box for the lower-third,
  `amix` of the same audio) and the same encoder settings: libx264, the show's preset
  (`veryfast`), `-tune zerolatency`, same bitrate, maxrate, bufsize (2×), fixed GOP of 2 s
  with `scenecut=0:repeat-headers=1`, AAC 128 kb/s 44.1 kHz stereo, FLV to the same kind
  of listener. CPU = user + sys of that one process per second of program it produced
  (`-progress` `out_time`), so a baseline slower than real time is still compared per
  program second (its speed is shown). FFmpeg cannot switch scenes live: it is the floor.
- **Real time**: `late_frames` (clock ticks skipped because the clock was late),
  `encoder_drops` (frames the encoder queue could not take) from `GET /api/state`
  over the window; `max gap` is `engine.max_gap_ms`, the largest gap between two
  encoded frames over the whole run (start-up included).
- **Other load**: the machine's busy CPU during the window minus the measured tree
  (psutil system times). Anything above ~0.1 core means something else ran at the same
  time and the real-time figures (fps, late, drops) of that row are not clean; the CPU
  seconds per program second are still the measured process's own.
- **Memory**: peak of the summed RSS of the stream-ops tree, sampled at 5 Hz. Shared pages
  are counted once per process that maps them: every ffmpeg child maps ≈ 45 MiB of the same
  static ffmpeg binary, so nine children count ≈ 400 MiB that the machine holds once. PSS
  (`/proc/PID/smaps_rollup`, each shared page divided among its processes, sampled once a
  second) summed over the tree is what the processes really use together; both are shown.
- **Long run** (`long`): show (c) measured as in section 1 over `--long-seconds`; free
  cores = cores − the tree's CPU; RSS slope = least-squares fit of the summed RSS samples
  (MiB per hour); the JSON keeps the RSS every 5 s (`rss_trace_mib`).
- **Growth**: N sources (files) in a grid of ⌈√N⌉ columns, at 720p and at 1080p; "per
  added source" is the cost difference between two rows divided by the sources added.
- **Switch latency**: two colour sources, scenes `red`/`blue`, 720p30, one RTMP output to
  a receiver (ffmpeg `-listen 1`, `-threads 1 -flags low_delay -fflags nobuffer`, scaled
  to 64×36 RGB, `-flush_packets 1`) whose frames are stamped with `time.monotonic()` in
  the bench process. Time from `POST /api/program` returning to the first decoded frame
  of the new colour. Its **floor**, measured the same way in the same run: raw frames of a
  solid colour written at 30 fps into a plain ffmpeg (libx264 with the show's settings:
  720p30, `veryfast`, `zerolatency`, same bitrate, fixed 2 s GOP; AAC 128 kb/s 44.1 kHz
  stereo of a tone) publishing RTMP straight into an identical receiver; time from writing
  the first frame of the new colour to decoding it. Nothing is subtracted from either.
- **TAKE**: the same show and receiver; the panel (`/`) in headless Chromium (Playwright,
  `/usr/bin/chromium`); the bench clicks a scene (preview), then, from just before the
  mouse click on TAKE is sent, times to the first decoded frame of the new colour.
- **Glass to glass**: the bench writes raw frames of a solid colour at 30 fps into an
  ffmpeg that publishes them (x264 ultrafast zerolatency, RTMP) to an `rtmp` listen
  source; the program (720p30) goes to the same kind of receiver. Time from writing the
  first frame of the new colour to decoding it. "direct" is the same publisher straight
  into the receiver, without stream-ops: the floor of this measuring chain.
"""


def _f(x: float | None, nd: int = 2) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def growth_table(rows: dict) -> list[str]:
    """Markdown rows of a growth series: cost per source count, and per added source."""
    out = ["| sources | stream-ops | per added source | FFmpeg | FFmpeg per added source | ratio | late | drops "
           "| max gap ms | peak RSS / PSS MiB | other load, cores | FFmpeg speed |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    prev = None
    for n, row in sorted(rows.items(), key=lambda kv: int(kv[0])):
        so, ff = row["stream_ops"], row.get("ffmpeg")
        per = per_ff = ""
        if prev is not None:
            per = _f((so["cpu_per_s"] - prev[1]) / (int(n) - prev[0]))
            if ff and prev[2] is not None:
                per_ff = _f((ff["cpu_per_s"] - prev[2]) / (int(n) - prev[0]))
        out.append(f"| {n} | {_f(so['cpu_per_s'])} | {per} | {_f(ff['cpu_per_s']) if ff else '–'} | {per_ff} | "
                   f"{_f(so['cpu_per_s'] / ff['cpu_per_s']) + '×' if ff else '–'} | {so['late_frames']} | "
                   f"{so['encoder_drops']} | {_f(so['max_gap_ms'], 0)} | {_f(so['peak_rss_mib'], 0)} / "
                   f"{_f(so.get('peak_pss_mib'), 0)} | {_f(so['others_cores'])} | "
                   f"{_f(ff['speed']) if ff else '–'} |")
        prev = (int(n), so["cpu_per_s"], ff["cpu_per_s"] if ff else None)
    return out + [""]


def render_markdown(m: dict[str, Any], r: dict[str, Any], args: argparse.Namespace, analysis: str) -> str:
    out = ["# Benchmarks\n",
           "How much of a computer stream-ops needs, and how far it is from one FFmpeg process doing "
           "the same static composition. Written by `scripts/bench.py`; numbers below are from one run.\n",
           HOW_TO_RUN,
           "## Machine\n",
           f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gib']} GiB; no GPU",
           f"- OS: {m['os']}; Python {m['python']}",
           f"- FFmpeg: {m['ffmpeg']} (imageio-ffmpeg's static build, used by both sides)",
           f"- Date: {m['date']}; commit {m['commit']}; mode: {'quick' if args.quick else 'full'} "
           f"(window {args.seconds:g} s after {args.warm:g} s warm-up)\n"]
    mix = r.get("mixing", {})
    if mix:
        out += ["## 1. Mixing cost vs FFmpeg (CPU seconds per program second; 1.00 = one core)\n",
                "| show | stream-ops | FFmpeg | ratio | stream-ops fps | late frames | encoder drops | max gap ms | "
                "peak RSS MiB (stream-ops / FFmpeg) | other load, cores (stream-ops / FFmpeg run) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for key in ("a", "b", "c"):
            if key in mix:
                row = mix[key]
                so, ff = row["stream_ops"], row["ffmpeg"]
                out.append(f"| {row['title']} | {_f(so['cpu_per_s'])} | {_f(ff['cpu_per_s'])} | {_f(row['ratio'])}× | "
                           f"{_f(so['fps'], 1)} | {so['late_frames']} | {so['encoder_drops']} | {_f(so['max_gap_ms'], 0)} | "
                           f"{_f(so['peak_rss_mib'], 0)} / {_f(ff['peak_rss_mib'], 0)} | "
                           f"{_f(so['others_cores'])} / {_f(ff['others_cores'])} |")
        out.append("")
        out.append("FFmpeg speed (program s per wall s) / dup / drop: " + "; ".join(
            f"({k}) {_f(mix[k]['ffmpeg']['speed'])} / {mix[k]['ffmpeg']['dup_frames']:.0f} / {mix[k]['ffmpeg']['drop_frames']:.0f}"
            for k in ("a", "b", "c") if k in mix) + "\n")
        out.append("Peak memory with shared pages counted once (PSS summed over the tree; the static ffmpeg "
                   "binary's pages are shared by every child, and the RSS column counts them once per child): " + "; ".join(
            f"({k}) {_f(mix[k]['stream_ops'].get('peak_pss_mib'), 0)} / {_f(mix[k]['ffmpeg'].get('peak_pss_mib'), 0)} MiB"
            for k in ("a", "b", "c") if k in mix) + ".\n")
        rss_c = mix.get("c", {}).get("stream_ops", {}).get("peak_rss_by_mib")
        if rss_c:
            out.append("RSS of show (c) per process at its peak (MiB): "
                       + ", ".join(f"{name} {_f(v, 0)}" for name, v in rss_c.items()) + ".\n")
        out.append("### Where the CPU goes (cores, per process)\n")
        for key in ("a", "b", "c"):
            if key in mix:
                pp = mix[key]["stream_ops"]["per_process"]
                out.append(f"- ({key}): " + ", ".join(f"{name} {_f(v)}" for name, v in pp.items()))
        threads = mix.get("c", {}).get("stream_ops", {}).get("threads")
        if threads:
            out += ["", "Threads of the stream-ops Python process in show (c) (cores; names from `py-spy dump`, "
                    "`native` = threads Python does not know, i.e. x264's and libswscale's own):\n",
                    "| thread | cores |", "|---|---:|"]
            out += [f"| {name} | {_f(v)} |" for name, v in threads.items()]
        out.append("")
    fo = r.get("fanout")
    if fo:
        ten = fo.get("stream_ops_10")
        out += ["## 2. Fan-out: show (b) to 1, 5 and 10 RTMP outputs\n",
                "| | 1 output | 5 outputs | 10 outputs | 5 / 1 | 10 / 1 |", "|---|---:|---:|---:|---:|---:|",
                f"| stream-ops (one encode, FLV muxed once, copying push children) | {_f(fo['stream_ops_1']['cpu_per_s'])} | "
                f"{_f(fo['stream_ops_5']['cpu_per_s'])} | {_f(ten['cpu_per_s']) if ten else '–'} | {_f(fo['ratio_5_1'])}× | "
                f"{_f(fo['ratio_10_1']) + '×' if ten else '–'} |",
                f"| naive: one ffmpeg, one composition, 5 x264+AAC encodes | {_f(fo['ffmpeg_1']['cpu_per_s'])} | "
                f"{_f(fo['ffmpeg_5']['cpu_per_s'])} | – | {_f(fo['ffmpeg_ratio_5_1'])}× | – |", "",
                f"The naive 5-encode FFmpeg ran at speed {_f(fo['ffmpeg_5']['speed'])} "
                f"({'slower than real time: it cannot do this live here' if fo['ffmpeg_5']['speed'] < 0.97 else 'real time'}); "
                f"stream-ops with 5 outputs: {_f(fo['stream_ops_5']['fps'], 1)} fps, late {fo['stream_ops_5']['late_frames']}, "
                f"drops {fo['stream_ops_5']['encoder_drops']}, output queue drops {fo['stream_ops_5']['outputs_dropped']}"
                + (f"; with 10: {_f(ten['fps'], 1)} fps, late {ten['late_frames']}, drops {ten['encoder_drops']}, "
                   f"output queue drops {ten['outputs_dropped']}" if ten else "") + ".\n"]
    if "switch" in r or "take" in r or "g2g" in r:
        out += ["## 3–5. Real time and latency\n", "| measure | n | median ms | worst ms |", "|---|---:|---:|---:|"]
        if "switch" in r:
            s = r["switch"]
            out.append(f"| switch: `POST /api/program` returned → new colour decoded at the RTMP receiver | {s['n']} | "
                       f"{_f(s['median_ms'], 0)} | {_f(s['worst_ms'], 0)} |")
            if s.get("floor"):
                fl = s["floor"]
                out.append(f"| switch floor: ffmpeg x264 → RTMP publisher (the show's settings) flips colour → same "
                           f"receiver | {fl['n']} | {_f(fl['median_ms'], 0)} | {_f(fl['worst_ms'], 0)} |")
        if "take" in r:
            tk = r["take"]
            out.append(f"| TAKE clicked in the panel (headless Chromium) → new colour decoded at the RTMP receiver | "
                       f"{tk['n']} | {_f(tk['median_ms'], 0)} | {_f(tk['worst_ms'], 0)} |")
        for via, g in r.get("g2g", {}).items():
            what = "publisher → stream-ops → receiver" if via == "stream-ops" else "publisher → receiver directly (floor)"
            out.append(f"| glass to glass: {what} | {g['n']} | {_f(g['median_ms'], 0)} | {_f(g['worst_ms'], 0)} |")
        if "switch" in r:
            out.append(f"\n`POST /api/program` itself took {_f(r['switch']['post_median_ms'], 1)} ms (median): "
                       "it returns once the clock thread applied the switch.")
        out.append("\nFrames repeated/dropped and the largest gap per show are in the tables of sections 1 and 7.\n")
    for key, title in (("growth", "## 7. How cost grows: N × 720p30 in a grid → 720p30\n"),
                       ("growth1080", "## 7b. How cost grows at 1080p: N × 1080p30 in a grid → 1080p30\n")):
        if r.get(key):
            out += [title] + growth_table(r[key])
    lg = r.get("long")
    if lg:
        out += ["## 8. A long run of show (c)\n",
                "| minutes | fps | late frames | encoder drops | CPU, cores | free, cores (cores − CPU) | "
                "peak RSS MiB | peak PSS MiB | RSS slope MiB/h | RSS first / last minute MiB | other load, cores |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                f"| {_f(lg['wall_s'] / 60, 1)} | {_f(lg['fps'], 2)} | {lg['late_frames']} | {lg['encoder_drops']} | "
                f"{_f(lg['cpu_per_s'])} | {_f(lg['free_cores'])} | {_f(lg['peak_rss_mib'], 0)} | "
                f"{_f(lg['peak_pss_mib'], 0)} | {_f(lg['rss_slope_mib_h'], 1)} | "
                f"{_f(lg['rss_first_minute_mib'], 0)} / {_f(lg['rss_last_minute_mib'], 0)} | {_f(lg['others_cores'])} |",
                "", "RSS slope: least squares over the summed RSS sampled at 5 Hz through the window.\n"]
    out += render_portrait(r.get("portrait"))
    if "demo" in r or "reconnect" in r:
        out += ["## For the operator's notes\n"]
        if "demo" in r:
            dm = r["demo"]
            out.append(f"- `scenes/demo.yaml` (720p30 veryfast, test pattern, looping clip, colours, local recording): "
                       f"{_f(dm['bars'])} cores on `bars`, {_f(dm['host'])} on `host` (clip + PiP + logo + text), "
                       f"{_f(dm['grid'])} on `grid`; peak RSS {_f(dm['peak_rss_mib'], 0)} MiB.")
        if "reconnect" in r:
            rc = r["reconnect"]
            out.append(f"- RTMP target gone for {rc['dead_s']:g} s, then back: the output left `live` "
                       f"{_f(rc['noticed_s'])} s after the target died; after it returned, `live` again in "
                       f"{_f(rc['live_again_s'])} s and the first decoded frame at the target in {_f(rc['first_frame_s'])} s "
                       f"(the output's reconnect back-off, {BACKOFF_START_S:g} → {BACKOFF_MAX_S:g} s, and each failed "
                       "attempt's own start decide the first figure; the second adds the target's own start: "
                       "listening and probing the stream).")
        out.append("")
    out.append(METHOD)
    out.append(analysis.strip() + "\n")
    return "\n".join(out)


def render_portrait(p: dict[str, Any] | None) -> list[str]:
    """The section of the portrait item (show (c) plus a portrait canvas), empty when it did not run."""
    if not p:
        return []
    so, ff, alone = p["stream_ops"], p["ffmpeg"], p["c_alone"]
    canv = so.get("canvases", {})
    fps = " / ".join(f"{name} {_f(c['fps'], 1)} fps, drops {c['encoder_drops']}, encode {_f(c['encode_ms'], 1)} ms, "
                     f"composite {_f(c['composite_ms'], 1)} ms" for name, c in canv.items())
    return ["## 9. Two canvases: show (c) plus a portrait canvas\n",
            "| | stream-ops | FFmpeg (both compositions, two encodes, one process) | ratio |", "|---|---:|---:|---:|",
            f"| {p['title']} | {_f(so['cpu_per_s'])} | {_f(ff['cpu_per_s'])} | {_f(p['ratio'])}× |",
            f"| show (c) alone | {_f(alone['cpu_per_s'])} | | |", "",
            f"The portrait canvas added {_f(so['cpu_per_s'] - alone['cpu_per_s'])} cores to stream-ops. "
            f"Per canvas: {fps}; late frames {so['late_frames']} (one clock); FFmpeg speed {_f(ff['speed'])}.\n"]


ANALYSIS_DEFAULT = """<!-- analysis:start -->
## What dominates show (c), and what would cut it

(written by hand after profiling; the script keeps this section when it rewrites the file)
<!-- analysis:end -->"""


def existing_analysis(path: Path) -> str:
    if path.exists():
        text = path.read_text("utf-8")
        m = re.search(r"<!-- analysis:start -->.*?<!-- analysis:end -->", text, re.S)
        if m:
            return m.group(0)
    return ANALYSIS_DEFAULT


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short windows (< 2 min in all)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown report to write")
    ap.add_argument("--json", help="also write every figure as JSON here")
    ap.add_argument("--only", help=f"comma-separated subset of: {','.join(ALL_ITEMS)}")
    ap.add_argument("--seconds", type=float, help="measured window per workload (quick 2.5, full 12)")
    ap.add_argument("--warm", type=float, help="warm-up after everything is live (quick 0.5, full 3)")
    ap.add_argument("--switches", type=int, help="switches to time (quick 4, full 20)")
    ap.add_argument("--flips", type=int, help="colour flips to time (quick 2, full 10)")
    ap.add_argument("--quiet-wait", type=float, help="wait up to this long for other load to stop before each "
                    "workload (quick 0, full 20 s)")
    ap.add_argument("--dead-s", type=float, default=3.0, help="how long the RTMP target stays away")
    ap.add_argument("--long-seconds", type=float, default=600.0, help="measured window of the item `long` (show (c))")
    args = ap.parse_args(argv)
    args.seconds = args.seconds or (2.5 if args.quick else 12.0)
    args.warm = args.warm if args.warm is not None else (0.5 if args.quick else 3.0)
    args.quiet_wait = args.quiet_wait if args.quiet_wait is not None else (0.0 if args.quick else 8.0)
    args.switches = args.switches or (4 if args.quick else 20)
    args.flips = args.flips or (2 if args.quick else 10)
    items = args.only.split(",") if args.only else (QUICK_ITEMS if args.quick else ALL_ITEMS)
    unknown = set(items) - set(ALL_ITEMS)
    if unknown:
        ap.error(f"unknown item(s) {', '.join(sorted(unknown))}; choose from {', '.join(ALL_ITEMS)}")
    os.chdir(ROOT)
    started = time.monotonic()
    bench = Bench(args)
    bench.log(f"items: {', '.join(items)}; window {args.seconds:g} s, warm-up {args.warm:g} s; scratch {bench.tmp}")
    for h in sorted({h for s in (spec_a(), spec_b(), spec_c()) for _, h in s.inputs}):
        media(h)
    steps = {"a": lambda: bench.mixing(spec_a()), "b": lambda: bench.mixing(spec_b()), "c": lambda: bench.mixing(spec_c()),
             "fanout": bench.fanout, "growth": bench.growth, "growth1080": lambda: bench.growth(1080),
             "long": bench.long, "switch": bench.switch, "take": bench.take, "g2g": bench.g2g,
             "reconnect": bench.reconnect, "demo": bench.demo, "portrait": bench.portrait}
    failures = {}
    for item in items:
        try:
            steps[item]()
        except Exception as exc:   # one broken item must not lose the others' numbers
            failures[item] = f"{exc.__class__.__name__}: {exc}"
            bench.log(f"{item} FAILED: {failures[item]}")
    m = machine()
    results = {"machine": m, "mode": "quick" if args.quick else "full", "window_s": args.seconds, "warm_s": args.warm,
               "results": bench.results, "failures": failures, "elapsed_s": time.monotonic() - started}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_markdown(m, bench.results, args, existing_analysis(out)), "utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str), "utf-8")
    bench.log(f"wrote {out}{' and ' + args.json if args.json else ''} in {time.monotonic() - started:.0f} s")
    shutil.rmtree(bench.tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
