"""Real peers on loopback for end-to-end tests: ffmpeg publishers and receivers,
and a `stream-ops run` process driven through its HTTP API.

Nothing here is a mock: publishers speak RTMP/SRT to our listen sources,
receivers are ffmpeg listeners that decode what our outputs push, and tests
judge the pixels they decode.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
PROBE_W, PROBE_H = 64, 36


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.1f} s waiting for {message} (last: {last!r})")


class Publisher:
    """ffmpeg pushing a solid colour (and a tone) to an RTMP or SRT URL, in real time.

    Like a real encoder (OBS, a phone app) it connects again when refused, so a
    test need not know when our listener is ready.
    """

    def __init__(self, url: str, color: str = "red", size: str = "640x360", fps: int = 30, audio: bool = True,
                 pattern: str | None = None) -> None:
        fmt = "flv" if url.startswith("rtmp") else "mpegts"
        picture = f"{pattern}=size={size}:rate={fps}" if pattern else f"color=c={color}:s={size}:r={fps}"
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", picture]
        if audio:
            cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(fps), "-pix_fmt", "yuv420p"]
        if audio:
            cmd += ["-c:a", "aac", "-b:a", "64k"]
        cmd += ["-f", fmt, url]
        self.cmd = cmd
        self.attempts = 0
        self._stopped = threading.Event()
        self.proc = self._spawn()
        threading.Thread(target=self._supervise, daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.attempts += 1
        return subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _supervise(self) -> None:
        while not self._stopped.is_set():
            if self.proc.poll() is not None and not self._stopped.is_set():
                self._stopped.wait(0.3)
                if not self._stopped.is_set():
                    self.proc = self._spawn()
            self._stopped.wait(0.1)

    def stop(self) -> None:
        self._stopped.set()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Receiver:
    """An ffmpeg listener (an RTMP/SRT "platform") that decodes what it receives into tiny RGB frames."""

    def __init__(self, url: str) -> None:
        self.url = url
        # info level (no stats) for the "Video: ..., WxH" line: what size the target really received.
        cmd = [FFMPEG, "-hide_banner", "-nostats", "-loglevel", "info"]
        if url.startswith("rtmp"):
            cmd += ["-listen", "1", "-i", url]
        else:
            cmd += ["-i", url + ("&" if "?" in url else "?") + "mode=listener"]
        cmd += ["-vf", f"scale={PROBE_W}:{PROBE_H}", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        self.frames: deque[tuple[float, tuple[float, float, float]]] = deque(maxlen=3000)
        self.count = 0
        self.picture: Any = None          # the latest frame, PROBE_H x PROBE_W x 3 RGB
        self.size: tuple[int, int] | None = None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        import re

        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            found = re.search(rb"Video: .*?, (\d{2,5})x(\d{2,5})", line)
            if found and self.size is None:
                self.size = (int(found.group(1)), int(found.group(2)))

    def _read(self) -> None:
        import numpy as np

        size = PROBE_W * PROBE_H * 3
        assert self.proc.stdout is not None
        while True:
            buf = self.proc.stdout.read(size)
            if not buf or len(buf) < size:
                return
            rgb = np.frombuffer(buf, np.uint8).reshape(PROBE_H, PROBE_W, 3)
            self.picture = rgb
            centre = rgb[PROBE_H // 4: PROBE_H * 3 // 4, PROBE_W // 4: PROBE_W * 3 // 4].reshape(-1, 3).mean(axis=0)
            self.frames.append((time.monotonic(), tuple(float(c) for c in centre)))
            self.count += 1

    def latest(self) -> tuple[float, float, float] | None:
        return self.frames[-1][1] if self.frames else None

    def sees(self, color: str) -> bool:
        rgb = self.latest()
        return rgb is not None and looks_like(rgb, color)

    def sees_at(self, color: str, fx: float, fy: float) -> bool:
        """`color` around the point at fractions fx, fy of the latest picture (a 3x3 probe-pixel patch)."""
        pic = self.picture
        if pic is None:
            return False
        x, y = min(PROBE_W - 2, max(1, int(fx * PROBE_W))), min(PROBE_H - 2, max(1, int(fy * PROBE_H)))
        patch = pic[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(axis=0)
        return looks_like(tuple(float(c) for c in patch), color)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


COLORS = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 128, 0), "white": (255, 255, 255),
          "black": (0, 0, 0), "yellow": (255, 255, 0), "slate": (32, 32, 36)}


def looks_like(rgb: tuple[float, float, float], color: str, tolerance: float = 60) -> bool:
    want = COLORS[color]
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, want))


class ShowProcess:
    """`stream-ops run` in a subprocess on a free port, with an API helper."""

    def __init__(self, tmp: Path, yaml_text: str, token: str = "test-token", env: dict[str, str] | None = None) -> None:
        self.dir = tmp
        self.path = tmp / "show.yaml"
        self.path.write_text(textwrap.dedent(yaml_text), encoding="utf-8")
        self.port = free_port()
        self.public_port = free_port()   # the apply service's own port (used when the show has a fair)
        self.token = token
        self.env = {**os.environ, "STREAM_OPS_TOKEN": token, **(env or {})}
        self.log_path = tmp / "stream-ops.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "stream_ops", "run", str(self.path), "--port", str(self.port),
                                      "--public-port", str(self.public_port)],
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self._healthy, timeout=20, message=f"stream-ops on port {self.port} (log: {self.log_path})")

    def _healthy(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise AssertionError(f"stream-ops exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def request(self, method: str, path: str, body: Any = None, token: str | None = "default",
                raw: bytes | None = None, public: bool = False) -> tuple[int, Any]:
        """A request to the studio's port, or with `public` to the apply service's."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        port = self.public_port if public else self.port
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {self.token if token == 'default' else token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                payload = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            payload, status = exc.read(), exc.code
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload.decode("utf-8", "replace")

    def state(self) -> dict[str, Any]:
        status, body = self.request("GET", "/api/state")
        assert status == 200, body
        return body

    def source(self, name: str) -> dict[str, Any]:
        return next(s for s in self.state()["sources"] if s["name"] == name)

    def output(self, name: str) -> dict[str, Any]:
        return next(o for o in self.state()["outputs"] if o["name"] == name)

    def children(self) -> list[int]:
        import psutil

        try:
            return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)]  # type: ignore[union-attr]
        except psutil.NoSuchProcess:
            return []

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Stop the show (idempotent); a show that will not stop is killed with its children."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                for pid in self.children():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode if self.proc else 0
