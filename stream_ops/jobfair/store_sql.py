"""The SQL both engines run: numbered migrations, every statement, and the group-commit writer.

`SqlStore` implements `Store` over a DB-API-like connection (`execute(sql, args)` returning
a cursor with `fetchone/fetchall`); `sqlite_store.py` and `postgres_store.py` only say how to
connect, how a transaction begins, and how `revision()` is read. Statements use `?`
placeholders; the PostgreSQL connection wrapper turns them into `%s`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import logging
import queue
import random
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

from .privacy import mask_name, mask_phone
from .store import (Application, ApplyResult, ExportRecord, Marker, NewApplication, PlatformTotal, Store,
                    StoreUnavailable, ViewerSample, Visit, canonical_code, salted_hash)

log = logging.getLogger(__name__)
T = TypeVar("T")
Conn = Any   # sqlite3.Connection or the PostgreSQL wrapper: execute(sql, args) -> cursor


@dataclass(frozen=True)
class Dialect:
    """The few words the engines spell differently."""

    name: str
    pk: str                 # auto-numbered primary key column type
    real: str               # epoch seconds need a double
    big: str                # viewer counts up to 10^10
    row_id: str             # extra id column for append-only tables ("" where the engine has rowid)
    order: str              # the column that keeps insertion order
    begin: str              # a write transaction that takes the write lock at once


SQLITE = Dialect("sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT", "REAL", "INTEGER", "", "rowid", "BEGIN IMMEDIATE")
POSTGRES = Dialect("postgres", "BIGSERIAL PRIMARY KEY", "DOUBLE PRECISION", "BIGINT", "id BIGSERIAL PRIMARY KEY,",
                   "id", "BEGIN")


# --------------------------------------------------------------------------- migrations

def _m1_salt(conn: Conn, salt: str) -> None:
    """A per-store secret, created once by whoever opens the store first."""
    if conn.execute("SELECT value FROM meta WHERE key='salt'").fetchone() is None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('salt', ?)", (salt,))


def _m2_hashes(conn: Conn, salt: str) -> None:
    """Codes and phones of older rows as salted hashes. Withdrawn rows have no phone left; their
    old code was one per phone, so it still tells one person from another."""
    rows = conn.execute("SELECT id, phone, withdraw_code FROM applications").fetchall()
    for app_id, phone, code in rows:
        conn.execute("UPDATE applications SET code_hash=?, person=?, withdraw_code='' WHERE id=?",
                     (salted_hash(salt, canonical_code(code)) if code else "",
                      salted_hash(salt, phone or f"code:{code}"), app_id))


MIGRATIONS: list[tuple[int, str, Callable[[Conn, str], None] | None]] = [
    (1, """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applications (
    id {pk},
    created_at {real} NOT NULL,
    name TEXT NOT NULL,
    phone TEXT,
    phone_masked TEXT NOT NULL,
    job_id TEXT NOT NULL,
    employer_id TEXT NOT NULL,
    consent_at {real} NOT NULL,
    notice_version TEXT NOT NULL,
    withdraw_code TEXT NOT NULL,
    ip_hash TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'form',
    withdrawn_at {real},
    UNIQUE (phone, job_id)
);
CREATE INDEX IF NOT EXISTS applications_phone ON applications (phone);
CREATE TABLE IF NOT EXISTS viewer_samples (
    {row_id} at {real} NOT NULL, platform TEXT NOT NULL, count {big} NOT NULL, source TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS viewer_samples_at ON viewer_samples (platform, at);
CREATE TABLE IF NOT EXISTS visits ({row_id} at {real} NOT NULL, path TEXT NOT NULL, job_id TEXT, ip_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS markers (
    id {pk}, kind TEXT NOT NULL, ref TEXT NOT NULL, started_at {real} NOT NULL, ended_at {real}
);
CREATE TABLE IF NOT EXISTS platform_totals (
    {row_id} at {real} NOT NULL, platform TEXT NOT NULL, metric TEXT NOT NULL, value {real} NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS export_log (
    {row_id} at {real} NOT NULL, what TEXT NOT NULL, masked INTEGER NOT NULL, path TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
""", _m1_salt),
    # 2: a fresh withdrawal code per submission, kept only as a salted hash; the applicant as a
    # salted hash of the phone (counts distinct people after withdrawal); visits per browser.
    (2, """
ALTER TABLE applications ADD COLUMN code_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN person TEXT NOT NULL DEFAULT '';
ALTER TABLE visits RENAME COLUMN ip_hash TO visitor;
""", _m2_hashes),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(conn: Conn, dialect: Dialect, steps: Sequence[tuple[int, str, Callable[[Conn, str], None] | None]] | None = None
            ) -> int:
    """Apply the missing steps in order, each in the caller's transaction; returns the version.

    The caller holds the engine's write lock, so two processes opening a new store at once
    run each step once."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at "
                 f"{dialect.real} NOT NULL, description TEXT NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    current = row[0] or 0
    salt = None
    for version, ddl, hook in (MIGRATIONS if steps is None else steps):
        if version <= current:
            continue
        for stmt in ddl.format(**dialect.__dict__).split(";"):
            if stmt.strip():
                conn.execute(stmt)
        if salt is None and version > 1:
            salt = conn.execute("SELECT value FROM meta WHERE key='salt'").fetchone()[0]
        if hook is not None:
            hook(conn, salt or secrets.token_hex(16))
        first_line = ddl.strip().splitlines()[0][:80]
        conn.execute("INSERT INTO schema_version (version, applied_at, description) VALUES (?,?,?)",
                     (version, time.time(), first_line))
        current = version
    return current


# --------------------------------------------------------------------------- the writer

class Writer(threading.Thread):
    """The one thread that writes: runs queued jobs, commits them as a group, then answers.

    Group commit: under load one commit (one fsync) acknowledges many applications.
    """

    MAX_BATCH = 512

    def __init__(self, store: "SqlStore") -> None:
        super().__init__(name=f"jobfair-store-writer-{store.dialect.name}", daemon=True)
        self.store = store
        self.jobs: queue.SimpleQueue[tuple[Callable[[Conn], Any], concurrent.futures.Future] | None] \
            = queue.SimpleQueue()

    def submit(self, fn: Callable[[Conn], T]) -> "concurrent.futures.Future[T]":
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.jobs.put((fn, fut))
        return fut

    def run(self) -> None:
        stop = False
        while not stop:
            first = self.jobs.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.MAX_BATCH:
                try:
                    item = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._run_batch(batch)

    RETRIES = 8

    def _run_batch(self, batch: list) -> None:
        # A caller that gave up (cancelled) is dropped before the transaction, never after.
        batch = [(fn, fut) for fn, fut in batch if fut.set_running_or_notify_cancel()]
        for attempt in range(self.RETRIES):
            try:
                results, conn = self._try_batch(batch)
            except Exception as exc:  # noqa: BLE001 - the commit failed: nobody is acknowledged
                self.store.write_failed(exc)
                if self.store.is_retryable(exc) and attempt < self.RETRIES - 1:
                    # Two processes' groups locked the same rows in opposite orders: the server
                    # rolled one back. The whole group runs again; nothing was acknowledged.
                    time.sleep(random.uniform(0, 0.005 * 2 ** attempt))
                    continue
                err = StoreUnavailable(f"{self.store.describe()}: {type(exc).__name__}: {_first_line(exc)}")
                for _, fut in batch:
                    fut.set_exception(err)
                return
            break
        try:
            self.store.after_commit(conn)
        except Exception as exc:  # noqa: BLE001 - committed; readers catch up at the next write
            log.warning("job fair store: revision not bumped: %s", exc)
        for fut, value, exc in results:   # only after COMMIT returned
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(value)

    def _try_batch(self, batch: list) -> tuple[list, Conn]:
        results: list[tuple[concurrent.futures.Future, Any, BaseException | None]] = []
        conn = self.store.write_conn()
        conn.execute(self.store.dialect.begin)
        for fn, fut in batch:
            # A savepoint per job: one failing job must not undo the others in the group.
            conn.execute("SAVEPOINT job")
            try:
                value = fn(conn)
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                if self.store.is_retryable(exc) or self.store.is_connection_error(exc):
                    raise
                conn.execute("ROLLBACK TO SAVEPOINT job")
                conn.execute("RELEASE SAVEPOINT job")
                results.append((fut, None, exc))
            else:
                conn.execute("RELEASE SAVEPOINT job")
                results.append((fut, value, None))
        conn.execute("COMMIT")
        return results, conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- the store

_APP_COLS = ("id, created_at, name, phone, phone_masked, job_id, employer_id, consent_at, notice_version, "
             "code_hash, person, ip_hash, user_agent, source, withdrawn_at")


class SqlStore(Store):
    """Every `Store` method in SQL; subclasses connect (see the module docstring)."""

    dialect: Dialect

    def __init__(self) -> None:
        self._closed = False
        self._writer = Writer(self)
        self._writer.start()

    # ------------------------------------------------ engine hooks
    def write_conn(self) -> Conn:
        """The writer thread's connection (reconnecting after a failure where the engine can)."""
        raise NotImplementedError

    def write_failed(self, exc: BaseException) -> None:
        """Roll back / drop the writer's connection after a failed batch."""

    def after_commit(self, conn: Conn) -> None:
        """Make `revision()` change (engines whose revision is not automatic)."""

    def is_connection_error(self, exc: BaseException) -> bool:
        return False

    def is_retryable(self, exc: BaseException) -> bool:
        """A transient conflict (deadlock, serialization failure): run the whole group again."""
        return False

    def read(self, sql: str, args: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.dialect.name

    # ------------------------------------------------ plumbing
    async def _write(self, fn: Callable[[Conn], T]) -> T:
        if self._closed:
            raise StoreUnavailable("store is closed")
        return await asyncio.wrap_future(self._writer.submit(fn))

    def _write_sync(self, fn: Callable[[Conn], T]) -> T:
        if self._closed:
            raise StoreUnavailable("store is closed")
        return self._writer.submit(fn).result()

    def _stop_writer(self) -> None:
        self._closed = True
        self._writer.jobs.put(None)
        self._writer.join(timeout=30)

    # ------------------------------------------------ writes
    async def add_applications(self, apps: Sequence[NewApplication], code: str,
                               at: float | None = None) -> list[ApplyResult]:
        at = time.time() if at is None else at
        salt = self.salt
        code_hash = salted_hash(salt, canonical_code(code))

        def run(conn: Conn) -> list[ApplyResult]:
            out = []
            for app in apps:
                row = conn.execute(
                    "INSERT INTO applications (created_at, name, phone, phone_masked, job_id, employer_id, consent_at,"
                    " notice_version, withdraw_code, code_hash, person, ip_hash, user_agent, source)"
                    " VALUES (?,?,?,?,?,?,?,?,'',?,?,?,?,?) ON CONFLICT (phone, job_id) DO NOTHING"
                    f" RETURNING {_APP_COLS}",
                    (at, app.name, app.phone, mask_phone(app.phone), app.job_id, app.employer_id, at,
                     app.notice_version, code_hash, salted_hash(salt, app.phone), app.ip_hash,
                     app.user_agent[:120], app.source)).fetchone()
                created = row is not None
                if not created:
                    row = conn.execute(f"SELECT {_APP_COLS} FROM applications WHERE phone=? AND job_id=?",
                                       (app.phone, app.job_id)).fetchone()
                out.append(ApplyResult(Application(*row), created))
            return out

        return await self._write(run)

    async def withdraw(self, phone: str, code: str, at: float | None = None) -> list[Application]:
        at = time.time() if at is None else at
        wanted = salted_hash(self.salt, canonical_code(code))

        def run(conn: Conn) -> list[Application]:
            rows = conn.execute(f"SELECT {_APP_COLS} FROM applications WHERE phone=? AND withdrawn_at IS NULL",
                                (phone,)).fetchall()
            done = []
            for row in rows:
                app = Application(*row)
                # Constant time: how long this takes says nothing about how much of the code was right.
                if not hmac.compare_digest(app.code_hash, wanted):
                    continue
                conn.execute("UPDATE applications SET phone=NULL, name=?, withdrawn_at=? WHERE id=?",
                             (mask_name(app.name), at, app.id))
                done.append(Application(*(row[:2] + (mask_name(app.name), None) + row[4:14] + (at,))))
            return done

        return await self._write(run)

    async def add_viewer_sample(self, sample: ViewerSample) -> None:
        await self._write(lambda c: c.execute(
            "INSERT INTO viewer_samples (at, platform, count, source, note) VALUES (?,?,?,?,?)",
            (sample.at, sample.platform, sample.count, sample.source, sample.note)))

    async def add_visits(self, visits: Sequence[Visit]) -> None:
        if not visits:
            return
        rows = [(v.at, v.path, v.job_id, v.visitor) for v in visits]   # the id is the store's

        def run(conn: Conn) -> None:
            for r in rows:
                conn.execute("INSERT INTO visits (at, path, job_id, visitor) VALUES (?,?,?,?)", r)

        await self._write(run)

    async def start_marker(self, kind: str, ref: str, at: float | None = None) -> tuple[Marker, Marker | None]:
        at = time.time() if at is None else at

        def run(conn: Conn) -> tuple[Marker, Marker | None]:
            ended = _end_open(conn, kind, at)
            row = conn.execute("INSERT INTO markers (kind, ref, started_at) VALUES (?,?,?) RETURNING id",
                               (kind, ref, at)).fetchone()
            return Marker(row[0], kind, ref, at, None), ended

        return await self._write(run)

    async def end_marker(self, kind: str, at: float | None = None) -> Marker | None:
        at = time.time() if at is None else at
        return await self._write(lambda c: _end_open(c, kind, at))

    async def add_platform_total(self, total: PlatformTotal) -> None:
        await self._write(lambda c: c.execute(
            "INSERT INTO platform_totals (at, platform, metric, value, note) VALUES (?,?,?,?,?)",
            (total.at, total.platform, total.metric, total.value, total.note)))

    def log_export(self, what: str, masked: bool, path: str, note: str = "", at: float | None = None) -> None:
        at = time.time() if at is None else at
        self._write_sync(lambda c: c.execute("INSERT INTO export_log (at, what, masked, path, note) VALUES (?,?,?,?,?)",
                                             (at, what, int(masked), path, note)))

    # ------------------------------------------------ reads
    def applications(self, include_withdrawn: bool = True) -> list[Application]:
        where = "" if include_withdrawn else " WHERE withdrawn_at IS NULL"
        return [Application(*r) for r in self.read(f"SELECT {_APP_COLS} FROM applications{where} ORDER BY id")]

    def recent_applications(self, limit: int = 100, offset: int = 0) -> list[Application]:
        return [Application(*r) for r in self.read(
            f"SELECT {_APP_COLS} FROM applications ORDER BY id DESC LIMIT ? OFFSET ?", (int(limit), int(offset)))]

    def viewer_samples(self) -> list[ViewerSample]:
        return [ViewerSample(*r) for r in self.read(
            f"SELECT at, platform, count, source, note, {self.dialect.order} FROM viewer_samples "
            f"ORDER BY at, {self.dialect.order}")]

    def visits(self) -> list[Visit]:
        return [Visit(*r) for r in self.read(
            f"SELECT at, path, job_id, visitor, {self.dialect.order} FROM visits ORDER BY at, {self.dialect.order}")]

    def applications_after(self, after_id: int) -> list[Application]:
        return [Application(*r) for r in self.read(
            f"SELECT {_APP_COLS} FROM applications WHERE id > ? ORDER BY id", (int(after_id),))]

    def visits_after(self, after_id: int) -> list[Visit]:
        o = self.dialect.order
        return [Visit(*r) for r in self.read(
            f"SELECT at, path, job_id, visitor, {o} FROM visits WHERE {o} > ? ORDER BY {o}", (int(after_id),))]

    def viewer_samples_after(self, after_id: int) -> list[ViewerSample]:
        o = self.dialect.order
        return [ViewerSample(*r) for r in self.read(
            f"SELECT at, platform, count, source, note, {o} FROM viewer_samples WHERE {o} > ? ORDER BY {o}",
            (int(after_id),))]

    def counts_upto(self, app_id: int, visit_id: int, sample_id: int) -> tuple[int, int, int, int]:
        o = self.dialect.order
        row = self.read(
            "SELECT (SELECT COUNT(*) FROM applications WHERE id <= ?),"
            " (SELECT COUNT(*) FROM applications WHERE id <= ? AND withdrawn_at IS NOT NULL),"
            f" (SELECT COUNT(*) FROM visits WHERE {o} <= ?), (SELECT COUNT(*) FROM viewer_samples WHERE {o} <= ?)",
            (int(app_id), int(app_id), int(visit_id), int(sample_id)))[0]
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    def markers(self) -> list[Marker]:
        return [Marker(*r) for r in self.read(
            "SELECT id, kind, ref, started_at, ended_at FROM markers ORDER BY started_at, id")]

    def platform_totals(self) -> list[PlatformTotal]:
        return [PlatformTotal(*r) for r in self.read(
            f"SELECT at, platform, metric, value, note FROM platform_totals ORDER BY at, {self.dialect.order}")]

    def export_log(self) -> list[ExportRecord]:
        return [ExportRecord(r[0], r[1], bool(r[2]), r[3], r[4]) for r in self.read(
            f"SELECT at, what, masked, path, note FROM export_log ORDER BY at, {self.dialect.order}")]

    def schema_version(self) -> int:
        return int(self.read("SELECT MAX(version) FROM schema_version")[0][0] or 0)


def _end_open(conn: Conn, kind: str, at: float) -> Marker | None:
    row = conn.execute("SELECT id, kind, ref, started_at FROM markers WHERE kind=? AND ended_at IS NULL "
                       "ORDER BY id DESC LIMIT 1", (kind,)).fetchone()
    if row is None:
        return None
    # Any older open ones (a crash between runs) end at the same instant.
    conn.execute("UPDATE markers SET ended_at=? WHERE kind=? AND ended_at IS NULL", (at, kind))
    return Marker(*row, at)
