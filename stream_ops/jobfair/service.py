"""The running job fair: featured job, segments, applications, viewers, live stats.

`JobFairService` owns the fair's live state. The web routes and the engine call it on
the asyncio loop; every change is committed to the store, then published as a
`jobfair` event, so WebSocket clients see the same values as `stats()`.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterable

import httpx

from . import privacy
from ..refusal import Refusal
from .model import JobFair
from .store import DB_NAME, ApplyResult, NewApplication, PlatformTotal, SqliteStore, Store, ViewerSample, Visit
from .viewers import Poller, PollerState, make_poller

log = logging.getLogger(__name__)

FAIR_TZ = dt.timezone(dt.timedelta(hours=8))    # China Standard Time (no DST)
PUBLISH_COALESCE_S = 0.25                       # application bursts: one event per quarter second
TIMELINE_MAX_MINUTES = 24 * 60

SOURCE_MEANING = {
    "manual": "导播从平台后台抄录的数字（通常为实时在线人数）/ figure typed from the platform back office",
    "webhook": "平台回调推送的数字 / figure pushed by a webhook",
    "youtube": "YouTube concurrentViewers：此刻正在观看的人数 / people watching now",
    "twitch": "Twitch viewer_count：此刻正在观看的人数 / people watching now",
}
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



@dataclass(frozen=True)
class ApplyRequest:
    """A validated application: one person, one or more jobs, consent for each employer."""

    name: str
    phone: str
    job_ids: tuple[str, ...]
    employer_ids: tuple[str, ...]


def minute_of(t: float) -> int:
    return int(t // 60 * 60)


def iso(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, FAIR_TZ).isoformat(timespec="seconds")


class JobFairService:
    """Live state of one fair, backed by a `Store`."""

    def __init__(self, fair: JobFair, show_name: str, data_dir: Path,
                 publish: Callable[[str, dict], None] | None = None, public_url: str | None = None,
                 *, port: int = 8000, store: Store | None = None) -> None:
        self.fair = fair
        self.show_name = show_name
        self.data_dir = Path(data_dir)
        self.publish = publish
        self.public_url = public_url.rstrip("/") if public_url else None
        self.port = port
        self.store: Store = store or SqliteStore(self.data_dir / DB_NAME)
        self.notice_version = fair.notice_version
        self.pollers: list[Poller] = []
        self._tasks: list[asyncio.Task] = []
        self._pending: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None
        self._publish_handle: asyncio.TimerHandle | None = None
        self._load()

    # ------------------------------------------------------------------ lifecycle

    def _load(self) -> None:
        """Rebuild the aggregates from the store (a restart continues where it stopped)."""
        self.by_job: Counter[str] = Counter()
        self.by_employer: Counter[str] = Counter()
        self.phones: Counter[str] = Counter()          # active applications per phone
        self.withdrawn = 0
        self.apps_per_minute: Counter[int] = Counter()
        self.visits_per_minute: Counter[int] = Counter()
        self.viewers_per_minute: dict[int, dict[str, int]] = defaultdict(dict)
        self.current: dict[str, dict[str, Any]] = {}   # platform -> {count, at, source}
        self.peak: dict[str, dict[str, Any]] = {}
        self.visits = 0
        self.visitors: set[str] = set()
        self.totals: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.featured: dict[str, Any] | None = None     # {job, started_at}
        self.segment: dict[str, Any] | None = None      # {employer, started_at}
        self.markers_log: list[dict[str, Any]] = []
        for app in self.store.applications():
            if app.withdrawn_at is None:
                self._count_application(app.job_id, app.employer_id, app.phone or "", app.created_at)
            else:
                self.withdrawn += 1
                self.apps_per_minute[minute_of(app.created_at)] += 1
        for s in self.store.viewer_samples():
            self._count_sample(s)
        for v in self.store.visits():
            self._count_visit(v)
        for t in self.store.platform_totals():
            self.totals[t.platform][t.metric] = {"value": t.value, "note": t.note, "at": t.at}
        for m in self.store.markers():
            self.markers_log.append({"kind": m.kind, "ref": m.ref, "started_at": m.started_at, "ended_at": m.ended_at})
            if m.ended_at is None and m.kind == "feature" and self.fair.job(m.ref):
                self.featured = {"job": m.ref, "started_at": m.started_at}
            if m.ended_at is None and m.kind == "segment" and m.ref in self.fair.employers:
                self.segment = {"employer": m.ref, "started_at": m.started_at}

    async def start(self) -> None:
        """Start the viewer pollers of platforms that have `poll:` configured."""
        self._client = httpx.AsyncClient(timeout=10.0, headers={"User-Agent": "stream-ops"})
        for platform in self.fair.platforms.values():
            poller = make_poller(platform, self._client, self._record_polled, self._poller_changed)
            if poller:
                self.pollers.append(poller)
                self._tasks.append(asyncio.create_task(poller.run(), name=f"viewers-{platform.id}"))

    async def close(self) -> None:
        """Stop pollers, finish pending writes, close the store. Open markers stay open (a restart resumes)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._client:
            await self._client.aclose()
        if self._publish_handle:
            self._publish_handle.cancel()
        await asyncio.to_thread(self.store.close)

    # ------------------------------------------------------------------ on air

    def feature(self, job_id: str | None) -> dict:
        """Put a job on air (None takes it off). Ends the previous feature at the same instant."""
        if job_id is not None and self.fair.job(job_id) is None:
            raise Refusal(404, f"没有岗位 {job_id} / unknown job {job_id}", "unknown_job")
        ended = self._switch("feature", "job", job_id)
        result = {"featured": self._featured_dict(), "ended": ended, "apply_url": self.apply_url()}
        self._emit("feature", **result)
        return result

    def start_segment(self, employer_id: str | None) -> dict:
        """Start an employer's segment (None ends it). A featured job of another employer goes off air."""
        if employer_id is not None and employer_id not in self.fair.employers:
            raise Refusal(404, f"没有用人单位 {employer_id} / unknown employer {employer_id}", "unknown_employer")
        ended = self._switch("segment", "employer", employer_id)
        if self.featured and employer_id and self.fair.jobs[self.featured["job"]].employer_id != employer_id:
            # Never show one employer's job card during another employer's segment.
            self.feature(None)
        result = {"segment": self._segment_dict(), "ended": ended}
        self._emit("segment", **result)
        return result

    def _switch(self, kind: str, key: str, ref: str | None) -> dict | None:
        """End the running `kind` marker and start one for `ref` (None: only end it).

        The live state (`featured` / `segment`) changes at once; the store write is
        queued (see `written`). Returns the marker that ended, if any.
        """
        at = time.time()
        ended = self._end_local(kind, at)
        attr = "featured" if kind == "feature" else "segment"
        if ref is None:
            setattr(self, attr, None)
            self._persist(self.store.end_marker(kind, at))
        else:
            setattr(self, attr, {key: ref, "started_at": at})
            self._start_local(kind, ref, at)
            self._persist(self.store.start_marker(kind, ref, at))
        return ended

    def _start_local(self, kind: str, ref: str, at: float) -> None:
        self.markers_log.append({"kind": kind, "ref": ref, "started_at": at, "ended_at": None})

    def _end_local(self, kind: str, at: float) -> dict | None:
        ended = None
        for m in self.markers_log:
            if m["kind"] == kind and m["ended_at"] is None:
                m["ended_at"] = at
                ended = {**m, "started": iso(m["started_at"]), "ended": iso(at)}
        return ended

    async def written(self) -> None:
        """Wait until every marker change so far is committed."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _persist(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(coro)   # called outside the loop (tools, tests): write now
            return
        task = loop.create_task(coro)
        self._pending.add(task)

        def done(t: asyncio.Task) -> None:
            self._pending.discard(t)
            if not t.cancelled() and t.exception():
                log.error("job fair: could not store a marker: %s", t.exception())

        task.add_done_callback(done)

    # ------------------------------------------------------------------ applications

    def validate(self, name: Any, phone: Any, jobs: Any, consents: Any) -> ApplyRequest:
        """Check a submission; raises Refusal(422) with a message for the applicant."""
        if not isinstance(name, str) or not isinstance(phone, str):
            raise Refusal(422, "请填写姓名和手机号 / name and mobile are required", "missing")
        name = privacy.normalize_name(name)
        if not name:
            raise Refusal(422, "请填写姓名 / name is required", "name")
        if not privacy.valid_name(name):
            raise Refusal(422, "姓名应为 1–20 个字，只含汉字、字母、空格或“·” / name: 1-20 letters", "name")
        phone = privacy.normalize_mobile(phone)
        if not privacy.valid_mobile(phone):
            raise Refusal(422, "手机号应为 11 位中国大陆手机号，如 13800138000 / a mainland mobile number", "phone")
        if isinstance(jobs, str):
            jobs = [jobs]
        if not isinstance(jobs, (list, tuple)) or not jobs or not all(isinstance(j, str) for j in jobs):
            raise Refusal(422, "请至少选择一个岗位 / choose at least one job", "job")
        job_ids = tuple(dict.fromkeys(j.strip() for j in jobs))
        if len(job_ids) > self.fair.apply.max_jobs:
            raise Refusal(422, f"一次最多投递 {self.fair.apply.max_jobs} 个岗位 / at most "
                               f"{self.fair.apply.max_jobs} jobs at once", "job")
        for j in job_ids:
            if self.fair.job(j) is None:
                raise Refusal(422, f"岗位 {j[:40]} 不存在 / unknown job", "unknown_job")
        employers = tuple(dict.fromkeys(self.fair.jobs[j].employer_id for j in job_ids))
        consented = _consent_set(consents)
        missing = [e for e in employers if e not in consented]
        if missing:
            names = "、".join(self.fair.employers[e].name for e in missing)
            raise Refusal(422, f"请勾选同意将信息提供给：{names} / consent is needed for each employer", "consent")
        return ApplyRequest(name, phone, job_ids, employers)

    async def apply(self, req: ApplyRequest, ip: str = "", user_agent: str = "", source: str = "form") -> dict:
        """Store the application (returns after the commit) and count it.

        `status` is "created" if any job is new for this phone, else "already_applied".
        """
        ip_hash = privacy.hash_ip(ip, self.store.salt) if ip else ""
        apps = [NewApplication(req.name, req.phone, j, self.fair.jobs[j].employer_id, self.notice_version,
                               ip_hash, user_agent[:120], source) for j in req.job_ids]
        results: list[ApplyResult] = await self.store.add_applications(apps)
        for r in results:
            if r.created:
                a = r.application
                self._count_application(a.job_id, a.employer_id, a.phone or "", a.created_at)
        created = [r for r in results if r.created]
        if created:
            self._schedule_publish()
        return {
            "status": "created" if created else "already_applied",
            "applications": [{"job": r.application.job_id, "title": self.fair.jobs[r.application.job_id].title,
                              "employer": self.fair.employers[r.application.employer_id].name,
                              "status": "created" if r.created else "already_applied"} for r in results],
            "withdraw_code": results[0].application.withdraw_code if results else None,
            "phone": privacy.mask_phone(req.phone),
            "name": privacy.mask_name(req.name),
        }

    async def withdraw(self, phone: Any, code: Any = None, job_id: Any = None) -> dict:
        """Withdraw consent (phone + code: everything; phone + job: that job). Data is masked at once."""
        phone = privacy.normalize_mobile(phone if isinstance(phone, str) else "")
        if not privacy.valid_mobile(phone):
            raise Refusal(422, "手机号应为 11 位中国大陆手机号 / a mainland mobile number", "phone")
        code = code.strip().upper() if isinstance(code, str) and code.strip() else None
        job_id = job_id.strip() if isinstance(job_id, str) and job_id.strip() else None
        if not code and not job_id:
            raise Refusal(422, "请填写撤回码（或岗位）/ the withdrawal code (or the job) is needed", "missing")
        if code and len(code) > 20:
            raise Refusal(422, "撤回码格式不正确 / invalid code", "code")
        done = await self.store.withdraw(phone, code, job_id)
        for app in done:
            self.by_job[app.job_id] -= 1
            self.by_employer[app.employer_id] -= 1
            self.phones[phone] -= 1
            if self.phones[phone] <= 0:
                del self.phones[phone]
            self.withdrawn += 1
        if done:
            self._schedule_publish()
        return {"withdrawn": len(done), "jobs": [a.job_id for a in done], "phone": privacy.mask_phone(phone)}

    def _count_application(self, job_id: str, employer_id: str, phone: str, at: float) -> None:
        self.by_job[job_id] += 1
        self.by_employer[employer_id] += 1
        if phone:
            self.phones[phone] += 1
        self.apps_per_minute[minute_of(at)] += 1

    def applications(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Newest applications, masked (blocking read: call via asyncio.to_thread on the loop)."""
        rows = (self.store.recent_applications(limit, offset) if hasattr(self.store, "recent_applications")
                else list(reversed(self.store.applications()))[offset:offset + limit])
        out = []
        for a in rows:
            d = a.masked()
            job = self.fair.job(a.job_id)
            d.update(created=iso(a.created_at), job_title=job.title if job else "",
                     employer_name=self.fair.employers[a.employer_id].name if a.employer_id in self.fair.employers
                     else "")
            out.append(d)
        return out

    # ------------------------------------------------------------------ visits and viewers

    async def visit(self, job_id: str | None, ip: str, path: str = "/apply") -> None:
        """Count a view of the apply page (our own funnel, comparable across platforms)."""
        if job_id is not None and self.fair.job(job_id) is None:
            job_id = None
        v = Visit(time.time(), path, job_id, privacy.hash_ip(ip, self.store.salt) if ip else "")
        await self.store.add_visit(v)
        self._count_visit(v)

    def _count_visit(self, v: Visit) -> None:
        self.visits += 1
        if v.ip_hash:
            self.visitors.add(v.ip_hash)
        self.visits_per_minute[minute_of(v.at)] += 1

    async def add_viewer_sample(self, platform: Any, count: Any, source: Any = "manual", note: Any = "") -> dict:
        """Record a platform's viewer figure with where it came from; committed before returning."""
        if not isinstance(platform, str) or platform not in self.fair.platforms:
            raise Refusal(422, f"unknown platform {str(platform)[:40]!r}: one of {', '.join(self.fair.platforms)}", "platform")
        if isinstance(count, bool) or not isinstance(count, int):
            raise Refusal(422, "count must be a whole number / 人数须为整数", "count")
        if count < 0 or count > 10**10:
            raise Refusal(422, "count must be between 0 and 10^10", "count")
        if not isinstance(source, str) or not source.strip() or len(source) > 40:
            raise Refusal(422, "source: a short word such as manual or webhook", "source")
        if not isinstance(note, str) or len(note) > 200:
            raise Refusal(422, "note: text up to 200 characters", "note")
        sample = ViewerSample(time.time(), platform, count, source.strip(), note)
        await self.store.add_viewer_sample(sample)
        self._count_sample(sample)
        self._emit("viewers", platform=platform, viewers=self._viewers_dict()["platforms"][platform],
                   overlay_viewers=self._primary_count())
        return {"platform": platform, "count": count, "source": sample.source, "at": iso(sample.at)}

    async def _record_polled(self, platform: str, count: int, source: str) -> None:
        await self.add_viewer_sample(platform, count, source)

    def _poller_changed(self, state: PollerState) -> None:
        self._emit("poller", poller=state.as_dict())

    def _count_sample(self, s: ViewerSample) -> None:
        self.current[s.platform] = {"count": s.count, "at": s.at, "source": s.source}
        if s.count >= self.peak.get(s.platform, {}).get("count", -1):
            self.peak[s.platform] = {"count": s.count, "at": s.at, "source": s.source}
        self.viewers_per_minute[minute_of(s.at)][s.platform] = s.count

    async def add_total(self, platform: Any, metric: Any, value: Any, note: Any = "") -> dict:
        """A post-event figure from a platform's console (e.g. WeChat Channels total audience)."""
        if not isinstance(platform, str) or platform not in self.fair.platforms:
            raise Refusal(422, f"unknown platform: one of {', '.join(self.fair.platforms)}", "platform")
        if not isinstance(metric, str) or metric not in TOTAL_METRICS:
            raise Refusal(422, f"metric: one of {', '.join(TOTAL_METRICS)}", "metric")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
            raise Refusal(422, "value: a number, at least 0", "value")
        if not isinstance(note, str) or len(note) > 200:
            raise Refusal(422, "note: text up to 200 characters", "note")
        total = PlatformTotal(time.time(), platform, metric, float(value), note)
        await self.store.add_platform_total(total)
        self.totals[platform][metric] = {"value": total.value, "note": note, "at": total.at}
        self._emit("totals", platform=platform, metric=metric, value=total.value)
        return {"platform": platform, "metric": metric, "value": total.value, "meaning": TOTAL_METRICS[metric]}

    # ------------------------------------------------------------------ reading

    def apply_url(self, job_id: str | None = None) -> str:
        """The apply page of `job_id` (default: the featured job) as phones reach it."""
        base = self.public_url or f"http://127.0.0.1:{self.port}"
        job_id = job_id or (self.featured or {}).get("job")
        return f"{base}/apply?job={job_id}" if job_id else f"{base}/apply"

    def _primary_count(self) -> int | None:
        primary = self.fair.primary_platform
        return self.current.get(primary, {}).get("count") if primary else None

    def _featured_dict(self) -> dict | None:
        if not self.featured:
            return None
        job = self.fair.jobs[self.featured["job"]]
        return {"job": job.id, "title": job.title, "employer": job.employer_id,
                "started_at": self.featured["started_at"], "started": iso(self.featured["started_at"])}

    def _segment_dict(self) -> dict | None:
        if not self.segment:
            return None
        e = self.fair.employers[self.segment["employer"]]
        return {"employer": e.id, "name": e.name, "started_at": self.segment["started_at"],
                "started": iso(self.segment["started_at"])}

    def _viewers_dict(self) -> dict:
        platforms = {}
        for pid, p in self.fair.platforms.items():
            cur, peak = self.current.get(pid), self.peak.get(pid)
            source = (cur or {}).get("source")
            platforms[pid] = {
                "label": p.label,
                "current": cur["count"] if cur else None,
                "current_at": iso(cur["at"]) if cur else None,
                "source": source,
                "peak": peak["count"] if peak else None,
                "peak_at": iso(peak["at"]) if peak else None,
                "meaning": p.meaning or SOURCE_MEANING.get(source or "", SOURCE_MEANING["manual"]),
                "peak_meaning": "本系统收到的样本中的最大值，不是平台自己的峰值 / highest sample received here; "
                                "the platform's own peak goes in totals.peak_online",
            }
        return {"primary": self.fair.primary_platform, "platforms": platforms,
                "note": "各平台人数不可相加：同一人可能在多个平台观看 / platforms are never added up: "
                        "one person may watch on several"}

    def summary(self) -> dict:
        """The compact live figures (no timeline): what events carry."""
        return {
            "applications": {
                "total": sum(self.by_job.values()),
                "applicants": len(self.phones),
                "withdrawn": self.withdrawn,
                "by_job": {j: self.by_job.get(j, 0) for j in self.fair.jobs},
                "by_employer": {e: self.by_employer.get(e, 0) for e in self.fair.employers},
                "meaning": "total = 有效投递（人×岗位）；applicants = 不同手机号 / total counts person×job, "
                           "applicants counts distinct phones; withdrawn ones excluded",
            },
            "viewers": self._viewers_dict(),
            "visits": {"total": self.visits, "unique": len(self.visitors),
                       "meaning": "报名页打开次数与不同来源地址数（本系统自计） / apply-page views and distinct "
                                  "client addresses, counted here"},
            "featured": self._featured_dict(),
            "segment": self._segment_dict(),
        }

    def stats(self) -> dict:
        """Everything the panel and the report need, including the per-minute timeline."""
        out = self.summary()
        out["event"] = {"name": self.fair.event.name, "organizer": self.fair.event.organizer, "show": self.show_name}
        out["totals"] = {p: {m: {**v, "at": iso(v["at"]), "meaning": TOTAL_METRICS.get(m, "")} for m, v in ms.items()}
                         for p, ms in self.totals.items()}
        out["markers"] = [{**m, "started": iso(m["started_at"]), "ended": iso(m["ended_at"])}
                          for m in self.markers_log]
        out["pollers"] = [p.state.as_dict() for p in self.pollers]
        out["timeline"] = self.timeline()
        # Names for the panel's pickers (ids alone mean nothing to an operator under pressure).
        out["employers"] = [{"id": e.id, "name": e.name} for e in self.fair.employers.values()]
        out["jobs"] = [{"id": j.id, "title": j.title, "employer": e.id} for e in self.fair.employers.values() for j in e.jobs]
        return out

    def timeline(self) -> list[dict]:
        """Per minute: new applications, apply-page visits, last viewer figure per platform."""
        minutes = set(self.apps_per_minute) | set(self.visits_per_minute) | set(self.viewers_per_minute)
        if not minutes:
            return []
        first, last = min(minutes), max(minutes)
        first = max(first, last - (TIMELINE_MAX_MINUTES - 1) * 60)
        out = []
        for m in range(first, last + 60, 60):
            out.append({"minute": iso(m), "t": m, "applications": self.apps_per_minute.get(m, 0),
                        "visits": self.visits_per_minute.get(m, 0),
                        "viewers": dict(self.viewers_per_minute.get(m, {}))})
        return out

    def overlay_context(self) -> dict:
        """Values for on-screen templates: {{ job.title }}, {{ stats.viewers }}, {{ apply_url }} ...

        `stats.viewers` is the latest figure of the primary platform only (see
        `stats.viewers_platform`), never a sum across platforms.
        """
        job_d: dict[str, Any] = {}
        employer_d: dict[str, Any] = {}
        if self.featured:
            job = self.fair.jobs[self.featured["job"]]
            job_d = job.as_dict()
            job_d["benefits_text"] = " · ".join(job.benefits)
            employer_d = self.fair.employers[job.employer_id].as_dict()
        elif self.segment:
            employer_d = self.fair.employers[self.segment["employer"]].as_dict()
        primary = self.fair.primary_platform
        viewers = self._primary_count()
        return {
            "event": {"name": self.fair.event.name, "organizer": self.fair.event.organizer,
                      "contact": self.fair.event.contact},
            "job": job_d,
            "employer": employer_d,
            "stats": {
                "applicants": len(self.phones),
                "applications": sum(self.by_job.values()),
                "job_applications": self.by_job.get(job_d.get("id", ""), 0) if job_d else 0,
                "viewers": viewers if viewers is not None else "",
                "viewers_platform": self.fair.platforms[primary].label if primary else "",
                "viewers_by_platform": {p: c["count"] for p, c in self.current.items()},
                "visits": self.visits,
            },
            "apply_url": self.apply_url(),
        }

    # ------------------------------------------------------------------ events

    def _emit(self, kind: str, **data: Any) -> None:
        if self.publish is None:
            return
        try:
            self.publish("jobfair", {"kind": kind, **data})
        except Exception:  # a broken subscriber must not fail the request
            log.exception("job fair: publish failed")

    def _schedule_publish(self) -> None:
        """Coalesce application bursts into one event per PUBLISH_COALESCE_S."""
        if self.publish is None or self._publish_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._emit_applications()
            return
        self._publish_handle = loop.call_later(PUBLISH_COALESCE_S, self._emit_applications)

    def _emit_applications(self) -> None:
        self._publish_handle = None
        summary = self.summary()
        self._emit("applications", applications=summary["applications"], applicants=len(self.phones))


def _consent_set(consents: Any) -> set[str]:
    """Employer ids consented to, from a list, a {id: true} mapping or a single id."""
    if isinstance(consents, str):
        return {consents}
    if isinstance(consents, dict):
        return {str(k) for k, v in consents.items() if v is True or v in ("on", "yes", "1", "true")}
    if isinstance(consents, (list, tuple, set)):
        return {c for c in consents if isinstance(c, str)}
    return set()


def job_groups(fair: JobFair, first: str | None = None) -> Iterable[tuple[Any, list[Any]]]:
    """Employers with their jobs for the apply page; the employer of job `first` comes first."""
    employers = list(fair.employers.values())
    if first and fair.job(first):
        eid = fair.jobs[first].employer_id
        employers.sort(key=lambda e: e.id != eid)
    for e in employers:
        yield e, list(e.jobs)
