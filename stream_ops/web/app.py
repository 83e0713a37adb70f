"""The two ASGI apps: the studio's (operator + phones) and the public apply service's.

Routes come from web/routes.py; refusals are rendered by web/errors.py. Handlers
read the owners of commands from `app.state`: `show`, `hub` (phones), `jobfair`,
`thumbs`, `token` on the studio; `public` on the public service.
"""
from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from .errors import EXCEPTION_HANDLERS
from .openapi import document
from .routes import public_routes, studio_routes


def build(routes: list[BaseRoute], lifespan: Callable[[Starlette], Any] | None = None, **state: Any) -> Starlette:
    """An app serving `routes` with our refusal handlers and `state` on `app.state` (tests use it directly)."""
    app = Starlette(routes=routes, exception_handlers=dict(EXCEPTION_HANDLERS), lifespan=lifespan)
    for key, value in state.items():
        setattr(app.state, key, value)
    return app


def studio_app(show: Any, token: str, hub: Any = None, jobfair: Any = None, thumbs: Any = None,
               lifespan: Callable[[Starlette], Any] | None = None) -> Starlette:
    """The studio's routes over the given owners (no life cycle of its own unless `lifespan`)."""
    config = getattr(show, "config", None)
    known: dict[str, list[str]] = {}
    for kind, attr in (("scene", "scenes"), ("source", "sources"), ("output", "outputs")):
        known[kind] = list(getattr(config, attr, None) or ())
    if hub is not None:
        known["phone"] = list(hub.names)
    name = getattr(config, "name", "show")
    return build(studio_routes(), lifespan, show=show, hub=hub, jobfair=jobfair, token=token, thumbs=thumbs,
                 openapi=lambda: document(title=f"stream-ops: {name}", known=known))


def public_app(service: Any, lifespan: Callable[[Starlette], Any] | None = None) -> Starlette:
    """The public routes over a job-fair service (no life cycle of its own unless `lifespan`)."""
    from .public import PublicSide

    return build(public_routes(), lifespan, public=PublicSide(service), jobfair=service)


def running(start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]) -> Callable[[Starlette], Any]:
    """A lifespan that starts an owner with the app and stops it with the app."""
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await start()
        try:
            yield
        finally:
            await stop()

    return lifespan


def create_studio_app(show: Any, token: str) -> Starlette:
    """The studio: the panel, the operator API, `/ws`, phone pages and WHIP. Starts and stops the show."""
    from ..thumbnails import Thumbnailer

    return studio_app(show, token, hub=show.phones, jobfair=show.jobfair, thumbs=Thumbnailer(show.engine),
                      lifespan=running(show.start, show.stop))


def create_public_app(service: Any) -> Starlette:
    """The public apply service: the form, withdraw, visit counting. Starts and closes the job-fair service."""
    return public_app(service, running(service.start, service.close))
