"""The one token check, and the gate in front of the operator's routes.

Operator routes need `Authorization: Bearer TOKEN` (browsers may send `?token=` or
the `so_token` cookie set by the panel's login). Without it: 401 (HTTP) or close
code 4401 (WebSocket, after accepting it so that the browser sees the code).
Phone slot tokens and the job fair's CSRF fields are compared with `same_secret` too.
"""
from __future__ import annotations

from starlette.requests import HTTPConnection

from ..tokens import make_token, same_secret

__all__ = ["COOKIE", "bearer", "make_token", "presented_token", "same_secret", "token_ok"]

COOKIE = "so_token"


def bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def presented_token(conn: HTTPConnection) -> str | None:
    return bearer(conn) or conn.query_params.get("token") or conn.cookies.get(COOKIE)


def token_ok(conn: HTTPConnection, token: str) -> bool:
    return same_secret(presented_token(conn), token)
