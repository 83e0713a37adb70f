"""Bearer-token gate for the operator's API.

`/api/*`, `/ws` and `/metrics` need `Authorization: Bearer TOKEN` (browsers may
send `?token=` or the `so_token` cookie set by the panel's login). Public pages
(the applicant form, the phone join page, WHIP, `/healthz`, static files) pass.
"""
from __future__ import annotations

import hmac
import os
import secrets

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

PROTECTED_PREFIXES = ("/api/", "/ws", "/metrics")
COOKIE = "so_token"


def make_token() -> str:
    """STREAM_OPS_TOKEN from the environment, or a fresh random one."""
    return os.environ.get("STREAM_OPS_TOKEN") or secrets.token_urlsafe(18)


def presented_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return conn.query_params.get("token") or conn.cookies.get(COOKIE)


def token_ok(conn: HTTPConnection, token: str) -> bool:
    given = presented_token(conn)
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


class TokenMiddleware:
    """Refuses protected paths without the operator token: 401 (HTTP) or close 4401 (WebSocket)."""

    def __init__(self, app: ASGIApp, token: str, public: tuple[str, ...] = ()) -> None:
        self.app = app
        self.token = token
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path.startswith(PROTECTED_PREFIXES) and not path.startswith(self.public):
                conn = HTTPConnection(scope)
                if not token_ok(conn, self.token):
                    if scope["type"] == "websocket":
                        await send({"type": "websocket.close", "code": 4401})
                        return
                    response = JSONResponse({"error": "unauthorized: send Authorization: Bearer TOKEN"}, 401,
                                            headers={"WWW-Authenticate": "Bearer"})
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
