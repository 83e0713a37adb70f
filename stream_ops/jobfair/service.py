"""The running job fair: featured job, segments, applications, viewers, live stats.

`JobFairService` owns the fair's live state. The web routes and the engine call it on
the asyncio loop; every change is committed to the store, then published as a
`jobfair` event, so WebSocket clients see the same values as `stats()`. The figures
are `stats.figures()` over the store, refreshed when the store's revision changes, so
applications taken by the public service (another process, other hosts) count here too.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterable

import httpx

from . import privacy, stats
from ..refusal import Refusal
from .model import JobFair
from .stats import TOTAL_METRICS, Figures, iso as _iso
from .store import (NewApplication, PlatformTotal, Store, StoreUnavailable, ViewerSample, Visit, canonical_code,
                    new_withdraw_code, salted_hash, CODE_ALPHABET)
from .stores import open_store
from .viewers import Poller, PollerState, make_poller

log = logging.getLogger(__name__)

PUBLISH_COALESCE_S = 0.25                       # application bursts: one event per quarter second
REFRESH_S = 0.5                                 # how often the store's revision is polled
VISIT_FLUSH_S = 1.0                             # visits are written in batches, at least this often...
VISIT_FLUSH_N = 500                             # ...or once this many are waiting
VISIT_BUFFER_MAX = 100_000                      # store down: keep counting, but not without bound
TIMELINE_MAX_MINUTES = 24 * 60

SOURCE_MEANING = {
    "manual": "导播从平台后台抄录的数字（通常为实时在线人数）/ figure typed from the platform back office",
    "webhook": "平台回调推送的数字 / figure pushed by a webhook",
    "youtube": "YouTube concurrentViewers：此刻正在观看的人数 / people watching now",
    "twitch": "Twitch viewer_count：此刻正在观看的人数 / people watching now",
}
WITHDRAW_RECEIVED = ("已收到撤回申请：如手机号与撤回码相符，相应报名已撤回，信息已遮盖，不再提供给用人单位。"
                     "忘记撤回码请联系主办方。 Received: if the mobile number and the code match an application, "
                     "it is withdrawn and its data masked. Forgot the code? Contact the organiser.")
ALREADY_APPLIED = ("您已报名过这些岗位，无需重复提交；撤回请使用第一次报名时的撤回码，或联系主办方。 "
                   "You had already applied for these jobs; to withdraw, use the code from your first "
                   "application or contact the organiser.")
STORE_DOWN = "暂时无法保存，请稍后再试 / could not be stored just now, please try again"


@dataclass(frozen=True)
class ApplyRequest:
    """A validated application: one person, one or more jobs, consent for each employer."""

    name: str
    phone: str
    job_ids: tuple[str, ...]
    employer_ids: tuple[str, ...]


class JobFairService:
    """Live state of one fair, backed by a `Store`.

    Figures come from the store (`stats.figures` over a snapshot), so applications taken
    by another process (the public service, other hosts) show up here: `start()` polls
    `store.revision()` every REFRESH_S and recomputes off the event loop when it changed.
    """

    def __init__(self, fair: JobFair, show_name: str, data_dir: Path,
                 publish: Callable[[str, dict], None] | None = None, public_url: str | None = None,
                 *, port: int = 8000, store: Store | None = None) -> None:
        self.fair = fair
        self.show_name = show_name
        self.data_dir = Path(data_dir)
        self.publish = publish
        self.public_url = public_url.rstrip("/") if public_url else None
        self.port = port
        self.store: Store = store or open_store(fair.store, self.data_dir, fair.store_password)  # type: ignore[assignment]
        self.tz = stats.fair_timezone(fair)
        self.notice_version = fair.notice_version
        self.pollers: list[Poller] = []
        self._tasks: list[asyncio.Task] = []
        self._pending: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None
        self._publish_handle: asyncio.TimerHandle | None = None
        self._visits: list[Visit] = []
        self._visits_dropped = 0
        self._wake_refresh: asyncio.Event | None = None
        self._wake_flush: asyncio.Event | None = None
        self._stale = False                              # this process wrote since the last refresh
        self._load()

    # ------------------------------------------------------------------ lifecycle

    def _load(self) -> None:
        """Figures and the on-air state from the store (a restart continues where it stopped)."""
        snap = self.store.snapshot()
        self._tally = stats.tally(snap)
        self._tally_lock = threading.Lock()             # the refresher thread and a blocking _fig() share it
        self._figures: Figures = self._tally.figures(snap.platform_totals, snap.revision)
        self.featured: dict[str, Any] | None = None     # {job, started_at}
        self.segment: dict[str, Any] | None = None      # {employer, started_at}
        self.markers_log: list[dict[str, Any]] = []
        for m in snap.markers:
            self.markers_log.append({"kind": m.kind, "ref": m.ref, "started_at": m.started_at, "ended_at": m.ended_at})
            if m.ended_at is None and m.kind == "feature" and self.fair.job(m.ref):
                self.featured = {"job": m.ref, "started_at": m.started_at}
            if m.ended_at is None and m.kind == "segment" and m.ref in self.fair.employers:
                self.segment = {"employer": m.ref, "started_at": m.started_at}

    async def start(self) -> None:
        """Start the viewer pollers, the figure refresher and the visit writer."""
        self._client = httpx.AsyncClient(timeout=10.0, headers={"User-Agent": "stream-ops"})
        self._wake_refresh = asyncio.Event()
        self._wake_flush = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._refresher(), name="jobfair-refresh"))
        self._tasks.append(asyncio.create_task(self._visit_writer(), name="jobfair-visits"))
        for platform in self.fair.platforms.values():
            poller = make_poller(platform, self._client, self._record_polled, self._poller_changed)
            if poller:
                self.pollers.append(poller)
                self._tasks.append(asyncio.create_task(poller.run(), name=f"viewers-{platform.id}"))

    async def close(self) -> None:
        """Stop tasks, write buffered visits and pending markers, close the store. Open markers stay open."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self.flush_visits()
        if self._client:
            await self._client.aclose()
        if self._publish_handle:
            self._publish_handle.cancel()
        await asyncio.to_thread(self.store.close)

    # ------------------------------------------------------------------ figures from the store

    async def refresh(self) -> bool:
        """Recompute the figures from the store, off the event loop; publish if they changed."""
        before = self._figures
        try:
            fig = await asyncio.to_thread(self._read_figures)
        except StoreUnavailable as exc:
            log.warning("job fair: figures not refreshed: %s", exc)
            return False
        self._stale = False
        self._figures = fig
        self._publish_changes(before, fig)
        return True

    async def _refresher(self) -> None:
        """Poll the store's revision; refresh when it (or this process's own writes) changed it."""
        assert self._wake_refresh is not None
        seen = self._figures.revision
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake_refresh.wait(), REFRESH_S)
            self._wake_refresh.clear()
            if self.publish is None:
                # Nobody watches this process's figures (the public service): never pay for them here;
                # stats() recomputes on demand.
                self._stale = True
                continue
            try:
                rev = await asyncio.to_thread(self.store.revision)
            except StoreUnavailable as exc:
                log.warning("job fair: store revision: %s", exc)
                continue
            if rev != seen or self._stale:
                if await self.refresh():
                    seen = self._figures.revision

    def _wrote(self) -> None:
        """This process committed a write: figures are stale until the next refresh."""
        self._stale = True
        if self._wake_refresh is not None:
            self._wake_refresh.set()

    def _fig(self) -> Figures:
        """Current figures; recomputed here (blocking) only if this process wrote and no refresh ran yet."""
        if self._stale:
            try:
                self._figures = self._read_figures()
                self._stale = False
            except StoreUnavailable as exc:
                log.warning("job fair: figures not refreshed: %s", exc)
        return self._figures

    def _read_figures(self) -> Figures:
        """Figures from what is new in the store since the last read (blocking).

        Rows are read after the last ids seen; if the store then holds other numbers up to
        those ids than the tally does (a withdrawal, or a row another host committed late
        with a lower id), everything is read again."""
        store = self.store
        with self._tally_lock:
            rev = store.revision()
            t = self._tally
            apps = store.applications_after(t.app_id)
            visits = store.visits_after(t.visit_id)
            samples = store.viewer_samples_after(t.sample_id)
            upto = store.counts_upto(max([a.id for a in apps], default=t.app_id),
                                     max([v.id for v in visits], default=t.visit_id),
                                     max([x.id for x in samples], default=t.sample_id))
            expected = (t.rows + len(apps), t.withdrawn + sum(a.withdrawn_at is not None for a in apps),
                        t.visits + len(visits), sum(t.sample_n.values()) + len(samples))
            if upto == expected:
                t.add_applications(apps)
                t.add_visits(visits)
                t.add_samples(samples)
                return t.figures(store.platform_totals(), rev)
            snap = store.snapshot()
            self._tally = stats.tally(snap)
            return self._tally.figures(snap.platform_totals, snap.revision)

    def _publish_changes(self, before: Figures, after: Figures) -> None:
        if self.publish is None:
            return
        if before.counts != after.counts:
            self._schedule_publish()
        for platform, sample in after.current.items():
            if before.current.get(platform) != sample:
                self._emit("viewers", platform=platform, viewers=self._viewers_dict()["platforms"].get(platform),
                           overlay_viewers=self._primary_count())
        for platform, metrics in after.totals.items():
            for metric, total in metrics.items():
                if before.totals.get(platform, {}).get(metric) != total:
                    self._emit("totals", platform=platform, metric=metric, value=total.value)

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
                ended = {**m, "started": self._iso(m["started_at"]), "ended": self._iso(at)}
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
        phone = _phone(phone)
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
        """Store the application (returns after the commit).

        Jobs new for this phone get a FRESH withdrawal code, returned once here and stored
        (hashed) with those rows only. Jobs applied for before come back as already_applied
        with no code: an earlier code is never shown again, to anyone.
        """
        ip_hash = privacy.hash_ip(ip, self.store.salt) if ip else ""
        apps = [NewApplication(req.name, req.phone, j, self.fair.jobs[j].employer_id, self.notice_version,
                               ip_hash, user_agent[:120], source) for j in req.job_ids]
        code = new_withdraw_code()
        try:
            results = await self.store.add_applications(apps, code)
        except StoreUnavailable as exc:
            log.error("job fair: application not stored: %s", exc)
            raise Refusal(503, STORE_DOWN, "store_unavailable", retry_after=2) from None
        created = [r for r in results if r.created]
        if created:
            self._wrote()
        return {
            "status": "created" if created else "already_applied",
            "applications": [{"job": r.application.job_id, "title": self.fair.jobs[r.application.job_id].title,
                              "employer": self.fair.employers[r.application.employer_id].name,
                              "status": "created" if r.created else "already_applied"} for r in results],
            "withdraw_code": code if created else None,
            "message": ALREADY_APPLIED if len(created) < len(results) else "",
            "phone": privacy.mask_phone(req.phone),
            "name": privacy.mask_name(req.name),
        }

    async def withdraw(self, phone: Any, code: Any, job_id: Any = None) -> dict:
        """Withdraw consent with the phone and the code given when applying.

        The answer is the same whether or not such an application exists (it must not tell
        anyone who applied where); the withdrawal happens when phone and code match.
        `job_id` is ignored (withdrawal by phone + job, without the code, was removed).
        """
        phone = _phone(phone)
        if not isinstance(code, str) or not code.strip():
            raise Refusal(422, "请填写撤回码 / the withdrawal code is needed", "missing")
        code = canonical_code(code)
        if not 8 <= len(code) <= 16 or any(c not in CODE_ALPHABET for c in code):
            raise Refusal(422, "撤回码为 12 位字母和数字，如 K7FM-9QXD-R2TA / the code looks like K7FM-9QXD-R2TA",
                          "code")
        try:
            done = await self.store.withdraw(phone, code)
        except StoreUnavailable as exc:
            log.error("job fair: withdrawal not stored: %s", exc)
            raise Refusal(503, STORE_DOWN, "store_unavailable", retry_after=2) from None
        if done:
            self._wrote()
        return {"status": "received", "message": WITHDRAW_RECEIVED, "phone": privacy.mask_phone(phone)}

    def applications(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Newest applications, masked (blocking read: call via asyncio.to_thread on the loop)."""
        try:
            rows = self.store.recent_applications(limit, offset)
        except StoreUnavailable as exc:
            raise Refusal(503, STORE_DOWN, "store_unavailable", retry_after=2) from exc
        out = []
        for a in rows:
            d = a.masked()
            job = self.fair.job(a.job_id)
            d.update(created=self._iso(a.created_at), job_title=job.title if job else "",
                     employer_name=self.fair.employers[a.employer_id].name if a.employer_id in self.fair.employers
                     else "")
            out.append(d)
        return out

    # ------------------------------------------------------------------ visits and viewers

    async def visit(self, job_id: str | None, browser_id: str, path: str = "/apply") -> None:
        """Count a view of the apply page. `browser_id`: the opaque random id of the browser's
        cookie (only its salted hash is kept). Buffered: written in batches by `start()`'s task."""
        if job_id is not None and self.fair.job(job_id) is None:
            job_id = None
        if len(self._visits) >= VISIT_BUFFER_MAX:
            self._visits_dropped += 1     # the store is down for long: a lost visit is only a statistic
            return
        visitor = salted_hash(self.store.salt, f"browser|{browser_id}") if browser_id else ""
        self._visits.append(Visit(time.time(), path[:40], job_id, visitor))
        if len(self._visits) >= VISIT_FLUSH_N and self._wake_flush is not None:
            self._wake_flush.set()

    async def flush_visits(self) -> int:
        """Write the buffered visits in one transaction; returns how many were written."""
        batch, self._visits = self._visits, []
        if not batch:
            return 0
        try:
            await self.store.add_visits(batch)
        except StoreUnavailable as exc:
            log.warning("job fair: %d visits kept for later: %s", len(batch), exc)
            self._visits[:0] = batch
            return 0
        self._wrote()
        return len(batch)

    async def _visit_writer(self) -> None:
        assert self._wake_flush is not None
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake_flush.wait(), VISIT_FLUSH_S)
            self._wake_flush.clear()
            await self.flush_visits()

    async def add_viewer_sample(self, platform: Any, count: Any, source: Any = "manual", note: Any = "") -> dict:
        """Record a platform's viewer figure with where it came from; committed before returning."""
        if not isinstance(platform, str) or platform not in self.fair.platforms:
            raise Refusal(422, f"没有这个平台 / unknown platform {str(platform)[:40]!r}: one of "
                               f"{', '.join(self.fair.platforms)}", "platform")
        if isinstance(count, bool) or not isinstance(count, int):
            raise Refusal(422, "人数须为整数 / count must be a whole number", "count")
        if count < 0 or count > 10**10:
            raise Refusal(422, "人数须在 0 到 10^10 之间 / count must be between 0 and 10^10", "count")
        if not isinstance(source, str) or not source.strip() or len(source) > 40:
            raise Refusal(422, "来源：一个短词，如 manual、webhook / source: a short word such as manual or webhook",
                          "source")
        if not isinstance(note, str) or len(note) > 200:
            raise Refusal(422, "备注最多 200 字 / note: text up to 200 characters", "note")
        sample = ViewerSample(time.time(), platform, count, source.strip(), note)
        try:
            await self.store.add_viewer_sample(sample)
        except StoreUnavailable as exc:
            raise Refusal(503, STORE_DOWN, "store_unavailable", retry_after=2) from exc
        await self._refresh_now()
        return {"platform": platform, "count": count, "source": sample.source, "at": self._iso(sample.at)}

    async def _refresh_now(self) -> None:
        """After an operator's write: figures (and their events) before the answer."""
        self._stale = True
        await self.refresh()

    async def _record_polled(self, platform: str, count: int, source: str) -> None:
        await self.add_viewer_sample(platform, count, source)

    def _poller_changed(self, state: PollerState) -> None:
        self._emit("poller", poller=state.as_dict())

    async def add_total(self, platform: Any, metric: Any, value: Any, note: Any = "") -> dict:
        """A post-event figure from a platform's console (e.g. WeChat Channels total audience)."""
        if not isinstance(platform, str) or platform not in self.fair.platforms:
            raise Refusal(422, f"没有这个平台 / unknown platform: one of {', '.join(self.fair.platforms)}", "platform")
        if not isinstance(metric, str) or metric not in TOTAL_METRICS:
            raise Refusal(422, f"指标 / metric: one of {', '.join(TOTAL_METRICS)}", "metric")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value \
                or value == float("inf"):
            raise Refusal(422, "数值须为不小于 0 的数 / value: a number, at least 0", "value")
        if not isinstance(note, str) or len(note) > 200:
            raise Refusal(422, "备注最多 200 字 / note: text up to 200 characters", "note")
        total = PlatformTotal(time.time(), platform, metric, float(value), note)
        try:
            await self.store.add_platform_total(total)
        except StoreUnavailable as exc:
            raise Refusal(503, STORE_DOWN, "store_unavailable", retry_after=2) from exc
        await self._refresh_now()
        return {"platform": platform, "metric": metric, "value": total.value, "meaning": TOTAL_METRICS[metric]}

    # ------------------------------------------------------------------ reading

    def _iso(self, t: float | None) -> str | None:
        return _iso(t, self.tz)

    def apply_url(self, job_id: str | None = None) -> str:
        """The apply page of `job_id` (default: the featured job) as phones reach it."""
        base = self.public_url or f"http://127.0.0.1:{self.port}"
        job_id = job_id or (self.featured or {}).get("job")
        return f"{base}/apply?job={job_id}" if job_id else f"{base}/apply"

    def _primary_count(self) -> int | None:
        primary = self.fair.primary_platform
        cur = self._fig().current.get(primary) if primary else None
        return cur.count if cur else None

    def _featured_dict(self) -> dict | None:
        if not self.featured:
            return None
        job = self.fair.jobs[self.featured["job"]]
        return {"job": job.id, "title": job.title, "employer": job.employer_id,
                "started_at": self.featured["started_at"], "started": self._iso(self.featured["started_at"])}

    def _segment_dict(self) -> dict | None:
        if not self.segment:
            return None
        e = self.fair.employers[self.segment["employer"]]
        return {"employer": e.id, "name": e.name, "started_at": self.segment["started_at"],
                "started": self._iso(self.segment["started_at"])}

    def _viewers_dict(self) -> dict:
        f = self._fig()
        platforms = {}
        for pid, p in self.fair.platforms.items():
            cur, peak = f.current.get(pid), f.peaks.get(pid)
            source = cur.source if cur else None
            platforms[pid] = {
                "label": p.label,
                "current": cur.count if cur else None,
                "current_at": self._iso(cur.at) if cur else None,
                "source": source,
                "peak": peak.count if peak else None,
                "peak_at": self._iso(peak.at) if peak else None,
                "meaning": p.meaning or SOURCE_MEANING.get(source or "", SOURCE_MEANING["manual"]),
                "peak_meaning": "本系统收到的样本中的最大值（首次达到的时刻），不是平台自己的峰值 / highest sample "
                                "received here (first time reached); the platform's own peak goes in totals.peak_online",
            }
        return {"primary": self.fair.primary_platform, "platforms": platforms,
                "note": "各平台人数不可相加：同一人可能在多个平台观看 / platforms are never added up: "
                        "one person may watch on several"}

    def _totals_dict(self) -> dict:
        return {p: {m: {"value": t.value, "note": t.note, "at": self._iso(t.at), "meaning": TOTAL_METRICS.get(m, "")}
                    for m, t in ms.items()} for p, ms in self._fig().totals.items()}

    def summary(self) -> dict:
        """The compact live figures (no timeline): what events carry."""
        f = self._fig()
        c = f.counts
        return {
            "applications": {
                "total": c.active,
                "applicants": c.applicants,
                "withdrawn": c.withdrawn,
                "by_job": {j: c.by_job.get(j, 0) for j in self.fair.jobs},
                "by_employer": {e: c.by_employer.get(e, 0) for e in self.fair.employers},
                "meaning": "total = 有效投递（人×岗位，不含已撤回）；applicants = 不同报名人 / total counts "
                           "person×job, withdrawn ones excluded; applicants counts distinct people",
            },
            "viewers": self._viewers_dict(),
            "visits": {"total": f.visits, "unique": f.visitors,
                       "meaning": "报名页打开次数与不同浏览器数（本系统自计） / apply-page views and distinct "
                                  "browsers, counted here"},
            "featured": self._featured_dict(),
            "segment": self._segment_dict(),
        }

    def stats(self) -> dict:
        """Everything the panel and the report need, including the per-minute timeline."""
        out = self.summary()
        out["event"] = {"name": self.fair.event.name, "organizer": self.fair.event.organizer, "show": self.show_name}
        out["totals"] = self._totals_dict()
        out["markers"] = [{**m, "started": self._iso(m["started_at"]), "ended": self._iso(m["ended_at"])}
                          for m in self.markers_log]
        out["pollers"] = [p.state.as_dict() for p in self.pollers]
        out["timeline"] = self.timeline()
        # Names for the panel's pickers (ids alone mean nothing to an operator under pressure).
        out["employers"] = [{"id": e.id, "name": e.name} for e in self.fair.employers.values()]
        out["jobs"] = [{"id": j.id, "title": j.title, "employer": e.id} for e in self.fair.employers.values() for j in e.jobs]
        return out

    def timeline(self) -> list[dict]:
        """Per minute: new applications, apply-page visits, last viewer figure per platform."""
        return stats.timeline(self._fig(), self.tz, TIMELINE_MAX_MINUTES)

    def overlay_context(self) -> dict:
        """Values for on-screen templates: {{ job.title }}, {{ stats.viewers }}, {{ apply_url }} ...

        `stats.viewers` is the latest figure of the primary platform only (see
        `stats.viewers_platform`), never a sum across platforms.
        """
        f = self._fig()
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
                "applicants": f.counts.applicants,
                "applications": f.counts.active,
                "job_applications": f.counts.by_job.get(job_d.get("id", ""), 0) if job_d else 0,
                "viewers": viewers if viewers is not None else "",
                "viewers_platform": self.fair.platforms[primary].label if primary else "",
                "viewers_by_platform": {p: s.count for p, s in f.current.items()},
                "visits": f.visits,
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
        self._emit("applications", applications=summary["applications"],
                   applicants=summary["applications"]["applicants"], visits=summary["visits"])


def _phone(raw: Any) -> str:
    """The canonical mobile number, or Refusal(422) saying what is wrong."""
    phone = privacy.normalize_mobile(raw if isinstance(raw, str) else "")
    if phone is None:
        raise Refusal(422, "手机号只能包含数字 0–9（请用普通数字键盘输入） / the mobile number may only contain "
                           "the digits 0-9", "phone")
    if not privacy.valid_mobile(phone):
        raise Refusal(422, "手机号应为 11 位中国大陆手机号，如 13800138000 / a mainland mobile number", "phone")
    return phone


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
