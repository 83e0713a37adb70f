"""Where applications, viewer samples, visits and markers are kept: the `Store` interface.

`SqliteStore(path)` is the default (`data_dir/stream-ops.sqlite3`). All SQL lives in
this module; a PostgreSQL store only has to implement `Store`.

Durability: WAL with `synchronous=FULL`, and every write method returns only after its
transaction is committed, so a write that was acknowledged survives SIGKILL or power
loss. Writes go through ONE writer thread that commits whatever is queued as a group
(one fsync for many applications); async methods await that commit without blocking
the event loop. Reads open their own connection (WAL lets them run beside the writer)
and are plain blocking calls: use them from exports and tools, or via `asyncio.to_thread`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from .privacy import mask_name, mask_phone

DB_NAME = "stream-ops.sqlite3"
SCHEMA_VERSION = 1
T = TypeVar("T")


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class NewApplication:
    """One applicant's application to one job, as validated by the form."""

    name: str
    phone: str                      # normalized 11-digit mobile
    job_id: str
    employer_id: str
    notice_version: str             # which privacy notice text was shown
    ip_hash: str = ""               # salted hash, never the raw address
    user_agent: str = ""            # first 120 characters
    source: str = "form"            # form / json


@dataclass(frozen=True)
class Application:
    id: int
    created_at: float               # epoch seconds
    name: str                       # full name; masked once withdrawn
    phone: str | None               # None once withdrawn
    phone_masked: str
    job_id: str
    employer_id: str
    consent_at: float               # when consent to share with `employer_id` was given
    notice_version: str
    withdraw_code: str
    ip_hash: str
    user_agent: str
    source: str
    withdrawn_at: float | None = None

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)

    def masked(self) -> dict[str, Any]:
        """What the panel, API and masked exports show."""
        return {"id": self.id, "created_at": self.created_at, "name": self.name_masked,
                "phone": self.phone_masked, "job_id": self.job_id, "employer_id": self.employer_id,
                "consent_at": self.consent_at, "notice_version": self.notice_version,
                "withdrawn_at": self.withdrawn_at, "source": self.source}


@dataclass(frozen=True)
class ViewerSample:
    at: float
    platform: str
    count: int
    source: str                     # manual / webhook / youtube / twitch / ...
    note: str = ""


@dataclass(frozen=True)
class Visit:
    at: float
    path: str                       # /apply
    job_id: str | None
    ip_hash: str


@dataclass(frozen=True)
class Marker:
    """A job featured on air, or an employer's segment, with its real start and end."""

    id: int
    kind: str                       # feature / segment
    ref: str                        # job id / employer id
    started_at: float
    ended_at: float | None


@dataclass(frozen=True)
class PlatformTotal:
    """A figure typed in from a platform's console after the event."""

    at: float
    platform: str
    metric: str                     # total_viewers / peak_online / likes / ...
    value: float
    note: str = ""


@dataclass(frozen=True)
class ExportRecord:
    at: float
    what: str                       # csv / xlsx / json / html / employer:E01 ...
    masked: bool
    path: str
    note: str = ""


@dataclass(frozen=True)
class ApplyResult:
    application: Application
    created: bool                   # False: the same phone had already applied to this job


# --------------------------------------------------------------------------- interface

class Store(Protocol):
    """What the job-fair service and the export need from storage."""

    salt: str                       # per-store secret for hashing client addresses

    async def add_applications(self, apps: list[NewApplication], at: float | None = None) -> list[ApplyResult]: ...
    async def withdraw(self, phone: str, code: str | None = None, job_id: str | None = None,
                       at: float | None = None) -> list[Application]: ...
    async def add_viewer_sample(self, sample: ViewerSample) -> None: ...
    async def add_visit(self, visit: Visit) -> None: ...
    async def start_marker(self, kind: str, ref: str, at: float | None = None) -> tuple[Marker, Marker | None]: ...
    async def end_marker(self, kind: str, at: float | None = None) -> Marker | None: ...
    async def add_platform_total(self, total: PlatformTotal) -> None: ...
    def log_export(self, what: str, masked: bool, path: str, note: str = "", at: float | None = None) -> None: ...

    def applications(self, include_withdrawn: bool = True) -> list[Application]: ...
    def viewer_samples(self) -> list[ViewerSample]: ...
    def visits(self) -> list[Visit]: ...
    def markers(self) -> list[Marker]: ...
    def platform_totals(self) -> list[PlatformTotal]: ...
    def export_log(self) -> list[ExportRecord]: ...
    def close(self) -> None: ...


# --------------------------------------------------------------------------- SQLite

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    name TEXT NOT NULL,
    phone TEXT,                         -- NULL once withdrawn
    phone_masked TEXT NOT NULL,
    job_id TEXT NOT NULL,
    employer_id TEXT NOT NULL,
    consent_at REAL NOT NULL,           -- consent to share with employer_id
    notice_version TEXT NOT NULL,
    withdraw_code TEXT NOT NULL,
    ip_hash TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'form',
    withdrawn_at REAL,
    UNIQUE (phone, job_id)              -- same phone + same job counted once (NULLs never collide)
);
CREATE INDEX IF NOT EXISTS applications_phone ON applications (phone);
CREATE TABLE IF NOT EXISTS viewer_samples (
    at REAL NOT NULL, platform TEXT NOT NULL, count INTEGER NOT NULL, source TEXT NOT NULL, note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS viewer_samples_at ON viewer_samples (platform, at);
CREATE TABLE IF NOT EXISTS visits (at REAL NOT NULL, path TEXT NOT NULL, job_id TEXT, ip_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS markers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, ref TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL
);
CREATE TABLE IF NOT EXISTS platform_totals (
    at REAL NOT NULL, platform TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS export_log (
    at REAL NOT NULL, what TEXT NOT NULL, masked INTEGER NOT NULL, path TEXT NOT NULL, note TEXT NOT NULL DEFAULT ''
);
"""

_APP_COLS = ("id, created_at, name, phone, phone_masked, job_id, employer_id, consent_at, notice_version, "
             "withdraw_code, ip_hash, user_agent, source, withdrawn_at")
_CODE_CHARS = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L: read aloud or typed on a phone


def new_withdraw_code() -> str:
    """8 characters, shown once after applying, e.g. K7FM-9QXD."""
    raw = "".join(secrets.choice(_CODE_CHARS) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")   # WAL+NORMAL may lose the last commits on power loss
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class _Writer(threading.Thread):
    """The one thread that writes: runs queued jobs, commits them as a group, then answers."""

    MAX_BATCH = 512

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(name="jobfair-store-writer", daemon=True)
        self.conn = conn
        self.jobs: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future] | None] \
            = queue.SimpleQueue()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> "concurrent.futures.Future[T]":
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

    def _run_batch(self, batch: list) -> None:
        results: list[tuple[concurrent.futures.Future, Any, BaseException | None]] = []
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, fut in batch:
                # A savepoint per job: one failing job must not undo the others in the group.
                conn.execute("SAVEPOINT job")
                try:
                    value = fn(conn)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((fut, None, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((fut, value, None))
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - the commit itself failed: nobody is acknowledged
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for fut, value, exc in results:   # only after COMMIT returned
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(value)


class SqliteStore:
    """The embedded default store: one SQLite file in the show's data folder."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        if path.is_dir() or path.suffix == "":
            path = path / DB_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = _connect(path)
        self._conn.executescript(_DDL)
        row = self._conn.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        if row is None:
            self.salt = secrets.token_hex(16)
            self._conn.execute("INSERT INTO meta VALUES ('salt', ?), ('schema_version', ?)",
                               (self.salt, str(SCHEMA_VERSION)))
        else:
            self.salt = row[0]
        self._writer = _Writer(self._conn)
        self._writer.start()
        self._closed = False

    # ---------------------------------------------------------------- plumbing

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError("store is closed")
        return await asyncio.wrap_future(self._writer.submit(fn))

    def _write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError("store is closed")
        return self._writer.submit(fn).result()

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(str(self.path), timeout=30)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        """Finish queued writes, then close. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._writer.jobs.put(None)
        self._writer.join(timeout=30)
        self._conn.close()

    # ---------------------------------------------------------------- writes

    async def add_applications(self, apps: list[NewApplication], at: float | None = None) -> list[ApplyResult]:
        """Store one submission (one row per job) atomically; existing phone+job pairs are not duplicated.

        One withdrawal code per phone: a second submission reuses the first one's code.
        """
        at = time.time() if at is None else at

        def run(conn: sqlite3.Connection) -> list[ApplyResult]:
            out = []
            code = None
            for app in apps:
                if code is None:
                    row = conn.execute("SELECT withdraw_code FROM applications WHERE phone=? LIMIT 1",
                                       (app.phone,)).fetchone()
                    code = row[0] if row else new_withdraw_code()
                cur = conn.execute(
                    "INSERT INTO applications (created_at, name, phone, phone_masked, job_id, employer_id, consent_at,"
                    " notice_version, withdraw_code, ip_hash, user_agent, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (phone, job_id) DO NOTHING",
                    (at, app.name, app.phone, mask_phone(app.phone), app.job_id, app.employer_id, at,
                     app.notice_version, code, app.ip_hash, app.user_agent[:120], app.source))
                created = cur.rowcount == 1
                row = conn.execute(f"SELECT {_APP_COLS} FROM applications WHERE phone=? AND job_id=?",
                                   (app.phone, app.job_id)).fetchone()
                out.append(ApplyResult(Application(*row), created))
            return out

        return await self._write(run)

    async def withdraw(self, phone: str, code: str | None = None, job_id: str | None = None,
                       at: float | None = None) -> list[Application]:
        """Withdraw consent: with `code`, every application of that phone; else the one for `job_id`.

        The rows stay (so counts stay honest) but the name is masked and the phone removed.
        Returns the rows withdrawn now (empty when nothing matched).
        """
        at = time.time() if at is None else at
        if not code and not job_id:
            return []

        def run(conn: sqlite3.Connection) -> list[Application]:
            if code:
                where, args = "phone=? AND withdraw_code=? AND withdrawn_at IS NULL", (phone, code.strip().upper())
            else:
                where, args = "phone=? AND job_id=? AND withdrawn_at IS NULL", (phone, job_id)
            rows = conn.execute(f"SELECT {_APP_COLS} FROM applications WHERE {where}", args).fetchall()
            done = []
            for row in rows:
                app = Application(*row)
                conn.execute("UPDATE applications SET phone=NULL, name=?, withdrawn_at=? WHERE id=?",
                             (mask_name(app.name), at, app.id))
                done.append(Application(*(row[:2] + (mask_name(app.name), None) + row[4:13] + (at,))))
            return done

        return await self._write(run)

    async def add_viewer_sample(self, sample: ViewerSample) -> None:
        await self._write(lambda c: c.execute("INSERT INTO viewer_samples VALUES (?,?,?,?,?)",
                                              (sample.at, sample.platform, sample.count, sample.source, sample.note)))

    async def add_visit(self, visit: Visit) -> None:
        await self._write(lambda c: c.execute("INSERT INTO visits VALUES (?,?,?,?)",
                                              (visit.at, visit.path, visit.job_id, visit.ip_hash)))

    async def start_marker(self, kind: str, ref: str, at: float | None = None) -> tuple[Marker, Marker | None]:
        """Start a feature/segment marker, ending the open one of the same kind at the same instant.

        Returns (the new marker, the one it ended or None).
        """
        at = time.time() if at is None else at

        def run(conn: sqlite3.Connection) -> tuple[Marker, Marker | None]:
            ended = _end_open(conn, kind, at)
            cur = conn.execute("INSERT INTO markers (kind, ref, started_at) VALUES (?,?,?)", (kind, ref, at))
            return Marker(cur.lastrowid, kind, ref, at, None), ended

        return await self._write(run)

    async def end_marker(self, kind: str, at: float | None = None) -> Marker | None:
        """End the open marker of `kind` (e.g. the fair is over); returns it, or None."""
        at = time.time() if at is None else at
        return await self._write(lambda c: _end_open(c, kind, at))

    async def add_platform_total(self, total: PlatformTotal) -> None:
        await self._write(lambda c: c.execute("INSERT INTO platform_totals VALUES (?,?,?,?,?)",
                                              (total.at, total.platform, total.metric, total.value, total.note)))

    def log_export(self, what: str, masked: bool, path: str, note: str = "", at: float | None = None) -> None:
        """Record an export (blocking until committed; exports are rare)."""
        at = time.time() if at is None else at
        self._write_sync(lambda c: c.execute("INSERT INTO export_log VALUES (?,?,?,?,?)",
                                             (at, what, int(masked), path, note)))

    # ---------------------------------------------------------------- reads

    def applications(self, include_withdrawn: bool = True) -> list[Application]:
        where = "" if include_withdrawn else " WHERE withdrawn_at IS NULL"
        return [Application(*r) for r in self._read(f"SELECT {_APP_COLS} FROM applications{where} ORDER BY id")]

    def recent_applications(self, limit: int = 100, offset: int = 0) -> list[Application]:
        """Newest first, for the panel."""
        return [Application(*r) for r in self._read(
            f"SELECT {_APP_COLS} FROM applications ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))]

    def viewer_samples(self) -> list[ViewerSample]:
        return [ViewerSample(*r) for r in self._read(
            "SELECT at, platform, count, source, note FROM viewer_samples ORDER BY at, rowid")]

    def visits(self) -> list[Visit]:
        return [Visit(*r) for r in self._read("SELECT at, path, job_id, ip_hash FROM visits ORDER BY at, rowid")]

    def markers(self) -> list[Marker]:
        return [Marker(*r) for r in self._read(
            "SELECT id, kind, ref, started_at, ended_at FROM markers ORDER BY started_at, id")]

    def platform_totals(self) -> list[PlatformTotal]:
        return [PlatformTotal(*r) for r in self._read(
            "SELECT at, platform, metric, value, note FROM platform_totals ORDER BY at, rowid")]

    def export_log(self) -> list[ExportRecord]:
        return [ExportRecord(r[0], r[1], bool(r[2]), r[3], r[4]) for r in self._read(
            "SELECT at, what, masked, path, note FROM export_log ORDER BY at, rowid")]


def _end_open(conn: sqlite3.Connection, kind: str, at: float) -> Marker | None:
    row = conn.execute("SELECT id, kind, ref, started_at FROM markers WHERE kind=? AND ended_at IS NULL "
                       "ORDER BY id DESC LIMIT 1", (kind,)).fetchone()
    if row is None:
        return None
    # Any older open ones (a crash between runs) end at the same instant.
    conn.execute("UPDATE markers SET ended_at=? WHERE kind=? AND ended_at IS NULL", (at, kind))
    return Marker(*row, at)


def open_store(data_dir: Path) -> SqliteStore:
    """The default store of a show: `data_dir/stream-ops.sqlite3`."""
    return SqliteStore(Path(data_dir) / DB_NAME)
