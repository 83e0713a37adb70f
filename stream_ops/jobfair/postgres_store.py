"""The store for more than one machine: PostgreSQL, shared by several public-service processes.

`jobfair.store: "postgresql://apply@db.example.invalid/fair"` in the show file, the
password from the environment (`${VAR}` in the URL, or `password: "${VAR}"`). Same
durability contract as SQLite: every write returns after COMMIT (synchronous_commit
as the server has it, `on` by default), grouped per process by one writer thread.
`revision()` reads a sequence every writer bumps after its commit: readers on other
hosts see a change without scanning any table.
"""
from __future__ import annotations

import threading
from typing import Any, Hashable

import psycopg
import psycopg.errors

from .store import StoreUnavailable, redact_url
from .store_sql import POSTGRES, SqlStore, migrate

_MIGRATION_LOCK = 0x5354524D   # advisory lock id: one process migrates, the others wait
CONNECT_TIMEOUT_S = 5


class _Conn:
    """psycopg with the `?` placeholders the shared statements use."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.raw = conn
        self._sql: dict[str, str] = {}

    def execute(self, sql: str, args: tuple | list = ()) -> psycopg.Cursor:
        q = self._sql.get(sql)
        if q is None:
            q = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        if not args:   # BEGIN, SAVEPOINT, DDL: utility statements cannot be prepared
            return self.raw.execute(q, None, prepare=False)
        return self.raw.execute(q, tuple(args))


class PostgresStore(SqlStore):
    """`Store` on a PostgreSQL database (psycopg 3)."""

    dialect = POSTGRES

    def __init__(self, url: str, password: str | None = None) -> None:
        self.url = url
        self._password = password
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            migrate(conn, POSTGRES)
            conn.execute("CREATE SEQUENCE IF NOT EXISTS store_revision")
            self.salt = conn.execute("SELECT value FROM meta WHERE key='salt'").fetchone()[0]
            conn.execute("COMMIT")
        except Exception as exc:
            conn.raw.close()
            if isinstance(exc, psycopg.Error):
                raise StoreUnavailable(f"{self.describe()}: {exc}") from None
            raise
        self._wconn: _Conn | None = conn
        self._rconn: _Conn | None = None
        self._rlock = threading.Lock()
        super().__init__()

    def describe(self) -> str:
        return f"postgresql {redact_url(self.url)}"   # never the password

    def _connect(self) -> _Conn:
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S,
                                  "application_name": "stream-ops jobfair"}
        if self._password:
            kwargs["password"] = self._password
        try:
            return _Conn(psycopg.connect(self.url, **kwargs))
        except psycopg.Error as exc:
            raise StoreUnavailable(f"{self.describe()}: {_first_line(exc)}") from None

    # ------------------------------------------------ writer hooks
    def write_conn(self) -> _Conn:
        if self._wconn is None or self._wconn.raw.closed:
            self._wconn = self._connect()
        return self._wconn

    def write_failed(self, exc: BaseException) -> None:
        conn = self._wconn
        if conn is None:
            return
        try:
            if conn.raw.closed or conn.raw.broken:
                raise psycopg.OperationalError("connection lost")
            conn.raw.execute("ROLLBACK")
        except psycopg.Error:
            conn.raw.close()
            self._wconn = None      # reconnect at the next batch (the server may be back)

    def after_commit(self, conn: _Conn) -> None:
        conn.execute("SELECT nextval('store_revision')")

    def is_connection_error(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.OperationalError) and not self.is_retryable(exc)

    def is_retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure))

    # ------------------------------------------------ reads
    def read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._rlock:
            for attempt in (1, 2):   # one retry: a server restart drops the idle connection
                try:
                    if self._rconn is None or self._rconn.raw.closed:
                        self._rconn = self._connect()
                    return self._rconn.execute(sql, args).fetchall()
                except psycopg.OperationalError as exc:
                    if self._rconn is not None:
                        self._rconn.raw.close()
                    self._rconn = None
                    if attempt == 2:
                        raise StoreUnavailable(f"{self.describe()}: {_first_line(exc)}") from None
        raise AssertionError("unreachable")

    def revision(self) -> Hashable:
        return self.read("SELECT last_value, is_called FROM store_revision")[0]

    def close(self) -> None:
        if self._closed:
            return
        self._stop_writer()
        for conn in (self._wconn, self._rconn):
            if conn is not None:
                conn.raw.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
