"""Typed events and the bus that carries them to every WebSocket client.

Media threads publish through `EventBus.publish_threadsafe`; the asyncio loop fans
each event out to per-client bounded queues. A slow client loses its own messages
(and is told to resync), never anyone else's.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# Every event type the control plane emits; clients switch on `type`.
EVENT_TYPES = frozenset({
    "state",            # full state (first message on /ws, and after a resync)
    "program",          # {scene, transition, duration_ms}
    "preview",          # {scene}
    "source_state",     # {name, state, width, height, fps, ...}
    "source_audio",     # {name, gain_db, muted}
    "output_state",     # {name, state, kbps, bytes, uptime_s, reconnects, dropped, error}
    "levels",           # {program: {peak_db, rms_db}, sources: {name: {...}}}
    "log",              # {level, message, actor}
    "engine",           # {fps, late_frames, repeated_frames, encode_ms}
    "jobfair",          # jobfair stats / feature / segment changes
    "phone",            # phone slot join/leave/stats
    "resync",           # you missed messages: fetch /api/state
})


@dataclass
class Event:
    type: str
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)
    seq: int = 0
    _text: str | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "seq": self.seq, "ts": round(self.ts, 3), **self.data}

    def text(self) -> str:
        """The JSON text sent to clients, encoded once however many clients there are."""
        if self._text is None:
            self._text = json.dumps(self.to_json(), ensure_ascii=False, default=str)
        return self._text


class Subscription:
    """One client's bounded queue. Overflow drops that client's oldest and flags a resync."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.dropped += 1
            # Make room and tell the client it must resync from /api/state.
            try:
                self.queue.get_nowait()
            except asyncio.QueueEmpty:
                pass
            if event.type != "resync":
                try:
                    self.queue.put_nowait(Event("resync", {"dropped": self.dropped}, seq=event.seq))
                except asyncio.QueueFull:
                    pass
                return
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()


class EventBus:
    """Broadcast of typed events; also keeps a short history for the event log."""

    def __init__(self, history: int = 500, client_queue: int = 256) -> None:
        self._subs: set[Subscription] = set()
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client_queue = client_queue
        self.history: list[dict[str, Any]] = []
        self._history_max = history
        self.listeners: list[Any] = []   # in-process callables(event), called on the loop

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self) -> Subscription:
        sub = Subscription(self._client_queue)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def clients(self) -> int:
        return len(self._subs)

    def publish(self, type: str, **data: Any) -> None:
        """Publish from the event loop's thread."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        event = Event(type, data, seq=next(self._seq))
        if type in ("log", "program", "preview", "output_state", "source_state", "phone"):
            self.history.append(event.to_json())
            del self.history[: -self._history_max]
        for sub in list(self._subs):
            sub.offer(event)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the bus
                log.exception("event listener failed")

    def publish_threadsafe(self, type: str, **data: Any) -> None:
        """Publish from a media thread; a no-op once the loop is gone."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(lambda: self.publish(type, **data))
        except RuntimeError:  # loop closing during shutdown
            pass

    def log(self, message: str, level: str = "info", actor: str = "engine", **extra: Any) -> None:
        """An operator-readable line for the panel's event log (and the process log)."""
        getattr(log, level if level in ("info", "warning", "error") else "info")("[%s] %s", actor, message)
        self.publish("log", level=level, message=message, actor=actor, **extra)

    def log_threadsafe(self, message: str, level: str = "info", actor: str = "engine", **extra: Any) -> None:
        getattr(log, level if level in ("info", "warning", "error") else "info")("[%s] %s", actor, message)
        self.publish_threadsafe("log", level=level, message=message, actor=actor, **extra)
