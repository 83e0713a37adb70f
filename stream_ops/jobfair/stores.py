"""Which store a show uses: `open_store` picks the engine from the show's `jobfair.store`.

Kept apart from `store.py` (the interface) so that the interface never imports its
implementations: `store` ← `store_sql` ← `sqlite_store` / `postgres_store` ← `stores`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .postgres_store import PostgresStore
from .sqlite_store import SqliteStore
from .store import DB_NAME, Store, is_postgres_url, redact_url


def _reveal(value: Any) -> str | None:
    """A config Secret's real value (its str() is ****), or a plain string."""
    if value is None:
        return None
    reveal = getattr(value, "reveal", None)
    return reveal() if callable(reveal) else str(value)


def open_store(url: Any = None, data_dir: Path | str = ".", password: Any = None,
               *, must_exist: bool = False) -> Store | None:
    """The show's store: SQLite at `data_dir/stream-ops.sqlite3` by default, PostgreSQL for a
    postgresql:// URL (`password` overrides one in the URL). `must_exist`: return None instead
    of creating an SQLite file (an export must not create a store)."""
    url_s, pw = _reveal(url), _reveal(password)
    if not url_s:
        path = Path(data_dir) / DB_NAME
        if must_exist and not path.exists():
            return None
        return SqliteStore(path)
    if is_postgres_url(url_s):
        return PostgresStore(url_s, pw)
    raise ValueError(f"store: {redact_url(url_s)} is not a postgresql:// URL")
