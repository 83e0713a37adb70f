"""The apply form and the job-fair API over real HTTP (uvicorn on 127.0.0.1, no mocks)."""
from __future__ import annotations

import contextlib
import dataclasses
import re
import sqlite3
from pathlib import Path
from typing import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from stream_ops.jobfair.model import ApplySettings, JobFair, load_fair_file
from stream_ops.jobfair.service import JobFairService
from stream_ops.web.app import public_app, studio_app
from servers import serve_in_thread

FAIR_FILE = Path(__file__).resolve().parent.parent / "scenes" / "fair" / "fair.yaml"
OPERATOR_TOKEN = "operator-token"
_studio_of: dict[str, str] = {}   # public base URL -> the studio's, serving the same fair


class _OperatorApi:
    """The operator's job-fair API of a fair under test: on the studio's port, with the token.

    The public service never serves /api (tests below check that); `api.get(f"{base}/api/...")`
    sends the request to the studio app that shares the fair with the public one at `base`."""

    def _send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        for public, studio in _studio_of.items():
            if url.startswith(public + "/api/"):
                url = studio + url[len(public):]
        return httpx.request(method, url, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, **kwargs)

    def get(self, url: str, **kwargs: object) -> httpx.Response:
        return self._send("GET", url, **kwargs)

    def post(self, url: str, **kwargs: object) -> httpx.Response:
        return self._send("POST", url, **kwargs)


api = _OperatorApi()


def load_fair(**apply: object) -> JobFair:
    fair, lines = load_fair_file(FAIR_FILE)
    assert fair is not None, lines
    settings = dataclasses.replace(ApplySettings(rate_per_minute=6000, burst=1000), **apply)
    return dataclasses.replace(fair, apply=settings)


@contextlib.contextmanager
def running(tmp_path: Path, **apply: object) -> Iterator[tuple[str, JobFairService, list]]:
    events: list[tuple[str, dict]] = []
    service = JobFairService(load_fair(**apply), "test", tmp_path, publish=lambda t, d: events.append((t, d)),
                             public_url="https://jobs.example.cn")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    with serve_in_thread(public_app(service, lifespan)) as base, \
            serve_in_thread(studio_app(None, OPERATOR_TOKEN, jobfair=service)) as studio:
        _studio_of[base] = studio
        try:
            yield base, service, events
        finally:
            _studio_of.pop(base, None)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[str, JobFairService, list]]:
    with running(tmp_path) as value:
        yield value


def rows(tmp_path: Path) -> list[tuple]:
    conn = sqlite3.connect(tmp_path / "stream-ops.sqlite3")
    try:
        return conn.execute("SELECT name, phone, job_id, employer_id, withdrawn_at FROM applications").fetchall()
    finally:
        conn.close()


def form_session(base: str, job: str | None = None) -> tuple[httpx.Client, str]:
    """A browser-like client that loaded the form: it has the cookie and the hidden token."""
    client = httpx.Client(base_url=base, headers={"Origin": base})
    page = client.get("/apply", params={"job": job} if job else None)
    assert page.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client, token


def test_apply_page_is_chinese_mobile_and_self_contained(app) -> None:
    base, service, _ = app
    r = httpx.get(f"{base}/apply", params={"job": "J003"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert 'lang="zh-CN"' in page and "viewport" in page
    assert "品质检验员" in page and 'value="J003" checked' in page
    assert "保存期限" in page and "180 天" in page and "撤回" in page and "龙南市人力资源和社会保障局" in page
    consents = re.findall(r'<input type="checkbox" name="consent" value="(E\d+)"([^>]*)>', page)
    assert [c[0] for c in consents] == ["E01", "E02", "E03", "E04", "E05"]   # E01 (J003's) first
    assert all("checked" not in extra for _, extra in consents)               # never pre-ticked
    assert "<script" not in page and "http://" not in page.replace(base, "")  # no CDN, no JS
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert httpx.get(f"{base}/apply/apply.css").status_code == 200


def test_form_apply_duplicate_and_withdraw(app, tmp_path: Path) -> None:
    base, service, events = app
    client, token = form_session(base, "J003")
    data = {"csrf": token, "name": "张三", "phone": "138 1234 5678", "job": ["J003", "J007"],
            "consent": ["E01", "E02"]}
    r = client.post("/apply", data=data)
    assert r.status_code == 201, r.text
    assert "报名成功" in r.text and "138****5678" in r.text and "13812345678" not in r.text
    code = re.search(r'class="code">([A-Z0-9-]+)<', r.text).group(1)
    again = client.post("/apply", data=data)
    assert again.status_code == 200 and "已报名过" in again.text
    assert sorted(rows(tmp_path)) == [("张三", "13812345678", "J003", "E01", None),
                                      ("张三", "13812345678", "J007", "E02", None)]
    stats = api.get(f"{base}/api/jobfair/stats").json()
    assert stats["applications"]["total"] == 2 and stats["applications"]["applicants"] == 1
    assert stats["applications"]["by_job"]["J003"] == 1 and stats["applications"]["by_employer"]["E02"] == 1
    listed = api.get(f"{base}/api/jobfair/applications").json()["applications"]
    assert {a["phone"] for a in listed} == {"138****5678"} and {a["name"] for a in listed} == {"张*"}

    assert "撤回码" in again.text and code not in again.text      # an earlier code is never shown again

    w = client.post("/apply/withdraw", data={"csrf": token, "phone": "13812345678", "code": code})
    assert w.status_code == 200 and "已收到" in w.text
    assert sorted(r[:3] for r in rows(tmp_path)) == [("张*", None, "J003"), ("张*", None, "J007")]
    assert service.summary()["applications"]["total"] == 0
    assert service.summary()["applications"]["withdrawn"] == 2


def test_json_apply(app, tmp_path: Path) -> None:
    base, _, events = app
    body = {"name": "李四", "phone": "13987654321", "job": "J001", "consent": ["E01"]}
    r = httpx.post(f"{base}/apply", json=body)
    assert r.status_code == 201 and r.json()["status"] == "created"
    code = r.json()["withdraw_code"]
    assert r.json()["phone"] == "139****4321" and re.fullmatch(r"[A-HJKMNP-Z2-9]{4}(-[A-HJKMNP-Z2-9]{4}){2}", code)
    r = httpx.post(f"{base}/apply", json=body)
    assert r.status_code == 200 and r.json()["status"] == "already_applied" and r.json()["withdraw_code"] is None
    # Phone + job without the code no longer withdraws anything.
    w = httpx.post(f"{base}/apply/withdraw", json={"phone": "13987654321", "job": "J001"})
    assert w.status_code == 422
    w = httpx.post(f"{base}/apply/withdraw", json={"phone": "13987654321", "code": " "})
    assert w.status_code == 422 and "撤回码" in w.json()["error"]
    # A wrong code and an unknown phone get exactly the answer the right code gets.
    wrong = httpx.post(f"{base}/apply/withdraw", json={"phone": "13987654321", "code": "AAAA-AAAA-AAAA"})
    nobody = httpx.post(f"{base}/apply/withdraw", json={"phone": "13900000000", "code": code})
    assert rows(tmp_path)[0][1] == "13987654321"
    right = httpx.post(f"{base}/apply/withdraw", json={"phone": "13987654321", "code": code})
    assert wrong.status_code == nobody.status_code == right.status_code == 200
    assert wrong.json() == right.json() and nobody.json()["status"] == right.json()["status"] == "received"
    assert nobody.json()["message"] == right.json()["message"]
    assert rows(tmp_path)[0][1] is None


def test_a_repeat_application_never_returns_the_victims_code(app, tmp_path: Path) -> None:
    """The issue's attack: apply with someone else's phone to learn their code, then withdraw them."""
    base, _, _ = app
    victim = httpx.post(f"{base}/apply", json={"name": "受害人", "phone": "13911112222", "job": "J004",
                                               "consent": ["E01"]})
    victim_code = victim.json()["withdraw_code"]
    attack = httpx.post(f"{base}/apply", json={"name": "攻击者", "phone": "13911112222", "job": ["J004", "J001"],
                                               "consent": ["E01"]})
    assert attack.status_code == 201 and victim_code not in attack.text
    statuses = {a["job"]: a["status"] for a in attack.json()["applications"]}
    assert statuses == {"J004": "already_applied", "J001": "created"} and "第一次" in attack.json()["message"]
    # The attacker's fresh code withdraws only what the attacker's request created.
    w = httpx.post(f"{base}/apply/withdraw", json={"phone": "13911112222", "code": attack.json()["withdraw_code"]})
    assert w.status_code == 200
    assert sorted((r[2], r[1]) for r in rows(tmp_path)) == [("J001", None), ("J004", "13911112222")]


@pytest.mark.parametrize("phone", ["13٨٠٠١٣٨٠٠٠", "１３８００１３８٠٠٠", "13800138000\u0663"])
def test_other_scripts_digits_are_refused(app, tmp_path: Path, phone: str) -> None:
    base, _, _ = app
    r = httpx.post(f"{base}/apply", json={"name": "王五", "phone": phone, "job": "J001", "consent": ["E01"]})
    assert r.status_code == 422 and "0–9" in r.json()["error"] and "digits" in r.json()["error"]
    assert rows(tmp_path) == []


def test_fullwidth_and_bold_digits_are_the_same_person(app, tmp_path: Path) -> None:
    base, service, _ = app
    for phone in ["13800138000", "13８００１３８０００", "13𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎", "+86 138-0013-8000"]:
        r = httpx.post(f"{base}/apply", json={"name": "王五", "phone": phone, "job": "J001", "consent": ["E01"]})
        assert r.status_code in (200, 201), r.text
    assert rows(tmp_path) == [("王五", "13800138000", "J001", "E01", None)]
    assert service.summary()["applications"]["applicants"] == 1


@pytest.mark.parametrize("body,words", [
    ({"name": "王五", "phone": "12345678901", "job": "J001", "consent": ["E01"]}, "手机号"),
    ({"name": "王五", "phone": "1381234567", "job": "J001", "consent": ["E01"]}, "手机号"),
    ({"name": "王" * 21, "phone": "13812345678", "job": "J001", "consent": ["E01"]}, "姓名"),
    ({"name": "<script>alert(1)</script>", "phone": "13812345678", "job": "J001", "consent": ["E01"]}, "姓名"),
    ({"name": "王五", "phone": "13812345678", "job": "J001"}, "同意"),
    ({"name": "王五", "phone": "13812345678", "job": ["J001", "J007"], "consent": ["E01"]}, "江西示例稀土"),
    ({"name": "王五", "phone": "13812345678", "job": "J999", "consent": ["E01"]}, "不存在"),
    ({"name": "王五", "phone": "13812345678", "job": [], "consent": ["E01"]}, "岗位"),
    ({"name": "王五", "phone": 13812345678, "job": "J001", "consent": ["E01"]}, "手机号"),
    ({"name": ["王五"], "phone": "13812345678", "job": "J001", "consent": ["E01"]}, "姓名"),
    ({"name": "王五", "phone": "13812345678", "job": "J001", "consent": {"E01": "yes please"}}, "同意"),
])
def test_hostile_json_is_422_and_nothing_stored(app, tmp_path: Path, body: dict, words: str) -> None:
    base, _, _ = app
    r = httpx.post(f"{base}/apply", json=body)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]
    assert rows(tmp_path) == []


def test_hostile_form_gets_escaped_page(app, tmp_path: Path) -> None:
    base, _, _ = app
    client, token = form_session(base)
    r = client.post("/apply", data={"csrf": token, "name": "<script>x</script>", "phone": "13812345678",
                                    "job": "J001", "consent": "E01"})
    assert r.status_code == 422 and "姓名" in r.text
    assert "<script>x" not in r.text and "&lt;script&gt;x" in r.text   # echoed back, harmless
    assert rows(tmp_path) == []


@pytest.mark.parametrize("kind", ["json", "form"])
def test_body_over_8k_is_413(app, tmp_path: Path, kind: str) -> None:
    base, _, _ = app
    big = "张" * 5000
    if kind == "json":
        r = httpx.post(f"{base}/apply", json={"name": big, "phone": "13812345678", "job": "J001", "consent": ["E01"]})
    else:
        client, token = form_session(base)
        r = client.post("/apply", data={"csrf": token, "name": big, "phone": "13812345678", "job": "J001",
                                        "consent": "E01"})
    assert r.status_code == 413
    assert rows(tmp_path) == []


def test_chunked_body_over_8k_is_413(app) -> None:
    base, _, _ = app

    def chunks():
        for _ in range(20):
            yield b"x" * 1024

    r = httpx.post(f"{base}/apply", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_cross_site_and_csrf(app, tmp_path: Path) -> None:
    base, _, _ = app
    data = {"name": "赵六", "phone": "13812345678", "job": "J001", "consent": "E01"}
    client, token = form_session(base)
    evil = client.post("/apply", data={**data, "csrf": token}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    no_token = client.post("/apply", data=data)
    assert no_token.status_code == 403 and "过期" in no_token.text
    stranger = httpx.post(f"{base}/apply", data={**data, "csrf": token})   # token without its cookie
    assert stranger.status_code == 403
    evil_json = httpx.post(f"{base}/apply", json={**data, "consent": ["E01"]},
                           headers={"Origin": "https://evil.example"})
    assert evil_json.status_code == 403 and "error" in evil_json.json()
    wrong_type = httpx.post(f"{base}/apply", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    assert rows(tmp_path) == []
    ok = client.post("/apply", data={**data, "csrf": token})
    assert ok.status_code == 201


def test_burst_from_one_address_is_429(tmp_path: Path) -> None:
    with running(tmp_path, rate_per_minute=5, burst=5) as (base, _, _):
        codes = [httpx.post(f"{base}/apply", json={"name": "钱七", "phone": f"1380000000{i}", "job": "J001",
                                                   "consent": ["E01"]}) for i in range(8)]
        assert [c.status_code for c in codes] == [201] * 5 + [429] * 3
        assert int(codes[-1].headers["retry-after"]) >= 1
        assert len(rows(tmp_path)) == 5


def test_operator_api(app) -> None:
    base, service, events = app
    r = api.post(f"{base}/api/jobfair/feature", json={"job": "J003"})
    assert r.status_code == 200 and r.json()["featured"]["job"] == "J003"
    assert r.json()["apply_url"] == "https://jobs.example.cn/apply?job=J003"
    assert api.post(f"{base}/api/jobfair/feature", json={"job": "J999"}).status_code == 404
    assert api.post(f"{base}/api/jobfair/feature", content=b"{not json").status_code == 422
    assert api.post(f"{base}/api/jobfair/feature", json=["J003"]).status_code == 422
    r2 = api.post(f"{base}/api/jobfair/feature", json={"job": "J004"})
    assert r2.json()["ended"]["ref"] == "J003" and r2.json()["ended"]["ended_at"] is not None
    seg = api.post(f"{base}/api/jobfair/segment", json={"employer": "E02"})
    assert seg.status_code == 200 and seg.json()["segment"]["name"] == "江西示例稀土新材料有限公司"
    assert service.featured is None    # E01's job left the screen when E02's segment started
    assert api.post(f"{base}/api/jobfair/segment", json={"employer": "E99"}).status_code == 404

    for body, status in [({"platform": "channels", "count": 1234}, 200),
                         ({"platform": "douyin", "count": 800, "source": "webhook"}, 200),
                         ({"platform": "channels", "count": 1500}, 200),
                         ({"platform": "channels", "count": 900}, 200),
                         ({"platform": "kuaishou", "count": 1}, 422),
                         ({"platform": "channels", "count": -1}, 422),
                         ({"platform": "channels", "count": 1.5}, 422),
                         ({"platform": "channels", "count": "12"}, 422),
                         ({"platform": "channels", "count": True}, 422),
                         ({"platform": "channels"}, 422)]:
        r = api.post(f"{base}/api/viewers", json=body)
        assert r.status_code == status, (body, r.text)
        if status == 422:
            assert "error" in r.json()
    assert api.post(f"{base}/api/jobfair/totals", json={"platform": "channels", "metric": "total_viewers",
                                                          "value": 203456, "note": "视频号后台"}).status_code == 200
    assert api.post(f"{base}/api/jobfair/totals", json={"platform": "channels", "metric": "sum",
                                                          "value": 1}).status_code == 422

    stats = api.get(f"{base}/api/jobfair/stats").json()
    ch = stats["viewers"]["platforms"]["channels"]
    assert (ch["current"], ch["peak"], ch["source"]) == (900, 1500, "manual") and ch["meaning"]
    assert stats["viewers"]["platforms"]["douyin"]["source"] == "webhook"
    assert stats["viewers"]["platforms"]["bilibili"]["current"] is None
    assert "不可相加" in stats["viewers"]["note"]
    assert stats["totals"]["channels"]["total_viewers"]["value"] == 203456
    assert [m["kind"] for m in stats["markers"]] == ["feature", "feature", "segment"]
    assert stats["timeline"] and stats["timeline"][-1]["viewers"]["channels"] == 900

    ctx = service.overlay_context()
    assert ctx["stats"]["viewers"] == 900 and ctx["stats"]["viewers_platform"] == "视频号"
    assert ctx["stats"]["viewers_by_platform"] == {"channels": 900, "douyin": 800}
    assert ctx["employer"]["name"] == "江西示例稀土新材料有限公司" and ctx["job"] == {}
    kinds = [d["kind"] for t, d in events]
    assert {"feature", "segment", "viewers", "totals"} <= set(kinds) and all(t == "jobfair" for t, _ in events)

    store = service.store
    markers = store.markers()
    assert markers[0].ended_at == markers[1].started_at   # starting one ends the previous at the same instant


def test_restart_keeps_counts_and_featured_job(tmp_path: Path) -> None:
    with running(tmp_path) as (base, _, _):
        httpx.post(f"{base}/apply", json={"name": "孙八", "phone": "13800000001", "job": "J002", "consent": ["E01"]})
        api.post(f"{base}/api/jobfair/feature", json={"job": "J002"})
        api.post(f"{base}/api/viewers", json={"platform": "channels", "count": 321})
    with running(tmp_path) as (base, service, _):
        assert service.summary()["applications"]["by_job"]["J002"] == 1
        assert service.featured["job"] == "J002"
        assert service.overlay_context()["stats"]["viewers"] == 321
