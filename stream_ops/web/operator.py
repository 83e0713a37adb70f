"""The operator's HTTP handlers: the show, its outputs and sources, the job fair, phone links.

Each handler reads what it needs from `request.app.state` (show, hub, jobfair),
takes a body already checked against its route's schema (web/routes.py), calls
the owner's command and returns what the owner answered. Owners refuse with
`Refusal`; errors.py renders it. Nothing here decides a rule of the show.
"""
from __future__ import annotations

import asyncio
import io
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..refusal import Refusal
from .body import bounded_int
from .metrics import prometheus

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0")


def actor(request: Request) -> str:
    """Who sent a command, for the event log: the X-Operator name, else operator@address."""
    client = request.client.host if request.client else "?"
    # Browsers send only ASCII headers: a name like 张导 arrives percent-encoded.
    name = unquote(request.headers.get("x-operator", "")).strip()[:40]
    name = "".join(ch for ch in name if ch.isprintable())
    return name or f"operator@{client}"


# --------------------------------------------------------------------------- the show

async def state(request: Request, body: dict[str, Any]) -> Any:
    return request.app.state.show.state()


async def program(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.set_program(body.get("scene"), body.get("transition", "cut"),
                                                    body.get("duration_ms"), actor(request), body.get("canvas"))


async def preview(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.set_preview(body.get("scene"), actor(request), body.get("canvas"))


async def take(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.take(body.get("transition"), body.get("duration_ms"), actor(request),
                                             body.get("canvas"))


async def link(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.set_linked(body["linked"], actor(request))


async def output_start(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.start_output(request.path_params["name"], actor(request))


async def output_stop(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.stop_output(request.path_params["name"], actor(request))


async def outputs_start_all(request: Request, body: dict[str, Any]) -> Any:
    show = request.app.state.show
    return {"outputs": [await show.start_output(name, actor(request)) for name in show.config.outputs]}


async def outputs_stop_all(request: Request, body: dict[str, Any]) -> Any:
    show = request.app.state.show
    return {"outputs": [await show.stop_output(name, actor(request)) for name in show.config.outputs]}


async def source_audio(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.set_source_audio(request.path_params["name"], body.get("gain_db"),
                                                         body.get("muted"), actor(request))


async def scene(request: Request, body: dict[str, Any]) -> Any:
    return request.app.state.show.scene_info(request.path_params["name"])


async def rundown(request: Request, body: dict[str, Any]) -> Any:
    return request.app.state.show.rundown_info()


async def rundown_advance(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.rundown_advance(actor(request))


async def rundown_goto(request: Request, body: dict[str, Any]) -> Any:
    return await request.app.state.show.rundown_goto(body["index"], actor(request))


async def healthz(request: Request, body: dict[str, Any]) -> Any:
    show = request.app.state.show
    return {"ok": True, "program": show.engine.program, "engine": "running" if show.engine.running else "stopped"}


async def openapi(request: Request, body: dict[str, Any]) -> Any:
    return request.app.state.openapi()


async def metrics(request: Request) -> Response:
    return PlainTextResponse(prometheus(request.app.state.show), media_type="text/plain; version=0.0.4")


# --------------------------------------------------------------------------- the job fair

def _fair(request: Request) -> Any:
    service = request.app.state.jobfair
    if service is None:
        raise Refusal(404, "this show has no job fair (no jobfair: section in the show file)", "no_jobfair")
    return service


async def fair_feature(request: Request, body: dict[str, Any]) -> Any:
    service = _fair(request)
    result = service.feature(body["job"])
    await service.written()
    return result


async def fair_segment(request: Request, body: dict[str, Any]) -> Any:
    service = _fair(request)
    result = service.start_segment(body["employer"])
    await service.written()
    return result


async def fair_stats(request: Request, body: dict[str, Any]) -> Any:
    return _fair(request).stats()


async def fair_overlay(request: Request, body: dict[str, Any]) -> Any:
    return _fair(request).overlay_context()


async def fair_applications(request: Request, body: dict[str, Any]) -> Any:
    service = _fair(request)
    limit = bounded_int(request.query_params.get("limit"), "limit", 100, 1, 1000)
    offset = bounded_int(request.query_params.get("offset"), "offset", 0, 0, 10_000_000)
    rows = await asyncio.to_thread(service.applications, limit, offset)
    return {"applications": rows, "limit": limit, "offset": offset,
            "total": service.summary()["applications"]["total"]}


async def fair_viewers(request: Request, body: dict[str, Any]) -> Any:
    return await _fair(request).add_viewer_sample(body["platform"], body["count"], body.get("source", "manual"),
                                                  body.get("note", ""))


async def fair_totals(request: Request, body: dict[str, Any]) -> Any:
    return await _fair(request).add_total(body["platform"], body["metric"], body["value"], body.get("note", ""))


# --------------------------------------------------------------------------- phone links

def _hub(request: Request) -> Any:
    hub = request.app.state.hub
    if hub is None:
        raise Refusal(404, "this show has no phone slots (no source of kind webrtc)", "no_phones")
    return hub


def _phone_name(request: Request) -> str:
    hub, name = _hub(request), request.path_params["name"]
    if not hub.has(name):
        raise Refusal(404, f"no phone slot {name!r}; phone slots: {', '.join(hub.names)}")
    return name


def reach_base(request: Request) -> str:
    """The show's public_url when set, otherwise the address the operator reached us at."""
    show = request.app.state.show
    if show.config.public_url:
        return show.base_url
    return str(request.base_url).rstrip("/")


def warning_for(base: str) -> str | None:
    """What keeps a real phone from using the link, in words the operator can act on."""
    parts = urlsplit(base)
    if parts.hostname in LOOPBACK:
        return ("手机无法打开 127.0.0.1：请在 show 文件设置 public_url，或用局域网地址打开控制台。"
                " Phones cannot reach this address: set public_url or open the panel by its LAN address.")
    if parts.scheme != "https":
        return ("手机浏览器只在 HTTPS 下允许摄像头：请为 public_url 配置 HTTPS。"
                " Phone browsers allow the camera only over HTTPS: serve public_url with TLS.")
    return None


def join_url(hub: Any, name: str, base: str) -> str:
    # The token rides in the fragment: browsers never send it to a server, so no log holds it.
    return f"{base}/join/{name}#t={hub.tokens[name]}"


def qr_svg(url: str) -> str:
    import segno

    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", scale=6, border=2, xmldecl=False, nl=False)
    return buf.getvalue().decode()


async def phones(request: Request, body: dict[str, Any]) -> Any:
    hub = _hub(request)
    return {"phones": [hub.info(n) for n in hub.names]}


async def phone_join(request: Request, body: dict[str, Any]) -> Any:
    hub, name = _hub(request), _phone_name(request)
    base = reach_base(request)
    url = join_url(hub, name, base)
    return {**hub.info(name), "url": url, "qr_svg": qr_svg(url), "qr_png": f"/api/sources/{name}/join.png",
            "whip_url": f"{base}/whip/{name}", "token": hub.tokens[name], "warning": warning_for(base)}


async def phone_join_png(request: Request) -> Response:
    import segno

    hub, name = _hub(request), _phone_name(request)
    buf = io.BytesIO()
    segno.make(join_url(hub, name, reach_base(request)), error="m").save(buf, kind="png", scale=8, border=2)
    return Response(buf.getvalue(), media_type="image/png", headers={"Cache-Control": "no-store"})


async def phone_rotate(request: Request, body: dict[str, Any]) -> Any:
    hub, name = _hub(request), _phone_name(request)
    await hub.rotate(name, body.get("kick", True))
    return await phone_join(request, {})


async def phone_takeover(request: Request, body: dict[str, Any]) -> Any:
    hub, name = _hub(request), _phone_name(request)
    hub.set_takeover(name, body["allow"])
    return {"name": name, "takeover": hub.takeover[name]}
