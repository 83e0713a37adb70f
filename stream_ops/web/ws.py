"""`/ws`: the full state first, then typed events as they happen.

Each client has its own bounded queue (events.Subscription): a slow browser
loses its own messages and gets a `resync`, nobody else waits for it.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..events import Subscription
from .sockets import socket_messages


async def events_socket(websocket: WebSocket) -> None:
    show = websocket.app.state.show
    sub = show.bus.subscribe()
    try:
        await websocket.send_text(_state_text(show))
        sender = asyncio.create_task(_send_events(websocket, sub, show))
        receiver = asyncio.create_task(_drain(websocket))
        # Whichever ends first (client gone, send failed) ends the other.
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        show.bus.unsubscribe(sub)


def _state_text(show: Any) -> str:
    return json.dumps({"type": "state", **show.state()}, ensure_ascii=False, default=str)


async def _send_events(websocket: WebSocket, sub: Subscription, show: Any) -> None:
    try:
        while True:
            event = await sub.get()
            # A client that fell behind gets the whole state instead of what it missed.
            await websocket.send_text(_state_text(show) if event.type == "resync" else event.text())
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        return


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages so a close is noticed at once."""
    async for _ in socket_messages(websocket):
        pass
