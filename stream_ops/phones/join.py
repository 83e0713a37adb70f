"""The phone join page, its tally socket, and the operator's join-link API.

    GET  /join/{slot}#t=TOKEN               the page (public; the token stays in the fragment,
                                            so it never reaches a server log)
    WS   /join/{slot}/ws                    first message {"type":"hello","token","client"};
                                            then tally and kick notices down, the phone's stats up
    GET  /phones/static/...                 the page's JS and CSS
    GET  /api/phones                        every phone slot (operator token)
    GET  /api/sources/{name}/join           link, SVG QR, WHIP URL and token (operator token)
    GET  /api/sources/{name}/join.png       the QR as PNG
    POST /api/sources/{name}/join/rotate    {"kick": true}: new token; the old link stops working
    POST /api/sources/{name}/join/takeover  {"allow": true|false}: may a second phone replace the first
"""
from __future__ import annotations

import asyncio
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import segno
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from .hub import PhoneHub

STATIC = Path(__file__).parent / "static"
MAX_BODY = 4096
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def base_url(hub: "PhoneHub", request: Request) -> str:
    """The show's public_url when set, otherwise the address the operator reached us at."""
    if getattr(hub.show.config, "public_url", None):
        return hub.show.base_url
    return str(request.base_url).rstrip("/")


def join_url(hub: "PhoneHub", name: str, base: str) -> str:
    return f"{base}/join/{name}#t={hub.tokens[name]}"


def qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m")


def qr_svg(url: str) -> str:
    buf = io.BytesIO()
    qr(url).save(buf, kind="svg", scale=6, border=2, xmldecl=False, nl=False)
    return buf.getvalue().decode()


def warning_for(base: str) -> str | None:
    """What keeps a real phone from using the link, in words the operator can act on."""
    parts = urlsplit(base)
    if parts.hostname in LOOPBACK or parts.hostname == "0.0.0.0":
        return ("手机无法打开 127.0.0.1：请在 show 文件设置 public_url，或用局域网地址打开控制台。"
                " Phones cannot reach this address: set public_url or open the panel by its LAN address.")
    if parts.scheme != "https":
        return ("手机浏览器只在 HTTPS 下允许摄像头：请为 public_url 配置 HTTPS。"
                " Phone browsers allow the camera only over HTTPS: serve public_url with TLS.")
    return None


async def read_body(request: Request, allowed: set[str]) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValueError(f"body too large (at most {MAX_BODY} bytes)")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    return body


def routes(hub: "PhoneHub") -> list[BaseRoute]:
    page_template = (STATIC / "join.html").read_text(encoding="utf-8")

    def unknown(name: str) -> JSONResponse:
        return JSONResponse({"error": f"no phone slot {name!r}; phone slots: {', '.join(hub.names)}"}, 404)

    # --- the phone's side --------------------------------------------------------
    async def page(request: Request) -> Response:
        name = request.path_params["slot"]
        if not hub.has(name):
            return HTMLResponse(f"<!doctype html><meta charset=utf-8><h1>没有这个机位：{html.escape(name)}</h1>"
                                "<p>请向导播索取正确的二维码。No such phone slot.</p>", 404)
        cfg = hub.show.config.sources[name]
        settings = {"slot": name, "label": cfg.label or name, "show": hub.show.config.name, **hub.options[name]}
        blob = json.dumps(settings, ensure_ascii=False).replace("</", "<\\/")
        body = page_template.replace("{{settings}}", blob).replace("{{label}}", html.escape(cfg.label or name))
        return HTMLResponse(body, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    async def page_socket(ws: WebSocket) -> None:
        name = ws.path_params["slot"]
        await ws.accept()
        if not hub.has(name):
            await ws.close(4404)
            return
        try:
            hello = json.loads(await asyncio.wait_for(ws.receive_text(), 10))
        except (asyncio.TimeoutError, json.JSONDecodeError, WebSocketDisconnect, KeyError, TypeError):
            await _close(ws, 4400)
            return
        if not isinstance(hello, dict) or not hub.token_ok(name, hello.get("token")):
            await ws.send_json({"type": "revoked"})
            await _close(ws, 4401)
            return
        # STUN/TURN credentials go only to a page that proved its slot token, never into the public HTML.
        ice = [server.for_peer() for server in getattr(hub.show.config, "ice_servers", ())]
        await ws.send_json({"type": "config", "ice_servers": ice})
        channel = hub.open_page(name, str(hello.get("client") or "")[:64])
        sender = asyncio.create_task(_pump(ws, channel))
        try:
            while True:
                message = json.loads(await ws.receive_text())
                if isinstance(message, dict) and message.get("type") == "stats":
                    hub.page_stats(channel, _clean_stats(message))
        except (WebSocketDisconnect, json.JSONDecodeError, RuntimeError):
            pass
        finally:
            sender.cancel()
            hub.close_page(channel)

    # --- the operator's side ----------------------------------------------------------
    async def list_phones(request: Request) -> Response:
        return JSONResponse({"phones": [hub.info(n) for n in hub.names]})

    async def join_info(request: Request) -> Response:
        name = request.path_params["name"]
        if not hub.has(name):
            return unknown(name)
        base = base_url(hub, request)
        url = join_url(hub, name, base)
        return JSONResponse({**hub.info(name), "url": url, "qr_svg": qr_svg(url),
                             "qr_png": f"/api/sources/{name}/join.png", "whip_url": f"{base}/whip/{name}",
                             "token": hub.tokens[name], "warning": warning_for(base)})

    async def join_png(request: Request) -> Response:
        name = request.path_params["name"]
        if not hub.has(name):
            return unknown(name)
        buf = io.BytesIO()
        qr(join_url(hub, name, base_url(hub, request))).save(buf, kind="png", scale=8, border=2)
        return Response(buf.getvalue(), media_type="image/png", headers={"Cache-Control": "no-store"})

    async def rotate(request: Request) -> Response:
        name = request.path_params["name"]
        if not hub.has(name):
            return unknown(name)
        try:
            body = await read_body(request, {"kick"})
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        kick = body.get("kick", True)
        if not isinstance(kick, bool):
            return JSONResponse({"error": "kick must be true or false"}, 422)
        await hub.rotate(name, kick)
        return await join_info(request)

    async def takeover(request: Request) -> Response:
        name = request.path_params["name"]
        if not hub.has(name):
            return unknown(name)
        try:
            body = await read_body(request, {"allow"})
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        if not isinstance(body.get("allow"), bool):
            return JSONResponse({"error": 'send {"allow": true} or {"allow": false}'}, 422)
        hub.set_takeover(name, body["allow"])
        return JSONResponse({"name": name, "takeover": hub.takeover[name]})

    return [
        Route("/join/{slot}", page, methods=["GET"]),
        WebSocketRoute("/join/{slot}/ws", page_socket),
        Mount("/phones/static", StaticFiles(directory=STATIC), name="phone-static"),
        Route("/api/phones", list_phones, methods=["GET"]),
        Route("/api/sources/{name}/join", join_info, methods=["GET"]),
        Route("/api/sources/{name}/join.png", join_png, methods=["GET"]),
        Route("/api/sources/{name}/join/rotate", rotate, methods=["POST"]),
        Route("/api/sources/{name}/join/takeover", takeover, methods=["POST"]),
    ]


def _clean_stats(message: dict[str, Any]) -> dict[str, Any]:
    """Only numbers we asked for: the page is not trusted with anything else."""
    out: dict[str, Any] = {}
    for key in ("bitrate_kbps", "fps", "width", "height", "rtt_ms"):
        value = message.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e6:
            out[key] = round(float(value), 1)
    return out


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


async def _close(ws: WebSocket, code: int) -> None:
    try:
        await ws.close(code)
    except RuntimeError:
        pass
