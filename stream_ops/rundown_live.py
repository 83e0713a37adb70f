"""The run of show on air: the segment on now, the journal of real times, advance and go-to.

`LiveRundown` owns the running rundown (the Show holds one when the show file has a
`rundown:`). Each change is written to the journal — append-only JSON lines in the show's
data folder, fsync'd before the command answers — so a restarted or killed show keeps
every actual start and end; then the segment's cues run (scene to program, the employer's
segment and the featured job, through the callback the Show gives), then a `rundown`
event and a log line go out. The decisions themselves are `stream_ops.rundown`'s.
"""
from __future__ import annotations

import asyncio
import csv
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from . import rundown as rd
from .refusal import Refusal
from .rundown import Progress, RundownConfig, Segment

log = logging.getLogger(__name__)

JOURNAL_NAME = "rundown.jsonl"
EXPORT_NAME = "rundown.csv"

# (segment now on or None when finished, the one that ended or None, actor) -> cues applied
Cue = Callable[[Segment | None, Segment | None, str], Awaitable[None]]


class Journal:
    """Append-only JSON lines, one per change of segment; each on disk before it counts."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        # One write with O_APPEND: a kill leaves at most a torn last line, which read() skips.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out


class LiveRundown:
    """The rundown as it runs: commands, the auto-advance tick, the journal."""

    def __init__(self, config: RundownConfig, data_dir: Path, cue: Cue, publish: Callable[..., None],
                 log_line: Callable[..., None], employer_names: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.journal = Journal(Path(data_dir) / JOURNAL_NAME)
        self.cue = cue
        self.publish = publish
        self.log_line = log_line
        self.employer_names = dict(employer_names or {})
        self.clock = clock
        self.progress: Progress = rd.replay(config, self.journal.read(), clock())
        self._lock = asyncio.Lock()   # an advance key and the auto tick must not both move on

    @property
    def size(self) -> int:
        return len(self.config.segments)

    def info(self) -> dict[str, Any]:
        """The rundown with plan, actual times, the segment on now, the countdown."""
        return rd.view(self.config, self.progress, self.clock(), self.employer_names)

    def overlay_values(self) -> dict[str, Any]:
        return rd.overlay_values(self.config, self.progress, self.clock(), self.employer_names)

    # --- commands ---------------------------------------------------------------------------
    async def advance(self, actor: str = "operator") -> dict[str, Any]:
        """The next segment starts (after the last: the rundown is finished)."""
        async with self._lock:
            if self.progress.current >= self.size:
                raise Refusal(409, "节目单已全部播完 the rundown is finished; go to a segment to start again",
                              "rundown_finished")
            await self._go(self.progress.current + 1, actor, auto=False)
        return self.info()

    async def go_to(self, index: Any, actor: str = "operator") -> dict[str, Any]:
        """Segment `index` (0-based) starts; the one on now ends. The segment already on: nothing changes."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise Refusal(422, "index: give a segment number from 0 (a whole number)")
        if not 0 <= index < self.size:
            raise Refusal(404, f"没有第 {index} 段 no segment {index}: the rundown has segments 0–{self.size - 1}",
                          "unknown_segment")
        async with self._lock:
            if index != self.progress.current:
                await self._go(index, actor, auto=False)
        return self.info()

    async def tick(self) -> bool:
        """Auto-advance when the segment's time is up (the Show calls this once a second)."""
        async with self._lock:   # decided under the lock: an operator's advance may have just moved on
            now = self.clock()
            planned = rd.plan_for(self.config, self.progress, now)
            if not rd.should_auto_advance(self.config, planned, self.progress, now):
                return False
            await self._go(self.progress.current + 1, "auto", auto=True)
        return True

    async def _go(self, index: int, actor: str, auto: bool) -> None:
        now = self.clock()
        before = self.progress
        segs = self.config.segments
        ended = before.current if 0 <= before.current < self.size else None
        title = segs[index].title if 0 <= index < self.size else None
        entry = {"at": now, "current": index, "title": title, "ended": ended, "actor": actor, "auto": auto}
        try:
            await asyncio.to_thread(self.journal.append, entry)
        except OSError as exc:
            # The show goes on: a full or read-only disk costs the export its times, not the program its cue.
            log.error("rundown journal %s: %s", self.journal.path, exc)
            self.log_line(f"节目单记录写入失败 rundown journal not written: {exc.strerror or exc}", level="error",
                          actor="system")
        self.progress = rd.go_to(self.config, before, index, now)
        seg = segs[index] if 0 <= index < self.size else None
        try:
            await self.cue(seg, segs[ended] if ended is not None else None, actor)
        except Refusal as exc:   # a cue the show refused (e.g. a scene gone): the segment still started
            self.log_line(f"节目单提示未执行 rundown cue not applied: {exc.message}", level="warning", actor=actor)
        except Exception:
            log.exception("rundown cue failed")
            self.log_line("节目单提示出错 rundown cue failed", level="error", actor=actor)
        info = self.info()
        ended_info = info["segments"][ended] if ended is not None else None
        self.publish("rundown", index=index, segment=info["segments"][index] if seg else None, ended=ended_info,
                     auto=auto, actor=actor, rundown=info)
        if seg is not None:
            self.log_line(f"节目单 第 {index + 1} 段开始{('（自动）' if auto else '')}：{seg.title} "
                          f"rundown: segment {index + 1} started{' (auto)' if auto else ''}: {seg.title}",
                          actor=actor, en=f"rundown: segment {index + 1} started{' (auto)' if auto else ''}: {seg.title}")
        else:
            self.log_line(f"节目单全部播完{'（自动）' if auto else ''} rundown finished{' (auto)' if auto else ''}",
                          actor=actor, en=f"rundown finished{' (auto)' if auto else ''}")


# --- the export ---------------------------------------------------------------------------------
def write_export(config: Any, out_dir: Path, data_dir: Path | None = None) -> list[Path]:
    """`rundown.csv` (planned vs actual per segment) into `out_dir`; [] when the show has no rundown.

    Called by `stream-ops export`. UTF-8 with BOM, as the fair's other CSV files (Excel in China).
    """
    rundown: RundownConfig | None = getattr(config, "rundown", None)
    if rundown is None:
        return []
    folder = Path(data_dir) if data_dir is not None else config.data_path
    now = time.time()
    progress = rd.replay(rundown, Journal(folder / JOURNAL_NAME).read(), now)
    fair = getattr(config, "jobfair", None)
    names = {e.id: e.name for e in fair.employers.values()} if fair is not None else {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / EXPORT_NAME
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(rd.EXPORT_HEADERS)
        writer.writerows(rd.export_rows(rundown, progress, now, names))
    return [path]


