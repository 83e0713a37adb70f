"""`/ws`: the full state first, then typed events as they happen.

Each client has its own bounded queue (events.Subscription): a slow browser
loses its own messages and gets a `resync`, nobody else waits for it.
"""
from __future__ import annotations

import asyncio
import json

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..show import Show


def routes(show: Show) -> list[WebSocketRoute]:
    async def ws_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        sub = show.bus.subscribe()
        try:
            await websocket.send_text(json.dumps({"type": "state", **show.state()}, ensure_ascii=False, default=str))
            receiver = asyncio.create_task(_drain(websocket))
            while not receiver.done():
                getter = asyncio.create_task(sub.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                if event.type == "resync":
                    payload = {"type": "state", **show.state()}
                else:
                    payload = event.to_json()
                await websocket.send_text(json.dumps(payload, ensure_ascii=False, default=str))
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass
        finally:
            show.bus.unsubscribe(sub)

    return [WebSocketRoute("/ws", ws_endpoint)]


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages so a close is noticed at once."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
