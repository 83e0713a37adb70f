"""Every route stream-ops serves, in one table, grouped by who may call it.

- OPERATOR: the panel and its API, on the studio's port; all but the login pages
  need the operator token (one check, `auth.token_ok`).
- PHONE: the join page, its socket and WHIP, on the studio's port; they carry the
  phone slot's own token, checked by the phone hub.
- PUBLIC: the apply form, withdraw and visit counting, on the public service's own
  port (`stream-ops fair serve`). Never served by the studio, and the studio's
  routes are never served there (DESIGN.md invariant 7).

An `Endpoint` names its handler, its body's JSON Schema (checked by body.read_json
before the handler runs: unknown fields, wrong types and ranges are 422), its answer
and the refusals it may give. The same declaration builds the Starlette routes and
`/api/openapi.json`, so the description cannot drift from what is served.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from ..config import GAIN_DB_MAX, GAIN_DB_MIN, TRANSITIONS
from ..refusal import Refusal
from . import operator, panel, phone, public, ws
from .auth import token_ok
from .body import read_json
from .sockets import close

Handler = Callable[..., Awaitable[Any]]


def obj(properties: Mapping[str, Any] | None = None, required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """A JSON object schema with exactly these fields (others are refused)."""
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": dict(properties or {})}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def answer(*required: str) -> dict[str, Any]:
    """A JSON object answer that has at least these fields."""
    return {"type": "object", "required": list(required)}


NO_BODY = obj()
NAME = {"type": "string", "minLength": 1, "maxLength": 100}
ID_OR_NULL = {"type": ["string", "null"], "maxLength": 40}
TRANSITION = {"enum": list(TRANSITIONS), "description": "cut or fade"}
DURATION = {"type": "number", "minimum": 0, "maximum": 10_000, "description": "milliseconds"}
NOTE = {"type": "string", "maxLength": 200}
CANVAS = {**NAME, "description": "only this canvas (default: main, and every other one while linked)"}
ON_AIR = answer("program", "preview", "canvases", "linked")
CANVAS_QUERY = {"type": "string", "maxLength": 100, "description": "a canvas name; main when left out"}


@dataclass(frozen=True)
class Endpoint:
    method: str                                  # GET, POST, DELETE, PATCH, OPTIONS, or WS
    path: str
    handler: Handler                             # (request, body) -> JSON, or (request) -> Response when raw
    summary: str
    body: Mapping[str, Any] | None = None        # JSON Schema of a JSON body; None: no body taken
    raw: bool = False                            # the handler reads the request and answers itself
    answer: Mapping[str, Any] | None = None      # JSON Schema of the 2xx answer
    status: int = 200
    produces: str = "application/json"
    consumes: tuple[str, ...] = ("application/json",)
    refusals: tuple[int, ...] = ()               # besides the ones every route of its group may give
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    token: bool = True                           # the operator token is needed (operator group)
    names: Mapping[str, str] = field(default_factory=dict)   # path parameter -> what it names (scene, source...)


OPERATOR: tuple[Endpoint, ...] = (
    # The panel and its login: reachable without the token, so they can ask for it.
    Endpoint("GET", "/", panel.index, "The control panel (redirects to /login without the token)", raw=True,
             produces="text/html", token=False),
    Endpoint("GET", "/login", panel.login_page, "The login page", raw=True, produces="text/html", token=False),
    Endpoint("POST", "/login", panel.login, "Log in with the operator token (form field `token`)", raw=True,
             produces="text/html", consumes=("application/x-www-form-urlencoded",), refusals=(401, 413),
             token=False),
    Endpoint("GET", "/login/status", panel.login_status, "Whether this browser is logged in",
             answer=answer("logged_in"), token=False),
    Endpoint("GET", "/logout", panel.logout, "Forget the login cookie", raw=True, status=303, token=False),
    Endpoint("GET", "/favicon.ico", panel.favicon, "The panel's icon", raw=True, produces="image/svg+xml",
             token=False),
    Endpoint("GET", "/healthz", operator.healthz, "Liveness (no token)", answer=answer("ok"), token=False),
    # The show.
    Endpoint("GET", "/api/state", operator.state, "Everything the panel needs to draw itself",
             answer=answer("show", "program", "preview", "scenes", "sources", "outputs", "log")),
    Endpoint("POST", "/api/program", operator.program, "Put a scene on program (the next output frame shows it)",
             body=obj({"scene": NAME, "transition": TRANSITION, "duration_ms": DURATION, "canvas": CANVAS},
                      ("scene",)),
             answer=ON_AIR, refusals=(404,)),
    Endpoint("POST", "/api/preview", operator.preview, "Stage a scene in preview",
             body=obj({"scene": NAME, "canvas": CANVAS}, ("scene",)), answer=ON_AIR, refusals=(404,)),
    Endpoint("POST", "/api/take", operator.take, "Preview to program, program to preview",
             body=obj({"transition": TRANSITION, "duration_ms": DURATION, "canvas": CANVAS}), answer=ON_AIR,
             refusals=(404,)),
    Endpoint("POST", "/api/link", operator.link, "Link the canvases (one TAKE switches all) or unlink them",
             body=obj({"linked": {"type": "boolean"}}, ("linked",)), answer=answer("linked", "canvases")),
    Endpoint("POST", "/api/outputs/all/start", operator.outputs_start_all, "Start every output",
             body=NO_BODY, answer=answer("outputs")),
    Endpoint("POST", "/api/outputs/all/stop", operator.outputs_stop_all, "Stop every output",
             body=NO_BODY, answer=answer("outputs")),
    Endpoint("POST", "/api/outputs/{name}/start", operator.output_start, "Start one output", body=NO_BODY,
             names={"name": "output"},
             answer=answer("name", "state"), refusals=(404,)),
    Endpoint("POST", "/api/outputs/{name}/stop", operator.output_stop, "Stop one output", body=NO_BODY,
             names={"name": "output"},
             answer=answer("name", "state"), refusals=(404,)),
    Endpoint("POST", "/api/sources/{name}/audio", operator.source_audio, "A source's gain and mute",
             names={"name": "source"},
             body=obj({"gain_db": {"type": "number", "minimum": GAIN_DB_MIN, "maximum": GAIN_DB_MAX,
                                   "description": f"dB, {GAIN_DB_MIN} to {GAIN_DB_MAX}"},
                       "muted": {"type": "boolean"}}),
             answer=answer("name", "gain_db", "muted"), refusals=(404,)),
    Endpoint("GET", "/api/scenes/{name}", operator.scene, "One scene's layers", names={"name": "scene"},
             answer=answer("name", "layers"),
             refusals=(404,)),
    Endpoint("GET", "/api/rundown", operator.rundown, "The run of show: plan, actual times, now, next, countdown",
             answer=answer("segments", "current", "countdown"), refusals=(404,)),
    Endpoint("POST", "/api/rundown/advance", operator.rundown_advance, "The next segment starts", body=NO_BODY,
             answer=answer("segments", "current"), refusals=(404, 409)),
    Endpoint("POST", "/api/rundown/goto", operator.rundown_goto, "Segment N (from 0) starts",
             body=obj({"index": {"type": "integer", "minimum": 0, "maximum": 999}}, ("index",)),
             answer=answer("segments", "current"), refusals=(404,)),
    Endpoint("GET", "/metrics", operator.metrics, "Prometheus figures", raw=True, produces="text/plain"),
    Endpoint("GET", "/api/openapi.json", operator.openapi, "This description", answer=answer("openapi", "paths")),
    Endpoint("WS", "/ws", ws.events_socket, "The state, then typed events as they happen"),
    # Thumbnails.
    Endpoint("WS", "/api/thumbs/ws", panel.thumbs_socket, "JPEG thumbnails, newest wins (see docs/panel.md)"),
    Endpoint("GET", "/api/thumbs/stats", panel.thumb_stats, "Thumbnail figures", answer=answer("watchers")),
    Endpoint("GET", "/api/thumbs/program.jpg", panel.snapshot, "The program of a canvas (main by default) as one JPEG",
             raw=True, produces="image/jpeg", refusals=(404, 503), query={"canvas": CANVAS_QUERY}),
    Endpoint("GET", "/api/thumbs/preview.jpg", panel.snapshot, "The preview of a canvas (main by default) as one JPEG",
             raw=True, produces="image/jpeg", refusals=(404, 503), query={"canvas": CANVAS_QUERY}),
    Endpoint("GET", "/api/thumbs/source/{name}.jpg", panel.snapshot, "A source as one JPEG", raw=True,
             names={"name": "source"},
             produces="image/jpeg", refusals=(404, 503)),
    # Phone links (the operator's side of phones).
    Endpoint("GET", "/api/phones", operator.phones, "Every phone slot", answer=answer("phones"), refusals=(404,)),
    Endpoint("GET", "/api/sources/{name}/join", operator.phone_join, "A phone slot's link, QR code and WHIP URL",
             names={"name": "phone"},
             answer=answer("name", "url", "token"), refusals=(404,)),
    Endpoint("GET", "/api/sources/{name}/join.png", operator.phone_join_png, "The join link's QR code as PNG",
             names={"name": "phone"},
             raw=True, produces="image/png", refusals=(404,)),
    Endpoint("POST", "/api/sources/{name}/join/rotate", operator.phone_rotate,
             "A new link for the slot; the old one stops working", body=obj({"kick": {"type": "boolean"}}),
             names={"name": "phone"},
             answer=answer("name", "url", "token"), refusals=(404,)),
    Endpoint("POST", "/api/sources/{name}/join/takeover", operator.phone_takeover,
             "May a second phone replace the first", body=obj({"allow": {"type": "boolean"}}, ("allow",)),
             names={"name": "phone"},
             answer=answer("name", "takeover"), refusals=(404,)),
    # The job fair, the operator's side.
    Endpoint("POST", "/api/jobfair/feature", operator.fair_feature, "Put a job on air (null takes it off)",
             body=obj({"job": ID_OR_NULL}, ("job",)), answer=answer("featured"), refusals=(404,)),
    Endpoint("POST", "/api/jobfair/segment", operator.fair_segment, "Start an employer's segment (null ends it)",
             body=obj({"employer": ID_OR_NULL}, ("employer",)), answer=answer("segment"), refusals=(404,)),
    Endpoint("GET", "/api/jobfair/stats", operator.fair_stats, "Live figures, timeline included",
             answer=answer("applications", "viewers", "visits"), refusals=(404,)),
    Endpoint("GET", "/api/jobfair/overlay", operator.fair_overlay, "The values on-screen templates see",
             answer=answer("stats"), refusals=(404,)),
    Endpoint("GET", "/api/jobfair/applications", operator.fair_applications, "Newest applications, masked",
             answer=answer("applications", "total"), refusals=(404,),
             query={"limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "offset": {"type": "integer", "minimum": 0, "maximum": 10_000_000}}),
    Endpoint("POST", "/api/jobfair/totals", operator.fair_totals, "A platform's post-event figure",
             body=obj({"platform": {"type": "string", "maxLength": 40}, "metric": {"type": "string", "maxLength": 40},
                       "value": {"type": "number", "minimum": 0, "maximum": 1e12}, "note": NOTE},
                      ("platform", "metric", "value")),
             answer=answer("platform", "metric", "value"), refusals=(404,)),
    Endpoint("POST", "/api/viewers", operator.fair_viewers, "A platform's viewer figure now",
             body=obj({"platform": {"type": "string", "maxLength": 40},
                       "count": {"type": "integer", "minimum": 0, "maximum": 10**10},
                       "source": {"type": "string", "minLength": 1, "maxLength": 40}, "note": NOTE},
                      ("platform", "count")),
             answer=answer("platform", "count"), refusals=(404,)),
)

PHONE: tuple[Endpoint, ...] = (
    Endpoint("GET", "/join/{slot}", phone.join_page, "The phone's join page (token in the URL fragment)", names={"slot": "phone"},
             raw=True, produces="text/html", refusals=(404,), token=False),
    Endpoint("WS", "/join/{slot}/ws", phone.join_socket, "Tally and notices for the join page", token=False),
    Endpoint("POST", "/whip/{slot}", phone.whip_post, "WHIP: publish into a phone slot (Bearer slot token)",
             raw=True, status=201, produces="application/sdp", consumes=("application/sdp",),
             refusals=(400, 401, 404, 409, 413, 415), token=False),
    Endpoint("OPTIONS", "/whip/{slot}", phone.whip_options, "CORS preflight", raw=True, status=204, token=False),
    Endpoint("DELETE", "/whip/{slot}/{session}", phone.whip_delete, "WHIP: end a session", raw=True,
             refusals=(401, 404), token=False),
    Endpoint("PATCH", "/whip/{slot}/{session}", phone.whip_patch, "Trickle ICE is not supported", raw=True,
             status=405, token=False),
    Endpoint("OPTIONS", "/whip/{slot}/{session}", phone.whip_options, "CORS preflight", raw=True, status=204,
             token=False),
)

PUBLIC: tuple[Endpoint, ...] = (
    Endpoint("GET", "/apply", public.apply_form, "The apply form (counts a visit per browser)", raw=True,
             produces="text/html", query={"job": {"type": "string", "maxLength": 40}}, token=False),
    Endpoint("POST", "/apply", public.apply_post, "Apply for jobs (form or JSON)", raw=True,
             body=public.APPLY_BODY, status=201, answer=answer("status", "applications"),
             consumes=("application/json", "application/x-www-form-urlencoded"),
             refusals=(403, 413, 415, 422, 429), token=False),
    Endpoint("GET", "/apply/withdraw", public.withdraw_form, "The withdraw form", raw=True, produces="text/html",
             token=False),
    Endpoint("POST", "/apply/withdraw", public.withdraw_post,
             "Withdraw consent with the code; the same answer whether or not anything matched", raw=True,
             body=public.WITHDRAW_BODY, answer=answer("status"),
             consumes=("application/json", "application/x-www-form-urlencoded"),
             refusals=(403, 413, 415, 422, 429), token=False),
    Endpoint("GET", "/apply/apply.css", public.apply_css, "The form's style", raw=True, produces="text/css",
             token=False),
    Endpoint("GET", "/healthz", public.public_health, "Liveness", answer=answer("ok"), token=False),
)

# Refusals any route of a group may give (body too large, bad JSON, no token...).
COMMON_REFUSALS = {"operator": (401, 413, 422), "phone": (), "public": ()}


# --------------------------------------------------------------------------- building routes

def _http(ep: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if ep.token and not token_ok(request, request.app.state.token):
            raise Refusal(401, "unauthorized: send Authorization: Bearer TOKEN")
        if ep.raw:
            return await ep.handler(request)
        body = await read_json(request, ep.body) if ep.body is not None else {}
        result = await ep.handler(request, body)
        return result if isinstance(result, Response) else JSONResponse(result, ep.status)
    endpoint.__name__ = ep.handler.__name__
    return endpoint


def _socket(ep: Endpoint) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        # Accept first: a refusal before accepting reaches a browser as a bare HTTP 403,
        # while a close code (4401) after accepting tells the page what went wrong.
        await websocket.accept()
        if ep.token and not token_ok(websocket, websocket.app.state.token):
            await close(websocket, 4401)
            return
        await ep.handler(websocket)
    return endpoint


def to_routes(endpoints: tuple[Endpoint, ...]) -> list[BaseRoute]:
    # Starlette tries routes in order and answers 405 only when a path matched with another method.
    return [WebSocketRoute(ep.path, _socket(ep)) if ep.method == "WS" else Route(ep.path, _http(ep), methods=[ep.method])
            for ep in endpoints]


def studio_routes() -> list[BaseRoute]:
    """The studio's port: operator and phone routes, and their static files."""
    return [*to_routes(OPERATOR), *to_routes(PHONE),
            Mount("/panel/static", app=panel._Static(directory=panel.STATIC), name="panel-static"),
            Mount("/phones/static", app=StaticFiles(directory=phone.STATIC), name="phone-static")]


def public_routes() -> list[BaseRoute]:
    """The public service's port: the apply form and nothing else."""
    return to_routes(PUBLIC)


def groups() -> dict[str, tuple[Endpoint, ...]]:
    return {"operator": OPERATOR, "phone": PHONE, "public": PUBLIC}


__all__ = ["Endpoint", "OPERATOR", "PHONE", "PUBLIC", "groups", "public_routes", "studio_routes"]
