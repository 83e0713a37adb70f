"""`/api/openapi.json`: the OpenAPI 3.1 description, built from the route table.

Nothing is written twice: paths, methods, body schemas, answers and refusals
all come from web/routes.py's `Endpoint` declarations, so what is described is
what is served. WebSocket routes are listed under `x-websockets`.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from ..events import schema as event_schemas
from .routes import COMMON_REFUSALS, Endpoint, groups

ERROR = {"type": "object", "required": ["error", "code"],
         "properties": {"error": {"type": "string"}, "code": {"type": "string"}}}
REASONS = {200: "OK", 201: "Created", 204: "No content", 303: "See other", 400: "Bad request",
           401: "No or wrong token", 403: "Refused", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 413: "Body too large", 415: "Unsupported media type", 422: "Invalid input",
           429: "Too many requests", 503: "Not available yet"}


def _parameters(ep: Endpoint, known: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    params = []
    for name in re.findall(r"{(\w+)}", ep.path):
        param: dict[str, Any] = {"name": name, "in": "path", "required": True,
                                 "schema": {"type": "string", "maxLength": 100}}
        values = known.get(ep.names.get(name, ""), [])
        if values:   # this show's real names, so a client (or a fuzzer) can reach past the 404
            param["description"] = f"a {ep.names[name]} of this show: {', '.join(values)}"
            param["example"] = values[0]
        params.append(param)
    params += [{"name": name, "in": "query", "required": False, "schema": dict(schema)}
               for name, schema in ep.query.items()]
    return params


def _operation(ep: Endpoint, group: str, known: Mapping[str, list[str]]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": REASONS.get(ep.status, "OK")}
    if ep.status != 204 and ep.status < 300 or ep.status == 201:
        schema = dict(ep.answer) if ep.answer and ep.produces == "application/json" else (
            {"type": "string"} if ep.produces != "application/json" else {"type": "object"})
        ok["content"] = {ep.produces: {"schema": schema}}
    responses: dict[str, Any] = {str(ep.status): ok}
    if ep.status == 201:   # a repeat application is answered 200 with the same shape
        responses["200"] = ok
    refusals = set(ep.refusals) | set(COMMON_REFUSALS[group] if ep.token or group != "operator" else ())
    if ep.body is not None and not ep.raw:
        refusals |= {413, 422}
    # Pages answer a refusal with a page; everything else with the JSON error.
    refusal_content = ({"text/html": {"schema": {"type": "string"}}} if ep.produces == "text/html"
                       else {"application/json": {"schema": ERROR}})
    for status in sorted(refusals):
        responses[str(status)] = {"description": REASONS.get(status, "Refused"), "content": refusal_content}
    op: dict[str, Any] = {"summary": ep.summary, "tags": [group], "responses": responses,
                          "operationId": f"{ep.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', ep.path).strip('_')}"}
    params = _parameters(ep, known)
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {"required": bool(ep.body.get("required")),
                             "content": {ctype: {"schema": dict(ep.body)} for ctype in ep.consumes
                                         if ctype == "application/json"}
                             or {ctype: {"schema": {"type": "string"}} for ctype in ep.consumes}}
    if ep.token and group == "operator":
        op["security"] = [{"bearer": []}]
    return op


def document(audience: tuple[str, ...] = ("operator", "phone", "public"), title: str = "stream-ops",
             known: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """The OpenAPI document of the chosen route groups; `known`: the show's names by kind (scene, source...)."""
    known = known or {}
    paths: dict[str, dict[str, Any]] = {}
    sockets: dict[str, Any] = {}
    for group, endpoints in groups().items():
        if group not in audience:
            continue
        for ep in endpoints:
            if ep.method == "WS":
                sockets[ep.path] = {"summary": ep.summary, "tags": [group], "token": ep.token}
                if ep.path == "/ws":   # what /ws sends: one of the typed events (stream_ops/events.py)
                    sockets[ep.path]["messages"] = [{"$ref": f"#/components/schemas/Event.{name}"}
                                                    for name in event_schemas()]
                continue
            paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, group, known)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1",
                 "description": "Operator routes are served on the studio's port, phone routes there too; public "
                                "routes only on the public apply service's port. See docs/api.md."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Error": ERROR, **{f"Event.{name}": schema for name, schema in event_schemas().items()}}},
        "x-websockets": sockets,
    }
