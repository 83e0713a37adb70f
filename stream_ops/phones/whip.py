"""WHIP (RFC 9725) endpoints: any WHIP publisher — OBS, Larix, FFmpeg, our own join page.

    POST   /whip/{slot}            Authorization: Bearer <slot token>, Content-Type: application/sdp
                                   -> 201, body = SDP answer, Location: /whip/{slot}/{session}
    DELETE /whip/{slot}/{session}  -> 200, the slot waits for a phone again
    OPTIONS (both)                 -> 204, CORS preflight
    PATCH  /whip/{slot}/{session}  -> 405: no trickle ICE, the answer carries every candidate

The slot token is the one in the join link, never the operator's token.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..refusal import Refusal as PublishError
from .sdp import MAX_SDP_BYTES

if TYPE_CHECKING:
    from .hub import PhoneHub

CLIENT_HEADER = "x-phone-client"   # the join page's id, so the same page can take its slot back after a drop
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, X-Phone-Client",
    "Access-Control-Expose-Headers": "Location, ETag, Link",
    "Access-Control-Max-Age": "600",
}


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def refuse(status: int, message: str) -> JSONResponse:
    headers = dict(CORS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="whip"'
    return JSONResponse({"error": message}, status, headers=headers)


def routes(hub: "PhoneHub") -> list[BaseRoute]:
    async def post(request: Request) -> Response:
        name = request.path_params["slot"]
        if not hub.has(name):
            return refuse(404, f"no phone slot {name!r}")
        if not hub.token_ok(name, bearer(request)):
            return refuse(401, "wrong or revoked token for this slot: send Authorization: Bearer <slot token>")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/sdp":
            return refuse(415, f"Content-Type must be application/sdp, not {ctype or 'missing'}")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_SDP_BYTES:
                return refuse(413, f"SDP offer larger than {MAX_SDP_BYTES} bytes")
        try:
            offer = body.decode("utf-8")
        except UnicodeDecodeError:
            return refuse(400, "the SDP offer is not UTF-8 text")
        client = (request.headers.get(CLIENT_HEADER) or "")[:64] or None
        try:
            peer, answer = await hub.publish(name, offer, bearer(request), client)
        except PublishError as exc:
            return refuse(exc.status, exc.message)
        return Response(answer, 201, media_type="application/sdp",
                        headers={**CORS, "Location": f"/whip/{name}/{peer.session}", "ETag": f'"{peer.session}"'})

    async def delete(request: Request) -> Response:
        try:
            await hub.end_session(request.path_params["slot"], request.path_params["session"], bearer(request))
        except PublishError as exc:
            return refuse(exc.status, exc.message)
        return Response(status_code=200, headers=CORS)

    async def patch(request: Request) -> Response:
        return refuse(405, "trickle ICE and ICE restarts are not supported: POST a new offer with all candidates")

    async def options(request: Request) -> Response:
        return Response(status_code=204, headers={**CORS, "Accept-Post": "application/sdp"})

    return [
        Route("/whip/{slot}", post, methods=["POST"]),
        Route("/whip/{slot}", options, methods=["OPTIONS"]),
        Route("/whip/{slot}/{session}", delete, methods=["DELETE"]),
        Route("/whip/{slot}/{session}", patch, methods=["PATCH"]),
        Route("/whip/{slot}/{session}", options, methods=["OPTIONS"]),
    ]
