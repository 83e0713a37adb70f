"""The one body reader: every byte from outside is capped, bounded and checked here.

- The size is capped *while reading*: a body larger than the limit is refused with
  413 before more than `limit` bytes are held in memory, whatever Content-Length says
  (chunked bodies included).
- JSON is parsed with bounded nesting depth and bounded number sizes (a 5,000-digit
  integer or 2,000 nested lists is a 422 with a reason, never a RecursionError or a
  ValueError deep inside the json module), and NaN/Infinity are refused.
- A JSON object body is checked against the endpoint's JSON Schema: unknown or
  misspelt fields, wrong types and out-of-range values are 422 with the field named.
  The same schema is what `/api/openapi.json` publishes.
"""
from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import parse_qs

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from starlette.requests import HTTPConnection, Request

from ..refusal import Refusal

MAX_BODY = 16 * 1024          # operator and phone API bodies
MAX_DEPTH = 16                # JSON nesting: our bodies are at most 3 deep
MAX_NUMBER_CHARS = 20         # digits of a JSON number (int64 fits in 19)
MAX_FORM_FIELDS = 100


async def read_bytes(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, or Refusal(413) as soon as it grows past `limit` (never more held)."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit() or len(length.strip()) > 15:
            raise Refusal(400, f"bad Content-Length {length[:20]!r}")
        if int(length) > limit:
            raise Refusal(413, f"body too large: {int(length)} bytes, at most {limit} / 提交内容过大")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal(413, f"body too large: more than {limit} bytes / 提交内容过大")
        chunks.append(chunk)
    return b"".join(chunks)


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_CHARS:
        raise Refusal(422, f"number too long ({len(text)} characters; at most {MAX_NUMBER_CHARS})", "number")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS + 8:
        raise Refusal(422, f"number too long ({len(text)} characters)", "number")
    return float(text)


def _no_constant(text: str) -> Any:
    raise Refusal(422, f"{text} is not a number JSON allows", "number")


def json_depth_ok(raw: str, limit: int = MAX_DEPTH) -> bool:
    """True if `raw` nests no deeper than `limit` (strings skipped); linear, no recursion."""
    depth = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json(raw: bytes) -> Any:
    """JSON text → value with bounded depth and number sizes; Refusal(422) otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(422, "body is not UTF-8 text", "encoding") from None
    if not json_depth_ok(text):
        raise Refusal(422, f"JSON nested deeper than {MAX_DEPTH} levels", "depth")
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise Refusal(422, f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                      "json") from None
    except RecursionError:   # belt and braces: the depth check above should make this unreachable
        raise Refusal(422, "JSON nested too deeply", "depth") from None


_validators: dict[int, Draft202012Validator] = {}


def check(value: Any, schema: Mapping[str, Any]) -> None:
    """Refusal(422) naming the first field that breaks `schema` (a JSON Schema)."""
    validator = _validators.get(id(schema))
    if validator is None:
        validator = _validators[id(schema)] = Draft202012Validator(schema)
    error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
    if error is not None:
        raise Refusal(422, describe(error), "invalid")


def describe(error: ValidationError) -> str:
    """A message that names the field and says what to write instead."""
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        return (f"未知字段 unknown field(s) {', '.join(map(repr, extra))}; allowed: "
                f"{', '.join(allowed) if allowed else 'none (send no body)'}")
    if error.validator == "required":
        return f"缺少字段 missing field: {error.message.split(' ')[0]}"
    if error.validator == "type" and not where:
        return f"body must be a JSON {error.validator_value}"
    if error.validator == "maxLength":
        return f"{where}: 太长 too long (at most {error.validator_value} characters)"
    hint = error.schema.get("description") if isinstance(error.schema, dict) else None
    text = f"{where}: {error.message}" if where else error.message
    return f"{text} ({hint})" if hint else text


async def read_json(request: Request, schema: Mapping[str, Any], limit: int = MAX_BODY) -> dict[str, Any]:
    """The body as a JSON object that satisfies `schema`; an empty body is `{}`."""
    raw = await read_bytes(request, limit)
    value: Any = {} if not raw.strip() else parse_json(raw)
    check(value, schema)
    return value


async def read_form(request: Request, limit: int, repeated: tuple[str, ...] = ()) -> dict[str, Any]:
    """An urlencoded form; fields named in `repeated` come back as lists, others as their first value."""
    raw = await read_bytes(request, limit)
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise Refusal(422, "表单编码错误 / the form is not UTF-8", "encoding") from None
    except ValueError:
        raise Refusal(413, f"表单字段过多 / more than {MAX_FORM_FIELDS} form fields", "too_large") from None
    return {k: (v if k in repeated else v[0]) for k, v in fields.items()}


def media_type(conn: HTTPConnection) -> str:
    return conn.headers.get("content-type", "").split(";")[0].strip().lower()


def bounded_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    """A query parameter as a whole number in [low, high], or Refusal(422)."""
    if value is None or value == "":
        return default
    text = value.strip()
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
        raise Refusal(422, f"{name}: a whole number from {low} to {high}", "invalid")
    number = int(text)
    if not low <= number <= high:
        raise Refusal(422, f"{name}: a whole number from {low} to {high}, got {number}", "invalid")
    return number
