"""Viewer pollers: platforms with an official API report their concurrent viewers.

- YouTube Data API v3: `GET /youtube/v3/videos?part=liveStreamingDetails&id=VIDEO&key=KEY`
  -> `items[0].liveStreamingDetails.concurrentViewers` (absent when not live).
- Twitch Helix: `GET /helix/streams?user_login=LOGIN` with `Client-Id` and
  `Authorization: Bearer TOKEN` -> `data[0].viewer_count` (`data` empty when offline).

Other platforms (视频号, 抖音, 哔哩哔哩 ...) have no public API for this: the operator
types the back-office figure, or a webhook posts it (`POST /api/viewers`).
A poll error is logged (never with the key), shown in the poller's state, and retried
with backoff; it never stops the show.
"""
from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import httpx

from .model import Platform, PollConfig

log = logging.getLogger(__name__)

YOUTUBE_BASE = "https://www.googleapis.com"
TWITCH_BASE = "https://api.twitch.tv"
MAX_BACKOFF_S = 600.0

Record = Callable[[str, int, str], Awaitable[None]]   # (platform, count, source)


class _RedactKeys(logging.Filter):
    """httpx logs each request URL at INFO; the YouTube key travels in the query."""

    _KEY = re.compile(r"([?&](?:key|access_token|token)=)[^&\s\"']+", re.I)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._KEY.sub(r"\1****", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_RedactKeys())


class PollError(Exception):
    """A poll failed; the message is safe to show (no keys, no URLs with keys)."""


@dataclass
class PollerState:
    platform: str
    kind: str
    state: str = "starting"          # starting / ok / offline / error / stopped
    last_count: int | None = None
    last_at: float | None = None
    error: str | None = None
    failures: int = 0                # consecutive
    next_poll_in_s: float = 0.0

    def as_dict(self) -> dict:
        return {"platform": self.platform, "kind": self.kind, "state": self.state, "last_count": self.last_count,
                "last_at": self.last_at, "error": self.error, "failures": self.failures,
                "next_poll_in_s": round(self.next_poll_in_s, 1)}


class Poller:
    """Polls one platform every `interval_s`; subclasses implement `fetch`."""

    kind = ""

    def __init__(self, platform: Platform, client: httpx.AsyncClient, record: Record,
                 on_state: Callable[[PollerState], None] | None = None) -> None:
        assert platform.poll is not None
        self.platform = platform
        self.config: PollConfig = platform.poll
        self.client = client
        self.record = record
        self.on_state = on_state
        self.state = PollerState(platform.id, self.kind)

    async def fetch(self) -> int | None:
        """The current viewer count, None when the stream is not live. Raises PollError."""
        raise NotImplementedError

    async def poll_once(self) -> int | None:
        try:
            count = await self.fetch()
        except PollError as exc:
            self._fail(str(exc))
            return None
        except httpx.HTTPError as exc:
            # str(exc) may contain the URL (and so the key): report only the kind of failure.
            self._fail(f"network error: {type(exc).__name__}")
            return None
        self.state.failures = 0
        self.state.error = None
        self.state.last_at = time.time()
        if count is None:
            self.state.state = "offline"
        else:
            self.state.state = "ok"
            self.state.last_count = count
            await self.record(self.platform.id, count, self.kind)
        self._changed()
        return count

    def _fail(self, message: str) -> None:
        self.state.failures += 1
        if self.state.error != message or self.state.failures in (1, 5, 20):
            log.warning("viewer poller %s (%s): %s", self.platform.id, self.kind, message)
        self.state.state = "error"
        self.state.error = message
        self._changed()

    def _changed(self) -> None:
        if self.on_state:
            try:
                self.on_state(self.state)
            except Exception:  # a broken listener must not stop polling
                log.exception("poller state listener failed")

    def delay(self) -> float:
        """Seconds to the next poll: the interval, doubled per consecutive failure, with jitter."""
        base = self.config.interval_s
        if self.state.failures:
            base = min(MAX_BACKOFF_S, base * 2 ** min(self.state.failures, 10))
        return base * random.uniform(0.9, 1.1)

    async def run(self) -> None:
        """Poll until cancelled."""
        try:
            while True:
                try:
                    await self.poll_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # e.g. the store failed: report, keep polling
                    log.exception("viewer poller %s failed", self.platform.id)
                    self._fail(f"internal error: {type(exc).__name__}")
                self.state.next_poll_in_s = self.delay()
                await asyncio.sleep(self.state.next_poll_in_s)
        finally:
            self.state.state = "stopped"


def _json(response: httpx.Response, what: str) -> dict:
    if response.status_code in (401, 403):
        raise PollError(f"{what} refused the credentials (HTTP {response.status_code}): check the key in the environment")
    if response.status_code == 429:
        raise PollError(f"{what} rate limit (HTTP 429): raise interval_s")
    if response.status_code >= 400:
        raise PollError(f"{what} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise PollError(f"{what} answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise PollError(f"{what} answered an unexpected JSON shape")
    return data


def _count(value: object, what: str) -> int:
    try:
        count = int(str(value))
    except ValueError:
        raise PollError(f"{what} gave a viewer count that is not a number") from None
    if count < 0:
        raise PollError(f"{what} gave a negative viewer count")
    return count


class YouTubePoller(Poller):
    kind = "youtube"

    async def fetch(self) -> int | None:
        base = (self.config.base_url or YOUTUBE_BASE).rstrip("/")
        key = self.config.api_key.reveal() if self.config.api_key else ""
        response = await self.client.get(f"{base}/youtube/v3/videos", params={
            "part": "liveStreamingDetails", "id": self.config.video_id, "key": key})
        data = _json(response, "YouTube")
        items = data.get("items") or []
        if not items:
            raise PollError(f"YouTube knows no video {self.config.video_id!r}: check video_id")
        details = items[0].get("liveStreamingDetails") or {}
        if "concurrentViewers" not in details:
            return None   # scheduled or ended: not live
        return _count(details["concurrentViewers"], "YouTube")


class TwitchPoller(Poller):
    kind = "twitch"

    async def fetch(self) -> int | None:
        base = (self.config.base_url or TWITCH_BASE).rstrip("/")
        headers = {"Client-Id": self.config.client_id.reveal() if self.config.client_id else "",
                   "Authorization": f"Bearer {self.config.token.reveal() if self.config.token else ''}"}
        response = await self.client.get(f"{base}/helix/streams", params={"user_login": self.config.user_login},
                                         headers=headers)
        data = _json(response, "Twitch")
        streams = data.get("data")
        if not isinstance(streams, list):
            raise PollError("Twitch answered without a data list")
        if not streams:
            return None   # offline
        return _count(streams[0].get("viewer_count"), "Twitch")


POLLERS: dict[str, type[Poller]] = {"youtube": YouTubePoller, "twitch": TwitchPoller}


def make_poller(platform: Platform, client: httpx.AsyncClient, record: Record,
                on_state: Callable[[PollerState], None] | None = None) -> Poller | None:
    """The poller for a platform with `poll:` configured, else None."""
    if platform.poll is None or platform.poll.kind not in POLLERS:
        return None
    return POLLERS[platform.poll.kind](platform, client, record, on_state)
