"""JobFairService over a real store: figures from other writers, batched visits, hostile inputs.

The cross-process test runs on both engines; the PostgreSQL half is marked slow (tests/pg.py).
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_ops.jobfair import stats
from stream_ops.jobfair.model import ApplySettings, JobFair, load_fair_file
from stream_ops.jobfair.service import JobFairService
from stream_ops.jobfair.store import NewApplication, ViewerSample, new_withdraw_code
from stream_ops.jobfair.stores import open_store
from stream_ops.refusal import Refusal

FAIR_FILE = Path(__file__).resolve().parent.parent / "scenes" / "fair" / "fair.yaml"


def load_fair() -> JobFair:
    fair, lines = load_fair_file(FAIR_FILE)
    assert fair is not None, lines
    return dataclasses.replace(fair, apply=ApplySettings(rate_per_minute=6000, burst=1000))


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
async def test_applications_from_another_process_reach_the_studio(engine: str, tmp_path: Path,
                                                                  request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if engine == "postgres" else None
    events: list[dict] = []
    studio = JobFairService(load_fair(), "t", tmp_path, publish=lambda t, d: events.append(d),
                            store=open_store(url, tmp_path))
    public = open_store(url, tmp_path)        # the public service's own connection to the same database
    assert public is not None
    await studio.start()
    try:
        await public.add_applications([NewApplication("张三", "13800000001", "J003", "E01", "n")],
                                      new_withdraw_code())
        deadline = time.monotonic() + 20      # a bound so a bug cannot hang the suite, not a speed claim
        while not any(e["kind"] == "applications" for e in events):
            assert time.monotonic() < deadline, "the studio never saw the other process's application"
            await asyncio.sleep(0.05)
        event = next(e for e in events if e["kind"] == "applications")
        assert event["applications"]["total"] == 1 and event["applications"]["by_job"]["J003"] == 1
        assert studio.overlay_context()["stats"]["applications"] == 1
        assert studio.stats()["applications"]["applicants"] == 1
    finally:
        await studio.close()
        public.close()


async def test_visits_are_buffered_and_counted_per_browser(tmp_path: Path) -> None:
    service = JobFairService(load_fair(), "t", tmp_path)
    try:
        for i in range(1000):
            await service.visit("J003" if i % 2 else None, f"browser-{i % 3}")
        await service.visit("J999", "browser-0")                    # unknown job: counted, without a job
        assert service.store.visits() == []                         # nothing written per request
        assert await service.flush_visits() == 1001                 # one transaction
        visits = service.store.visits()
        assert len(visits) == 1001 and "browser-0" not in repr(visits)
        assert {v.job_id for v in visits} == {"J003", None}
        assert service.summary()["visits"]["total"] == 1001 and service.summary()["visits"]["unique"] == 3
        await service.visit(None, "browser-9")
    finally:
        await service.close()                                       # close writes what is left
    store = open_store(None, tmp_path)
    assert store is not None
    assert len(store.visits()) == 1002
    store.close()


# --------------------------------------------------------------------------- hostile inputs

JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                 st.lists(st.text(max_size=8), max_size=4), st.dictionaries(st.text(max_size=4), st.text(max_size=4),
                                                                            max_size=3))
PHONES = st.one_of(st.sampled_from(["13800138000", "13８００１３８０００", "13٨٠٠١٣٨٠٠٠", "+86 139-0000-0001",
                                    "12345678901", "1380013800", "13800138000\n", ""]),
                   st.text(alphabet="0123456789 +-٨８𝟖", min_size=8, max_size=16), JUNK)
NAMES = st.one_of(st.sampled_from(["张三", "欧阳娜娜", "<b>x</b>", "", " ", "A" * 25]), JUNK)
JOBS = st.one_of(st.sampled_from(["J001", "J003", ["J001", "J007"], [], ["J999"], "J001\x00"]), JUNK)
CONSENTS = st.one_of(st.sampled_from([["E01"], ["E01", "E02"], {"E01": True}, {"E01": "yes"}, "E01", []]), JUNK)
CODES = st.one_of(st.text(alphabet="ABCDEFGHJKMNPQRSTUVWXYZ23456789-", max_size=20), JUNK)


@pytest.fixture(scope="module")
def hostile_service(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    service = JobFairService(load_fair(), "t", tmp_path_factory.mktemp("hostile"))
    yield service
    asyncio.run(service.close())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, phone=PHONES, jobs=JOBS, consents=CONSENTS, w_phone=PHONES, w_code=CODES)
def test_any_apply_or_withdraw_body_is_a_4xx_or_a_success(hostile_service: JobFairService, name: object,
                                                          phone: object, jobs: object, consents: object,
                                                          w_phone: object, w_code: object) -> None:
    service = hostile_service

    def count() -> tuple[int, int]:
        c = service.summary()["applications"]
        return c["total"], c["withdrawn"]

    before = count()
    try:
        req = service.validate(name, phone, jobs, consents)
    except Refusal as exc:
        assert 400 <= exc.status < 500 and exc.message
        assert count() == before                                    # a refused body changes nothing
        req = None
    if req is not None:
        result = asyncio.run(service.apply(req))
        assert result["status"] in ("created", "already_applied")
        assert req.phone.isascii() and req.phone.isdigit() and len(req.phone) == 11
        grew = count()[0] - before[0]
        assert grew == sum(a["status"] == "created" for a in result["applications"])
    before = count()
    try:
        answer = asyncio.run(service.withdraw(w_phone, w_code))
    except Refusal as exc:
        assert 400 <= exc.status < 500 and exc.message
        assert count() == before
    else:
        assert answer["status"] == "received"
        # A guessed code never withdraws anything (the real codes are never generated here).
        assert count() == before


# --------------------------------------------------------------------------- the one statistics module

def test_peak_is_the_first_time_the_highest_sample_was_reached() -> None:
    samples = [ViewerSample(10.0, "douyin", 5, "manual"), ViewerSample(20.0, "douyin", 9, "webhook"),
               ViewerSample(30.0, "douyin", 9, "manual"), ViewerSample(40.0, "douyin", 2, "manual")]
    peak = stats.peaks(samples)["douyin"]
    assert (peak.count, peak.at, peak.source, peak.samples) == (9, 20.0, "webhook", 4)


def test_live_figures_use_the_fairs_time_zone(tmp_path: Path) -> None:
    fair = load_fair()
    session = dataclasses.replace(fair.sessions[0], start=dt.datetime(2026, 3, 1, 9, tzinfo=dt.timezone(
        dt.timedelta(hours=5, minutes=30)))) if fair.sessions else None
    if session is None:
        pytest.skip("the sample fair has no sessions")
    fair = dataclasses.replace(fair, sessions=(session, *fair.sessions[1:]))
    service = JobFairService(fair, "t", tmp_path)
    try:
        assert service._iso(0.0) == "1970-01-01T05:30:00+05:30"
    finally:
        asyncio.run(service.close())


def test_every_total_metric_has_a_label() -> None:
    assert set(stats.TOTAL_METRICS) == set(stats.METRIC_LABELS)
    assert {"unique_viewers", "views"} <= set(stats.METRIC_LABELS)


async def test_incremental_refresh_equals_a_full_read(tmp_path: Path) -> None:
    """The studio reads only new rows; after adds, visits, samples and a withdrawal it must agree
    with stats.figures over everything."""
    service = JobFairService(load_fair(), "t", tmp_path)
    other = open_store(None, tmp_path)
    assert other is not None

    def same() -> None:
        incremental = dataclasses.replace(service._read_figures(), revision=None)
        full = dataclasses.replace(stats.figures(other.snapshot()), revision=None)
        assert incremental == full

    try:
        codes = []
        for i in range(30):
            code = new_withdraw_code()
            codes.append(code)
            await other.add_applications([NewApplication("张三", f"1380000{i:04d}", f"J00{1 + i % 5}", "E01", "n")],
                                         code, at=1000.0 + i)
            if i % 7 == 0:
                same()
        await service.visit("J001", "b1")
        await service.flush_visits()
        await other.add_viewer_sample(ViewerSample(1000.0, "channels", 50, "manual"))
        same()
        await other.withdraw("13800000003", codes[3])                 # an old row changes: full read
        same()
        await other.add_viewer_sample(ViewerSample(1010.0, "channels", 50, "manual"))   # a tie: first peak stays
        same()
        assert service._read_figures().peaks["channels"].at == 1000.0
    finally:
        await service.close()
        other.close()
