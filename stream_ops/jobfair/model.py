"""The job fair as the producer wrote it: event, platforms, sessions, employers, jobs.

`check_jobfair(data, base_dir)` turns the show file's `jobfair:` section (inline, or
`{include: fair/fair.yaml}`) into a frozen `JobFair` plus the problems found. Nothing
here touches the network or the store; it is plain data, tested in milliseconds.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..config import Secret
from ..problems import Problem, YamlPath
from . import privacy, wording

SALARY_UNITS = {"month": "元/月", "year": "元/年", "day": "元/天", "hour": "元/小时", "piece": "元/件"}
POLL_KINDS = ("youtube", "twitch")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_ENV_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True)
class Salary:
    """Pay as numbers (for sorting and checks) and as the text shown on air."""

    min: float | None = None
    max: float | None = None
    unit: str = "month"             # month / year / day / hour / piece
    text: str = ""                  # e.g. "4500-6500元/月" or "面议"; generated when empty

    def display(self) -> str:
        """What viewers read: the producer's text, else "4500-6500元/月", else "面议"."""
        if self.text:
            return self.text
        suffix = SALARY_UNITS.get(self.unit, "")
        lo, hi = _num(self.min), _num(self.max)
        if lo and hi:
            return f"{lo}-{hi}{suffix}" if lo != hi else f"{lo}{suffix}"
        if lo:
            return f"{lo}{suffix}起"
        if hi:
            return f"最高{hi}{suffix}"
        return "面议"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class Job:
    id: str
    title: str                      # 岗位名称
    employer_id: str
    headcount: int = 1              # 招聘人数
    salary: Salary = field(default_factory=Salary)
    location: str = ""              # 工作地点
    requirements: str = ""          # 任职要求
    benefits: tuple[str, ...] = ()  # 福利: 包吃, 包住, 五险一金 ...
    hours: str = ""                 # 工作时间 / 班制
    description: str = ""           # 岗位职责
    education: str = ""             # 学历要求

    def as_dict(self) -> dict[str, Any]:
        """Plain values for overlays, the apply page and exports."""
        return {
            "id": self.id, "title": self.title, "employer_id": self.employer_id,
            "headcount": self.headcount, "salary": self.salary.display(),
            "salary_min": self.salary.min, "salary_max": self.salary.max, "salary_unit": self.salary.unit,
            "location": self.location, "requirements": self.requirements, "benefits": list(self.benefits),
            "hours": self.hours, "description": self.description, "education": self.education,
        }


@dataclass(frozen=True)
class Employer:
    id: str
    name: str
    credit_code: str = ""           # 统一社会信用代码 (GB 32100-2015)
    industry: str = ""
    address: str = ""
    intro: str = ""
    jobs: tuple[Job, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "credit_code": self.credit_code, "industry": self.industry,
                "address": self.address, "intro": self.intro, "jobs": [j.id for j in self.jobs]}


@dataclass(frozen=True)
class Session:
    """A block of the fair (上午场); `employers` is the planned order of segments."""

    id: str
    title: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    employers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PollConfig:
    """How to read a platform's viewer count from its official API (keys from the environment)."""

    kind: str                       # youtube / twitch
    interval_s: float = 30.0
    video_id: str = ""              # youtube
    api_key: Secret | None = None   # youtube
    user_login: str = ""            # twitch
    client_id: Secret | None = None  # twitch
    token: Secret | None = None     # twitch (app access token)
    base_url: str | None = None     # override (tests, proxies)


@dataclass(frozen=True)
class Platform:
    """A place the fair is watched; `id` matches the output's `platform` where streamed."""

    id: str
    label: str
    primary: bool = False           # whose figure `{{ stats.viewers }}` shows
    poll: PollConfig | None = None
    meaning: str = ""               # what its viewer figure means (shown in stats and the report)


@dataclass(frozen=True)
class FairEvent:
    name: str
    organizer: str = ""             # who collects the applications (the data controller)
    retention_days: int = 180
    contact: str = ""               # how applicants reach the organizer (withdrawal, questions)
    purpose: str = ""               # why data is collected; a default sentence when empty


@dataclass(frozen=True)
class ApplySettings:
    """Limits of the public apply form."""

    rate_per_minute: float = 5.0    # per client address; carrier NAT may need more
    burst: int = 5
    max_jobs: int = 5               # jobs one submission may target
    port: int = 8000                # the public apply service's own port (never the studio's)
    host: str | None = None         # None: the studio's --host
    public_url: str | None = None   # what applicants' phones reach; None: http://<this machine>:<port>
    trusted_proxies: tuple[str, ...] = ()   # only these may name the client in X-Forwarded-For


@dataclass(frozen=True)
class JobFair:
    event: FairEvent
    platforms: dict[str, Platform]
    employers: dict[str, Employer]
    sessions: tuple[Session, ...] = ()
    apply: ApplySettings = field(default_factory=ApplySettings)
    source: Path | None = None      # the included file, when the fair came from one
    store: Secret | None = None     # postgresql:// URL (may hold a password: never shown); None = SQLite
    store_password: Secret | None = None

    @property
    def jobs(self) -> dict[str, Job]:
        """Every job by id, in the order written."""
        return {j.id: j for e in self.employers.values() for j in e.jobs}

    def job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def employer_of(self, job_id: str) -> Employer | None:
        job = self.jobs.get(job_id)
        return self.employers.get(job.employer_id) if job else None

    @property
    def primary_platform(self) -> str | None:
        """The platform marked `primary: true`, else the first listed."""
        for p in self.platforms.values():
            if p.primary:
                return p.id
        return next(iter(self.platforms), None)

    @property
    def notice_version(self) -> str:
        """Short hash of the privacy notice text: consents record which text was shown."""
        return privacy.notice_version(self)


# --------------------------------------------------------------------------- checking

def check_jobfair(data: Any, base_dir: Path, validate_schema: bool = False) -> tuple[JobFair | None, list[Problem]]:
    """Build the JobFair from the `jobfair:` section; problems have paths relative to it.

    `{include: FILE}` loads FILE (relative to `base_dir`); problems found there point at
    `include` and name `FILE:LINE:COL` in the message. The inline section is assumed to be
    schema-checked by the show loader; pass `validate_schema=True` to check it here too.
    """
    if isinstance(data, dict) and "include" in data:
        return _check_included(data, base_dir)
    problems: list[Problem] = []
    if validate_schema:
        problems += _schema_problems(data)
        if any(p.severity == "error" for p in problems):
            return None, problems
    fair, found = _build(data)
    problems += found
    return (None if any(p.severity == "error" for p in problems) else fair), problems


def load_fair_file(path: Path) -> tuple[JobFair | None, list[str]]:
    """Load a fair YAML file on its own (a show with `jobfair:`, or the fair itself).

    Returns the fair and formatted lines "FILE:LINE:COL: error: ..." for tools and tests.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    section = raw.get("jobfair", raw) if isinstance(raw, dict) else raw
    fair, problems = check_jobfair(section, path.parent, validate_schema=True)
    positions = _positions(yaml.compose(text))
    prefix: YamlPath = ("jobfair",) if isinstance(raw, dict) and "jobfair" in raw else ()
    lines = []
    for p in problems:
        line, col = _locate(positions, prefix + p.path)
        lines.append(f"{path}:{line}:{col}: {p.severity}: {p.message}")
    return fair, lines


def _check_included(data: dict, base_dir: Path) -> tuple[JobFair | None, list[Problem]]:
    rel = data.get("include")
    # `store` is where this show keeps its data, not part of the fair: it may sit beside include.
    extra = [k for k in data if k not in ("include", "store")]
    if extra:
        return None, [Problem(("include",), "with `include:` the fair lives in that file; move the other keys there "
                                            "(only store: may stay here)", key=True)]
    b = _Builder()
    store, store_password = _store(b, data.get("store"))
    if b.problems:
        return None, b.problems
    if not isinstance(rel, str) or not rel.strip():
        return None, [Problem(("include",), "include: write a path relative to the show file, e.g. fair/fair.yaml")]
    path = (Path(base_dir) / rel).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(("include",), f"cannot read {rel}: {exc.strerror or exc}")]
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{rel}:{mark.line + 1}:{mark.column + 1}" if mark else rel
        return None, [Problem(("include",), f"in {where}: not valid YAML: {getattr(exc, 'problem', exc)}")]
    if isinstance(raw, dict) and "jobfair" in raw:   # the included file may wrap itself in `jobfair:`
        raw, prefix = raw["jobfair"], ("jobfair",)
    else:
        prefix = ()
    positions = _positions(node) if node is not None else {}
    if isinstance(raw, dict) and "include" in raw:
        found = [Problem(("include",), "an included fair cannot include another file")]
        fair = None
    else:
        found = _schema_problems(raw)
        fair = None
        if not any(p.severity == "error" for p in found):
            fair, more = _build(raw)
            found += more
    problems = []
    for p in found:
        line, col = _locate(positions, prefix + p.path)
        problems.append(Problem(("include",), f"in {rel}:{line}:{col}: {p.message}", p.severity))
    ok = fair is not None and not any(p.severity == "error" for p in problems)
    if ok:
        fair = JobFair(fair.event, fair.platforms, fair.employers, fair.sessions, fair.apply, source=path,
                       store=store or fair.store, store_password=store_password or fair.store_password)
    return (fair if ok else None), problems


def _schema_problems(data: Any) -> list[Problem]:
    import jsonschema

    from .schema import FAIR_SCHEMA

    validator = jsonschema.Draft202012Validator(FAIR_SCHEMA)
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(Problem(tuple(err.absolute_path), err.message))
    return problems


def _positions(node: yaml.Node, path: YamlPath = (), out: dict | None = None) -> dict[YamlPath, tuple[int, int]]:
    """1-based (line, column) of every value in a composed YAML tree, keyed by its path."""
    out = {} if out is None else out
    out[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _positions(value, path + (key.value,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _positions(value, path + (i,), out)
    return out


def _locate(positions: dict[YamlPath, tuple[int, int]], path: YamlPath) -> tuple[int, int]:
    """Position of `path`, or of its nearest ancestor that exists."""
    for n in range(len(path), -1, -1):
        if path[:n] in positions:
            return positions[path[:n]]
    return (1, 1)


class _Builder:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: YamlPath, message: str) -> None:
        self.problems.append(Problem(path, message, "error"))

    def warn(self, path: YamlPath, message: str) -> None:
        self.problems.append(Problem(path, message, "warning"))


def _build(data: Any) -> tuple[JobFair | None, list[Problem]]:
    b = _Builder()
    if not isinstance(data, dict):
        b.error((), "jobfair: write a mapping with event, platforms, sessions and employers (or include: FILE)")
        return None, b.problems
    event = _event(b, data.get("event") or {})
    platforms = _platforms(b, data.get("platforms") or {})
    employers = _employers(b, data.get("employers") or [])
    sessions = _sessions(b, data.get("sessions") or [], employers)
    apply = _apply(b, data.get("apply") or {})
    store, store_password = _store(b, data.get("store"))
    if not employers and not any(p.path[:1] == ("employers",) for p in b.problems):
        b.error(("employers",), "the fair has no employers: list at least one with its jobs")
    fair = JobFair(event, platforms, employers, tuple(sessions), apply, store=store, store_password=store_password)
    return fair, b.problems


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _event(b: _Builder, d: dict) -> FairEvent:
    name = _text(d.get("name"))
    if not name:
        b.error(("event", "name"), "event.name: the fair's title, e.g. 春风行动 网络专场招聘会")
    retention = d.get("retention_days", 180)
    if not isinstance(retention, int) or isinstance(retention, bool) or not 1 <= retention <= 3650:
        b.error(("event", "retention_days"), "retention_days: how many days applications are kept, 1..3650")
        retention = 180
    organizer = _text(d.get("organizer"))
    if not organizer:
        b.warn(("event", "organizer"), "event.organizer is empty: the privacy notice must say who collects the data")
    contact = _text(d.get("contact"))
    if not contact:
        b.warn(("event", "contact"), "event.contact is empty: applicants need a phone or e-mail to withdraw consent")
    return FairEvent(name, organizer, retention, contact, _text(d.get("purpose")))


def _platforms(b: _Builder, d: dict) -> dict[str, Platform]:
    out: dict[str, Platform] = {}
    primaries = []
    for pid, value in d.items():
        pid = str(pid)
        path: YamlPath = ("platforms", pid)
        if isinstance(value, str):
            out[pid] = Platform(pid, value)
            continue
        value = value or {}
        poll = _poll(b, path + ("poll",), value["poll"]) if value.get("poll") else None
        platform = Platform(pid, _text(value.get("label")) or pid, bool(value.get("primary")), poll,
                            _text(value.get("meaning")))
        if platform.primary:
            primaries.append(pid)
        out[pid] = platform
    if len(primaries) > 1:
        b.error(("platforms", primaries[1], "primary"),
                f"only one platform can be primary (already {primaries[0]}): it is the one {{{{ stats.viewers }}}} shows")
    return out


def _secret(b: _Builder, path: YamlPath, value: Any, var_hint: str) -> Secret | None:
    """A key from `${VAR}`; a literal key in the file is refused (secrets live in the environment)."""
    if value is None or value == "":
        return None
    if isinstance(value, Secret):       # already expanded by the show loader
        return value
    m = _ENV_RE.match(str(value))
    if not m:
        b.error(path, f'write "${{{var_hint}}}" and set {var_hint} in the environment: keys never go in the show file')
        return None
    env = os.environ.get(m.group(1))
    if not env:
        b.warn(path, f"{m.group(1)} is not set in the environment: this platform's viewer poller stays off")
        return None
    return Secret(env)


def _poll(b: _Builder, path: YamlPath, d: dict) -> PollConfig | None:
    kind = d.get("kind")
    interval = d.get("interval_s", 30)
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval < 5:
        b.error(path + ("interval_s",), "interval_s: seconds between polls, at least 5 (API quotas)")
        interval = 30
    base_url = _text(d.get("base_url")) or None
    if kind == "youtube":
        video_id = _text(d.get("video_id"))
        if not video_id:
            b.error(path + ("video_id",), "video_id: the live video's id (the v=... part of its URL)")
        key = _secret(b, path + ("api_key",), d.get("api_key"), "YOUTUBE_API_KEY")
        if key is None:
            return None
        return PollConfig("youtube", float(interval), video_id=video_id, api_key=key, base_url=base_url)
    if kind == "twitch":
        login = _text(d.get("user_login"))
        if not login:
            b.error(path + ("user_login",), "user_login: the Twitch channel name")
        client_id = _secret(b, path + ("client_id",), d.get("client_id"), "TWITCH_CLIENT_ID")
        token = _secret(b, path + ("token",), d.get("token"), "TWITCH_TOKEN")
        if client_id is None or token is None:
            return None
        return PollConfig("twitch", float(interval), user_login=login, client_id=client_id, token=token,
                          base_url=base_url)
    b.error(path + ("kind",), f"poll.kind: one of {', '.join(POLL_KINDS)} (others: POST /api/viewers)")
    return None


def _employers(b: _Builder, items: list) -> dict[str, Employer]:
    out: dict[str, Employer] = {}
    job_ids: dict[str, YamlPath] = {}
    for i, d in enumerate(items):
        path: YamlPath = ("employers", i)
        if not isinstance(d, dict):
            b.error(path, "each employer is a mapping: id, name, credit_code, industry, address, jobs")
            continue
        eid = _text(d.get("id"))
        if not ID_RE.match(eid):
            b.error(path + ("id",), "employer id: letters, digits, - and _ (e.g. E01)")
        elif eid in out:
            b.error(path + ("id",), f"duplicate employer id {eid}: each employer needs its own id")
            continue
        name = _text(d.get("name"))
        if not name:
            b.error(path + ("name",), "employer name: the registered company name")
        code = _text(d.get("credit_code")).upper()
        if code:
            _check_credit_code(b, path + ("credit_code",), code)
        else:
            b.warn(path + ("credit_code",), "credit_code (统一社会信用代码) is empty: add it so the center can verify the employer")
        jobs = []
        for j, jd in enumerate(d.get("jobs") or []):
            job = _job(b, path + ("jobs", j), jd, eid)
            if job is None:
                continue
            if job.id in job_ids:
                b.error(path + ("jobs", j, "id"),
                        f"duplicate job id {job.id} (also at {'.'.join(map(str, job_ids[job.id]))}): job ids are unique across the fair")
                continue
            job_ids[job.id] = path + ("jobs", j)
            jobs.append(job)
        if not jobs:
            b.warn(path + ("jobs",), f"employer {eid or name} has no jobs")
        for field_name in ("intro",):
            _wording(b, path + (field_name,), d.get(field_name))
        out[eid] = Employer(eid, name, code, _text(d.get("industry")), _text(d.get("address")),
                            _text(d.get("intro")), tuple(jobs))
    return out


def _check_credit_code(b: _Builder, path: YamlPath, code: str) -> None:
    shape = privacy.credit_code_shape_error(code)
    if shape:
        b.error(path, f"credit_code {code}: {shape}")
    elif not privacy.credit_code_checksum_ok(code):
        b.warn(path, f"credit_code {code}: the check character (last) does not match GB 32100-2015; "
                     f"expected {privacy.credit_code_check_char(code[:17])} — copy it again from the business licence")


def _job(b: _Builder, path: YamlPath, d: Any, employer_id: str) -> Job | None:
    if not isinstance(d, dict):
        b.error(path, "each job is a mapping: id, title, headcount, salary, location, requirements ...")
        return None
    jid = _text(d.get("id"))
    if not ID_RE.match(jid):
        b.error(path + ("id",), "job id: letters, digits, - and _ (e.g. J003); it appears in the apply URL")
        return None
    title = _text(d.get("title"))
    if not title:
        b.error(path + ("title",), "title (岗位名称) is empty")
    headcount = d.get("headcount", 1)
    if not isinstance(headcount, int) or isinstance(headcount, bool) or headcount < 1:
        b.error(path + ("headcount",), "headcount (招聘人数): a whole number, at least 1")
        headcount = 1
    salary = _salary(b, path + ("salary",), d.get("salary"))
    benefits = d.get("benefits") or []
    if isinstance(benefits, str):
        benefits = [s for s in re.split(r"[,，、\s]+", benefits) if s]
    for key in ("title", "requirements", "description", "education"):
        _wording(b, path + (key,), d.get(key))
    for k, item in enumerate(benefits):
        _wording(b, path + ("benefits", k), item)
    return Job(jid, title, employer_id, headcount, salary, _text(d.get("location")), _text(d.get("requirements")),
               tuple(_text(x) for x in benefits), _text(d.get("hours")), _text(d.get("description")),
               _text(d.get("education")))


def _salary(b: _Builder, path: YamlPath, d: Any) -> Salary:
    if d is None:
        return Salary()
    if isinstance(d, str):
        return Salary(text=d.strip())
    lo, hi = d.get("min"), d.get("max")
    for key, value in (("min", lo), ("max", hi)):
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
            b.error(path + (key,), f"salary.{key}: a number of yuan, e.g. 4500")
    unit = d.get("unit", "month")
    if unit not in SALARY_UNITS:
        b.error(path + ("unit",), f"salary.unit: one of {', '.join(SALARY_UNITS)}")
        unit = "month"
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
        b.error(path + ("min",), f"salary.min {lo} is above salary.max {hi}: swap them")
    lo = lo if isinstance(lo, (int, float)) and not isinstance(lo, bool) else None
    hi = hi if isinstance(hi, (int, float)) and not isinstance(hi, bool) else None
    return Salary(lo, hi, unit, _text(d.get("text")))


def _wording(b: _Builder, path: YamlPath, text: Any) -> None:
    if not text:
        return
    for finding in wording.find_discrimination(str(text)):
        b.warn(path, finding.message())


def _when(b: _Builder, path: YamlPath, value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        when = value
    else:
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            b.error(path, 'a date and time like "2026-12-01T09:30:00+08:00"')
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))  # China Standard Time, no DST
    return when


def _sessions(b: _Builder, items: list, employers: dict[str, Employer]) -> list[Session]:
    out: list[Session] = []
    seen: set[str] = set()
    for i, d in enumerate(items):
        path: YamlPath = ("sessions", i)
        if not isinstance(d, dict):
            b.error(path, "each session is a mapping: id, title, start, end, employers")
            continue
        sid = _text(d.get("id")) or f"S{i + 1}"
        if sid in seen:
            b.error(path + ("id",), f"duplicate session id {sid}")
        seen.add(sid)
        start, end = _when(b, path + ("start",), d.get("start")), _when(b, path + ("end",), d.get("end"))
        if start and end and end <= start:
            b.error(path + ("end",), "end is not after start")
        refs = [str(e) for e in d.get("employers") or []]
        refs += [str(s.get("employer")) for s in d.get("segments") or [] if isinstance(s, dict)]
        for k, ref in enumerate(d.get("employers") or []):
            if str(ref) not in employers:
                b.error(path + ("employers", k), f"unknown employer {ref}: known are {_known(employers)}")
        for k, seg in enumerate(d.get("segments") or []):
            ref = seg.get("employer") if isinstance(seg, dict) else seg
            if str(ref) not in employers:
                b.error(path + ("segments", k), f"unknown employer {ref}: known are {_known(employers)}")
        out.append(Session(sid, _text(d.get("title")), start, end, tuple(dict.fromkeys(refs))))
    return out


def _known(employers: Iterable[str]) -> str:
    names = list(employers)
    return ", ".join(names[:12]) + (" ..." if len(names) > 12 else "") if names else "(none)"


_ENV_ANY = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
STORE_HINT = ('write store: "postgresql://USER@HOST/DB" (password from the environment: '
              '"postgresql://USER:${PGPASSWORD}@HOST/DB", or store: {url: ..., password: "${PGPASSWORD}"}); '
              "leave store out for the built-in SQLite file in the show's data folder")


def _store(b: _Builder, value: Any) -> tuple[Secret | None, Secret | None]:
    """`store:` a PostgreSQL URL, or {url, password}. Both kept as Secret: a URL may hold a password."""
    if value is None or value == "":
        return None, None
    url, password = value, None
    path: YamlPath = ("store",)
    if isinstance(value, dict):
        url, password = value.get("url"), value.get("password")
        path = ("store", "url")
        for key in value:
            if key not in ("url", "password"):
                b.error(("store", key), f"store: unknown key {key}; {STORE_HINT}")
    if not isinstance(url, str) or not url.strip():
        b.error(path, f"store: {STORE_HINT}")
        return None, None
    url = _expand(b, path, url.strip())
    if url is None:
        return None, None
    if not url.startswith(("postgresql://", "postgres://")):
        b.error(path, f"store: not a postgresql:// URL; {STORE_HINT}")
        return None, None
    pw: Secret | None = None
    if password is not None:
        if not isinstance(password, str) or not password.strip():
            b.error(("store", "password"), 'store password: write password: "${PGPASSWORD}" and set it in the environment')
        else:
            expanded = _expand(b, ("store", "password"), password)
            pw = Secret(expanded) if expanded else None
    return Secret(url), pw


def _expand(b: _Builder, path: YamlPath, text: str) -> str | None:
    """`${VAR}` from the environment (a fair file is not expanded by the show loader)."""
    missing = [name for name in _ENV_ANY.findall(text) if name not in os.environ]
    if missing:
        b.error(path, f"environment variable {missing[0]} is not set; export it before running, never write "
                      "the password in the file")
        return None
    return _ENV_ANY.sub(lambda m: os.environ[m.group(1)], text)


def _apply(b: _Builder, d: dict) -> ApplySettings:
    defaults = ApplySettings()
    rate = d.get("rate_per_minute", defaults.rate_per_minute)
    burst = d.get("burst", defaults.burst)
    max_jobs = d.get("max_jobs", defaults.max_jobs)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
        b.error(("apply", "rate_per_minute"), "rate_per_minute: posts allowed per client address per minute, > 0")
        rate = defaults.rate_per_minute
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        b.error(("apply", "burst"), "burst: posts one address may make at once, at least 1")
        burst = defaults.burst
    if not isinstance(max_jobs, int) or isinstance(max_jobs, bool) or not 1 <= max_jobs <= 30:
        b.error(("apply", "max_jobs"), "max_jobs: jobs one application may target, 1..30")
        max_jobs = defaults.max_jobs
    proxies: list[str] = []
    for i, text in enumerate(d.get("trusted_proxies") or []):
        try:
            proxies.append(str(ipaddress.ip_network(str(text).strip(), strict=False)))
        except ValueError:
            b.error(("apply", "trusted_proxies", i), f"trusted_proxies: {str(text)[:40]!r} is not an address or "
                    "network such as 10.0.0.5 or 10.0.0.0/24")
    public_url = d.get("public_url")
    return ApplySettings(float(rate), burst, max_jobs, port=int(d.get("port", defaults.port)), host=d.get("host"),
                         public_url=public_url.rstrip("/") if isinstance(public_url, str) else None,
                         trusted_proxies=tuple(proxies))
