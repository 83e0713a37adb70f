"""A phone's video recorded on its own (ISO), as it arrived: the encoded frames, not re-encoded.

aiortc depacketizes each frame and queues it for its decoder thread; `tee_video`
puts a small proxy in front of that queue so every encoded frame (H.264 Annex-B or
VP8, with its RTP timestamp) is also handed to an `IsoWriter`. The writer muxes them
with PyAV on a thread of its own — H.264 into MPEG-TS, VP8 into Matroska — flushed
per packet, so a killed show leaves a file that plays up to the kill. Video only:
the phone's audio is in the program recording (its RTP clock is not tied to the
video's without RTCP sender reports).
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..recordings import unused

log = logging.getLogger(__name__)

RTP_VIDEO_CLOCK = Fraction(1, 90000)
MAX_WAITING = 300          # encoded frames held while the picture size is not known yet, or the disk is slow
CONTAINERS = {"h264": ("mpegts", ".ts"), "vp8": ("matroska", ".mkv")}


def is_keyframe(codec: str, data: bytes) -> bool:
    """An IDR (H.264 NAL type 5) or a VP8 key frame (frame tag bit 0 clear)."""
    if codec == "vp8":
        return len(data) > 3 and not data[0] & 1
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 3 < len(data):
        if data[i + 3] & 0x1F == 5:
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


class IsoWriter:
    """Encoded frames of one phone connection into one file, on a writer thread."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.codec: str | None = None         # learnt from the first frame (the SDP answer comes after the track)
        self.format = ""
        self.path = base
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self.dropped = 0
        self.started = False          # True once the first frame is in the file
        self._items: deque[tuple[bytes, int] | None] = deque()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"phone-iso-{base.stem}", daemon=True)
        self._thread.start()

    def set_size(self, width: int, height: int) -> None:
        """The decoded picture's size (the container's header needs it before the first frame)."""
        if self.size is None:
            with self._cond:
                self.size = (width, height)
                self._cond.notify()

    def offer(self, codec: str, data: bytes, timestamp: int) -> None:
        """From aiortc's receive path (the event loop): never blocks, drops when too far behind."""
        if self.codec is None:
            codec = codec.lower()
            if codec not in CONTAINERS:
                return            # no container for it: this phone is not recorded
            self.format, suffix = CONTAINERS[codec]
            self.path = unused(self.base.with_suffix(suffix))
            self.codec = codec
        elif codec.lower() != self.codec:
            return
        with self._cond:
            if len(self._items) >= MAX_WAITING:
                self.dropped += 1
                return
            self._items.append((data, timestamp))
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._items.append(None)
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        container = stream = None
        try:
            while True:
                with self._cond:
                    while not self._items or (self.size is None and self._items[-1] is not None):
                        self._cond.wait()
                    item = self._items.popleft()
                if item is None:
                    return
                data, timestamp = item
                assert self.codec is not None
                if container is None:
                    if not is_keyframe(self.codec, data):
                        continue      # a file starts at a key frame
                    container, stream = self._open()
                packet = av.Packet(data)
                packet.pts = packet.dts = timestamp
                packet.time_base = RTP_VIDEO_CLOCK
                packet.stream = stream
                packet.is_keyframe = is_keyframe(self.codec, data)
                container.mux(packet)
                self.frames += 1
                self.started = True
        except Exception:   # a full disk must not touch the phone's picture on program
            log.exception("phone ISO recording %s stopped", self.path)
        finally:
            if container is not None:
                try:
                    container.close()
                except Exception:
                    pass

    def _open(self) -> tuple[Any, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"flush_packets": "1"}
        if self.format == "matroska":
            options["cluster_time_limit"] = "1000"
        container = av.open(str(self.path), "w", format=self.format, options=options)
        stream = container.add_stream(self.codec)
        ctx = stream.codec_context
        assert self.size is not None
        ctx.width, ctx.height = self.size
        ctx.pix_fmt = "yuv420p"
        # PyAV opens an encoder for the stream on the first mux; we never encode with it,
        # so make it the cheapest there is.
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency"} if self.codec == "h264" else {"deadline": "realtime"}
        ctx.thread_count = 1
        stream.time_base = RTP_VIDEO_CLOCK
        return container, stream


class _TeeQueue:
    """Stands in for aiortc's decoder queue: every (codec, frame) also goes to the writer."""

    def __init__(self, inner: queue.Queue, writer: IsoWriter) -> None:
        self._inner, self._writer = inner, writer

    def put(self, item: Any, *args: Any, **kwargs: Any) -> None:
        if item is not None:
            codec, frame = item
            self._writer.offer(codec.name, bytes(frame.data), frame.timestamp)
        self._inner.put(item, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def tee_video(receiver: Any, writer: IsoWriter) -> bool:
    """Copy the encoded frames `receiver` (an aiortc RTCRtpReceiver) decodes to `writer`.

    aiortc keeps the queue private; if a future version renames it, the phone is
    simply not recorded (False), never broken.
    """
    attr = "_RTCRtpReceiver__decoder_queue"
    inner = getattr(receiver, attr, None)
    if not isinstance(inner, queue.Queue):
        return False
    setattr(receiver, attr, _TeeQueue(inner, writer))
    return True
