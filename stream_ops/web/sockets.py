"""Reading WebSocket messages from outside: bounded, parsed, never trusted.

Every socket we serve (the event socket, thumbnails, the phone page) reads client
messages through `socket_messages`: text frames only, at most `limit` characters,
JSON with the same depth and number bounds as HTTP bodies, objects only. Anything
else is skipped, so a hostile or confused client cannot raise inside a handler.
"""
from __future__ import annotations

from typing import Any, AsyncIterator

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..refusal import Refusal
from .body import parse_json

MAX_MESSAGE = 16 * 1024


def parse_message(text: str | None, limit: int = MAX_MESSAGE) -> dict[str, Any] | None:
    """A client text frame as a JSON object, or None if it is anything else."""
    if text is None or len(text) > limit:
        return None
    try:
        data = parse_json(text.encode("utf-8", "replace"))
    except Refusal:
        return None
    return data if isinstance(data, dict) else None


async def socket_messages(websocket: WebSocket, limit: int = MAX_MESSAGE) -> AsyncIterator[dict[str, Any]]:
    """JSON objects the client sends, until it goes away; binary and malformed frames are skipped."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = parse_message(message.get("text"), limit)
            if data is not None:
                yield data
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        return


async def close(websocket: WebSocket, code: int) -> None:
    """Close with `code`, ignoring a client that is already gone."""
    try:
        await websocket.close(code)
    except (RuntimeError, ConnectionError):
        pass
