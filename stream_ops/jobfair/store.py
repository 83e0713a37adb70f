"""Where applications, viewer samples, visits and markers are kept: the `Store` interface.

Two engines implement it fully: `SqliteStore` (sqlite_store.py, the embedded default at
`data_dir/stream-ops.sqlite3`) and `PostgresStore` (postgres_store.py, for several
public-service processes on several hosts). `stores.open_store(url, data_dir)` picks one from
the show file's `jobfair.store`. Callers (the service, the export) only see `Store`.

Contract every engine keeps:
- every async write returns only after its transaction is committed (a killed process
  loses nothing it acknowledged); a write the engine cannot commit raises `StoreUnavailable`;
- several processes may write at once; `revision()` changes after anyone's commit, so a
  reader refreshes only on change;
- reads are plain blocking calls: use them from exports and tools, or via `asyncio.to_thread`.
"""
from __future__ import annotations

import abc
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Hashable, Sequence
from urllib.parse import urlsplit, urlunsplit

from .privacy import mask_name

DB_NAME = "stream-ops.sqlite3"
# No 0/O, 1/I/L: read aloud or typed on a phone. 31 symbols × 12 = 59 bits: not guessable
# at any rate limit, and still short enough to copy from a screenshot (K7FM-9QXD-R2TA).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


class StoreUnavailable(Exception):
    """The engine could not commit or read (database down, disk full): nothing was acknowledged."""


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class NewApplication:
    """One applicant's application to one job, as validated by the form."""

    name: str
    phone: str                      # canonical 11 ASCII digits
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
    code_hash: str                  # salted hash of the withdrawal code given with this row
    person: str                     # salted hash of the phone: one applicant, kept after withdrawal
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
    id: int = 0                     # set when read back (0 for a new sample)


@dataclass(frozen=True)
class Visit:
    at: float
    path: str                       # /apply
    job_id: str | None
    visitor: str                    # salted hash of the browser's id cookie ("" when unknown)
    id: int = 0                     # set when read back (0 for a new visit)


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


@dataclass(frozen=True)
class Snapshot:
    """Everything the statistics need, read at one revision."""

    revision: Hashable
    applications: list[Application]
    viewer_samples: list[ViewerSample]
    visits: list[Visit]
    markers: list[Marker]
    platform_totals: list[PlatformTotal]


def new_withdraw_code() -> str:
    """12 characters in three groups, e.g. K7FM-9QXD-R2TA; shown once after applying."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def canonical_code(code: str) -> str:
    """What the applicant typed, as stored: capitals, no spaces or dashes; O→0-free alphabet kept."""
    return "".join(c for c in code.upper() if c not in " -\t")


def salted_hash(salt: str, value: str) -> str:
    return hashlib.sha256(f"{salt}|{value}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- interface

class Store(abc.ABC):
    """What the job-fair service and the export need from storage (see the module docstring)."""

    salt: str                       # per-store secret for hashing addresses, browsers, codes, phones

    # writes: each returns after its commit
    @abc.abstractmethod
    async def add_applications(self, apps: Sequence[NewApplication], code: str,
                               at: float | None = None) -> list[ApplyResult]:
        """Store one submission atomically. Rows new for their phone+job get `code` (hashed);
        rows that already existed are returned unchanged with created=False."""

    @abc.abstractmethod
    async def withdraw(self, phone: str, code: str, at: float | None = None) -> list[Application]:
        """Withdraw the phone's active applications made with `code` (name masked, phone removed).
        Returns the rows withdrawn now; empty when nothing matched."""

    @abc.abstractmethod
    async def add_viewer_sample(self, sample: ViewerSample) -> None: ...

    @abc.abstractmethod
    async def add_visits(self, visits: Sequence[Visit]) -> None:
        """Many visits in one transaction (the service batches them)."""

    @abc.abstractmethod
    async def start_marker(self, kind: str, ref: str, at: float | None = None) -> tuple[Marker, Marker | None]:
        """Start a marker, ending the open one of the same kind at the same instant: (new, ended)."""

    @abc.abstractmethod
    async def end_marker(self, kind: str, at: float | None = None) -> Marker | None: ...

    @abc.abstractmethod
    async def add_platform_total(self, total: PlatformTotal) -> None: ...

    @abc.abstractmethod
    def log_export(self, what: str, masked: bool, path: str, note: str = "", at: float | None = None) -> None:
        """Record an export (blocking until committed; exports are rare)."""

    # reads: blocking
    @abc.abstractmethod
    def applications(self, include_withdrawn: bool = True) -> list[Application]: ...

    @abc.abstractmethod
    def recent_applications(self, limit: int = 100, offset: int = 0) -> list[Application]:
        """Newest first, for the panel."""

    @abc.abstractmethod
    def viewer_samples(self) -> list[ViewerSample]: ...

    @abc.abstractmethod
    def visits(self) -> list[Visit]: ...

    @abc.abstractmethod
    def markers(self) -> list[Marker]: ...

    @abc.abstractmethod
    def platform_totals(self) -> list[PlatformTotal]: ...

    @abc.abstractmethod
    def export_log(self) -> list[ExportRecord]: ...

    # incremental reads: the studio refreshes its figures from what is new since its last look
    @abc.abstractmethod
    def applications_after(self, after_id: int) -> list[Application]:
        """Applications with id > after_id, by id."""

    @abc.abstractmethod
    def visits_after(self, after_id: int) -> list[Visit]:
        """Visits with id > after_id, by id."""

    @abc.abstractmethod
    def viewer_samples_after(self, after_id: int) -> list[ViewerSample]:
        """Viewer samples with id > after_id, by id."""

    @abc.abstractmethod
    def counts_upto(self, app_id: int, visit_id: int, sample_id: int) -> tuple[int, int, int, int]:
        """(applications with id ≤ app_id, of them withdrawn, visits ≤ visit_id, samples ≤ sample_id).

        A reader that holds different numbers missed something (a row that committed late
        with a lower id, a withdrawal) and reads everything again."""

    @abc.abstractmethod
    def revision(self) -> Hashable:
        """Cheap token that changes after any process commits a write."""

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Finish queued writes, then close. Safe to call twice."""

    def snapshot(self) -> Snapshot:
        """Every record at (or after) one revision: read the revision first, so a write that lands
        during the read shows up again at the next poll instead of being missed."""
        rev = self.revision()
        return Snapshot(rev, self.applications(), self.viewer_samples(), self.visits(), self.markers(),
                        self.platform_totals())


# --------------------------------------------------------------------------- factory

def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(invalid store URL)"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:****@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
