"""The Store contract, run against both engines: SQLite (a file) and a real PostgreSQL server.

The PostgreSQL half starts a server once per session (tests/pg.py) and is marked slow.
"""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Callable, Iterator

import pytest

from stream_ops.jobfair.store import (NewApplication, PlatformTotal, Store, ViewerSample, Visit, new_withdraw_code,
                                      salted_hash)
from stream_ops.jobfair.stores import open_store
from stream_ops.jobfair.store_sql import MIGRATIONS, SCHEMA_VERSION, SQLITE

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)]
Opener = Callable[[], Store]


@pytest.fixture(params=ENGINES)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens another Store instance on the same (new, empty) database, as another process would."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(url, tmp_path)
        assert store is not None
        opened.append(store)
        return store

    yield open_one
    for s in opened:
        s.close()


def app(phone: str, job: str = "J001", employer: str = "E01", name: str = "张三") -> NewApplication:
    return NewApplication(name, phone, job, employer, "n-test", "iphash", "UA", "json")


async def test_add_dedupe_and_read_back(opener: Opener) -> None:
    store = opener()
    code = new_withdraw_code()
    first = await store.add_applications([app("13800000001"), app("13800000001", "J002", "E02")], code, at=100.0)
    assert [r.created for r in first] == [True, True]
    again = await store.add_applications([app("13800000001", name="别人"), app("13800000001", "J003")],
                                         new_withdraw_code(), at=200.0)
    assert [r.created for r in again] == [False, True]
    assert again[0].application == first[0].application          # the stored row, untouched (name, code)
    assert again[1].application.code_hash != first[0].application.code_hash
    rows = store.applications()
    assert [(a.phone, a.job_id, a.name, a.created_at) for a in rows] == [
        ("13800000001", "J001", "张三", 100.0), ("13800000001", "J002", "张三", 100.0),
        ("13800000001", "J003", "张三", 200.0)]
    assert len({a.person for a in rows}) == 1 and rows[0].phone_masked == "138****0001"
    assert code.replace("-", "") not in repr(rows)                # only the hash is kept
    assert [a.job_id for a in store.recent_applications(2)] == ["J003", "J002"]
    assert [a.job_id for a in store.recent_applications(2, 2)] == ["J001"]


async def test_withdraw_needs_the_code_of_those_rows(opener: Opener) -> None:
    store = opener()
    c1, c2 = new_withdraw_code(), new_withdraw_code()
    await store.add_applications([app("13800000002", "J001"), app("13800000002", "J002", "E02")], c1)
    await store.add_applications([app("13800000002", "J003")], c2)
    assert await store.withdraw("13800000002", new_withdraw_code()) == []
    assert await store.withdraw("13900000000", c1) == []
    done = await store.withdraw("13800000002", c1.lower().replace("-", " "), at=300.0)
    assert sorted(a.job_id for a in done) == ["J001", "J002"]
    assert all(a.phone is None and a.name == "张*" and a.withdrawn_at == 300.0 for a in done)
    assert await store.withdraw("13800000002", c1) == []           # already withdrawn
    left = store.applications(include_withdrawn=False)
    assert [(a.job_id, a.phone) for a in left] == [("J003", "13800000002")]
    assert {a.person for a in store.applications()} == {left[0].person}   # still one person after withdrawal


async def test_markers_samples_totals_visits_and_export_log(opener: Opener) -> None:
    store = opener()
    m1, ended = await store.start_marker("feature", "J001", at=10.0)
    assert ended is None
    m2, ended = await store.start_marker("feature", "J002", at=20.0)
    assert ended is not None and ended.id == m1.id and ended.ended_at == 20.0
    await store.start_marker("segment", "E01", at=15.0)
    assert (await store.end_marker("feature", at=30.0)).ref == "J002"   # type: ignore[union-attr]
    assert await store.end_marker("feature", at=31.0) is None
    assert [(m.kind, m.ref, m.started_at, m.ended_at) for m in store.markers()] == [
        ("feature", "J001", 10.0, 20.0), ("segment", "E01", 15.0, None), ("feature", "J002", 20.0, 30.0)]

    await store.add_viewer_sample(ViewerSample(5.0, "channels", 10**10, "manual", "最大"))
    await store.add_viewer_sample(ViewerSample(5.0, "douyin", 3, "webhook"))
    assert [(s.platform, s.count) for s in store.viewer_samples()] == [("channels", 10**10), ("douyin", 3)]
    await store.add_platform_total(PlatformTotal(7.5, "channels", "total_viewers", 123456.0, "后台"))
    assert store.platform_totals() == [PlatformTotal(7.5, "channels", "total_viewers", 123456.0, "后台")]

    await store.add_visits([Visit(1.0 + i, "/apply", "J001" if i % 2 else None, f"b{i % 3}") for i in range(7)])
    await store.add_visits([])
    visits = store.visits()
    assert len(visits) == 7 and {v.visitor for v in visits} == {"b0", "b1", "b2"} and visits[1].job_id == "J001"

    store.log_export("csv:summary", True, "/tmp/x/summary.csv", "by test", at=9.0)
    log = store.export_log()
    assert [(r.what, r.masked, r.path) for r in log] == [("csv:summary", True, "/tmp/x/summary.csv")]


async def test_revision_changes_after_anyones_commit(opener: Opener) -> None:
    reader, writer = opener(), opener()
    r0 = reader.revision()
    assert reader.revision() == r0                                  # reading changes nothing
    await writer.add_applications([app("13800000003")], new_withdraw_code())
    r1 = reader.revision()
    assert r1 != r0
    await writer.add_visits([Visit(1.0, "/apply", None, "b")])
    r2 = reader.revision()
    assert r2 != r1
    await reader.add_viewer_sample(ViewerSample(1.0, "channels", 1, "manual"))   # its own writes too
    assert reader.revision() != r2
    snap = reader.snapshot()
    assert len(snap.applications) == 1 and len(snap.visits) == 1 and len(snap.viewer_samples) == 1


async def test_two_store_instances_write_concurrently(opener: Opener) -> None:
    """Two processes' worth of writers on one database: nothing lost, nothing doubled."""
    a, b = opener(), opener()
    assert a.salt == b.salt

    async def burst(store: Store, offset: int) -> int:
        results = await asyncio.gather(*(
            store.add_applications([app(f"1370000{(i + offset) % 300:04d}", f"J00{1 + i % 3}")], new_withdraw_code())
            for i in range(300)))
        return sum(r[0].created for r in results)

    created = await asyncio.gather(burst(a, 0), burst(b, 150))
    rows = a.applications()
    # 300 phones × 3 jobs, each phone+job pair reached by both writers for half of them.
    assert len(rows) == len({(r.phone, r.job_id) for r in rows}) == sum(created)
    assert sum(created) == len({(f"1370000{(i + off) % 300:04d}", f"J00{1 + i % 3}")
                                for off in (0, 150) for i in range(300)})


def test_new_database_is_migrated_to_the_latest_version(opener: Opener) -> None:
    store = opener()
    assert store.schema_version() == SCHEMA_VERSION
    again = opener()                                                # opening twice migrates nothing
    assert again.schema_version() == SCHEMA_VERSION and again.salt == store.salt


async def test_version_1_sqlite_file_is_migrated_and_old_codes_still_work(tmp_path: Path) -> None:
    """A store written before codes were hashed: the old code (one per phone) still withdraws."""
    path = tmp_path / "stream-ops.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    from stream_ops.jobfair.store_sql import migrate
    migrate(conn, SQLITE, MIGRATIONS[:1])
    conn.execute("INSERT INTO applications (created_at, name, phone, phone_masked, job_id, employer_id, consent_at,"
                 " notice_version, withdraw_code) VALUES (1, '张三', '13800000009', '138****0009', 'J001', 'E01', 1,"
                 " 'n', 'K7FM-9QXD'), (2, '李*', NULL, '139****0001', 'J001', 'E01', 2, 'n', 'ABCD-EFGH')")
    conn.execute("INSERT INTO visits VALUES (1, '/apply', NULL, 'oldhash')")
    conn.close()
    store = open_store(None, tmp_path)
    assert store is not None
    try:
        assert store.schema_version() == SCHEMA_VERSION
        apps = store.applications()
        assert apps[0].code_hash == salted_hash(store.salt, "K7FM9QXD") and len({a.person for a in apps}) == 2
        assert [v.visitor for v in store.visits()] == ["oldhash"]
        assert [a.job_id for a in await store.withdraw("13800000009", "k7fm-9qxd")] == ["J001"]
    finally:
        store.close()
    raw = sqlite3.connect(path).execute("SELECT withdraw_code FROM applications").fetchall()
    assert raw == [("",), ("",)]                                    # no plain code left on disk


def test_open_store_picks_the_engine_and_never_creates_on_export(tmp_path: Path) -> None:
    assert open_store(None, tmp_path, must_exist=True) is None
    assert not (tmp_path / "stream-ops.sqlite3").exists()
    with pytest.raises(ValueError, match="postgresql://") as err:
        open_store("mysql://u:hunter2@h/db", tmp_path)
    assert "hunter2" not in str(err.value)


def test_postgres_connection_errors_never_show_the_password(tmp_path: Path) -> None:
    from stream_ops.jobfair.store import StoreUnavailable, redact_url
    url = "postgresql://apply:hunter2@127.0.0.1:1/fair"
    assert redact_url(url) == "postgresql://apply:****@127.0.0.1:1/fair"
    with pytest.raises(StoreUnavailable) as err:
        open_store(url, tmp_path, "sekret-too")
    assert "hunter2" not in str(err.value) and "sekret-too" not in str(err.value) and "127.0.0.1" in str(err.value)
