"""What a phone (or any WHIP publisher) calls: the join page, its socket, WHIP.

    GET  /join/{slot}#t=TOKEN      the page (the token stays in the fragment, so no log holds it)
    WS   /join/{slot}/ws           first message {"type":"hello","token","client"}; then tally and
                                   kick notices down, the phone's own figures up
    POST /whip/{slot}              RFC 9725: Bearer <slot token>, application/sdp -> 201 + answer
    DELETE /whip/{slot}/{session}  end the session; the slot waits for a phone again
    PATCH  /whip/{slot}/{session}  405: no trickle ICE, the answer carries every candidate

The slot token is the one in the join link, never the operator's token. The
phone hub (phones/hub.py) decides who may publish; this module only speaks HTTP.
"""
from __future__ import annotations

import asyncio
import html
import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..phones.sdp import MAX_SDP_BYTES
from ..refusal import Refusal
from .auth import bearer
from .body import media_type, read_bytes
from .sockets import close, parse_message, socket_messages

STATIC = Path(__file__).parent.parent / "phones" / "static"
CLIENT_HEADER = "x-phone-client"   # the join page's id, so the same page can take its slot back after a drop
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, X-Phone-Client",
    "Access-Control-Expose-Headers": "Location, ETag, Link",
    "Access-Control-Max-Age": "600",
}
HELLO_TIMEOUT_S = 10


def _hub(conn: Any) -> Any:
    hub = conn.app.state.hub
    if hub is None:
        raise Refusal(404, "this show has no phone slots")
    return hub


def _page_template() -> str:
    return (STATIC / "join.html").read_text(encoding="utf-8")


async def join_page(request: Request) -> Response:
    hub, name = request.app.state.hub, request.path_params["slot"]
    if hub is None or not hub.has(name):
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><h1>没有这个机位：{html.escape(name)}</h1>"
                            "<p>请向导播索取正确的二维码。No such phone slot.</p>", 404)
    settings = hub.page_settings(name)
    blob = json.dumps(settings, ensure_ascii=False).replace("</", "<\\/")
    body = _page_template().replace("{{settings}}", blob).replace("{{label}}", html.escape(settings["label"]))
    return HTMLResponse(body, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def join_socket(ws: WebSocket) -> None:
    hub, name = ws.app.state.hub, ws.path_params["slot"]
    if hub is None or not hub.has(name):
        await close(ws, 4404)
        return
    try:
        hello = parse_message(await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT_S))
    except (asyncio.TimeoutError, WebSocketDisconnect, KeyError, RuntimeError):
        await close(ws, 4400)
        return
    if hello is None:
        await close(ws, 4400)
        return
    if not hub.token_ok(name, hello.get("token")):
        try:
            await ws.send_json({"type": "revoked"})
        except (RuntimeError, ConnectionError):
            pass
        await close(ws, 4401)
        return
    client = hello.get("client")
    # STUN/TURN credentials go only to a page that proved its slot token, never into the public HTML.
    await ws.send_json({"type": "config", "ice_servers": hub.ice_for_peer()})
    channel = hub.open_page(name, client[:64] if isinstance(client, str) else "")
    sender = asyncio.create_task(_pump(ws, channel))
    try:
        async for message in socket_messages(ws):
            if message.get("type") == "stats":
                hub.page_stats(channel, message)
    finally:
        sender.cancel()
        hub.close_page(channel)


async def _pump(ws: WebSocket, channel: Any) -> None:
    try:
        while True:
            message = await channel.outbox.get()
            await ws.send_json(message)
            if message.get("type") in ("revoked", "kicked"):
                await ws.close(4409 if message["type"] == "kicked" else 4401)
                return
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass


# --------------------------------------------------------------------------- WHIP

def whip_refusal(exc: Refusal) -> JSONResponse:
    headers = {**CORS, **exc.headers}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="whip"'
    return JSONResponse(exc.as_json(), exc.status, headers=headers)


async def whip_post(request: Request) -> Response:
    try:
        hub, name = _hub(request), request.path_params["slot"]
        if not hub.has(name):
            raise Refusal(404, f"no phone slot {name!r}")
        if not hub.token_ok(name, bearer(request)):
            raise Refusal(401, "wrong or revoked token for this slot: send Authorization: Bearer <slot token>")
        ctype = media_type(request)
        if ctype != "application/sdp":
            raise Refusal(415, f"Content-Type must be application/sdp, not {ctype or 'missing'}")
        body = await read_bytes(request, MAX_SDP_BYTES)
        try:
            offer = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(400, "the SDP offer is not UTF-8 text") from None
        client = (request.headers.get(CLIENT_HEADER) or "")[:64] or None
        peer, answer = await hub.publish(name, offer, bearer(request), client)
    except Refusal as exc:
        return whip_refusal(exc)
    return Response(answer, 201, media_type="application/sdp",
                    headers={**CORS, "Location": f"/whip/{name}/{peer.session}", "ETag": f'"{peer.session}"'})


async def whip_delete(request: Request) -> Response:
    try:
        await _hub(request).end_session(request.path_params["slot"], request.path_params["session"], bearer(request))
    except Refusal as exc:
        return whip_refusal(exc)
    return Response(status_code=200, headers=CORS)


async def whip_patch(request: Request) -> Response:
    return whip_refusal(Refusal(405, "trickle ICE and ICE restarts are not supported: POST a new offer with all "
                                     "candidates"))


async def whip_options(request: Request) -> Response:
    return Response(status_code=204, headers={**CORS, "Accept-Post": "application/sdp"})
