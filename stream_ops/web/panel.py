"""The operator's control panel: login, the page and its assets, live thumbnails.

Routes are declared in web/routes.py. `/?token=TOKEN` (the URL `stream-ops run`
prints) sets the HttpOnly, SameSite=Strict `so_token` cookie and moves on to `/`,
so the token does not stay in the address bar.

Thumbnail socket protocol (`/api/thumbs/ws`): the client sends `{"watch": [targets]}`
(targets are `source:NAME`, `preview`, `program`, and `preview@CANVAS`, `program@CANVAS`
for every canvas but the main one) and `{"ack": target}` once it has
drawn a frame; the server sends binary messages `[1 byte n][n bytes target][JPEG]`,
at most one unacknowledged frame per target, always the newest. A slow client just
sees fewer frames; nobody else (and never the engine) waits for it.
"""
from __future__ import annotations

import asyncio
import difflib
import hashlib
import html
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..config import MAIN_CANVAS
from ..refusal import Refusal
from .auth import COOKIE, same_secret, token_ok
from .body import read_form
from .sockets import socket_messages

STATIC = Path(__file__).parent.parent / "panel" / "static"
COOKIE_MAX_AGE = 7 * 24 * 3600
ACK_TIMEOUT_S = 2.0       # a frame never acknowledged (tab asleep) stops blocking its target after this
MAX_LOGIN_BODY = 4096

# The panel runs only our own files; no frames, so no click-jacking of the TAKE button.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
                                "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                                "form-action 'self'"),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


class _Static(StaticFiles):
    """Static files the browser re-validates each load (cheap 304s), so an update is never half-applied."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _asset_version() -> str:
    """Changes whenever a static file does, so browsers never run a stale panel."""
    digest = hashlib.sha1()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:10]


def _panel_html() -> str:
    return (STATIC / "panel.html").read_text(encoding="utf-8").replace("{{v}}", _asset_version())


def _login_html(show_name: str, error: str = "") -> str:
    page = (STATIC / "login.html").read_text(encoding="utf-8")
    err = f'<p class="login-error" role="alert">{html.escape(error)}</p>' if error else ""
    return (page.replace("{{v}}", _asset_version()).replace("{{show}}", html.escape(show_name))
            .replace("{{error}}", err))


def _with_cookie(response: Response, token: str) -> Response:
    response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="strict")
    return response


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status, headers=SECURITY_HEADERS)


FAVICON = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
           b'<rect width="16" height="16" rx="3" fill="#c00000"/><circle cx="8" cy="8" r="4" fill="#fff"/></svg>')


def _show_name(request: Request) -> str:
    return request.app.state.show.config.name


async def index(request: Request) -> Response:
    token = request.app.state.token
    if "token" in request.query_params:
        if not token_ok(request, token):
            return _page(_login_html(_show_name(request), "令牌不对 · Wrong token"), 401)
        # A page of our own moves on to `/`: a navigation this site starts itself,
        # so the SameSite=Strict cookie goes along even when the link was opened
        # from another site (a chat, a mail); `replace` drops the token from history.
        hop = ('<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/">'
               '<title>stream-ops</title><a href="/">导播台 · Control panel</a>')
        return _with_cookie(_page(hop), token)
    if not token_ok(request, token):
        return RedirectResponse("/login", 303, headers={"Cache-Control": "no-store"})
    return _page(_panel_html())


async def login_page(request: Request) -> Response:
    return _page(_login_html(_show_name(request)))


async def login(request: Request) -> Response:
    token = request.app.state.token
    try:
        given = str((await read_form(request, MAX_LOGIN_BODY)).get("token", "")).strip()
    except Refusal as exc:
        return _page(_login_html(_show_name(request), exc.message), exc.status)
    if same_secret(given, token):
        return _with_cookie(RedirectResponse("/", 303, headers={"Cache-Control": "no-store"}), token)
    await asyncio.sleep(0.3)   # costs a guesser time, not the operator
    return _page(_login_html(_show_name(request), "令牌不对 · Wrong token" if given else "请输入令牌 · Enter the token"),
                 401)


async def login_status(request: Request, body: dict) -> dict:
    return {"logged_in": token_ok(request, request.app.state.token)}


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", 303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def favicon(request: Request) -> Response:
    # Browsers ask for it whatever the page says; a 404 would be a console error on air.
    return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


def _thumb_target(request: Request) -> str:
    name = request.path_params.get("name")
    if name is None:
        kind = request.url.path.rsplit("/", 1)[-1].removesuffix(".jpg")
        canvas = request.query_params.get("canvas", MAIN_CANVAS)
        if canvas == MAIN_CANVAS:
            return kind
        canvases = list(getattr(request.app.state.show.engine, "canvases", None) or [MAIN_CANVAS])
        if canvas not in canvases:
            match = difflib.get_close_matches(canvas, canvases, n=1, cutoff=0.6)
            hint = f" (did you mean '{match[0]}'?)" if match else ""
            raise Refusal(404, f"unknown canvas {canvas[:100]!r}{hint}; canvases: {', '.join(canvases)}")
        return f"{kind}@{canvas}"
    slots = request.app.state.show.engine.slots
    if name not in slots:
        raise Refusal(404, f"unknown source {name!r}; sources: {', '.join(slots)}")
    return f"source:{name}"


async def snapshot(request: Request) -> Response:
    thumbs = request.app.state.thumbs
    target = _thumb_target(request)
    fresh = thumbs.latest(target)
    if fresh is not None and time.time() - fresh.at < 1.0:
        jpeg = fresh.jpeg
    else:
        try:
            jpeg = await asyncio.to_thread(thumbs.snapshot, target)
        except LookupError as exc:
            raise Refusal(503, f"no picture yet: {exc}", "no_picture") from None
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def thumb_stats(request: Request, body: dict) -> dict:
    return request.app.state.thumbs.stats()


async def thumbs_socket(websocket: WebSocket) -> None:
    thumbs = websocket.app.state.thumbs
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def notify() -> None:   # called from the thumbnail thread
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:   # loop closed during shutdown
            pass

    wid = thumbs.watch((), notify)
    wanted: set[str] = set()
    sent: dict[str, int] = {}
    in_flight: dict[str, float] = {}

    async def receive() -> None:
        nonlocal wanted
        async for data in socket_messages(websocket):
            if isinstance(data.get("watch"), list):
                known = set(thumbs.targets())
                wanted = {t for t in data["watch"][:64] if isinstance(t, str) and t in known}
                thumbs.update(wid, wanted)
                sent.clear()
                in_flight.clear()
            if isinstance(data.get("ack"), str):
                in_flight.pop(data["ack"], None)
            wake.set()

    receiver = asyncio.create_task(receive())
    try:
        while not receiver.done():
            waiter = asyncio.create_task(wake.wait())
            await asyncio.wait({waiter, receiver}, timeout=ACK_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            wake.clear()
            now = time.monotonic()
            for target in list(wanted):
                if target in in_flight and now - in_flight[target] < ACK_TIMEOUT_S:
                    continue
                thumb = thumbs.latest(target)
                if thumb is None or sent.get(target) == thumb.seq:
                    continue
                await websocket.send_bytes(thumb_message(target, thumb.jpeg))
                sent[target] = thumb.seq
                in_flight[target] = now
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        receiver.cancel()
        thumbs.unwatch(wid)


def thumb_message(target: str, jpeg: bytes) -> bytes:
    """The binary message the socket sends (exposed for tests)."""
    name = target.encode()
    return bytes([len(name)]) + name + jpeg

