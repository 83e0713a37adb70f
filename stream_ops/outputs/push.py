"""RTMP and SRT targets: our MPEG-TS piped into an ffmpeg child that copies it to the target.

Bytes that reach the target are read from the child's `-progress` report
(`total_size`), so "live" means the network is taking them, not that we wrote
them into a pipe.
"""
from __future__ import annotations

import os
import subprocess
import threading
from collections import deque

from .. import ffmpeg
from ..kinds import Key, Kind, text
from .base import Output, TsMuxer


class _PipeSink:
    """File-like over the child's stdin; a dead child raises BrokenPipeError into the muxer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        return len(data)

    def flush(self) -> None:
        pass


class PushOutput(Output):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: deque[str] = deque(maxlen=30)

    def _abort(self) -> None:
        proc = self._proc
        if proc and proc.poll() is None:
            proc.kill()

    def _session(self) -> None:
        target = self.config.target_url()
        secrets = [target, self.config.key.reveal() if self.config.key else ""]
        read_fd, write_fd = os.pipe()
        cmd = ffmpeg.push_command(self.config.kind, target, write_fd)
        self.new_session_bytes()
        self._stderr.clear()
        try:
            self._proc = proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE, pass_fds=(write_fd,), bufsize=0,
                                                 preexec_fn=ffmpeg.CHILD_PREEXEC)
        finally:
            os.close(write_fd)
        threading.Thread(target=self._read_progress, args=(read_fd,), daemon=True, name=f"output-{self.name}-progress").start()
        threading.Thread(target=self._read_stderr, args=(proc, secrets), daemon=True, name=f"output-{self.name}-log").start()
        assert proc.stdin is not None
        muxer = TsMuxer(_PipeSink(proc.stdin.fileno()), self.templates())
        try:
            while not self._stop.is_set() and proc.poll() is None:
                packet = self.take(0.25)
                if packet is not None:
                    muxer.mux(packet)
        except (BrokenPipeError, OSError, ValueError) as exc:
            self.error = self._last_error() or f"target closed ({exc.__class__.__name__})"
        except Exception as exc:   # av errors from a broken pipe surface as av.FFmpegError
            self.error = self._last_error() or str(exc)[:200]
        finally:
            muxer.close()
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not self._stop.is_set() and not self.error:
            self.error = self._last_error() or f"ffmpeg exited ({proc.returncode})"

    def _read_progress(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as f:
            buf = b""
            while True:
                chunk = f.read(4096)
                if not chunk:
                    return
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line.startswith(b"total_size="):
                        try:
                            self.delivered(int(line[11:]))
                        except ValueError:   # "N/A" before the first write
                            pass

    def _read_stderr(self, proc: subprocess.Popen[bytes], secrets: list[str]) -> None:
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            self._stderr.append(ffmpeg.redact(raw.decode("utf-8", "replace").rstrip(), secrets))

    def _last_error(self) -> str | None:
        for line in reversed(self._stderr):
            low = line.lower()
            if any(w in low for w in ("error", "failed", "refused", "timed out", "broken pipe", "connection")):
                return line.strip()[-200:]
        return None


KINDS = (
    Kind("outputs", "rtmp", "a platform's RTMP ingest (视频号, 抖音, B站, 快手, YouTube) 推流", impl=PushOutput,
         example='channels: {kind: rtmp, url: "rtmp://push.example.invalid/live", key: "${CHANNELS_KEY}"}',
         keys=(Key("url", text("Server URL without the stream key. 推流地址（不含串流密钥）。", pattern=r"^rtmps?://\S+$",
                               title="rtmp:// or rtmps:// URL",
                               errorMessage='must start with rtmp:// or rtmps://, e.g. "rtmp://push.example.com/live"'),
                   required=True, secret=True),
               Key("key", text("Stream key: write ${CHANNELS_KEY} and set it in the environment. "
                               "串流密钥：写 ${变量名}，在环境变量里设置，不要写进文件。", examples=["${CHANNELS_KEY}"]),
                   secret=True))),
    Kind("outputs", "srt", "an SRT target (conference gateway, media server) SRT 推流", impl=PushOutput,
         example='gateway: {kind: srt, url: "srt://192.0.2.20:9000"}',
         keys=(Key("url", text("srt://HOST:PORT[?streamid=...&passphrase=${SRT_PASS}]. SRT 目标地址。",
                               pattern=r"^srt://\S+$", title="srt:// URL",
                               errorMessage='must start with srt://, e.g. "srt://192.0.2.20:9000"'),
                   required=True, secret=True),)),
)
