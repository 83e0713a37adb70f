"""The local recording: MPEG-TS written straight to a file, one file per start.

TS needs no trailer, and every packet is flushed to the OS as it is muxed, so a
recording cut short by SIGKILL or a power cut up to the last second still plays.
Next to it, the program edit list of what it holds (`.csv`, `.edl`; editlist.py).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .. import editlist
from ..editlist import ProgramLog
from ..kinds import Key, Kind, text
from ..recordings import fill_path
from .base import Output, TsMuxer

FSYNC_EVERY_S = 1.0


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


class _EditListWriter:
    """The program edit list of one recording, as `<recording>.csv` and `<recording>.edl`.

    Rewritten whole (small files; atomic rename) at every switch and once a second,
    so after a SIGKILL it lists every switch up to the kill.
    """

    def __init__(self, recording: Path, title: str, log: ProgramLog | None, fps: int) -> None:
        self.csv, self.edl = recording.with_suffix(".csv"), recording.with_suffix(".edl")
        self.title, self.log, self.fps = title, log, fps
        self.first: int | None = None
        self.last = 0
        self._written_events = -1
        self._written_at = 0.0

    def frame(self, n: int) -> None:
        if self.first is None:
            self.first = n
        self.last = n

    def maybe_write(self) -> None:
        if self.log is not None and self.first is not None and (
                len(self.log) != self._written_events or time.monotonic() - self._written_at >= FSYNC_EVERY_S):
            self.write()

    def write(self) -> None:
        if self.log is None or self.first is None:
            return
        events = self.log.events()
        cut_list = editlist.cuts(events, self.first, self.last, self.fps)
        _replace(self.csv, editlist.to_csv(cut_list, self.fps))
        _replace(self.edl, editlist.to_edl(self.title, cut_list, self.fps, self.last - self.first + 1))
        self._written_events, self._written_at = len(events), time.monotonic()


def _replace(path: Path, text: str) -> None:
    """Write a whole file so a reader (or a kill) only ever sees the old or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RecordOutput(Output):
    path: Path | None = None

    def _session(self) -> None:
        # Resolved, so the panel shows the real file (not "show/../recordings/{start:…}").
        self.path = fill_path(self.config.path or "recording-{start:%Y%m%d-%H%M%S}.ts", self.show_name, self.base_dir,
                              name=self.name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.new_session_bytes()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.emit_log(f"录制 output {self.name}: recording to {self.path}")
        muxer = TsMuxer(_FileSink(fd, self), self.templates())
        edits = _EditListWriter(self.path, self.show_name or self.name, self.program_log, self.fps)
        try:
            while not self._stop.is_set():
                packet = self.take(0.25)
                if packet is not None:
                    muxer.mux(packet)
                    if packet.kind == "video":
                        edits.frame(int(round(float(packet.pts * packet.time_base) * self.fps)))
                edits.maybe_write()
        finally:
            muxer.close()
            os.fsync(fd)
            os.close(fd)
            edits.write()

    def info(self) -> dict[str, Any]:
        """As every output, plus `file`: the file being (or last) written, the template filled in."""
        data = super().info()
        if self.path:
            data["file"] = str(self.path)
        return data


KINDS = (
    Kind("outputs", "file", "a local recording (.ts) 本地录制", impl=RecordOutput,
         example='record: {kind: file, path: "recordings/{show}-{start:%Y%m%d-%H%M%S}.ts"}',
         keys=(Key("path", text("Recording path template: {show}, {name}, {start:%Y%m%d-%H%M%S}; relative to the show "
                                "file's folder. 录制文件路径模板。", minLength=1, title="path template",
                                examples=["recordings/{show}-{start:%Y%m%d-%H%M%S}.ts"]), required=True),)),
)
