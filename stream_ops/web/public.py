"""What strangers reach from the QR code on air: the apply form, withdraw, visit counting.

Served only by the public service (`stream-ops fair serve`, a process of its own),
never by the studio. Every post passes one guard, in this order: the rate limit
per client address, same-origin, the capped body, the CSRF field (forms). Answers
are HTML for the form and `{"error", "code"}` JSON for JSON callers; always a 4xx
with a reason, never a 5xx. The job-fair service (jobfair/service.py) decides
what is valid; this module only speaks HTTP.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from ..refusal import Refusal
from .apply_pages import _e, _page, apply_page, thanks_page, withdraw_page
from .body import check, media_type, parse_json, read_bytes, read_form
from .errors import refusal_headers, refusal_response

MAX_PUBLIC_BODY = 8 * 1024
CSRF_COOKIE = "so_apply"
VISITOR_COOKIE = "so_visitor"
CSRF_MAX_AGE_S = 12 * 3600
VISITOR_MAX_AGE_S = 30 * 24 * 3600
STATIC = Path(__file__).parent.parent / "jobfair" / "static"
PAGE_HEADERS = {
    # Everything is served from here; no scripts at all on the public page.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_ID_LIST = {"oneOf": [{"type": "string", "maxLength": 40},
                      {"type": "array", "maxItems": 30, "items": {"type": "string", "maxLength": 40}}]}
APPLY_BODY: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["name", "phone"],
    "properties": {
        "name": {"type": "string", "maxLength": 64, "description": "姓名 / the applicant's name"},
        "phone": {"type": "string", "maxLength": 40, "description": "手机号 / an 11-digit mainland mobile"},
        "jobs": _ID_LIST, "job": _ID_LIST,
        "consent": {"oneOf": [*_ID_LIST["oneOf"], {"type": "object", "maxProperties": 30,
                                                     "additionalProperties": {"type": ["boolean", "string"], "maxLength": 10}}]},
        "csrf": {"type": "string", "maxLength": 100},
    },
}
WITHDRAW_BODY: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["phone", "code"],
    "properties": {
        "phone": {"type": "string", "maxLength": 40},
        "code": {"type": "string", "maxLength": 40, "description": "the withdrawal code shown after applying"},
        "csrf": {"type": "string", "maxLength": 100},
    },
}


# --------------------------------------------------------------------------- who is asking

class RateLimiter:
    """Token bucket per client address: `rate_per_minute` sustained, `burst` at once."""

    def __init__(self, rate_per_minute: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.buckets: dict[str, tuple[float, float]] = {}   # key -> (tokens, last time)

    def take(self, key: str, now: float | None = None) -> float:
        """0 if allowed (a token is taken), else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self.buckets[key] = (tokens - 1.0, now)
            self._trim(now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _trim(self, now: float) -> None:
        if len(self.buckets) > self.max_keys:   # forget full buckets first: they carry no state
            full = self.burst / self.rate
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < full}


class ClientAddress:
    """The client's address: the peer's, unless the peer is one of our listed proxies.

    Then X-Forwarded-For is read from the right (the hop our proxy added) past every
    trusted proxy; a value that is not an IP address ends the walk (a forged header).
    Anyone else's X-Forwarded-For is ignored, however it is spelt.
    """

    def __init__(self, trusted: Iterable[str]) -> None:
        self.trusted = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def of(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        if not self.trusted or not self._is_trusted(peer):
            return peer
        hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
        client = peer
        for hop in reversed(hops[-16:]):
            try:
                client = str(ipaddress.ip_address(hop))
            except ValueError:
                break
            if not self._is_trusted(client):
                break
        return client


def same_origin(request: Request) -> bool:
    """False when the browser says the post comes from another site (Origin, Referer, Sec-Fetch-Site)."""
    host = request.headers.get("host", "")
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value:
            if value == "null":
                return False
            try:
                return urlsplit(value).netloc.lower() == host.lower()
            except ValueError:
                return False
    return True   # neither header: not a browser cross-site post; the form also needs the CSRF token


class Csrf:
    """Double-submit token: a random cookie (SameSite=Lax) and a hidden field signed over it."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def _sign(self, nonce: str, ts: str) -> str:
        return hmac.new(self.secret, f"{nonce}|{ts}".encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, nonce: str | None) -> tuple[str, str]:
        """(cookie nonce, field value); keeps an existing valid-looking nonce."""
        if not _well_formed(nonce):
            nonce = secrets.token_hex(16)
        ts = str(int(time.time()))
        return nonce, f"{ts}.{self._sign(nonce, ts)}"   # type: ignore[arg-type]

    def check(self, nonce: str | None, field: object) -> bool:
        if not _well_formed(nonce) or not isinstance(field, str) or len(field) > 64 or "." not in field:
            return False
        ts, sig = field.split(".", 1)
        # isascii: str.isdigit() is true for other scripts' digits too, which int() would take.
        if not (ts.isascii() and ts.isdigit() and len(ts) <= 12) or time.time() - int(ts) > CSRF_MAX_AGE_S:
            return False
        return hmac.compare_digest(sig.encode("utf-8", "replace"), self._sign(nonce, ts).encode())  # type: ignore[arg-type]


def _well_formed(nonce: str | None) -> bool:
    return bool(nonce) and len(nonce) == 32 and nonce.isascii() and nonce.isalnum()   # type: ignore[union-attr]


# --------------------------------------------------------------------------- the public side's state

class PublicSide:
    """Per-app state of the public routes: limits, CSRF secret, client addresses."""

    def __init__(self, service: Any) -> None:
        settings = service.fair.apply
        self.service = service
        self.limiter = RateLimiter(settings.rate_per_minute, settings.burst)
        self.address = ClientAddress(settings.trusted_proxies)
        self.csrf = Csrf(hashlib.sha256(f"csrf|{service.store.salt}".encode()).digest())


def _side(request: Request) -> PublicSide:
    return request.app.state.public


def _html(request: Request, content: str, status: int = 200, nonce: str | None = None) -> HTMLResponse:
    response = HTMLResponse(content, status, headers=PAGE_HEADERS)
    if nonce and nonce != request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, nonce, max_age=CSRF_MAX_AGE_S, path="/apply", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
    return response


def _visitor(request: Request) -> tuple[str, bool]:
    """(this browser's opaque id, whether it is new): visits are counted per browser, not per address."""
    vid = request.cookies.get(VISITOR_COOKIE)
    if _well_formed(vid):
        return vid, False   # type: ignore[return-value]
    return secrets.token_hex(16), True


async def _post_fields(request: Request, schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The guard every public post passes: rate limit, same origin, capped body, schema, CSRF (forms)."""
    side = _side(request)
    wait = side.limiter.take(side.address.of(request))
    if wait:
        raise Refusal(429, "提交太频繁，请稍后再试 / too many posts from your address, try again later",
                      retry_after=wait)
    if not same_origin(request):
        raise Refusal(403, "跨站提交被拒绝 / cross-site post refused", "cross_site")
    ctype = media_type(request)
    if ctype == "application/json":
        data = parse_json(await read_bytes(request, MAX_PUBLIC_BODY))
        check(data, schema)
        return data, True
    if ctype == "application/x-www-form-urlencoded":
        data = await read_form(request, MAX_PUBLIC_BODY, repeated=("job", "jobs", "consent"))
        known = set(schema["properties"])
        data = {k: v for k, v in data.items() if k in known}   # a browser form may carry extra controls
        if not side.csrf.check(request.cookies.get(CSRF_COOKIE), data.get("csrf")):
            raise Refusal(403, "页面已过期，请重新提交 / the form expired, please submit again", "csrf")
        return data, False
    raise Refusal(415, "请用表单或 JSON 提交 / send application/x-www-form-urlencoded or application/json")


def _refused(request: Request, exc: Refusal, as_json: bool, page: Callable[[str, str], str]) -> Response:
    """A refusal as JSON for JSON callers, or the same page again with the reason on it."""
    if as_json:
        return refusal_response(exc)
    nonce, field = _side(request).csrf.issue(request.cookies.get(CSRF_COOKIE))
    content = (page(field, exc.message) if exc.status not in (413, 415)
               else _page(_side(request).service, "错误", f"<div class=\"error\">{_e(exc.message)}</div>"))
    response = _html(request, content, exc.status, nonce)
    response.headers.update(refusal_headers(exc))
    return response


# --------------------------------------------------------------------------- handlers

async def apply_form(request: Request) -> Response:
    side = _side(request)
    job = request.query_params.get("job")
    job = job if job and len(job) <= 40 and side.service.fair.job(job) else None
    browser, new = _visitor(request)
    await side.service.visit(job, browser)
    nonce, field = side.csrf.issue(request.cookies.get(CSRF_COOKIE))
    response = _html(request, apply_page(side.service, field, job), 200, nonce)
    if new:
        response.set_cookie(VISITOR_COOKIE, browser, max_age=VISITOR_MAX_AGE_S, path="/apply", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
    return response


async def apply_post(request: Request) -> Response:
    side, service = _side(request), _side(request).service
    values: dict[str, Any] = {}
    # A page only answers a browser's form post; any other caller gets the JSON error.
    as_json = media_type(request) != "application/x-www-form-urlencoded"
    try:
        data, as_json = await _post_fields(request, APPLY_BODY)
        jobs = data.get("jobs", data.get("job"))
        consents = data.get("consent")
        values.update(name=data.get("name"), phone=data.get("phone"),
                      jobs=jobs if isinstance(jobs, list) else [jobs],
                      consents=consents if isinstance(consents, list) else [consents])
        req = service.validate(data.get("name"), data.get("phone"), jobs, consents)
        result = await service.apply(req, side.address.of(request), request.headers.get("user-agent", "")[:200],
                                     "json" if as_json else "form")
    except Refusal as exc:
        return _refused(request, exc, as_json, lambda field, why: apply_page(service, field, None, why, values))
    status = 201 if result["status"] == "created" else 200
    if as_json:
        return JSONResponse(result, status)
    return _html(request, thanks_page(service, result), status)


async def withdraw_form(request: Request) -> Response:
    side = _side(request)
    nonce, field = side.csrf.issue(request.cookies.get(CSRF_COOKIE))
    return _html(request, withdraw_page(side.service, field), 200, nonce)


async def withdraw_post(request: Request) -> Response:
    side, service = _side(request), _side(request).service
    # A page only answers a browser's form post; any other caller gets the JSON error.
    as_json = media_type(request) != "application/x-www-form-urlencoded"
    try:
        data, as_json = await _post_fields(request, WITHDRAW_BODY)
        result = await service.withdraw(data.get("phone"), data.get("code"))
    except Refusal as exc:
        return _refused(request, exc, as_json, lambda field, why: withdraw_page(service, field, why))
    if as_json:
        return JSONResponse(result, 200)
    nonce, field = side.csrf.issue(request.cookies.get(CSRF_COOKIE))
    return _html(request, withdraw_page(service, field, done=result), 200, nonce)


async def apply_css(request: Request) -> Response:
    return FileResponse(STATIC / "apply.css", media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


async def public_health(request: Request, body: dict[str, Any]) -> Any:
    return {"ok": True, "service": "apply"}
