"""The one ASGI app: operator API and WebSocket, panel, phone pages, applicant form.

Each part contributes its routes; the token gate sits in front of `/api`, `/ws`
and `/metrics`. Public pages (the apply form, the phone join page, WHIP with its
own slot token) are reachable without the operator token.
"""
from __future__ import annotations

import contextlib
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..show import Show
from . import api, ws
from .auth import TokenMiddleware

PUBLIC_API = ("/api/public/",)


def create_app(show: Show) -> Starlette:
    routes = [*api.routes(show), *ws.routes(show)]
    if show.jobfair is not None:
        from ..jobfair.web import routes as jobfair_routes

        routes += jobfair_routes(show.jobfair)
    if show.phones is not None:
        routes += show.phones.routes()
    try:
        from ..panel.web import routes as panel_routes
    except ImportError:   # the panel is optional for API-only use
        panel_routes = None
    if panel_routes is not None:
        routes += panel_routes(show)

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"not found: {request.url.path}"}, 404)

    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"method {request.method} not allowed on {request.url.path}"}, 405)

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "internal error; see the server log"}, 500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await show.start()
        try:
            yield
        finally:
            await show.stop()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(TokenMiddleware, token=show.token, public=PUBLIC_API)],
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
        lifespan=lifespan,
    )
    app.state.show = show
    return app
