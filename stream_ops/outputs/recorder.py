"""The local recording: MPEG-TS written straight to a file, one file per start.

TS needs no trailer, and every packet is flushed to the OS as it is muxed, so a
recording cut short by SIGKILL or a power cut up to the last second still plays.
"""
from __future__ import annotations

import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ..kinds import Key, Kind, text
from .base import Output, TsMuxer

FSYNC_EVERY_S = 1.0


def recording_path(template: str, show: str, name: str, base_dir: Path, start: datetime | None = None) -> Path:
    """Fill {show}, {name}, {start:%Y%m%d-%H%M%S}; relative paths are under the show file's folder."""
    safe_show = re.sub(r'[\\/:*?"<>|\s]+', "_", show).strip("_") or "show"
    filled = template.format(show=safe_show, name=name, start=start or datetime.now())
    path = Path(filled)
    return path if path.is_absolute() else base_dir / path


class _FileSink:
    def __init__(self, fd: int, output: "RecordOutput") -> None:
        self.fd, self.output = fd, output
        self.total = 0
        self.synced_at = time.monotonic()

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.total += len(data)
        self.output.delivered(self.total)
        now = time.monotonic()
        if now - self.synced_at >= FSYNC_EVERY_S:
            os.fsync(self.fd)
            self.synced_at = now
        return len(data)


class RecordOutput(Output):
    path: Path | None = None

    def _session(self) -> None:
        # Resolved, so the panel shows the real file (not "show/../recordings/{start:…}").
        self.path = recording_path(self.config.path or "recording-{start:%Y%m%d-%H%M%S}.ts", self.show_name, self.name,
                                   self.base_dir).resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.new_session_bytes()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.emit_log(f"录制 output {self.name}: recording to {self.path}")
        muxer = TsMuxer(_FileSink(fd, self), self.templates())
        try:
            while not self._stop.is_set():
                packet = self.take(0.25)
                if packet is not None:
                    muxer.mux(packet)
        finally:
            muxer.close()
            os.fsync(fd)
            os.close(fd)

    def info(self) -> dict[str, Any]:
        """As every output, plus `file`: the file being (or last) written, the template filled in."""
        data = super().info()
        data["file"] = str(self.path) if self.path else None
        return data


KINDS = (
    Kind("outputs", "file", "a local recording (.ts) 本地录制", impl=RecordOutput,
         example='record: {kind: file, path: "recordings/{show}-{start:%Y%m%d-%H%M%S}.ts"}',
         keys=(Key("path", text("Recording path template: {show}, {name}, {start:%Y%m%d-%H%M%S}; relative to the show "
                                "file's folder. 录制文件路径模板。", minLength=1, title="path template",
                                examples=["recordings/{show}-{start:%Y%m%d-%H%M%S}.ts"]), required=True),)),
)
