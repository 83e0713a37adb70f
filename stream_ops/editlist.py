"""The program edit list: which scene was on program from which frame, and its sources.

The clock thread appends a `ProgramEvent` at every switch (`ProgramLog`); each
program recording writes the part it covers next to itself, as CSV and as a
CMX3600 EDL, so an editor can cut a highlight video from the ISO recordings
afterwards. Times are program frames, so they match the recording frame for frame.
Pure: no I/O here beyond strings.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ProgramEvent:
    frame: int                       # first program frame that shows it
    wall: float                      # time.time() when it was taken
    scene: str
    sources: tuple[str, ...]         # sources visible in the scene
    transition: str = "cut"          # cut / fade
    duration_ms: int = 0
    # source -> (its ISO recording, time.time() of the recording's first frame), for recorded sources
    iso: dict[str, tuple[str, float]] = field(default_factory=dict)


class ProgramLog:
    """Every program switch of the show, in order. Appended on the clock thread, read anywhere."""

    def __init__(self, fps: int) -> None:
        self.fps = fps
        self._events: list[ProgramEvent] = []

    def add(self, event: ProgramEvent) -> None:
        self._events.append(event)   # list.append is atomic; readers copy

    def events(self) -> list[ProgramEvent]:
        return list(self._events)

    def __len__(self) -> int:
        return len(self._events)


@dataclass(frozen=True)
class Cut:
    """One event as it appears in a recording that covers program frames [first, end)."""
    number: int
    event: ProgramEvent
    start: int                       # frames from the recording's first frame
    end: int | None                  # None: still on program
    wall_start: float
    wall_end: float | None


def cuts(events: list[ProgramEvent], first: int, last: int | None, fps: int) -> list[Cut]:
    """The events a recording of program frames [first, last] shows, in its own frame count."""
    out: list[Cut] = []
    for i, ev in enumerate(events):
        nxt = events[i + 1].frame if i + 1 < len(events) else None
        if nxt is not None and nxt <= first:
            continue
        if last is not None and ev.frame > last:
            break
        start = max(ev.frame, first)
        end = nxt if nxt is not None else None
        wall_start = ev.wall + (start - ev.frame) / fps
        wall_end = events[i + 1].wall if nxt is not None else None
        out.append(Cut(len(out) + 1, ev, start - first, None if end is None else end - first, wall_start, wall_end))
    return out


def to_csv(cuts_: list[Cut], fps: int) -> str:
    """One row per cut; `end_s` empty for the scene still on program."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["event", "scene", "sources", "transition", "duration_ms", "start_s", "end_s",
                "start_frame", "end_frame", "start_time", "end_time", "iso"])
    for c in cuts_:
        ev = c.event
        w.writerow([c.number, ev.scene, " ".join(ev.sources), ev.transition, ev.duration_ms,
                    f"{c.start / fps:.3f}", "" if c.end is None else f"{c.end / fps:.3f}",
                    c.start, "" if c.end is None else c.end,
                    _iso_time(c.wall_start), "" if c.wall_end is None else _iso_time(c.wall_end),
                    ";".join(f"{s}={p}@{c.wall_start - t0:.3f}" for s, (p, t0) in ev.iso.items())])
    return buf.getvalue()


def to_edl(title: str, cuts_: list[Cut], fps: int, now_frame: int) -> str:
    """CMX3600: record times from the recording's start; source times in the reel's ISO file.

    Reels are source names (8 characters, A-Z 0-9 _) — the scene's first source; a
    scene without sources is black (BL). Source times count from the first frame of
    that source's ISO recording (named in a comment), or are the time of day when the
    source is not recorded. A fade is a dissolve from the previous reel. The scene
    still on program ends at `now_frame`.
    """
    lines = [f"TITLE: {title[:70]}", "FCM: NON-DROP FRAME", ""]
    previous_reel: str | None = None
    previous_src: str | None = None
    for c in cuts_:
        ev = c.event
        end = c.end if c.end is not None else max(now_frame, c.start)
        if end <= c.start:
            continue
        reel = _reel(ev.sources[0]) if ev.sources else "BL"
        iso = ev.iso.get(ev.sources[0]) if ev.sources else None
        if iso is not None:
            first = int(round((c.wall_start - iso[1]) * fps))
            src_in, src_out = timecode(first, fps), timecode(first + end - c.start, fps)
        else:
            src_in, src_out = _tod(c.wall_start, fps), _tod(c.wall_start + (end - c.start) / fps, fps)
        rec_in, rec_out = timecode(c.start, fps), timecode(end, fps)
        n = f"{c.number:03d}"
        dissolve = int(round(ev.duration_ms * fps / 1000)) if ev.transition == "fade" else 0
        if dissolve and previous_reel is not None and previous_src is not None:
            lines.append(f"{n}  {previous_reel:<8} V     C        {previous_src} {previous_src} {rec_in} {rec_in}")
            lines.append(f"{n}  {reel:<8} V     D    {min(dissolve, 999):03d} {src_in} {src_out} {rec_in} {rec_out}")
        else:
            lines.append(f"{n}  {reel:<8} V     C        {src_in} {src_out} {rec_in} {rec_out}")
        lines.append(f"* FROM CLIP NAME: {ev.scene}")
        if ev.sources:
            lines.append(f"* SOURCES: {', '.join(ev.sources)}")
        for source, (path, _) in ev.iso.items():
            lines.append(f"* ISO {source}: {path}")
        lines.append("")
        previous_reel, previous_src = reel, src_out
    return "\n".join(lines)


def timecode(frames: int, fps: int) -> str:
    """HH:MM:SS:FF, non-drop."""
    s, f = divmod(max(0, frames), fps)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h % 24:02d}:{m:02d}:{s:02d}:{f:02d}"


def _tod(wall: float, fps: int) -> str:
    local = datetime.fromtimestamp(wall)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return timecode(int((local - midnight).total_seconds() * fps), fps)


def _reel(source: str) -> str:
    return (re.sub(r"[^A-Z0-9_]", "_", source.upper())[:8]) or "AX"


def _iso_time(wall: float) -> str:
    return datetime.fromtimestamp(wall).astimezone().isoformat(timespec="milliseconds")
