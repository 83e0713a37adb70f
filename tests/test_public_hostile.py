"""The public apply service as an attacker sees it: a real uvicorn on 127.0.0.1, hostile
bodies from a corpus and from hypothesis. Only 4xx with a reason or an honest success;
counts move only for valid applications; nobody can touch someone else's application."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import sqlite3
from pathlib import Path
from typing import AsyncIterator, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.applications import Starlette

from servers import serve_in_thread
from stream_ops.jobfair.model import ApplySettings, load_fair_file
from stream_ops.jobfair.service import JobFairService
from stream_ops.web.app import public_app

FAIR_FILE = Path(__file__).resolve().parent.parent / "scenes" / "fair" / "fair.yaml"
VICTIM = {"name": "王小明", "phone": "13911112222", "job": "J004", "consent": ["E01"]}


@contextlib.contextmanager
def service_at(tmp: Path) -> Iterator[tuple[str, JobFairService]]:
    fair, lines = load_fair_file(FAIR_FILE)
    assert fair is not None, lines
    fair = dataclasses.replace(fair, apply=ApplySettings(rate_per_minute=10**6, burst=10**6))
    service = JobFairService(fair, "hostile", tmp)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    with serve_in_thread(public_app(service, lifespan)) as base:
        yield base, service


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, JobFairService, Path]]:
    tmp = tmp_path_factory.mktemp("public")
    with service_at(tmp) as (base, service):
        yield base, service, tmp


def stored(tmp: Path) -> list[tuple]:
    conn = sqlite3.connect(tmp / "stream-ops.sqlite3")
    try:
        return conn.execute("SELECT phone, job_id, withdrawn_at FROM applications").fetchall()
    finally:
        conn.close()


def post(base: str, path: str, body: object) -> httpx.Response:
    return httpx.post(base + path, content=json.dumps(body, ensure_ascii=False).encode(),
                      headers={"Content-Type": "application/json"})


def test_someone_elses_phone_gets_no_code_and_cannot_withdraw(served) -> None:
    base, service, tmp = served
    first = post(base, "/apply", VICTIM)
    assert first.status_code == 201
    victim_code = first.json()["withdraw_code"]
    # The attacker knows the victim's number and job: a repeat gets no earlier code.
    again = post(base, "/apply", {**VICTIM, "name": "攻击者"})
    assert again.status_code == 200 and again.json()["status"] == "already_applied"
    assert not again.json().get("withdraw_code") and victim_code not in again.text
    # Withdraw without the code, or with guesses: the same answer as a real withdrawal would give.
    answers = set()
    for body in ({"phone": VICTIM["phone"], "code": "AAAA-AAAA-AAAA"}, {"phone": VICTIM["phone"], "code": "K7FM9QXDR2TA"},
                 {"phone": "13933334444", "code": "AAAA-AAAA-AAAA"}):
        r = post(base, "/apply/withdraw", body)
        assert r.status_code == 200, r.text
        answers.add(json.dumps({k: v for k, v in r.json().items() if k != "phone"}))   # the phone is echoed masked
    assert len(answers) == 1, answers
    # A code that cannot be one is refused by its shape, whoever's phone it comes with: that tells nothing either.
    assert post(base, "/apply/withdraw", {"phone": VICTIM["phone"], "code": "x" * 40}).status_code == 422
    assert post(base, "/apply/withdraw", {"phone": VICTIM["phone"], "job": "J004"}).status_code == 422
    assert (VICTIM["phone"], "J004", None) in stored(tmp)   # untouched
    real = post(base, "/apply/withdraw", {"phone": VICTIM["phone"], "code": victim_code})
    assert real.status_code == 200   # indistinguishable from the guesses:
    assert json.dumps({k: v for k, v in real.json().items() if k != "phone"}) in answers
    assert (None, "J004") in {(p, j) for p, j, _ in stored(tmp)}


@pytest.mark.parametrize("phone", [
    "13٨٠٠١٣٨٠٠٠",          # Arabic-Indic digits
    "13۸۰۰۱۳۸۰۰۰",          # Extended Arabic-Indic
    "13८००१३८०००",          # Devanagari
    "1380013800\u200b0",    # a zero-width space inside
    "\u202e13800138000",    # right-to-left override
    "13800138000" + "0" * 5000,
    "１３８００１３８０００１",   # fullwidth, 12 digits
    "",
    "+86 138 0013 80000",
])
def test_other_scripts_digits_and_tricks_are_refused(served, phone: str) -> None:
    base, _, tmp = served
    before = stored(tmp)
    r = post(base, "/apply", {"name": "赵六", "phone": phone, "job": "J001", "consent": ["E01"]})
    assert r.status_code in (413, 422), (phone, r.status_code, r.text)
    assert r.json()["error"]
    assert stored(tmp) == before


@pytest.mark.parametrize("phone", ["13８００１３８０００", "13𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎", "+86 138-0013-8000", "138 0013 8000"])
def test_lookalike_forms_of_one_number_are_one_canonical_applicant(served, phone: str) -> None:
    base, _, tmp = served
    r = post(base, "/apply", {"name": "钱七", "phone": phone, "job": "J002", "consent": ["E01"]})
    assert r.status_code in (200, 201), r.text
    phones = {p for p, j, _ in stored(tmp) if j == "J002"}
    assert phones == {"13800138000"}, phones   # one ASCII number, whichever digits were typed


NAMES = st.one_of(st.text(max_size=30), st.sampled_from(["<img src=x onerror=alert(1)>", "王\u0000五", "A" * 10_000,
                                                         "王\u202e五", "'; DROP TABLE applications; --", "王五"]))
PHONES = st.one_of(st.text(alphabet=st.characters(categories=["Nd", "Zs", "Pd", "Cf"]), max_size=20),
                   st.integers(), st.sampled_from(["13800138000", "13800138000\n", "1" * 11]))
IDS = st.one_of(st.text(max_size=10), st.lists(st.text(max_size=6), max_size=40), st.integers(), st.none(),
                st.sampled_from(["J001", "J999", ["J001", "J001"], ["J001", "J030"]]))
BODIES = st.fixed_dictionaries({"name": NAMES, "phone": PHONES},
                               optional={"job": IDS, "jobs": IDS, "consent": st.one_of(IDS, st.dictionaries(
                                   st.text(max_size=4), st.one_of(st.booleans(), st.text(max_size=4)), max_size=3)),
                                   "extra": st.text(max_size=5), "csrf": st.text(max_size=10)})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=BODIES)
def test_any_apply_body_is_refused_with_a_reason_or_stored_canonically(served, body: dict) -> None:
    base, service, tmp = served
    before = service.summary()["applications"]["total"]
    r = post(base, "/apply", body)
    assert r.status_code in (200, 201, 413, 422), (body, r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.json()["error"] and r.json()["code"]
        assert service.summary()["applications"]["total"] == before
    else:
        assert all(p is None or re.fullmatch(r"1[3-9][0-9]{9}", p) for p, _, _ in stored(tmp))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.fixed_dictionaries({}, optional={"phone": PHONES, "code": st.one_of(st.text(max_size=30), st.integers()),
                                                "job": IDS, "csrf": st.text(max_size=5)}))
def test_any_withdraw_body_is_refused_or_answered_the_same(served, body: dict) -> None:
    base, service, _ = served
    before = service.summary()["applications"]["total"]
    r = post(base, "/apply/withdraw", body)
    assert r.status_code in (200, 413, 422), (body, r.status_code, r.text[:300])
    assert service.summary()["applications"]["total"] == before   # nobody guessed a code


def test_a_thousand_page_loads_are_one_browser_and_a_few_writes(tmp_path: Path) -> None:
    with service_at(tmp_path) as (base, service):
        writes: list[int] = []
        real = service.store.add_visits

        async def counted(visits):   # the store's own method, counted: how many transactions reach the disk
            writes.append(len(visits))
            return await real(visits)

        service.store.add_visits = counted
        with httpx.Client(base_url=base) as browser:   # keeps its cookies, like a phone's browser
            for _ in range(1000):
                assert browser.get("/apply").status_code == 200
        with httpx.Client(base_url=base) as other:
            other.get("/apply?job=J003")
    conn = sqlite3.connect(tmp_path / "stream-ops.sqlite3")
    try:
        total, unique = conn.execute("SELECT count(*), count(DISTINCT visitor) FROM visits").fetchone()
    finally:
        conn.close()
    assert (total, unique) == (1001, 2)
    assert sum(writes) == 1001 and len(writes) < 50, writes   # batches, not one commit per page load
