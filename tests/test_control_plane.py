"""The control plane's rules, fast: the body reader's bounds, the route table, the OpenAPI
document, whom the public side believes. No server, no media."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from starlette.requests import Request

from stream_ops.refusal import Refusal
from stream_ops.web import body, routes
from stream_ops.web.openapi import document
from stream_ops.web.public import ClientAddress, Csrf

PACKAGE = Path(__file__).resolve().parent.parent / "stream_ops"


def request(raw: bytes, headers: dict[str, str] | None = None, client: str = "127.0.0.1") -> Request:
    chunks = [raw[i:i + 1000] for i in range(0, len(raw), 1000)] or [b""]

    async def receive() -> dict:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    hdrs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": hdrs, "query_string": b"",
                    "client": (client, 5000)}, receive)


def refusal(coro) -> Refusal:
    with pytest.raises(Refusal) as info:
        asyncio.run(coro)
    return info.value


SCHEMA = routes.obj({"scene": routes.NAME, "duration_ms": routes.DURATION}, ("scene",))


def test_deep_json_is_422_not_a_crash() -> None:
    deep = b'{"a":' * 2000 + b"1" + b"}" * 2000
    exc = refusal(body.read_json(request(deep), SCHEMA))
    assert exc.status == 422 and "nested" in exc.message
    arrays = b"[" * 100_000 + b"]" * 100_000   # past any recursion limit, but under no size cap here
    assert refusal(body.read_json(request(arrays), SCHEMA, limit=10**6)).status == 422


def test_huge_and_non_finite_numbers_are_422() -> None:
    for raw in (b'{"scene": "a", "duration_ms": ' + b"9" * 5000 + b"}",
                b'{"scene": "a", "duration_ms": 1e999999}', b'{"scene": "a", "duration_ms": NaN}',
                b'{"scene": "a", "duration_ms": -Infinity}'):
        exc = refusal(body.read_json(request(raw), SCHEMA))
        assert exc.status == 422, raw[:40]


def test_unknown_misspelt_and_wrong_typed_fields_name_the_field() -> None:
    exc = refusal(body.read_json(request(b'{"scene": "a", "duraton_ms": 5}'), SCHEMA))
    assert exc.status == 422 and "'duraton_ms'" in exc.message and "duration_ms" in exc.message
    exc = refusal(body.read_json(request(b'{"scene": 5}'), SCHEMA))
    assert exc.status == 422 and exc.message.startswith("scene:")
    assert refusal(body.read_json(request(b"[1, 2]"), SCHEMA)).message == "body must be a JSON object"
    assert "missing field" in refusal(body.read_json(request(b"{}"), SCHEMA)).message
    assert refusal(body.read_json(request(b"\xff\xfe"), SCHEMA)).status == 422
    assert refusal(body.read_json(request(b'{"scene": "a",}'), SCHEMA)).status == 422


def test_body_is_refused_while_reading_whatever_content_length_says() -> None:
    # A lying Content-Length (small) with a big chunked body: refused once past the cap.
    exc = refusal(body.read_bytes(request(b"x" * 50_000, {"content-length": "10"}), limit=16_384))
    assert exc.status == 413
    assert refusal(body.read_bytes(request(b"x", {"content-length": "99999999"}), limit=16_384)).status == 413
    assert refusal(body.read_bytes(request(b"x", {"content-length": "1" * 5000}), limit=16_384)).status == 400
    assert refusal(body.read_bytes(request(b"x", {"content-length": "١٢"}), limit=16_384)).status == 400


def test_query_numbers_are_bounded() -> None:
    assert body.bounded_int(None, "offset", 0, 0, 10) == 0
    for bad in ("99999999999999999999999", "-1", "1.5", "١٢", "x", "11"):
        with pytest.raises(Refusal) as info:
            body.bounded_int(bad, "offset", 0, 0, 10)
        assert info.value.status == 422 and "offset" in info.value.message


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=30))
def test_any_json_value_is_accepted_or_refused_never_raises(value) -> None:
    import json

    raw = json.dumps(value).encode()
    try:
        asyncio.run(body.read_json(request(raw), SCHEMA))
    except Refusal as exc:
        assert 400 <= exc.status < 500 and exc.message


def test_every_route_is_declared_in_web() -> None:
    outside = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if not p.is_relative_to(PACKAGE / "web") and re.search(r"\b(Route|WebSocketRoute|Mount)\(", p.read_text())]
    assert outside == []


def test_operator_routes_need_the_token_except_the_login_pages() -> None:
    open_ = {(e.method, e.path) for e in routes.OPERATOR if not e.token}
    assert open_ == {("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("GET", "/login/status"),
                     ("GET", "/logout"), ("GET", "/favicon.ico"), ("GET", "/healthz")}
    assert all(e.path.startswith(("/api/", "/ws", "/metrics")) for e in routes.OPERATOR if e.token)


def test_public_and_studio_routes_do_not_overlap() -> None:
    studio = {(e.method, e.path) for e in (*routes.OPERATOR, *routes.PHONE)}
    public = {(e.method, e.path) for e in routes.PUBLIC}
    assert studio & public == {("GET", "/healthz")}   # both have a liveness check of their own
    assert not any(e.path.startswith("/api") for e in routes.PUBLIC)


def test_every_json_body_forbids_unknown_fields() -> None:
    for ep in (*routes.OPERATOR, *routes.PHONE, *routes.PUBLIC):
        if ep.body is not None:
            assert ep.body.get("additionalProperties") is False, ep.path


def test_openapi_describes_every_http_route() -> None:
    from openapi_spec_validator import validate

    doc = document()
    validate(doc)
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    declared = {(e.method, e.path) for e in (*routes.OPERATOR, *routes.PHONE, *routes.PUBLIC) if e.method != "WS"}
    assert described == declared
    assert set(doc["x-websockets"]) == {"/ws", "/api/thumbs/ws", "/join/{slot}/ws"}
    program = doc["paths"]["/api/program"]["post"]
    assert program["requestBody"]["content"]["application/json"]["schema"]["additionalProperties"] is False
    assert {"401", "404", "413", "422"} <= set(program["responses"])


def test_docs_api_md_names_every_route() -> None:
    text = (PACKAGE.parent / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [f"{e.method} {e.path}" for e in (*routes.OPERATOR, *routes.PHONE, *routes.PUBLIC)
               if f"`{e.path}`" not in text]
    assert missing == []


def conn(client: str, forwarded: str | None = None) -> Request:
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    return request(b"", headers, client)


def test_forwarded_for_is_believed_only_from_listed_proxies() -> None:
    nobody = ClientAddress(())
    assert nobody.of(conn("127.0.0.1", "1.2.3.4")) == "127.0.0.1"   # uvicorn would have believed this
    proxy = ClientAddress(("10.0.0.0/24",))
    assert proxy.of(conn("192.0.2.7", "1.2.3.4")) == "192.0.2.7"    # not our proxy: header ignored
    assert proxy.of(conn("10.0.0.5", "1.2.3.4")) == "1.2.3.4"
    # A client's own forged hops stand left of what our proxy appended: the right-most untrusted hop wins.
    assert proxy.of(conn("10.0.0.5", "6.6.6.6, 1.2.3.4")) == "1.2.3.4"
    assert proxy.of(conn("10.0.0.5", "1.2.3.4, 10.0.0.9")) == "1.2.3.4"
    assert proxy.of(conn("10.0.0.5", "not-an-ip")) == "10.0.0.5"
    assert proxy.of(conn("10.0.0.5", "")) == "10.0.0.5"


def test_csrf_field_refuses_forgeries_without_raising() -> None:
    csrf = Csrf(b"k" * 32)
    nonce, field = csrf.issue(None)
    assert csrf.check(nonce, field)
    ts, sig = field.split(".")
    for forged in ("9" * 5000 + "." + sig, "١٢٣٤٥." + sig, f"{ts}.{'0' * 32}", "", ".", None, 5, ["x"], "x" * 10_000):
        assert not csrf.check(nonce, forged)
    assert not csrf.check("other" * 6 + "ab", field)


def test_trusted_proxies_are_checked_in_the_fair() -> None:
    import yaml

    from stream_ops.jobfair.model import check_jobfair

    data = yaml.safe_load((PACKAGE.parent / "scenes" / "fair" / "fair.yaml").read_text(encoding="utf-8"))
    data["apply"] = {"trusted_proxies": ["10.0.0.0/24", "::1", "proxy.example.cn"], "port": 8123}
    model, problems = check_jobfair(data, PACKAGE.parent / "scenes" / "fair")
    assert [(p.path, "not an address" in p.message) for p in problems if p.severity != "warning"] == \
        [(("apply", "trusted_proxies", 2), True)]
    data["apply"]["trusted_proxies"] = ["10.0.0.0/24", "::1"]
    model, problems = check_jobfair(data, PACKAGE.parent / "scenes" / "fair")
    assert model is not None and model.apply.trusted_proxies == ("10.0.0.0/24", "::1/128") and model.apply.port == 8123
