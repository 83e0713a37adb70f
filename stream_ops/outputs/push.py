"""RTMP and SRT targets: our stream piped into an ffmpeg child that sends it to the target.

RTMP: the FLV tags the encoder made once (flv.py) are written, each with this
session's timestamps, into a child that only copies bytes to its `rtmp` socket.
SRT: our MPEG-TS, which the child copies to the target.

Bytes that reach the target are read from the child's `-progress` report
(`total_size`: what the child wrote into its socket), less what the socket still
holds unacknowledged: for TCP (RTMP) the kernel's send queue (unacked.py);
for SRT the bytes the receiver acknowledged, counted by a small relay process
between the child and the target (`srt_relay.py`).
So "live" means the target is taking bytes, not that we wrote them into a pipe.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from contextlib import closing
from urllib.parse import urlsplit, urlunsplit

from .. import ffmpeg, flv
from ..encoder import EncodedPacket
from ..kinds import Key, Kind, text
from . import srt_relay
from .base import Output, TsMuxer
from .unacked import UnackedBytes


SRT_GIVE_UP_S = 2.5     # an SRT session whose receiver acknowledged nothing this long is restarted


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


class FlvWriter:
    """One RTMP session's FLV: the shared tag bodies behind headers with this session's timestamps.

    The session starts at a video keyframe (the output's queue does) with that
    keyframe's head (file header, metadata, sequence headers); its timestamps start
    at 0 there. Audio from before that instant (the AAC encoder runs ~50 ms behind
    the picture) is left out.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.base: int | None = None     # ms of the first keyframe

    def mux(self, packets: list[EncodedPacket]) -> None:
        """Write these packets' tags with one system call (a frame's video and audio come together)."""
        pieces: list[bytes] = []
        for p in packets:
            t = flv.ms(p.dts, p.time_base)
            if self.base is None:
                if not (p.kind == "video" and p.flv_head):
                    continue
                self.base = t
                pieces.append(p.flv_head)
            ts = t - self.base
            if ts < 0:
                continue
            pieces += [flv.tag_header(flv.VIDEO if p.kind == "video" else flv.AUDIO, len(p.flv), ts), p.flv,
                       (11 + len(p.flv)).to_bytes(4, "big")]
        if not pieces:
            return
        n = os.writev(self.fd, pieces)
        total = sum(map(len, pieces))
        if n < total:     # a full pipe took part of it: write the rest as one piece
            _PipeSink(self.fd).write(b"".join(pieces)[n:])

    def close(self) -> None:
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
        self.new_session_bytes()
        self._stderr.clear()
        relay = None
        if self.config.kind == "srt":
            relay, target = self._start_relay(target)
            secrets.append(target)   # the relayed URL keeps the query (passphrase, streamid)
        read_fd, write_fd = os.pipe()
        cmd = ffmpeg.push_command(self.config.kind, target, write_fd)
        try:
            self._proc = proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE, pass_fds=(write_fd,), bufsize=0,
                                                 preexec_fn=ffmpeg.CHILD_PREEXEC)
        finally:
            os.close(write_fd)
        threading.Thread(target=self._read_progress, args=(read_fd, proc.pid), daemon=True,
                         name=f"output-{self.name}-progress").start()
        threading.Thread(target=self._read_stderr, args=(proc, secrets), daemon=True, name=f"output-{self.name}-log").start()
        assert proc.stdin is not None
        fd = proc.stdin.fileno()
        muxer = FlvWriter(fd) if self.config.kind == "rtmp" else TsMuxer(_PipeSink(fd), self.templates())
        try:
            while not self._stop.is_set() and proc.poll() is None:
                if isinstance(muxer, FlvWriter):
                    muxer.mux(self.take_all(0.25))
                else:
                    packet = self.take(0.25)
                    if packet is not None:
                        muxer.mux(packet)
                if relay is not None and self._session_bytes and time.monotonic() - self.bytes_at > SRT_GIVE_UP_S:
                    # The receiver stopped acknowledging: start over now rather than after
                    # libsrt's 5 s peer-idle timeout, so a returning target is found sooner.
                    self.error = f"目标无应答 SRT target acknowledged nothing for {SRT_GIVE_UP_S:.1f} s"
                    proc.kill()
                    break
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
            if relay is not None:
                relay.kill()
                relay.wait()
        if not self._stop.is_set() and not self.error:
            self.error = self._last_error() or f"ffmpeg exited ({proc.returncode})"

    def _start_relay(self, target: str) -> tuple[subprocess.Popen[bytes], str]:
        """Start the SRT relay; the child then sends to it instead of the target."""
        parts = urlsplit(target)
        if not parts.hostname or not parts.port:
            raise ValueError("SRT target needs srt://HOST:PORT")
        relay = subprocess.Popen(srt_relay.command(parts.hostname, parts.port), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
                                 preexec_fn=ffmpeg.CHILD_PREEXEC)
        assert relay.stdout is not None
        first = relay.stdout.readline()
        if not first.startswith(b"port "):
            relay.kill()
            relay.wait()
            raise OSError(f"SRT relay did not start ({first[:80]!r})")
        threading.Thread(target=self._read_relay, args=(relay,), daemon=True, name=f"output-{self.name}-acks").start()
        local = f"127.0.0.1:{int(first[5:])}"
        return relay, urlunsplit((parts.scheme, local, parts.path, parts.query, parts.fragment))

    def _read_relay(self, relay: subprocess.Popen[bytes]) -> None:
        assert relay.stdout is not None
        for line in iter(relay.stdout.readline, b""):
            if line.startswith(b"acked "):
                self.delivered(int(line[6:]))

    def _read_progress(self, fd: int, pid: int) -> None:
        # SRT's delivery comes from the relay's acknowledgements; RTMP's from what the
        # child wrote less what TCP has not had acknowledged.
        srt, tcp = self.config.kind == "srt", self.config.kind == "rtmp"
        unacked = UnackedBytes(pid)
        with os.fdopen(fd, "rb", buffering=0) as f, closing(unacked):
            buf = b""
            while True:
                chunk = f.read(4096)
                if not chunk:
                    return
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line.startswith(b"total_size=") and not srt:
                        try:
                            total = int(line[11:])
                        except ValueError:   # "N/A" before the first write
                            continue
                        self.delivered(total - (unacked.unacked() if tcp else 0))

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
