"""What happened at a job fair, as plain data: the `FairReport` every export writes.

`collect(store, fair, show_name)` reads the store once and builds it; everything
else here is pure and tested in milliseconds. A FairReport never holds a full
name or phone number: applicants are masked when they are read, so the report can
be written anywhere. Full contacts for one employer come from `employer_contacts`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import time
from datetime import datetime, timedelta, tzinfo
from typing import Any, Iterable, Mapping

from . import stats
from .stats import CST, METRIC_LABELS, fair_timezone
from .store import Store

PLATFORM_LABELS = {
    "channels": "视频号", "wechat": "视频号", "douyin": "抖音", "bilibili": "哔哩哔哩",
    "kuaishou": "快手", "youtube": "YouTube", "twitch": "Twitch", "weibo": "微博",
    "toutiao": "头条", "xiaohongshu": "小红书", "own": "本站",
}
SOURCE_LABELS = {
    "manual": "人工录入 typed by operator", "webhook": "Webhook 推送", "poll": "接口轮询 API poll",
    "youtube": "YouTube API 轮询", "twitch": "Twitch API 轮询", "console": "平台后台 console",
}
# A typed-in figure older than this is not carried into later minutes of the timeline.
CARRY_FORWARD = timedelta(minutes=10)


def platform_label(platform: str) -> str:
    return PLATFORM_LABELS.get(platform, platform)


@dataclass(frozen=True)
class EmployerStats:
    id: str
    name: str
    industry: str = ""
    credit_code: str = ""
    jobs: int = 0
    headcount: int = 0
    applications: int = 0          # job applications (one phone counted once per job)
    applicants: int = 0            # distinct phones that applied to any of its jobs
    segment_s: float = 0.0         # seconds of its segments on air


@dataclass(frozen=True)
class JobStats:
    id: str
    employer_id: str
    employer_name: str
    title: str
    headcount: int = 0
    salary: str = ""
    location: str = ""
    applications: int = 0
    applicants: int = 0            # distinct phones (equals applications once duplicates are folded)
    featured_s: float = 0.0        # seconds featured on air


@dataclass(frozen=True)
class ViewerSample:
    at: datetime
    platform: str
    count: int
    source: str                    # manual / webhook / youtube / twitch / ...


@dataclass(frozen=True)
class PlatformPeak:
    platform: str
    peak: int
    at: datetime
    source: str                    # where the peak figure came from
    samples: int                   # how many samples the platform has


@dataclass(frozen=True)
class PlatformTotal:
    """A figure typed in after the event from a platform's console (e.g. 视频号 总观看人数)."""

    platform: str
    metric: str
    value: float
    entered_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True)
class Marker:
    kind: str                      # "segment" (an employer's turn) or "feature" (a job on air)
    ref: str                       # employer id / job id
    label: str
    start: datetime
    end: datetime | None = None    # None: still open when exported

    def duration_s(self, until: datetime) -> float:
        return max(0.0, ((self.end or until) - self.start).total_seconds())


@dataclass(frozen=True)
class Minute:
    at: datetime                   # start of the minute, local time
    applications: int = 0
    visits: int = 0
    viewers: dict[str, int | None] = field(default_factory=dict)   # per platform, never summed
    fresh: dict[str, bool] = field(default_factory=dict)           # True: a sample fell in this minute
    segment: str = ""              # employer on air during the minute
    featured: str = ""             # job featured during the minute
    events: str = ""               # markers that started or ended in this minute


@dataclass(frozen=True)
class ApplicationRow:
    """One job application, masked: 张* / 138****5678."""

    at: datetime
    name: str
    phone: str
    job_id: str
    employer_id: str
    withdrawn: bool = False


@dataclass
class FairReport:
    show_name: str
    fair_title: str
    generated_at: datetime
    start: datetime | None
    end: datetime | None
    employers: list[EmployerStats]
    jobs: list[JobStats]
    platforms: list[str]
    timeline: list[Minute]
    samples: list[ViewerSample]
    peaks: list[PlatformPeak]
    platform_totals: list[PlatformTotal]
    markers: list[Marker]
    applications: list[ApplicationRow]
    visits: int = 0
    unique_visitors: int = 0       # distinct browsers that opened the apply page
    platform_names: dict[str, str] = field(default_factory=dict)     # id -> label from the show file
    platform_meanings: dict[str, str] = field(default_factory=dict)  # id -> what its figure means
    # Counted from full phone numbers in `collect`: masked ones collide (138****5678).
    distinct_applicants: int = 0
    tz: tzinfo = CST                # every time in the report is on this clock
    store_note: str = ""           # e.g. "no store yet: all figures are zero"

    def label(self, platform: str) -> str:
        return self.platform_names.get(platform) or platform_label(platform)

    @property
    def total_applications(self) -> int:
        return len(self.applications)

    @property
    def withdrawn(self) -> int:
        return sum(1 for a in self.applications if a.withdrawn)


def summary_rows(r: FairReport) -> list[tuple[str, str, Any, str]]:
    """(中文项目, English item, value, what it means) — shared by every format."""
    rows: list[tuple[str, str, Any, str]] = [
        ("节目", "Show", r.show_name, ""),
        ("招聘会", "Job fair", r.fair_title, ""),
        ("开始时间", "Start", _fmt(r.start), "最早的记录（段落、岗位上屏、报名、观看采样）。Earliest record."),
        ("结束时间", "End", _fmt(r.end), "最晚的记录。Latest record."),
        ("用人单位数", "Employers", len(r.employers), "节目文件中的用人单位。Employers in the show file."),
        ("岗位数", "Jobs", len(r.jobs), "节目文件中的岗位。Jobs in the show file."),
        ("招聘人数合计", "Headcount offered", sum(j.headcount for j in r.jobs), "各岗位招聘人数之和。Sum of the jobs' headcount."),
        ("报名岗位次数", "Job applications", r.total_applications,
         "一个手机号报名一个岗位计 1 次，重复报名同一岗位只计 1 次；事后撤回同意的仍计入（其信息已遮盖）。"
         "One per phone per job, repeats folded; applications withdrawn later still count (their data is masked)."),
        ("其中已撤回", "of which withdrawn", r.withdrawn,
         "报名后撤回同意的报名次数，不会提供给用人单位。Withdrawn later; never given to employers."),
        ("报名人数", "Distinct applicants", r.distinct_applicants,
         "不同报名人的数量（一人报多个岗位只计 1 人）。Distinct people (one mobile number = one person)."),
        ("报名页访问次数", "Apply-page visits", r.visits,
         "本站报名页被打开的次数（含扫码），可与报名人数对比看转化。Our own apply page, opened (QR scans included)."),
        ("报名页访客数", "Apply-page visitors", r.unique_visitors,
         "打开过报名页的不同浏览器数。Distinct browsers that opened the apply page."),
    ]
    totals = {(t.platform, t.metric): t for t in r.platform_totals}
    for p in r.peaks:
        name = r.label(p.platform)
        meaning = r.platform_meanings.get(p.platform)
        rows.append((
            f"{name} 峰值在线（采样）", f"{p.platform} peak concurrent viewers (sampled)", p.peak,
            f"{name} 采样到的最高同时在线人数，出现于 {_fmt(p.at)}，来源：{SOURCE_LABELS.get(p.source, p.source)}，"
            f"共 {p.samples} 个采样。{(meaning + '。') if meaning else ''}不同平台的观众可能重复，不能相加。"
            "Highest concurrent-viewer figure sampled on this platform; platforms overlap, never add them up.",
        ))
    for (platform, metric), t in sorted(totals.items()):
        name = r.label(platform)
        rows.append((
            f"{name} {metric}（平台后台）", f"{platform} {metric} (platform console)", _num(t.value),
            f"活动结束后从{name}后台抄录，按平台自己的口径统计{('；' + t.note) if t.note else ''}。"
            "Copied from the platform's console after the event, as the platform defines it; not comparable across platforms.",
        ))
    if r.store_note:
        rows.append(("说明", "Note", r.store_note, ""))
    return rows


def build_timeline(
    start: datetime | None,
    end: datetime | None,
    application_times: Iterable[datetime],
    visit_times: Iterable[datetime],
    samples: Iterable[ViewerSample],
    markers: Iterable[Marker],
    platforms: Iterable[str],
) -> list[Minute]:
    """One row per minute from start to end.

    Viewers: the latest sample inside the minute; with none, the last earlier sample
    is carried forward for at most CARRY_FORWARD (marked not fresh), then blank.
    """
    if start is None or end is None:
        return []
    first, last = _floor(start), _floor(end)
    n = int((last - first).total_seconds() // 60) + 1
    apps = [0] * n
    visits = [0] * n
    for t in application_times:
        i = _index(first, t, n)
        if i is not None:
            apps[i] += 1
    for t in visit_times:
        i = _index(first, t, n)
        if i is not None:
            visits[i] += 1

    platforms = list(platforms)
    latest: dict[str, list[ViewerSample | None]] = {p: [None] * n for p in platforms}
    for s in sorted(samples, key=lambda s: s.at):
        i = _index(first, s.at, n)
        if i is not None and s.platform in latest:
            latest[s.platform][i] = s  # sorted, so the last one written is the latest in the minute

    markers = sorted(markers, key=lambda m: m.start)
    rows: list[Minute] = []
    carried: dict[str, ViewerSample | None] = {p: None for p in platforms}
    for i in range(n):
        at = first + timedelta(minutes=i)
        viewers: dict[str, int | None] = {}
        fresh: dict[str, bool] = {}
        for p in platforms:
            s = latest[p][i]
            if s is not None:
                carried[p] = s
                viewers[p], fresh[p] = s.count, True
            elif carried[p] is not None and at - carried[p].at <= CARRY_FORWARD:  # type: ignore[union-attr]
                viewers[p], fresh[p] = carried[p].count, False  # type: ignore[union-attr]
            else:
                viewers[p], fresh[p] = None, False
        rows.append(Minute(
            at=at, applications=apps[i], visits=visits[i], viewers=viewers, fresh=fresh,
            segment=_on_air(markers, "segment", at), featured=_on_air(markers, "feature", at),
            events=_events(markers, at),
        ))
    return rows


def compute_peaks(samples: Iterable[ViewerSample], platforms: Iterable[str]) -> list[PlatformPeak]:
    """Per platform: the highest sample, the first time it was reached, where it came from
    (`stats.peaks`: the same rule as the live panel)."""
    found = stats.peaks(samples)
    return [PlatformPeak(p, pk.count, pk.at, pk.source, pk.samples)
            for p in stats.sorted_platforms(list(platforms), found) if (pk := found.get(p))]


def _floor(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _index(first: datetime, t: datetime, n: int) -> int | None:
    i = int((t - first).total_seconds() // 60)
    return i if 0 <= i < n else None


def _on_air(markers: list[Marker], kind: str, minute: datetime) -> str:
    """The marker of `kind` covering most of this minute (the latest started wins)."""
    current = ""
    mid = minute + timedelta(seconds=30)
    for m in markers:
        if m.kind == kind and m.start <= mid and (m.end is None or m.end > mid):
            current = m.label
    return current


def _events(markers: list[Marker], minute: datetime) -> str:
    nxt = minute + timedelta(minutes=1)
    words = {"segment": "段落", "feature": "上屏"}
    out = []
    for m in markers:
        if minute <= m.start < nxt:
            out.append(f"▶ {words.get(m.kind, m.kind)} {m.label}")
        if m.end is not None and minute <= m.end < nxt:
            out.append(f"■ {words.get(m.kind, m.kind)} {m.label}")
    return "; ".join(out)


def _fmt(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else ""


def _num(v: float) -> Any:
    return int(v) if float(v).is_integer() else v


def as_dict(r: FairReport) -> dict[str, Any]:
    """The report as JSON-ready data (datetimes as ISO 8601 with offset)."""
    import dataclasses

    def conv(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.isoformat(timespec="seconds")
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Mapping):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    out = conv(r)
    out["totals"] = {
        "employers": len(r.employers), "jobs": len(r.jobs),
        "headcount": sum(j.headcount for j in r.jobs),
        "applications": r.total_applications, "distinct_applicants": r.distinct_applicants,
        "withdrawn": r.withdrawn, "apply_page_visits": r.visits, "apply_page_visitors": r.unique_visitors,
    }
    out["tz"] = datetime.now(r.tz).strftime("UTC%z")
    out["summary"] = [
        {"item_zh": a, "item_en": b, "value": conv(c), "meaning": d} for a, b, c, d in summary_rows(r)
    ]
    return out


# --------------------------------------------------------------------------- from the fair and the store

@dataclass(frozen=True)
class Contact:
    """A full contact for one employer's file (only in `--unmasked` exports)."""

    at: datetime
    name: str
    phone: str
    job_id: str
    job_title: str
    consent_at: datetime | None
    notice_version: str = ""


def empty_report(fair: Any, show_name: str, note: str = "") -> FairReport:
    """The fair's employers and jobs with every figure zero (no store yet)."""
    tz = fair_timezone(fair)
    return _assemble(fair, show_name, note=note, now=datetime.now(tz), tz=tz)


def _assemble(
    fair: Any,
    show_name: str,
    *,
    job_counts: Mapping[str, tuple[int, int]] | None = None,        # job -> (applications, distinct phones)
    employer_counts: Mapping[str, tuple[int, int]] | None = None,   # employer -> (applications, distinct phones)
    applications: list[ApplicationRow] | None = None,
    distinct_applicants: int = 0,
    visit_times: list[datetime] | None = None,
    unique_visitors: int = 0,
    samples: list[ViewerSample] | None = None,
    markers: list[Marker] | None = None,
    platform_totals: list[PlatformTotal] | None = None,
    note: str = "",
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> FairReport:
    job_counts, employer_counts = job_counts or {}, employer_counts or {}
    applications, visit_times = applications or [], visit_times or []
    samples, markers, platform_totals = samples or [], markers or [], platform_totals or []
    now = now or datetime.now().astimezone()

    platforms = list(fair.platforms)
    platforms += [p for p in dict.fromkeys(s.platform for s in samples) if p not in platforms]
    times = [a.at for a in applications] + visit_times + [s.at for s in samples]
    times += [m.start for m in markers] + [m.end for m in markers if m.end]
    start, end = (min(times), max(times)) if times else (None, None)
    until = end or now

    featured: dict[str, float] = {}
    on_air: dict[str, float] = {}
    for m in markers:
        bucket = featured if m.kind == "feature" else on_air
        bucket[m.ref] = bucket.get(m.ref, 0.0) + m.duration_s(until)

    employers, jobs = [], []
    for e in fair.employers.values():
        apps, people = employer_counts.get(e.id, (0, 0))
        employers.append(EmployerStats(e.id, e.name, e.industry, e.credit_code, len(e.jobs),
                                       sum(j.headcount for j in e.jobs), apps, people, on_air.get(e.id, 0.0)))
        for j in e.jobs:
            apps, people = job_counts.get(j.id, (0, 0))
            jobs.append(JobStats(j.id, e.id, e.name, j.title, j.headcount, j.salary.display(), j.location,
                                 apps, people, featured.get(j.id, 0.0)))

    return FairReport(
        show_name=show_name, fair_title=fair.event.name, generated_at=now, start=start, end=end,
        employers=employers, jobs=jobs, platforms=platforms,
        timeline=build_timeline(start, end, [a.at for a in applications], visit_times, samples, markers, platforms),
        samples=sorted(samples, key=lambda s: s.at), peaks=compute_peaks(samples, platforms),
        platform_totals=platform_totals, markers=sorted(markers, key=lambda m: m.start),
        applications=sorted(applications, key=lambda a: a.at), visits=len(visit_times),
        unique_visitors=unique_visitors,
        platform_names={p.id: p.label for p in fair.platforms.values()},
        platform_meanings={p.id: p.meaning for p in fair.platforms.values() if p.meaning},
        distinct_applicants=distinct_applicants, tz=tz or CST, store_note=note,
    )


def collect(store: Store, fair: Any, show_name: str = "", now: datetime | None = None) -> FairReport:
    """Read everything the store holds about the fair into a masked FairReport.

    Counts come from `stats.figures`, the same computation as the live panel's."""
    tz = fair_timezone(fair)
    snap = store.snapshot()
    fig = stats.figures(snap)
    c = fig.counts
    rows = [ApplicationRow(_dt(a.created_at, tz), a.name_masked, a.phone_masked, a.job_id, a.employer_id,
                           a.withdrawn_at is not None) for a in snap.applications]
    jobs, employers = fair.jobs, fair.employers
    markers = []
    for m in snap.markers:
        if m.kind == "segment":
            label = employers[m.ref].name if m.ref in employers else m.ref
        else:
            label = f"{m.ref} {jobs[m.ref].title}" if m.ref in jobs else m.ref
        markers.append(Marker(m.kind, m.ref, label, _dt(m.started_at, tz),
                              _dt(m.ended_at, tz) if m.ended_at is not None else None))
    samples = [ViewerSample(_dt(s.at, tz), s.platform, int(s.count), s.source) for s in snap.viewer_samples]
    totals = [PlatformTotal(t.platform, METRIC_LABELS.get(t.metric, t.metric), _num(t.value), _dt(t.at, tz), t.note)
              for t in snap.platform_totals]
    visits = [_dt(v.at, tz) for v in snap.visits]
    empty = not (snap.applications or samples or visits or markers or totals)
    note = "数据库中还没有记录，所有数字为 0。 The store is empty: every figure is zero." if empty else ""
    return _assemble(
        fair, show_name,
        job_counts={j: (n, c.applicants_by_job_all.get(j, 0)) for j, n in c.by_job_all.items()},
        employer_counts={e: (n, c.applicants_by_employer_all.get(e, 0)) for e, n in c.by_employer_all.items()},
        applications=rows, distinct_applicants=c.applicants_all, visit_times=visits,
        unique_visitors=fig.visitors, samples=samples,
        markers=markers, platform_totals=totals, note=note, now=(now or datetime.now(tz)).astimezone(tz), tz=tz,
    )


def employer_contacts(store: Store, fair: Any) -> dict[str, list[Contact]]:
    """Full contacts per employer: only applications that consented to it and were not withdrawn."""
    tz = fair_timezone(fair)
    jobs = fair.jobs
    out: dict[str, list[Contact]] = {eid: [] for eid in fair.employers}
    for a in store.applications(include_withdrawn=False):
        # Consent is recorded per application row for exactly that row's employer.
        if a.withdrawn_at is not None or not a.phone or not a.consent_at or a.employer_id not in out:
            continue
        title = jobs[a.job_id].title if a.job_id in jobs else ""
        out[a.employer_id].append(Contact(_dt(a.created_at, tz), a.name, a.phone, a.job_id, title,
                                          _dt(a.consent_at, tz), a.notice_version))
    return out


def log_export(store: Store, files: list[tuple[str, str, bool]], note: str = "") -> None:
    """One export-log row per file written: (what, path, masked)."""
    at = time.time()
    for what, path, masked in files:
        store.log_export(what, masked, path, note=note, at=at)


def _dt(epoch: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)
