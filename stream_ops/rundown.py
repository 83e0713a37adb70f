"""The run of show (节目单): segments, what is on now, what comes next, the countdown to it.

Pure: dataclasses and functions of `now` (Unix seconds), no clock, no files, no I/O.
`check_rundown` turns the show file's `rundown:` section into a `RundownConfig` (with
`Problem`s located in the YAML tree); `plan` gives each segment's planned start and
length; `Progress` is what has actually happened (which segment is on, since when);
`due`, `countdown_text`, `should_auto_advance` and `view` answer the operator's
questions. The live side (journal on disk, commands, ticker) is `rundown_live.py`.

When is a segment due to end? At the next segment's written start (`start:`) when it
has one, else at its own actual start plus its planned length: a segment that began late
keeps its length unless the next one is pinned to the clock.
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import zoneinfo
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from .problems import Problem, YamlPath

CST = dt.timezone(dt.timedelta(hours=8), "+08:00")   # China Standard Time, the fair's zone (no DST)
CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
LENGTH = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?$")
OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2}):?(\d{2})$")

# --------------------------------------------------------------------------- the show file

SEGMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "segment",
    "description": "One segment of the run of show. 节目单中的一段。",
    "properties": {
        "title": {"type": "string", "minLength": 1, "description": "What the segment is, shown on the panel and "
                  "as {{ segment.title }}. 段落标题。", "examples": ["企业宣讲：示例电子"]},
        "employer": {"type": "string", "description": "A job-fair employer id: its segment starts with this one. "
                     "用人单位编号（招聘会）。", "examples": ["E01"]},
        "start": {"type": "string", "description": 'Planned start: a clock time "14:30" (the show\'s day, in the '
                  'rundown\'s time zone) or a date and time "2026-12-01T14:30:00+08:00". 计划开始时间。',
                  "examples": ["14:30"]},
        "length": {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?h)?\s*(\d+(\.\d+)?m)?\s*(\d+(\.\d+)?s)?\s*$",
                   "errorMessage": 'must be a length like "10m", "90s" or "1h30m"',
                   "description": 'Planned length: "10m", "90s", "1h30m". 计划时长。', "examples": ["10m"]},
        "scene": {"type": "string", "description": "Scene taken to program (with the show's transition) when the "
                  "segment starts. 开始时切到节目的场景。"},
        "job": {"type": "string", "description": "A job id put on air (job card, QR code) when the segment starts. "
                "开始时上屏的岗位。", "examples": ["J001"]},
        "notes": {"type": "string", "description": "For the crew, shown on the panel. 备注（仅导播台可见）。"},
    },
    "required": ["title"],
    "additionalProperties": False,
}

RUNDOWN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The run of show: segments in the order they go on air. 节目单：按播出顺序排列的段落。",
    "properties": {
        "segments": {"type": "array", "items": SEGMENT_SCHEMA, "minItems": 1,
                     "description": "Segments, in order. 段落，按顺序。"},
        "auto_advance": {"type": "boolean", "description": "Timed segments advance by themselves when their time "
                         "is up (default false: the operator advances). 到时自动切到下一段。"},
        "time_zone": {"type": "string", "description": 'Zone of clock times and {{ clock }}: "+08:00" or a name '
                      'like "Asia/Shanghai" (default +08:00, China Standard Time). 时区。',
                      "examples": ["+08:00", "Asia/Shanghai"]},
    },
    "required": ["segments"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Segment:
    """One segment as the producer wrote it (checked)."""

    title: str
    employer: str | None = None
    start_clock: dt.time | None = None      # "14:30": on the show's day
    start_at: dt.datetime | None = None     # "2026-12-01T14:30:00+08:00": that instant
    length_s: float | None = None
    scene: str | None = None
    job: str | None = None
    notes: str = ""

    @property
    def pinned(self) -> bool:
        """Its start is written in the show file (a clock time or a date and time)."""
        return self.start_clock is not None or self.start_at is not None


@dataclass(frozen=True)
class RundownConfig:
    segments: tuple[Segment, ...]
    auto_advance: bool = False
    time_zone: dt.tzinfo = CST
    time_zone_name: str = "+08:00"


def parse_length(text: Any) -> float | None:
    """'10m' -> 600.0, '90s' -> 90.0, '1h30m' -> 5400.0; None when it is not a length or is zero."""
    if not isinstance(text, str) or not text.strip():
        return None
    m = LENGTH.match(text.strip())
    if not m or not any(m.groups()):
        return None
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    total = h * 3600 + mi * 60 + s
    return total if total > 0 else None


def parse_start(text: Any, tz: dt.tzinfo) -> dt.time | dt.datetime | None:
    """'14:30' -> time(14, 30); an ISO date and time -> an aware datetime (no zone: `tz`); else None."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    m = CLOCK.match(text)
    if m:
        return dt.time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    try:
        when = dt.datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else "")
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=tz)


def parse_time_zone(text: Any) -> dt.tzinfo | None:
    """'+08:00' / 'UTC+8:00' -> a fixed offset; 'Asia/Shanghai' -> that zone; else None."""
    if not isinstance(text, str):
        return None
    m = OFFSET.match(text.strip())
    if m:
        sign = 1 if m.group(1) == "+" else -1
        hours, minutes = int(m.group(2)), int(m.group(3))
        if hours > 14 or minutes > 59:
            return None
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes), text.strip())
    try:
        return zoneinfo.ZoneInfo(text.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _clock_text(t: dt.time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def check_rundown(data: Any, scenes: Iterable[str], fair: Any = None,
                  fair_written: bool = False) -> tuple[RundownConfig | None, list[Problem]]:
    """Check `rundown:` (already shaped by its JSON Schema) against the scenes and the job fair.

    `fair` is the show's `JobFair` (employers, jobs), or None when the show has none;
    `fair_written`: a `jobfair:` section is there but has problems of its own (said elsewhere).
    Problems' paths start at ("rundown", ...), so showfile locates them in the file.
    """
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        return None, []
    problems: list[Problem] = []
    at: YamlPath = ("rundown",)
    scenes = list(scenes)
    tz, tz_name = CST, "+08:00"
    if "time_zone" in data:
        tz_name = str(data["time_zone"]).strip()
        found = parse_time_zone(data["time_zone"])
        if found is None:
            problems.append(Problem(at + ("time_zone",), f"time_zone {json_text(data['time_zone'])} is not a zone; "
                                    'write an offset like "+08:00" or a name like "Asia/Shanghai"'))
        else:
            tz = found
    employers: Mapping[str, Any] = getattr(fair, "employers", None) or {}
    jobs: Mapping[str, Any] = fair.jobs if fair is not None else {}
    segments: list[Segment] = []
    previous: tuple[int, dt.time | dt.datetime] | None = None   # the last written start: (segment no., start)
    for i, spec in enumerate(data["segments"]):
        if not isinstance(spec, dict):
            continue
        sat = at + ("segments", i)
        name = f"segment {i + 1}"
        start: dt.time | dt.datetime | None = None
        if isinstance(spec.get("start"), str):
            start = parse_start(spec["start"], tz)
            if start is None:
                problems.append(Problem(sat + ("start",), f"'start' of {name} must be a clock time like \"14:30\" or "
                                        f"a date and time like \"2026-12-01T14:30:00+08:00\", got "
                                        f"{json_text(spec['start'])}"))
            elif previous is not None and type(previous[1]) is type(start) and start <= previous[1]:   # type: ignore[operator]
                shown = _clock_text(start) if isinstance(start, dt.time) else start.isoformat()
                before = previous[1]
                was = _clock_text(before) if isinstance(before, dt.time) else before.isoformat()
                problems.append(Problem(sat + ("start",), f"{name} starts at {shown}, not after segment "
                                        f"{previous[0] + 1} ({was}); list segments in the order they go on air "
                                        "(a show past midnight: write the date too, e.g. \"2026-12-02T00:15\")"))
            if start is not None:
                previous = (i, start)
        length = None
        if isinstance(spec.get("length"), str):
            length = parse_length(spec["length"])
            if length is None and LENGTH.match(spec["length"].strip()):   # other mistakes: the schema's message
                problems.append(Problem(sat + ("length",), f"'length' of {name} must be more than zero, "
                                        f"like \"10m\" or \"90s\", got {json_text(spec['length'])}"))
        scene = spec.get("scene")
        if not isinstance(spec.get("title"), str) and "title" in spec:
            continue   # the schema says what is wrong with it
        if isinstance(scene, str) and scene not in scenes:
            problems.append(Problem(sat + ("scene",), f"no scene named '{scene}'{_did_you_mean(scene, scenes)}; "
                                    f"scenes are: {', '.join(scenes)}"))
        employer, job = spec.get("employer"), spec.get("job")
        for key, value, known, noun in (("employer", employer, employers, "employer"), ("job", job, jobs, "job")):
            if not isinstance(value, str) or (fair is None and fair_written):
                continue
            if fair is None:
                problems.append(Problem(sat + (key,), f"'{key}' of {name} names a job-fair {noun}, but the show "
                                        "has no jobfair: section; add one or remove this line"))
            elif value not in known:
                listed = ", ".join(list(known)[:12]) + (", ..." if len(known) > 12 else "")
                problems.append(Problem(sat + (key,), f"no {noun} '{value}'{_did_you_mean(value, known)} in the job "
                                        f"fair; {noun}s are: {listed}"))
        if isinstance(job, str) and isinstance(employer, str) and job in jobs and employer in employers:
            owner = jobs[job].employer_id
            if owner != employer:
                problems.append(Problem(sat + ("job",), f"job '{job}' is {owner}'s, not {employer}'s: the card "
                                        f"would show another company during {employer}'s segment; "
                                        f"feature one of {employer}'s jobs or set employer: {owner}"))
        segments.append(Segment(
            title=str(spec.get("title", "")), employer=employer if isinstance(employer, str) else None,
            start_clock=start if isinstance(start, dt.time) else None,
            start_at=start if isinstance(start, dt.datetime) else None,
            length_s=length, scene=scene if isinstance(scene, str) else None,
            job=job if isinstance(job, str) else None, notes=str(spec.get("notes", ""))))
    config = RundownConfig(tuple(segments), bool(data.get("auto_advance", False)), tz, tz_name)
    problems += _overlap_warnings(config)
    if config.auto_advance and not any(s.length_s or s.pinned for s in segments):
        problems.append(Problem(at + ("auto_advance",), "auto_advance is on but no segment has a start or a length, "
                                "so nothing can advance by itself; give segments a length like \"10m\"",
                                severity="warning"))
    return config, problems


def _overlap_warnings(config: RundownConfig) -> list[Problem]:
    """A segment planned to run past the next one's written start: its length will be cut short."""
    out: list[Problem] = []
    day = dt.date(2000, 1, 3)    # any day: only the written times are compared
    planned = plan(config, day, anchor=None)
    for i, (seg, p) in enumerate(zip(config.segments, planned)):
        if i + 1 >= len(planned) or not config.segments[i + 1].pinned:
            continue
        nxt_start = planned[i + 1].start
        if p.start is None or seg.length_s is None or nxt_start is None:
            continue
        over = p.start + seg.length_s - nxt_start
        if over > 0 and nxt_start > p.start:   # (a start that goes backwards is an error of its own)
            out.append(Problem(("rundown", "segments", i, "length"), f"segment {i + 1} is planned to run "
                               f"{_duration_text(over)} past the start of segment {i + 2}; it ends when segment "
                               f"{i + 2} is due", severity="warning"))
    return out


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class Planned:
    """A segment's planned start (Unix seconds, None when not known yet) and planned length."""

    start: float | None
    length_s: float | None


def resolve_start(seg: Segment, day: dt.date, tz: dt.tzinfo) -> float | None:
    if seg.start_at is not None:
        return seg.start_at.timestamp()
    if seg.start_clock is not None:
        return dt.datetime.combine(day, seg.start_clock, tzinfo=tz).timestamp()
    return None


def plan(config: RundownConfig, day: dt.date, anchor: float | None) -> tuple[Planned, ...]:
    """Planned start and length of every segment.

    Written starts are fixed (clock times on `day`); a segment without one follows the
    previous segment's planned end. A first segment without one starts at `anchor`
    (its actual start; None before it began). A segment without a length lasts until the
    next written start, when there is one.
    """
    starts: list[float | None] = []
    for i, seg in enumerate(config.segments):
        written = resolve_start(seg, day, config.time_zone)
        if written is not None:
            starts.append(written)
        elif i == 0:
            starts.append(anchor)
        else:
            prev, prev_len = starts[-1], config.segments[i - 1].length_s
            starts.append(prev + prev_len if prev is not None and prev_len is not None else None)
    out = []
    for i, seg in enumerate(config.segments):
        length = seg.length_s
        nxt_seg = config.segments[i + 1] if i + 1 < len(config.segments) else None
        if length is None and nxt_seg is not None and nxt_seg.pinned and starts[i] is not None:
            gap = (starts[i + 1] or 0) - starts[i]   # type: ignore[operator]
            length = gap if gap > 0 else None
        out.append(Planned(starts[i], length))
    return tuple(out)


# --------------------------------------------------------------------------- what happened

@dataclass(frozen=True)
class Run:
    """One time a segment was on air (a segment gone back to has several)."""

    index: int
    start: float
    end: float | None = None


@dataclass(frozen=True)
class Progress:
    """Where the rundown is: `current` -1 before the first segment, len(segments) after the last."""

    current: int = -1
    runs: tuple[Run, ...] = ()
    armed_at: float = 0.0   # auto-advance fires only for a due time after this (see should_auto_advance)

    @property
    def started_at(self) -> float | None:
        """Actual start of the segment on now."""
        if self.runs and self.runs[-1].end is None and self.runs[-1].index == self.current:
            return self.runs[-1].start
        return None

    def first_start(self) -> float | None:
        return self.runs[0].start if self.runs else None


def go_to(config: RundownConfig, progress: Progress, index: int, now: float) -> Progress:
    """The segment on now ends at `now` and `index` starts (`index` = len(segments): the rundown is finished)."""
    runs = list(progress.runs)
    if runs and runs[-1].end is None:
        runs[-1] = replace(runs[-1], end=now)
    if 0 <= index < len(config.segments):
        runs.append(Run(index, now))
    return Progress(current=index, runs=tuple(runs), armed_at=now)


def show_day(config: RundownConfig, progress: Progress, now: float) -> dt.date:
    """The day clock-time starts refer to: the day the rundown first started, else today (in its zone)."""
    first = progress.first_start()
    return dt.datetime.fromtimestamp(first if first is not None else now, config.time_zone).date()


def plan_for(config: RundownConfig, progress: Progress, now: float) -> tuple[Planned, ...]:
    # The anchor of a rundown with no written first start: when segment 1 first went on air.
    anchor = next((r.start for r in progress.runs if r.index == 0), None)
    return plan(config, show_day(config, progress, now), anchor)


def due(config: RundownConfig, planned: tuple[Planned, ...], progress: Progress) -> float | None:
    """When the segment on now is due to give way (None: no time for it).

    Before the first segment: the first segment's written start. During a segment: the
    next segment's written start, else this segment's actual start + planned length.
    """
    n = len(config.segments)
    i = progress.current
    if i >= n:
        return None
    if i < 0:
        return planned[0].start if config.segments[0].pinned else None
    if i + 1 < n and config.segments[i + 1].pinned:
        return planned[i + 1].start
    started, length = progress.started_at, planned[i].length_s
    return started + length if started is not None and length is not None else None


def should_auto_advance(config: RundownConfig, planned: tuple[Planned, ...], progress: Progress, now: float) -> bool:
    """Auto-advance now? Only when the due time came while this segment was on (after `armed_at`):
    a segment started late, or a show restarted after the time, is never skipped by itself."""
    if not config.auto_advance or progress.current >= len(config.segments):
        return False
    when = due(config, planned, progress)
    return when is not None and progress.armed_at < when <= now


def countdown_text(seconds: float | None) -> str:
    """Seconds to the next segment as 'MM:SS' (rounded up), an overrun as '+MM:SS'; '' when unknown."""
    if seconds is None:
        return ""
    if seconds >= 0:
        whole = int(-(-seconds // 1))   # 0.2 s left still shows 00:01
        return f"{whole // 60:02d}:{whole % 60:02d}"
    whole = int(-seconds)
    return f"+{whole // 60:02d}:{whole % 60:02d}"


def _duration_text(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def clock_text(now: float, tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(now, tz).strftime("%H:%M:%S")


def seconds_to_next_tick(now: float, offset: float = 0.02) -> float:
    """Sleep this long to wake just after the next whole second, so `{{ clock }}` never skips one."""
    return 1.0 - (now % 1.0) + offset


# --------------------------------------------------------------------------- what clients see

def _iso(t: float | None, tz: dt.tzinfo) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


def segment_info(config: RundownConfig, planned: tuple[Planned, ...], progress: Progress, index: int,
                 employer_names: Mapping[str, str]) -> dict[str, Any]:
    """One segment with its plan and what actually happened (first start, last end)."""
    seg, p = config.segments[index], planned[index]
    runs = [r for r in progress.runs if r.index == index]
    return {"index": index, "number": index + 1, "title": seg.title, "employer": seg.employer,
            "employer_name": employer_names.get(seg.employer or "", "") if seg.employer else "",
            "scene": seg.scene, "job": seg.job, "notes": seg.notes,
            "planned_start": p.start, "planned_length_s": p.length_s,
            # HH:MM in the rundown's zone: the panel's browser may be in another.
            "planned_clock": "" if p.start is None else dt.datetime.fromtimestamp(p.start, config.time_zone).strftime("%H:%M"),
            "actual_start": runs[0].start if runs else None,
            "actual_end": runs[-1].end if runs else None}


def view(config: RundownConfig, progress: Progress, now: float,
         employer_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The rundown as the API, the panel and the `rundown` event show it."""
    names = employer_names or {}
    planned = plan_for(config, progress, now)
    n = len(config.segments)
    when = due(config, planned, progress)
    left = None if when is None else when - now
    cur = progress.current
    return {
        "segments": [segment_info(config, planned, progress, i, names) for i in range(n)],
        "current": cur,
        "next": cur + 1 if cur + 1 < n else None,
        "finished": cur >= n,
        "started_at": progress.started_at,
        "due": when,
        "countdown_s": None if left is None else round(left, 3),
        "countdown": countdown_text(left),
        "overrun": left is not None and left < 0,
        "auto_advance": config.auto_advance,
        "time_zone": config.time_zone_name,
        "now": now,
    }


def overlay_values(config: RundownConfig | None, progress: Progress | None, now: float,
                   employer_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`{{ clock }}`, `{{ segment.title }}`, `{{ segment.employer }}`, `{{ next.title }}`, `{{ countdown }}`."""
    tz = config.time_zone if config is not None else CST
    values: dict[str, Any] = {"clock": clock_text(now, tz)}
    if config is None or progress is None:
        return values
    names = employer_names or {}
    planned = plan_for(config, progress, now)
    n = len(config.segments)

    def seg(i: int) -> dict[str, Any]:
        if not 0 <= i < n:
            return {}
        s = config.segments[i]
        return {"title": s.title, "number": i + 1, "employer": names.get(s.employer or "", s.employer or ""),
                "employer_id": s.employer or "", "notes": s.notes}

    when = due(config, planned, progress)
    values.update(segment=seg(progress.current), next=seg(progress.current + 1),
                  countdown=countdown_text(None if when is None else when - now))
    return values


# --------------------------------------------------------------------------- the export

EXPORT_HEADERS = ["序号 No.", "段落 Segment", "用人单位 Employer", "计划开始 Planned start", "计划时长(秒) Planned length s",
                  "实际开始 Actual start", "实际结束 Actual end", "实际时长(秒) Actual length s",
                  "超时(秒) Overrun s"]


def export_rows(config: RundownConfig, progress: Progress, now: float,
                employer_names: Mapping[str, str] | None = None) -> list[list[Any]]:
    """One row per segment: planned vs actual. Overrun = actual end - when it was due to end
    (negative: it ended early); empty when it has not ended or had no time."""
    planned = plan_for(config, progress, now)
    names = employer_names or {}
    rows = []
    for i, seg in enumerate(config.segments):
        runs = [r for r in progress.runs if r.index == i]
        start = runs[0].start if runs else None
        end = runs[-1].end if runs else None
        overrun: Any = ""
        if runs and end is not None:
            # What the panel counted down to while it was on: its last run's due time.
            last = runs[-1]
            was = Progress(current=i, runs=(Run(i, last.start),))
            when = due(config, planned, was)
            if when is not None:
                overrun = round(end - when, 1)
        p = planned[i]
        rows.append([i + 1, seg.title, names.get(seg.employer or "", seg.employer or ""),
                     _iso(p.start, config.time_zone) or "", "" if p.length_s is None else round(p.length_s, 1),
                     _iso(start, config.time_zone) or "", _iso(end, config.time_zone) or "",
                     "" if start is None or end is None else round(end - start, 1), overrun])
    return rows


__all__ = ["CST", "RUNDOWN_SCHEMA", "Planned", "Progress", "RundownConfig", "Run", "Segment", "check_rundown",
           "clock_text", "countdown_text", "due", "export_rows", "go_to", "overlay_values", "parse_length",
           "parse_start", "parse_time_zone", "plan", "plan_for", "replay", "seconds_to_next_tick", "should_auto_advance",
           "view"]


def replay(config: RundownConfig, entries: Iterable[Mapping[str, Any]], now: float) -> Progress:
    """Progress from the journal's entries (`{"at", "current", "title", ...}`, oldest first).

    An entry whose title is not that segment's title (the show file was edited since) is
    skipped. Auto-advance is armed from `now`: a restarted show does not skip by itself.
    """
    n = len(config.segments)
    runs: list[Run] = []
    current = -1
    for e in entries:
        try:
            at, cur = float(e["at"]), int(e["current"])
        except (KeyError, TypeError, ValueError):
            continue
        if not -1 <= cur <= n or (0 <= cur < n and e.get("title") != config.segments[cur].title):
            continue
        if runs and runs[-1].end is None:
            runs[-1] = replace(runs[-1], end=at)
        if 0 <= cur < n:
            runs.append(Run(cur, at))
        current = cur
    return Progress(current, tuple(runs), armed_at=now)
