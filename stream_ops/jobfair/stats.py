"""The job fair's figures, computed once: pure functions over store records, no I/O.

The live service (`stats()`, `summary()`, `overlay_context()`, events) and the export
(`report.collect`) both call `figures()`, so the number on the panel and the number in
the report are the same computation. Conventions, stated once:

- An application is one phone for one job (repeats folded by the store). `active`
  excludes withdrawn ones; the report's "job applications" counts every row and says
  how many were withdrawn (live total = report total − withdrawn).
- An applicant is one person (a salted hash of the phone that survives withdrawal).
- A platform's sampled peak is the FIRST time the highest sample was reached.
- Minutes are bucketed on the epoch minute (every real time zone is a whole number
  of minutes off UTC), and shown on the fair's clock (`fair_timezone`).
- Visits: apply-page views; unique = distinct browsers (a cookie id, salted hash).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Protocol, Sequence

from .store import Application, Marker, PlatformTotal, Snapshot, ViewerSample, Visit

CST = dt.timezone(dt.timedelta(hours=8), "CST")   # China Standard Time (no DST): the default

TOTAL_METRICS = {
    "total_viewers": "累计观看人数（平台控制台，活动结束后） / total audience from the platform console",
    "peak_online": "最高在线人数（平台控制台） / peak concurrent viewers from the platform console",
    "unique_viewers": "去重观看人数 / unique viewers as the platform counts them",
    "views": "观看次数 / views (plays, not people)",
    "likes": "点赞数 / likes",
    "comments": "评论数 / comments",
    "shares": "分享数 / shares",
    "new_followers": "新增关注 / new followers",
    "avg_watch_s": "人均观看时长（秒） / average watch time, seconds",
}
# Short column labels of the same metrics for tables (every metric has one).
METRIC_LABELS = {
    "total_viewers": "累计观看人数 total viewers", "peak_online": "峰值在线 peak online",
    "unique_viewers": "去重观看人数 unique viewers", "views": "观看次数 views",
    "likes": "点赞 likes", "comments": "评论 comments", "shares": "分享 shares",
    "new_followers": "新增关注 new followers", "avg_watch_s": "人均观看时长(秒) avg watch (s)",
}


def fair_timezone(fair: Any) -> dt.tzinfo:
    """The fair's own clock: its sessions' offset, else China Standard Time (as the show file assumes)."""
    for s in getattr(fair, "sessions", ()):
        if s.start is not None and s.start.tzinfo is not None:
            return s.start.tzinfo
    return CST


def iso(t: float | None, tz: dt.tzinfo) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


def minute_of(t: float) -> int:
    return int(t // 60 * 60)


# --------------------------------------------------------------------------- applications

@dataclass(frozen=True)
class Counts:
    rows: int                                   # every application, withdrawn ones included
    withdrawn: int
    applicants: int                             # distinct people with an active application
    applicants_all: int                         # distinct people who ever applied
    by_job: dict[str, int]                      # active
    by_employer: dict[str, int]                 # active
    by_job_all: dict[str, int]                  # withdrawn included
    by_employer_all: dict[str, int]
    applicants_by_job_all: dict[str, int]
    applicants_by_employer_all: dict[str, int]

    @property
    def active(self) -> int:
        return self.rows - self.withdrawn


def count_applications(apps: Iterable[Application]) -> Counts:
    t = Tally()
    t.add_applications(apps)
    return t.counts()


# --------------------------------------------------------------------------- viewers

class _Sample(Protocol):
    platform: str
    count: int
    source: str

    @property
    def at(self) -> Any: ...


@dataclass(frozen=True)
class Peak:
    platform: str
    count: int
    at: Any                                     # whatever the samples carry (epoch or datetime)
    source: str
    samples: int


def peaks(samples: Iterable[_Sample]) -> dict[str, Peak]:
    """Per platform: the highest sample, the FIRST time it was reached, and how many samples."""
    best: dict[str, _Sample] = {}
    n: Counter[str] = Counter()
    for s in sorted(samples, key=lambda s: s.at):
        n[s.platform] += 1
        if s.platform not in best or s.count > best[s.platform].count:
            best[s.platform] = s
    return {p: Peak(p, s.count, s.at, s.source, n[p]) for p, s in best.items()}


def latest(samples: Iterable[ViewerSample]) -> dict[str, ViewerSample]:
    """Per platform: the last sample (samples come ordered by time, then by insertion)."""
    out: dict[str, ViewerSample] = {}
    for s in samples:
        if s.platform not in out or s.at >= out[s.platform].at:
            out[s.platform] = s
    return out


def latest_totals(totals: Iterable[PlatformTotal]) -> dict[str, dict[str, PlatformTotal]]:
    """Per platform and metric: the figure typed in last (a correction replaces a typo)."""
    out: dict[str, dict[str, PlatformTotal]] = {}
    for t in totals:
        out.setdefault(t.platform, {})[t.metric] = t
    return out


# --------------------------------------------------------------------------- markers

def on_air_seconds(markers: Iterable[Marker], until: float) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds on air: (featured per job, segment per employer); an open marker runs to `until`."""
    featured: dict[str, float] = {}
    segments: dict[str, float] = {}
    for m in markers:
        bucket = featured if m.kind == "feature" else segments
        end = m.ended_at if m.ended_at is not None else until
        bucket[m.ref] = bucket.get(m.ref, 0.0) + max(0.0, end - m.started_at)
    return featured, segments


# --------------------------------------------------------------------------- everything

@dataclass(frozen=True)
class Figures:
    """Every live figure of a fair at one store revision."""

    revision: Hashable
    counts: Counts
    peaks: dict[str, Peak]
    current: dict[str, ViewerSample]
    visits: int
    visitors: int
    totals: dict[str, dict[str, PlatformTotal]]
    apps_per_minute: dict[int, int] = field(default_factory=dict)
    visits_per_minute: dict[int, int] = field(default_factory=dict)
    viewers_per_minute: dict[int, dict[str, int]] = field(default_factory=dict)
    samples: int = 0


class Tally:
    """The running sums behind `Figures`, fed rows in id order: a refresh costs only the new rows.

    Applications are only ever added here; a withdrawal changes an old row, so the caller
    starts a new Tally from everything (`figures()` does exactly that).
    """

    def __init__(self) -> None:
        self.rows = self.withdrawn = 0
        self.by_job: Counter[str] = Counter()
        self.by_employer: Counter[str] = Counter()
        self.by_job_all: Counter[str] = Counter()
        self.by_employer_all: Counter[str] = Counter()
        self.people: set[str] = set()
        self.people_all: set[str] = set()
        self.job_people: dict[str, set[str]] = {}
        self.employer_people: dict[str, set[str]] = {}
        self.apm: Counter[int] = Counter()
        self.vpm: Counter[int] = Counter()
        self.visits = 0
        self.visitors: set[str] = set()
        self.viewers: dict[int, dict[str, int]] = {}
        self.best: dict[str, ViewerSample] = {}
        self.sample_n: Counter[str] = Counter()
        self.current: dict[str, ViewerSample] = {}
        self.app_id = self.visit_id = self.sample_id = 0    # highest id seen of each

    def add_applications(self, apps: Iterable[Application]) -> None:
        for a in apps:
            who = a.person or a.phone or f"row{a.id}"
            self.rows += 1
            self.by_job_all[a.job_id] += 1
            self.by_employer_all[a.employer_id] += 1
            self.people_all.add(who)
            self.job_people.setdefault(a.job_id, set()).add(who)
            self.employer_people.setdefault(a.employer_id, set()).add(who)
            self.apm[minute_of(a.created_at)] += 1
            if a.withdrawn_at is None:
                self.by_job[a.job_id] += 1
                self.by_employer[a.employer_id] += 1
                self.people.add(who)
            else:
                self.withdrawn += 1
            self.app_id = max(self.app_id, a.id)

    def add_visits(self, visits: Iterable[Visit]) -> None:
        for v in visits:
            self.visits += 1
            self.vpm[minute_of(v.at)] += 1
            if v.visitor:
                self.visitors.add(v.visitor)
            self.visit_id = max(self.visit_id, v.id)

    def add_samples(self, samples: Iterable[ViewerSample]) -> None:
        for s in samples:
            self.sample_n[s.platform] += 1
            self.viewers.setdefault(minute_of(s.at), {})[s.platform] = s.count
            b = self.best.get(s.platform)
            if b is None or s.count > b.count or (s.count == b.count and s.at < b.at):   # first maximum
                self.best[s.platform] = s
            c = self.current.get(s.platform)
            if c is None or s.at >= c.at:
                self.current[s.platform] = s
            self.sample_id = max(self.sample_id, s.id)

    def counts(self) -> Counts:
        return Counts(self.rows, self.withdrawn, len(self.people), len(self.people_all), dict(self.by_job),
                      dict(self.by_employer), dict(self.by_job_all), dict(self.by_employer_all),
                      {j: len(p) for j, p in self.job_people.items()},
                      {e: len(p) for e, p in self.employer_people.items()})

    def figures(self, totals: Iterable[PlatformTotal], revision: Hashable = None) -> Figures:
        peaks_ = {p: Peak(p, s.count, s.at, s.source, self.sample_n[p]) for p, s in self.best.items()}
        return Figures(revision, self.counts(), peaks_, dict(self.current), self.visits, len(self.visitors),
                       latest_totals(totals), dict(self.apm), dict(self.vpm),
                       {m: dict(v) for m, v in self.viewers.items()}, sum(self.sample_n.values()))


def tally(snap: Snapshot) -> Tally:
    t = Tally()
    t.add_applications(sorted(snap.applications, key=lambda a: a.id))
    t.add_visits(snap.visits)
    t.add_samples(snap.viewer_samples)
    return t


def figures(snap: Snapshot) -> Figures:
    """All figures from one snapshot of the store."""
    return tally(snap).figures(snap.platform_totals, snap.revision)


def timeline(f: Figures, tz: dt.tzinfo, max_minutes: int = 24 * 60) -> list[dict]:
    """Per minute: new applications, apply-page visits, last viewer figure per platform."""
    minutes = set(f.apps_per_minute) | set(f.visits_per_minute) | set(f.viewers_per_minute)
    if not minutes:
        return []
    first, last = min(minutes), max(minutes)
    first = max(first, last - (max_minutes - 1) * 60)
    return [{"minute": iso(m, tz), "t": m, "applications": f.apps_per_minute.get(m, 0),
             "visits": f.visits_per_minute.get(m, 0), "viewers": dict(f.viewers_per_minute.get(m, {}))}
            for m in range(first, last + 60, 60)]


def empty() -> Figures:
    return figures(Snapshot(None, [], [], [], [], []))


def sorted_platforms(configured: Sequence[str], seen: Iterable[str]) -> list[str]:
    """The show file's platforms first, then any that only appear in samples."""
    return list(dict.fromkeys([*configured, *seen]))
