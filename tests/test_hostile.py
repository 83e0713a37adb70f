"""A real `stream-ops run` with a job fair and a phone slot, attacked from outside.

Every attack from the control-plane and public-side issues, tried on 127.0.0.1: each
gets a 4xx with a reason (or a WebSocket close code), nothing is counted or lost, the
process's memory does not grow with what it is sent, and the public apply service,
killed, comes back by itself while the program runs on.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket

import httpx
import psutil
import pytest
import websockets

from peers import ShowProcess, wait_until
from shows import fair_show

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def show(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    proc = ShowProcess(tmp, fair_show(tmp, "攻防演练"))
    wait_until(lambda: proc.request("GET", "/healthz", public=True)[0] == 200, timeout=20,
               message="the public apply service")
    yield proc
    proc.stop()
    assert "Traceback" not in proc.log(), proc.log()[-4000:]


def studio(show: ShowProcess) -> str:
    return f"http://127.0.0.1:{show.port}"


def public(show: ShowProcess) -> str:
    return f"http://127.0.0.1:{show.public_port}"


AUTH = {"Authorization": "Bearer test-token"}
DEEP = b'{"a":' * 2000 + b"1" + b"}" * 2000    # 12 KB
DEEP_SMALL = b"[" * 2000 + b"]" * 2000            # 4 KB, under the public cap
OPERATOR_POSTS = ["/api/program", "/api/preview", "/api/take", "/api/outputs/all/start", "/api/sources/blue/audio",
                  "/api/jobfair/feature", "/api/jobfair/segment", "/api/viewers", "/api/jobfair/totals",
                  "/api/sources/phone1/join/rotate", "/api/sources/phone1/join/takeover"]


def test_each_side_serves_only_its_own_routes(show) -> None:
    assert httpx.get(studio(show) + "/apply").status_code == 404
    assert httpx.post(studio(show) + "/apply", json={}).status_code in (404, 405)
    assert httpx.get(public(show) + "/api/state", headers=AUTH).status_code == 404
    assert httpx.get(public(show) + "/", headers=AUTH).status_code == 404
    assert httpx.get(public(show) + "/login").status_code == 404
    assert httpx.get(public(show) + "/join/phone1").status_code == 404
    assert httpx.get(public(show) + "/apply").status_code == 200
    assert show.state()["apply_service"]["url"].endswith(f":{show.public_port}/apply")


def test_nested_json_everywhere_is_422(show) -> None:
    with httpx.Client(headers={**AUTH, "Content-Type": "application/json"}) as c:
        for path in OPERATOR_POSTS:
            r = c.post(studio(show) + path, content=DEEP)
            assert r.status_code == 422 and "nested" in r.json()["error"], (path, r.text)
    for path in ("/apply", "/apply/withdraw"):
        r = httpx.post(public(show) + path, content=DEEP_SMALL, headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["code"] == "depth", (path, r.text)


def test_huge_numbers_misspelt_fields_and_bad_queries_are_422(show) -> None:
    with httpx.Client(headers=AUTH) as c:
        r = c.post(studio(show) + "/api/program", content=b'{"scene": "blue", "duration_ms": ' + b"9" * 5000 + b"}",
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and "number" in r.json()["error"]
        r = c.get(studio(show) + "/api/jobfair/applications", params={"offset": "9" * 23})
        assert r.status_code == 422 and "offset" in r.json()["error"]
        before = show.state()["jobfair"]["featured"]
        c.post(studio(show) + "/api/jobfair/feature", json={"job": "J003"})
        r = c.post(studio(show) + "/api/jobfair/feature", json={"jbo": "J005"})
        assert r.status_code == 422 and "'jbo'" in r.json()["error"]
        assert show.state()["jobfair"]["featured"]["job"] == "J003"   # the misspelt call changed nothing
        c.post(studio(show) + "/api/jobfair/segment", json={"employer": "E01"})
        r = c.post(studio(show) + "/api/jobfair/segment", json={"employee": "E02"})
        assert r.status_code == 422 and show.state()["jobfair"]["segment"]["employer"] == "E01"
        assert c.post(studio(show) + "/api/sources/blue/audio", json={"gain_db": 24}).status_code == 422
        assert before is None or isinstance(before, dict)
    # A forged 5,000-digit CSRF field on the form.
    with httpx.Client(base_url=public(show), headers={"Origin": public(show)}) as form:
        form.get("/apply")
        r = form.post("/apply", data={"csrf": "9" * 5000 + ".x", "name": "张三", "phone": "13800138000",
                                      "job": "J001", "consent": "E01"})
        assert r.status_code == 403


def test_oversized_bodies_are_refused_before_they_are_read(show) -> None:
    proc = psutil.Process(show.proc.pid)
    rss0 = proc.memory_info().rss

    def chunks(total: int, size: int = 1 << 20):
        sent = 0
        while sent < total:
            sent += size
            yield b"x" * size

    with httpx.Client(headers=AUTH, timeout=30) as c:
        r = c.post(studio(show) + "/api/program", content=b"x" * (20 << 20), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        for url in (studio(show) + "/api/program", studio(show) + "/login"):
            try:   # chunked, no Content-Length: the server must stop reading at its cap
                r = c.post(url, content=chunks(300 << 20), headers={"Content-Type": "application/x-www-form-urlencoded"})
                assert r.status_code == 413, url
            except httpx.HTTPError:
                pass   # the server answered 413 and closed while we were still sending: also fine
    r = httpx.post(studio(show) + "/api/sources/phone1/join/rotate", headers=AUTH,
                   content=b'{"kick": true, "x": "' + b"y" * 20_000 + b'"}')
    assert r.status_code == 413
    grown = (proc.memory_info().rss - rss0) / 2**20
    assert grown < 50, f"RSS grew {grown:.0f} MiB from refused bodies"
    r = httpx.post(public(show) + "/apply", content=b"x" * (1 << 20), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_phone_page_socket_refuses_bad_hellos_with_a_close_code(show) -> None:
    url = f"ws://127.0.0.1:{show.port}/join/phone1/ws"

    async def close_code(*messages) -> int:
        async with websockets.connect(url) as ws:
            for m in messages:
                await ws.send(m)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else 1006

    assert asyncio.run(close_code(json.dumps({"type": "hello", "token": 123}))) == 4401
    assert asyncio.run(close_code(json.dumps({"type": "hello", "token": ["a"]}))) == 4401
    assert asyncio.run(close_code(json.dumps([1, 2]))) == 4400
    assert asyncio.run(close_code(b"\x00\x01binary")) == 4400

    async def binary_after_hello() -> bool:
        token = httpx.get(studio(show) + "/api/sources/phone1/join", headers=AUTH).json()["token"]
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token, "client": "t"}))
            assert json.loads(await ws.recv())["type"] == "config"
            await ws.send(b"\xff" * 100)
            await ws.send(json.dumps({"type": "stats", "fps": "NaN", "rtt_ms": [1]}))
            await ws.send('{"type": "stats", "fps": ' + "9" * 5000 + "}")
            await ws.send(json.dumps({"type": "stats", "fps": 30}))
            await asyncio.wait_for(ws.recv(), 5)   # still talking to us: a tally heartbeat arrives
            return True

    assert asyncio.run(binary_after_hello())


def test_event_socket_without_token_closes_4401(show) -> None:
    async def code() -> int:
        async with websockets.connect(f"ws://127.0.0.1:{show.port}/ws") as ws:
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else 1006
        return 0

    assert asyncio.run(code()) == 4401


def test_forged_forwarded_for_does_not_escape_the_rate_limit(show) -> None:
    codes = []
    for i in range(8):
        r = httpx.post(public(show) + "/apply", headers={"X-Forwarded-For": f"203.0.113.{i}",
                                                          "X-Real-IP": f"198.51.100.{i}", "Forwarded": f"for=192.0.2.{i}"},
                       json={"name": "攻击者", "phone": f"1390000{i:04d}", "job": "J001", "consent": ["E01"]})
        codes.append(r.status_code)
    assert codes.count(429) >= 3, codes


def test_public_service_killed_mid_show_comes_back_and_the_program_runs_on(show) -> None:
    before = show.state()
    pid = before["apply_service"]["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: show.state()["apply_service"]["pid"] not in (None, pid), timeout=15, message="a new child")
    wait_until(lambda: show.request("GET", "/healthz", public=True)[0] == 200, timeout=15, message="apply back")
    after = show.state()
    assert after["apply_service"]["restarts"] >= 1 and after["apply_service"]["running"]
    assert after["engine"]["frames"] > before["engine"]["frames"]
    print(f"\nprogram during the kill: {after['engine']['frames'] - before['engine']['frames']} frames, "
          f"late {after['engine']['late_frames'] - before['engine']['late_frames']}")
    # The killed child's socket was the studio's: nothing else listens there, nobody else took the port.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", show.public_port)) == 0
    assert any("报名服务已重启" in entry.get("message", "") for entry in after["log"])
