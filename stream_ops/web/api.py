"""The operator's HTTP API: state, program/preview/take, outputs, source audio, metrics.

Documented in docs/api.md. Every handler validates its body and answers 404/422
with `{"error": reason}` for bad input; nothing a client sends can cause a 500.
"""
from __future__ import annotations

import json
import time
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

import psutil
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ..refusal import Refusal as CommandError
from ..show import Show

MAX_BODY = 16 * 1024


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def read_json(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The body as a JSON object with only `allowed` keys, or CommandError(422)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise CommandError(413, f"body too large ({len(raw)} bytes; at most {MAX_BODY})")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CommandError(422, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise CommandError(422, "body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise CommandError(422, f"unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    return body


def handler(fn: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
    async def wrapped(request: Request) -> Response:
        try:
            result = await fn(request)
        except CommandError as exc:
            return error(exc.status, exc.message)
        return result if isinstance(result, Response) else JSONResponse(result)

    return wrapped


def routes(show: Show) -> list[BaseRoute]:
    def actor(request: Request) -> str:
        client = request.client.host if request.client else "?"
        # Browsers send only ASCII headers: a name like 张导 arrives percent-encoded.
        name = unquote(request.headers.get("x-operator", "")).strip()[:40]
        return name or f"operator@{client}"

    @handler
    async def get_state(request: Request) -> Any:
        return show.state()

    @handler
    async def post_program(request: Request) -> Any:
        body = await read_json(request, {"scene", "transition", "duration_ms"})
        return await show.set_program(body.get("scene"), body.get("transition", "cut"), body.get("duration_ms"), actor(request))

    @handler
    async def post_preview(request: Request) -> Any:
        body = await read_json(request, {"scene"})
        return await show.set_preview(body.get("scene"), actor(request))

    @handler
    async def post_take(request: Request) -> Any:
        body = await read_json(request, {"transition", "duration_ms"})
        return await show.take(body.get("transition"), body.get("duration_ms"), actor(request))

    @handler
    async def output_start(request: Request) -> Any:
        await read_json(request, set())
        return await show.start_output(request.path_params["name"], actor(request))

    @handler
    async def output_stop(request: Request) -> Any:
        await read_json(request, set())
        return await show.stop_output(request.path_params["name"], actor(request))

    @handler
    async def outputs_all(request: Request) -> Any:
        await read_json(request, set())
        action = request.path_params["action"]
        if action not in ("start", "stop"):
            raise CommandError(404, "use /api/outputs/all/start or /api/outputs/all/stop")
        results = []
        for name in show.config.outputs:
            results.append(await (show.start_output if action == "start" else show.stop_output)(name, actor(request)))
        return {"outputs": results}

    @handler
    async def source_audio(request: Request) -> Any:
        body = await read_json(request, {"gain_db", "muted"})
        return await show.set_source_audio(request.path_params["name"], body.get("gain_db"), body.get("muted"), actor(request))

    @handler
    async def get_scene(request: Request) -> Any:
        name = request.path_params["name"]
        if name not in show.config.scenes:
            raise CommandError(404, f"unknown scene {name!r}")
        scene = show.config.scenes[name]
        return {"name": name, "label": scene.label or name,
                "layers": [{"kind": l.kind, "rect": l.rect.as_list() if l.rect else None, "source": l.source}
                           for l in scene.layers]}

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "program": show.engine.program,
                             "engine": "running" if show.engine.running else "stopped"})

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(prometheus(show), media_type="text/plain; version=0.0.4")

    return [
        Route("/api/state", get_state, methods=["GET"]),
        Route("/api/program", post_program, methods=["POST"]),
        Route("/api/preview", post_preview, methods=["POST"]),
        Route("/api/take", post_take, methods=["POST"]),
        Route("/api/outputs/all/{action}", outputs_all, methods=["POST"]),
        Route("/api/outputs/{name}/start", output_start, methods=["POST"]),
        Route("/api/outputs/{name}/stop", output_stop, methods=["POST"]),
        Route("/api/sources/{name}/audio", source_audio, methods=["POST"]),
        Route("/api/scenes/{name}", get_scene, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def prometheus(show: Show) -> str:
    """Prometheus text exposition of the engine, sources and outputs."""
    lines: list[str] = []

    def metric(name: str, help_: str, kind: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")

    st = show.engine.stats()
    metric("stream_ops_frames_total", "Program frames encoded", "counter", [({}, st["frames"])])
    metric("stream_ops_late_frames_total", "Program frames skipped because the clock was late", "counter", [({}, st["late_frames"])])
    metric("stream_ops_encode_ms", "Mean encode time per frame (ms)", "gauge", [({}, st["encode_ms"])])
    metric("stream_ops_composite_ms", "Mean composite time per frame (ms)", "gauge", [({}, st["composite_ms"])])
    metric("stream_ops_source_up", "1 while a source delivers frames", "gauge",
           [({"source": s.name}, 1.0 if s.state == "live" else 0.0) for s in show.engine.slots.values()])
    metric("stream_ops_source_fps", "Frames per second arriving from a source", "gauge",
           [({"source": s.name}, s.fps) for s in show.engine.slots.values()])
    outs = [o.info() for o in show.engine.outputs.values()]
    metric("stream_ops_output_live", "1 while bytes flow to an output", "gauge",
           [({"output": o["name"]}, 1.0 if o["state"] == "live" else 0.0) for o in outs])
    metric("stream_ops_output_bytes_total", "Bytes delivered to an output", "counter",
           [({"output": o["name"]}, o["bytes"]) for o in outs])
    metric("stream_ops_output_dropped_total", "Packets dropped in an output's queue", "counter",
           [({"output": o["name"]}, o["dropped"]) for o in outs])
    metric("stream_ops_output_reconnects_total", "Output reconnects", "counter",
           [({"output": o["name"]}, o["reconnects"]) for o in outs])
    proc = psutil.Process()
    cpu = proc.cpu_times()
    metric("stream_ops_process_cpu_seconds_total", "CPU seconds of the stream-ops process (not children)", "counter",
           [({}, round(cpu.user + cpu.system, 3))])
    metric("stream_ops_ws_clients", "Connected WebSocket clients", "gauge", [({}, show.bus.clients)])
    metric("stream_ops_uptime_seconds", "Seconds since the show started", "gauge",
           [({}, round(time.time() - (show.started_at or time.time()), 1))])
    return "\n".join(lines) + "\n"
