"""Viewer pollers against local fakes of the YouTube Data API and Twitch Helix (real HTTP)."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from stream_ops.config import Secret
from stream_ops.jobfair.model import FairEvent, JobFair, Platform, PollConfig
from stream_ops.jobfair.service import JobFairService
from servers import free_port, serve_in_thread
from stream_ops.jobfair.viewers import TwitchPoller, YouTubePoller

KEY = "AIza-test-key-never-logged"


class Fake:
    """What the fake platform answers next, and what it was asked."""

    def __init__(self) -> None:
        self.youtube: tuple[int, Any] = (200, {"items": [{"liveStreamingDetails": {"concurrentViewers": "1234"}}]})
        self.twitch: tuple[int, Any] = (200, {"data": [{"user_login": "fair", "viewer_count": 56}]})
        self.requests: list[dict] = []

    def app(self) -> Starlette:
        async def videos(request: Request):
            self.requests.append({"path": "youtube", "query": dict(request.query_params)})
            status, body = self.youtube
            return PlainTextResponse(body, status) if isinstance(body, str) else JSONResponse(body, status)

        async def streams(request: Request):
            self.requests.append({"path": "twitch", "query": dict(request.query_params),
                                  "client_id": request.headers.get("client-id"),
                                  "auth": request.headers.get("authorization")})
            status, body = self.twitch
            return JSONResponse(body, status)

        return Starlette(routes=[Route("/youtube/v3/videos", videos), Route("/helix/streams", streams)])


@pytest.fixture
def fake():
    f = Fake()
    with serve_in_thread(f.app()) as base:
        f.base = base
        yield f


def platform(kind: str, base: str, interval: float = 5) -> Platform:
    if kind == "youtube":
        poll = PollConfig("youtube", interval, video_id="vid123", api_key=Secret(KEY), base_url=base)
    else:
        poll = PollConfig("twitch", interval, user_login="fair", client_id=Secret("cid"), token=Secret("tok"),
                          base_url=base)
    return Platform(kind, kind.title(), poll=poll)


async def test_youtube_counts_offline_and_errors(fake: Fake, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    got: list[tuple[str, int, str]] = []

    async def record(p: str, n: int, s: str) -> None:
        got.append((p, n, s))

    async with httpx.AsyncClient() as client:
        poller = YouTubePoller(platform("youtube", fake.base), client, record)
        assert await poller.poll_once() == 1234
        assert got == [("youtube", 1234, "youtube")] and poller.state.state == "ok"
        assert fake.requests[-1]["query"] == {"part": "liveStreamingDetails", "id": "vid123", "key": KEY}

        fake.youtube = (200, {"items": [{"liveStreamingDetails": {"actualEndTime": "2026-12-01T12:00:00Z"}}]})
        assert await poller.poll_once() is None and poller.state.state == "offline"

        normal = poller.delay()
        fake.youtube = (403, {"error": {"message": f"bad key {KEY}"}})
        assert await poller.poll_once() is None
        assert poller.state.state == "error" and "credentials" in poller.state.error
        fake.youtube = (200, "<html>not json</html>")
        await poller.poll_once()
        assert "not JSON" in poller.state.error and poller.state.failures == 2
        assert poller.delay() > normal * 3          # backs off
        fake.youtube = (200, {"items": []})
        await poller.poll_once()
        assert "video_id" in poller.state.error
        fake.youtube = (200, {"items": [{"liveStreamingDetails": {"concurrentViewers": "77"}}]})
        assert await poller.poll_once() == 77 and poller.state.failures == 0
    assert len(got) == 2
    assert KEY not in caplog.text and "key=****" in caplog.text   # httpx's request log is redacted


async def test_twitch_headers_offline_and_dead_server(fake: Fake) -> None:
    got: list[tuple[str, int, str]] = []

    async def record(p: str, n: int, s: str) -> None:
        got.append((p, n, s))

    async with httpx.AsyncClient() as client:
        poller = TwitchPoller(platform("twitch", fake.base), client, record)
        assert await poller.poll_once() == 56
        req = fake.requests[-1]
        assert req["query"] == {"user_login": "fair"} and req["client_id"] == "cid" and req["auth"] == "Bearer tok"
        fake.twitch = (200, {"data": []})
        assert await poller.poll_once() is None and poller.state.state == "offline"
        fake.twitch = (200, {"data": [{"viewer_count": -3}]})
        await poller.poll_once()
        assert poller.state.state == "error" and "negative" in poller.state.error

        dead = TwitchPoller(platform("twitch", f"http://127.0.0.1:{free_port()}"), client, record)
        assert await dead.poll_once() is None
        assert dead.state.state == "error" and dead.state.error.startswith("network error")
    assert got == [("twitch", 56, "twitch")]


async def test_service_runs_pollers_into_store_and_stats(fake: Fake, tmp_path: Path) -> None:
    yt = platform("youtube", fake.base)
    tw = platform("twitch", fake.base)
    fair = JobFair(FairEvent("测试"), {"youtube": Platform("youtube", "YouTube", True, yt.poll), "twitch": tw}, {})
    events: list[dict] = []
    service = JobFairService(fair, "t", tmp_path, publish=lambda t, d: events.append(d))
    await service.start()
    try:
        for _ in range(100):
            if len(service.store.viewer_samples()) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await service.close()
    samples = {(s.platform, s.count, s.source) for s in service.store.viewer_samples()}
    assert samples == {("youtube", 1234, "youtube"), ("twitch", 56, "twitch")}
    stats = service.stats()
    assert stats["viewers"]["platforms"]["youtube"]["current"] == 1234
    assert "concurrentViewers" in stats["viewers"]["platforms"]["youtube"]["meaning"]
    assert {p["platform"] for p in stats["pollers"]} == {"youtube", "twitch"}
    assert service.overlay_context()["stats"]["viewers"] == 1234    # the primary platform, not a sum
    assert any(e["kind"] == "viewers" for e in events) and any(e["kind"] == "poller" for e in events)
