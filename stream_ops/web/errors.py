"""How every refusal and every unexpected failure is answered: one place, one shape.

`{"error": reason, "code": word}` with the refusal's status. A handler raises
`Refusal`; this module renders it. Anything else that escapes a handler is a bug:
it is logged with its traceback and answered with a 500 that says only that.
"""
from __future__ import annotations

import logging
import math

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..refusal import Refusal

log = logging.getLogger(__name__)


def refusal_headers(exc: Refusal) -> dict[str, str]:
    """The protocol headers a refusal comes with, whatever the body's format."""
    headers = dict(exc.headers)
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if exc.status == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = "Bearer"
    return headers


def refusal_response(exc: Refusal) -> JSONResponse:
    return JSONResponse(exc.as_json(), exc.status, headers=refusal_headers(exc))


async def on_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return refusal_response(exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no route, wrong method) in our shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return refusal_response(Refusal(404, f"not found: {request.url.path}"))
    if exc.status_code == 405:
        return refusal_response(Refusal(405, f"method {request.method} not allowed on {request.url.path}",
                                        headers=dict(exc.headers or {})))
    return refusal_response(Refusal(exc.status_code, str(exc.detail)))


async def on_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal error; see the server log", "code": "internal"}, 500)


EXCEPTION_HANDLERS = {Refusal: on_refusal, HTTPException: on_http_exception, Exception: on_error}
