"""What every output shares: a bounded packet queue, measured state, a worker thread.

The encoder thread only ever calls `offer()`, which never blocks: when an
output's queue is full (a slow or dead target) that output drops its queue and
waits for the next keyframe, counting what it dropped. Its worker thread writes
the packets (RTMP: the FLV the encoder made; SRT and recordings: MPEG-TS muxed
here, copying packets, encoding nothing) and delivers them. State is measured:
"live" only while bytes reach the target.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO, Callable

import av

from ..config import OutputConfig
from ..encoder import EncodedPacket

log = logging.getLogger(__name__)

QUEUE_SECONDS = 4.0          # this much program may wait for a slow target before it drops
# "live" = bytes delivered within this window. The encoder sends every 33 ms and push
# children report every 0.25 s, so a healthy output never goes this long without
# progress; as delivery is counted where the target acknowledges it (push.py), a
# vanished target leaves "live" within ~1.2 s.
LIVE_WINDOW_S = 1.0
RATE_WINDOW_S = 2.0          # kbps is averaged over the deliveries of this window
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0
# For the first minute after a target is lost, retry at least every 2 s: a platform or
# gateway that restarts is found again within ~2.5 s (the soak's goal is 5 s); a target
# gone for longer is tried every 5 s, so a dead platform costs little.
BACKOFF_FIRST_MINUTE_MAX_S = 2.0
# ffmpeg errors that no retry can fix: the output is "failed" until the operator starts it again.
PERMANENT_ERRORS = ("protocol not found", "no such file", "permission denied",
                    "unknown encoder", "invalid data found when processing input")

Emit = Callable[..., None]


class TsMuxer:
    """MPEG-TS of our encoded packets onto a byte sink (a pipe or a file)."""

    def __init__(self, sink: BinaryIO, templates: tuple[Any, Any]) -> None:
        # flush_packets: every packet reaches the sink at once (latency; a killed
        # process leaves a playable recording). omit_video_pes_length=0: with the PES
        # length written, the push child's demuxer hands a frame on at once instead of
        # waiting for the next one to start (measured: -33 ms on every switch).
        self.container = av.open(sink, "w", format="mpegts",
                                 options={"flush_packets": "1", "omit_video_pes_length": "0"})
        self.video = self.container.add_stream_from_template(templates[0])
        self.audio = self.container.add_stream_from_template(templates[1])

    def mux(self, p: EncodedPacket) -> None:
        packet = av.Packet(p.data)
        packet.pts, packet.dts, packet.time_base = p.pts, p.dts, p.time_base
        packet.is_keyframe = p.keyframe
        packet.stream = self.video if p.kind == "video" else self.audio
        self.container.mux(packet)

    def close(self) -> None:
        try:
            self.container.close()
        except Exception:   # the sink is already gone (target died): nothing to finalize
            pass


class Output:
    """Base output: queue, figures, state machine. Subclasses implement `_session()`."""

    def __init__(self, config: OutputConfig, templates: Callable[[], tuple[Any, Any]], emit_state: Callable[["Output"], None],
                 emit_log: Emit, fps: int, show_name: str = "", base_dir: Path = Path(".")) -> None:
        self.config = config
        self.name = config.name
        self.templates = templates
        self.emit_state = emit_state
        self.emit_log = emit_log
        self.show_name = show_name
        self.base_dir = base_dir       # relative paths (recordings) are under the show file's folder
        self.fps = fps
        self.max_packets = int(QUEUE_SECONDS * (fps + 50))   # video + ~43 AAC packets/s
        self.desired = "stopped"
        self.state = "idle"
        self.error: str | None = None
        self.bytes = 0
        self.bytes_at: float = 0.0          # when bytes last moved
        self.reconnects = 0
        self.dropped = 0
        self.sessions = 0
        self.live_since: float | None = None
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)
        self._queue: deque[EncodedPacket] = deque()
        self._cond = threading.Condition()
        self._need_keyframe = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session_bytes = 0        # bytes delivered in the current session (the child's count)
        self.program_log: Any = None   # editlist.ProgramLog, set by the engine (recordings write the edit list)

    # --- encoder side: never blocks ----------------------------------------------
    def offer(self, packet: EncodedPacket) -> None:
        if self.desired != "running":
            return
        with self._cond:
            if self._need_keyframe:
                if not (packet.kind == "video" and packet.keyframe):
                    return
                self._need_keyframe = False
            if len(self._queue) >= self.max_packets:
                self.dropped += len(self._queue) + 1
                self._queue.clear()
                self._need_keyframe = True    # restart cleanly at the next keyframe
                return
            self._queue.append(packet)
            self._cond.notify()

    @property
    def waiting_keyframe(self) -> bool:
        """Running and unable to start until a keyframe comes."""
        return self.desired == "running" and self._need_keyframe

    def take(self, timeout: float) -> EncodedPacket | None:
        with self._cond:
            if not self._queue:
                self._cond.wait(timeout)
            return self._queue.popleft() if self._queue else None

    def take_all(self, timeout: float, limit: int = 64) -> list[EncodedPacket]:
        """Everything queued (up to `limit`), waiting up to `timeout` for the first: one write per wake-up."""
        with self._cond:
            if not self._queue:
                self._cond.wait(timeout)
            return [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]

    def reset_queue(self) -> None:
        with self._cond:
            self._queue.clear()
            self._need_keyframe = True

    # --- control -------------------------------------------------------------------
    def start(self) -> None:
        if self.desired == "running" and self._thread and self._thread.is_alive():
            return
        if self._thread and self._thread.is_alive():
            # A stop still winding down (child being killed): let it finish, or two
            # workers would feed one target.
            self._stop.set()
            self._thread.join(timeout=10)
        self.desired = "running"
        self._stop.clear()
        self.reset_queue()
        self.reconnects = 0
        self._thread = threading.Thread(target=self._run, name=f"output-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.desired = "stopped"
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._abort()
        if self._thread:
            self._thread.join(timeout=10)
        self._not_live()
        self._set_state("idle")

    def _abort(self) -> None:
        """Interrupt a blocked delivery (kill the child); subclasses override."""

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        lost_at = time.monotonic()
        while not self._stop.is_set():
            self._set_state("connecting" if self.sessions == 0 or self.state == "idle" else "reconnecting")
            self.reset_queue()
            started = time.monotonic()
            self.sessions += 1
            try:
                self._session()
            except Exception as exc:   # any failure of one target stays inside this output
                self.error = str(exc)[:200]
                log.debug("output %s session ended: %s", self.name, exc)
            if self._stop.is_set():
                break
            self._not_live()
            if self.error and any(p in self.error.lower() for p in PERMANENT_ERRORS) and self.bytes == 0:
                self.desired = "stopped"
                self._set_state("failed")
                self.emit_log(f"推流失败 output {self.name} failed: {self.error}", level="error")
                return
            if time.monotonic() - started > 10:   # it had been up: a fresh loss
                backoff = BACKOFF_START_S
                lost_at = time.monotonic()
            self.reconnects += 1
            self._set_state("reconnecting")
            self.emit_log(f"推流重连 output {self.name}: {self.error or 'connection lost'}; {backoff:.1f} 秒后重试 retrying in {backoff:.1f} s", level="warning", en=f"output {self.name}: {self.error or 'connection lost'}; retrying in {backoff:.1f} s")
            self._stop.wait(backoff)
            cap = BACKOFF_FIRST_MINUTE_MAX_S if time.monotonic() - lost_at < 60 else BACKOFF_MAX_S
            backoff = min(backoff * 2, cap)

    def _session(self) -> None:
        raise NotImplementedError

    # --- figures ---------------------------------------------------------------------
    def delivered(self, total_bytes: int) -> None:
        """Record bytes that really reached the target (absolute count for this session)."""
        now = time.monotonic()
        if total_bytes > self._session_bytes:
            self.bytes += total_bytes - self._session_bytes
            self._session_bytes = total_bytes
            self.bytes_at = now
            self._rate.append((now, self.bytes))
            if self.state != "live":
                self.live_since = now
                self.error = None
                self._set_state("live")

    def new_session_bytes(self) -> None:
        self._session_bytes = 0

    def _not_live(self) -> None:
        """Forget the rate and the uptime: nothing is being delivered now."""
        self.live_since = None
        self._rate.clear()

    def refresh(self) -> None:
        """Called 10×/s by the engine: a live output whose bytes stopped is no longer live."""
        if self.state == "live" and time.monotonic() - self.bytes_at > LIVE_WINDOW_S:
            self._not_live()
            self.error = f"目标未接收数据 target took no data for {LIVE_WINDOW_S:.0f} s"
            self._set_state("reconnecting" if self.desired == "running" else "idle")

    def kbps(self) -> float:
        """Delivered kilobits per second; 0 unless live (a stalled or stopped output delivers nothing)."""
        now = time.monotonic()
        if self.state != "live" or now - self.bytes_at > LIVE_WINDOW_S:
            return 0.0
        pts = [(t, b) for t, b in self._rate if now - t <= RATE_WINDOW_S]
        if len(pts) < 2:
            return 0.0
        (t0, b0), (t1, b1) = pts[0], pts[-1]
        return round((b1 - b0) * 8 / 1000 / max(t1 - t0, 1e-3), 1)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.emit_state(self)

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.config.label or self.config.platform or self.name,
            "kind": self.config.kind,
            "platform": self.config.platform,
            "target": self.config.masked_target(),
            "state": self.state,
            "desired": self.desired,
            "kbps": self.kbps(),
            "bytes": self.bytes,
            "uptime_s": round(time.monotonic() - self.live_since, 1) if self.live_since and self.state == "live" else 0.0,
            "reconnects": self.reconnects,
            "dropped": self.dropped,
            "error": self.error,
        }
