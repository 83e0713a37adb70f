"""The embedded default store: one SQLite file in the show's data folder.

Durability: WAL with `synchronous=FULL`, and every write returns only after its
transaction is committed, so a write that was acknowledged survives SIGKILL or power
loss. Writes go through ONE writer thread that commits whatever is queued as a group
(one fsync for many applications). Reads open their own connection (WAL lets them run
beside the writer, and beside other processes writing the same file).
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Hashable

from .store import DB_NAME
from .store_sql import SQLITE, SqlStore, migrate


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")   # WAL+NORMAL may lose the last commits on power loss
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class SqliteStore(SqlStore):
    """`Store` on one SQLite file; several processes on one host may share it."""

    dialect = SQLITE

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        if path.is_dir() or path.suffix == "":
            path = path / DB_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = _connect(path)
        self._conn.execute("BEGIN IMMEDIATE")     # two processes opening a new file migrate once
        try:
            migrate(self._conn, SQLITE)
            self.salt = self._conn.execute("SELECT value FROM meta WHERE key='salt'").fetchone()[0]
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            raise
        # data_version changes when ANOTHER connection commits: the writer thread's or another process's.
        self._rev_conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        self._rev_lock = threading.Lock()
        super().__init__()

    def write_conn(self) -> sqlite3.Connection:
        return self._conn

    def write_failed(self, exc: BaseException) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def read(self, sql: str, args: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(str(self.path), timeout=30)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def revision(self) -> Hashable:
        with self._rev_lock:
            return self._rev_conn.execute("PRAGMA data_version").fetchone()[0]

    def describe(self) -> str:
        return f"sqlite {self.path}"

    def close(self) -> None:
        if self._closed:
            return
        self._stop_writer()
        self._conn.close()
        self._rev_conn.close()
