"""Sources fed by an ffmpeg child: rtmp and srt (listen), pull (RTSP/RTMP/HLS/SRT), file.

The child decodes and scales to the slot size and writes NUT to a pipe; a reader
thread demuxes it (PyAV, raw packets, no decoding) into the slot. When the child
ends (publisher gone, file error, garbage) it is started again: listeners listen
again at once, pull sources back off 1, 2, 4 ... 30 s.

Pull sources (HLS, RTSP, RTMP/SRT pull) arrive in bursts, so their frames and
audio go through a playout buffer (`jitter.py`) and a pacer thread hands them to
the slot at their own timestamps. Push sources (rtmp/srt listen) and files do not:
a camera on air must not gain latency.
"""
from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import av
import numpy as np

from .. import ffmpeg
from ..config import Secret
from ..kinds import Key, Kind, boolean, text
from ..recordings import fill_path, unused
from .base import Source, SourceSlot
from .jitter import JitterBuffer

log = logging.getLogger(__name__)

STALL_RESTART_S = 6.0     # a live child that delivers nothing this long is restarted
BACKOFF_MAX_S = 30.0
# A pull source whose feed was live retries fast for a minute (a server restart is found
# within ~1 s), then backs off towards BACKOFF_MAX_S so a dead URL costs nothing.
PULL_RETRY_FIRST_S = 0.25
PULL_FIRST_MINUTE_MAX_S = 1.0
SOURCE_NICE = 5


class FfmpegSource(Source):
    """One ffmpeg child per source, restarted by a supervisor thread."""

    def __init__(self, slot: SourceSlot, emit) -> None:
        super().__init__(slot, emit)
        cfg = slot.config
        if cfg.kind in ("rtmp", "srt"):
            raw = cfg.listen or ""
        elif cfg.kind == "pull":
            raw = cfg.url or ""
        else:
            raw = str(cfg.path)
        self.url = raw.reveal() if isinstance(raw, Secret) else str(raw)
        # Pull URLs may carry credentials (rtsp://user:pass@host); ffmpeg echoes them in errors.
        parts = urlsplit(self.url)
        self.secrets = [x for x in (parts.password, parts.query, self.url if isinstance(raw, Secret) else "") if x]
        self.listening = cfg.kind in ("rtmp", "srt")
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._last_packet = 0.0
        self._stderr_done = threading.Event()
        self.restarts = 0
        self.jitter = JitterBuffer() if cfg.kind == "pull" else None
        self._jitter_cond = threading.Condition()
        self._pacer: threading.Thread | None = None

    def _iso_path(self) -> Path | None:
        """Each child also writes the feed, copied, to a file of its own (a new one per connection)."""
        if self.slot.iso_target is None:
            return None
        template, show, base_dir = self.slot.iso_target
        path = unused(fill_path(template, show, base_dir, source=self.slot.name))
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name=f"source-{self.slot.name}", daemon=True)
        self._thread.start()
        if self.jitter is not None:
            self._pacer = threading.Thread(target=self._pace, name=f"source-{self.slot.name}-pacer", daemon=True)
            self._pacer.start()

    def stop(self) -> None:
        self._stop.set()
        with self._jitter_cond:
            self._jitter_cond.notify_all()
        self._kill()
        if self._thread:
            self._thread.join(timeout=5)
        if self._pacer:
            self._pacer.join(timeout=2)

    # --- playout buffer (pull sources) -------------------------------------------
    def _deliver(self, kind: str, payload: np.ndarray, pts: float | None) -> None:
        """Into the slot now (push sources) or through the playout buffer (pull sources)."""
        jb = self.jitter
        if jb is None:
            if kind == "video":
                self.slot.push_video(payload)
            else:
                self.slot.push_audio(payload)
            return
        with self._jitter_cond:
            while jb.full() and not self._stop.is_set():
                # Full: wait for the pacer; the rest of the burst stays compressed in the child.
                self._jitter_cond.wait(0.25)
                self._last_packet = time.monotonic()   # waiting on us is not a stalled feed
            jb.put(pts, kind, payload, payload.nbytes, time.monotonic())
            self._jitter_cond.notify_all()

    def _pace(self) -> None:
        """Hand buffered frames and audio to the slot when their time comes."""
        jb = self.jitter
        assert jb is not None
        while not self._stop.is_set():
            with self._jitter_cond:
                now = time.monotonic()
                items = jb.pop_due(now)
                if not items:
                    due = jb.next_due()
                    self._jitter_cond.wait(min(max(due - now, 0.001), 0.5) if due is not None else 0.5)
                    continue
                self._jitter_cond.notify_all()
            # Only the newest picture of a batch is worth drawing; all audio is heard.
            video = [i for i in items if i.kind == "video"]
            for item in items:
                if item.kind == "audio":
                    self.slot.push_audio(item.payload)
            if video:
                self.slot.push_video(video[-1].payload)

    def _drain(self, timeout: float = 30.0) -> None:
        """Let what a finished child left in the buffer play out before calling the feed ended."""
        if self.jitter is None:
            return
        deadline = time.monotonic() + timeout
        with self._jitter_cond:
            while len(self.jitter) and not self._stop.is_set() and time.monotonic() < deadline:
                self._jitter_cond.wait(0.1)
            self.jitter.clear()

    def _kill(self) -> None:
        proc = self._proc
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _supervise(self) -> None:
        backoff = 1.0
        lost_at = float("-inf")
        listen_backoff = 0.2
        reported: str | None = None
        while not self._stop.is_set():
            started = time.monotonic()
            if self.slot.state != "no_signal":
                self.slot.set_state("connecting", self.slot.error)
            got_frames = self._run_once()
            self._drain()
            if self._stop.is_set():
                break
            error = self._last_error()
            lived = time.monotonic() - started
            if got_frames:
                self.slot.set_state("no_signal", error)
                self.emit(f"信源中断 source {self.slot.name}: feed ended ({error or 'end of stream'})", level="warning")
                reported = None
            else:
                # Not yet connected: stay "connecting", show why, and say it once, not every retry.
                self.slot.set_state("connecting", error)
                if error and error != reported:
                    self.emit(f"信源连接问题 source {self.slot.name}: {error}", level="warning")
                    reported = error
            if self.listening:
                # Listen again at once (the publisher reconnects to us), unless ffmpeg cannot even
                # listen (port taken, bad address): then back off instead of spinning.
                if got_frames or lived > 2:
                    listen_backoff = 0.2
                delay = listen_backoff
                listen_backoff = min(listen_backoff * 2, 5.0)
            else:
                if got_frames:
                    backoff, lost_at = PULL_RETRY_FIRST_S, time.monotonic()
                elif lived > 10:
                    backoff = 1.0
                delay = backoff
                cap = PULL_FIRST_MINUTE_MAX_S if time.monotonic() - lost_at < 60 else BACKOFF_MAX_S
                backoff = min(backoff * 2, cap)
            self.restarts += 1
            self._stop.wait(delay)
        self.slot.set_state("idle")

    def _last_error(self) -> str | None:
        for line in reversed(self._stderr_tail):
            low = line.lower()
            if "error" in low or "failed" in low or "invalid" in low or "refused" in low:
                return ffmpeg.redact(line.strip(), self.secrets)[-160:]
        return None

    def _run_once(self) -> bool:
        slot = self.slot
        iso = self._iso_path()
        cmd = ffmpeg.source_command(slot.config.kind, self.url, slot.width, slot.height,
                                    slot.sample_rate, slot.channels, loop=slot.config.loop,
                                    audio=slot.config.audio, iso_path=str(iso) if iso else None)
        self._stderr_tail.clear()
        self._stderr_done = threading.Event()
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, bufsize=0, preexec_fn=ffmpeg.CHILD_PREEXEC)
        except OSError as exc:
            self._stderr_tail.append(f"error: cannot start ffmpeg: {exc}")
            return False
        proc = self._proc
        assert proc.stdout is not None
        try:
            # Under CPU pressure let a source lose frames before the program does: an
            # operator barely sees a stuttering tile, every viewer sees a stuttering program.
            os.setpriority(os.PRIO_PROCESS, proc.pid, SOURCE_NICE)
        except (OSError, AttributeError):
            pass
        threading.Thread(target=self._read_stderr, args=(proc,), daemon=True,
                         name=f"source-{slot.name}-log").start()
        watchdog = threading.Thread(target=self._watchdog, args=(proc,), daemon=True,
                                    name=f"source-{slot.name}-watchdog")
        self._last_packet = time.monotonic()
        got = False
        try:
            # libav reads the pipe's fd itself, without the GIL; through a Python file object
            # every 32 KiB read takes the GIL and a bytes copy (measured on a 1080p source:
            # reader 0.045 -> 0.025 core). A 1 MiB pipe (F_SETPIPE_SZ) cut wake-ups 4x but no CPU.
            container = av.open(f"pipe:{proc.stdout.fileno()}", format="nut", mode="r")
        except (av.FFmpegError, OSError, EOFError):
            # ffmpeg ended before any output (bad input, port taken...): its own words say why.
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._kill()
            self._stderr_done.wait(1.0)
            return False
        watchdog.start()
        frame_bytes = slot.width * slot.height * 3 // 2
        try:
            for packet in container.demux():
                if self._stop.is_set():
                    break
                if packet.size == 0:
                    continue
                self._last_packet = time.monotonic()
                kind = packet.stream.type
                # Only the playout buffer (pull sources) needs the timestamp; push sources skip the arithmetic.
                pts = (float(packet.pts * packet.time_base)
                       if self.jitter is not None and packet.pts is not None and packet.time_base else None)
                if kind == "video":
                    if packet.size != frame_bytes:
                        continue   # never trust a malformed frame
                    self._deliver("video", np.frombuffer(memoryview(packet), np.uint8).reshape(slot.height * 3 // 2, slot.width), pts)
                    if not got and iso is not None:
                        # The child opens its outputs once the feed is probed: the file exists now.
                        slot.iso_file, slot.iso_started = str(iso), time.time()
                        self.emit(f"单路录制 source {slot.name}: ISO recording to {iso}",
                                  en=f"source {slot.name}: ISO recording to {iso}")
                    got = True
                elif kind == "audio":
                    samples = np.frombuffer(memoryview(packet), np.int16)
                    usable = len(samples) - len(samples) % slot.channels
                    self._deliver("audio", samples[:usable].reshape(-1, slot.channels).copy(), pts)
        except (av.FFmpegError, OSError, EOFError, ValueError) as exc:
            log.debug("%s: reader stopped: %s", self.slot.name, exc)
        finally:
            try:
                container.close()
            except Exception:
                pass
            self._kill()
        return got

    def _watchdog(self, proc: subprocess.Popen[bytes]) -> None:
        """Restart a child that is connected but silent (a publisher that vanished without closing)."""
        while proc.poll() is None and not self._stop.is_set():
            time.sleep(0.5)
            if self.slot.frames_in and self.slot.state in ("live", "no_signal") \
                    and time.monotonic() - self._last_packet > STALL_RESTART_S:
                self._stderr_tail.append("error: no data for %.0f s" % STALL_RESTART_S)
                proc.kill()
                return

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        in_input = False
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr_tail.append(line)
            if line.startswith("Input #0"):
                in_input = True
            elif line.startswith("Output #0") or line.startswith("Stream mapping"):
                in_input = False
            if in_input:
                video = ffmpeg.parse_input_video(line)
                if video:
                    codec, w, h = video
                    self.slot.set_input(w, h, codec)
            log.debug("%s: %s", self.slot.name, ffmpeg.redact(line, self.secrets))
        self._stderr_done.set()


RTMP_LISTEN_PATTERN = r"^rtmp://[^/:\s]+:[0-9]{1,5}/[^/\s]+/[^/\s]+$"
SRT_LISTEN_PATTERN = r"^srt://[^/:\s]+:[0-9]{1,5}/?(\?\S*)?$"

KINDS = (
    Kind("sources", "rtmp", "an encoder pushes RTMP to us 编码器推 RTMP", impl=FfmpegSource,
         example='cam1: {kind: rtmp, listen: "rtmp://0.0.0.0:1935/live/cam1"}',
         keys=(Key("listen", text("Where an encoder pushes RTMP to us: rtmp://HOST:PORT/APP/NAME. 编码器推流地址。",
                                  pattern=RTMP_LISTEN_PATTERN, title="rtmp://HOST:PORT/APP/NAME",
                                  errorMessage='must look like "rtmp://0.0.0.0:1935/live/cam1" (rtmp://HOST:PORT/APP/NAME)',
                                  examples=["rtmp://0.0.0.0:1935/live/cam1"]), required=True),)),
    Kind("sources", "srt", "an encoder sends SRT to us 编码器推 SRT", impl=FfmpegSource,
         example='cam2: {kind: srt, listen: "srt://0.0.0.0:9000"}',
         keys=(Key("listen", text("Where an encoder sends SRT to us: srt://HOST:PORT. SRT 监听地址。",
                                  pattern=SRT_LISTEN_PATTERN, title="srt://HOST:PORT",
                                  errorMessage='must look like "srt://0.0.0.0:9000" (srt://HOST:PORT)',
                                  examples=["srt://0.0.0.0:9000"]), required=True),)),
    Kind("sources", "pull", "we pull a stream (RTSP camera, HLS, RTMP...) 拉流", impl=FfmpegSource,
         example='site: {kind: pull, url: "rtsp://192.0.2.10/stream1"}',
         keys=(Key("url", text("A stream we pull: rtsp/rtmp/srt/http(s)/udp/rtp URL. 拉流地址。",
                               pattern=r"^(rtsp|rtsps|rtmp|rtmps|srt|http|https|udp|rtp)://\S+$", title="URL",
                               errorMessage='must be a URL such as "rtsp://192.0.2.10/stream1"',
                               examples=["rtsp://192.0.2.10/stream1"]), required=True),)),
    Kind("sources", "file", "a video file, played by ffmpeg 视频文件", impl=FfmpegSource,
         example="promo: {kind: file, path: assets/promo.mp4, loop: true}",
         keys=(Key("path", text("Video file, relative to the show file's folder. 视频文件路径。", minLength=1,
                                examples=["assets/promo.mp4"]), required=True, file=True),
               Key("loop", boolean("Start again at the end. 循环播放。"), default=True))),
)
