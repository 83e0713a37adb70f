"""HTTP routes of the job fair: the public apply page, and the operator's `/api/...` endpoints.

`/apply*` is public (the QR code opens it on viewers' phones); `/api/*` sits behind the
app's TokenMiddleware. Every bad request gets a 4xx with a reason: JSON `{"error": ...}`
for API/JSON callers, a Chinese HTML page for the form.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import privacy
from ..refusal import Refusal as JobFairError
from .service import JobFairService, job_groups

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024
CSRF_COOKIE = "so_apply"
CSRF_MAX_AGE_S = 12 * 3600
STATIC = Path(__file__).parent / "static"
PAGE_HEADERS = {
    # Everything is served from here; no scripts at all on the public page.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class HttpError(Exception):
    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


# ------------------------------------------------------------------ limits

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


def client_ip(request: Request, trust_forwarded: bool) -> str:
    if trust_forwarded:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()   # the hop our proxy added
    return request.client.host if request.client else ""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, or HttpError(413) as soon as it exceeds `limit` (whatever Content-Length says)."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            if int(length) > limit:
                raise HttpError(413, f"body larger than {limit} bytes / 提交内容过大")
        except ValueError:
            raise HttpError(400, "bad Content-Length") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(413, f"body larger than {limit} bytes / 提交内容过大")
        chunks.append(chunk)
    return b"".join(chunks)


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
        if not nonce or len(nonce) != 32 or not nonce.isalnum():
            nonce = secrets.token_hex(16)
        ts = str(int(time.time()))
        return nonce, f"{ts}.{self._sign(nonce, ts)}"

    def check(self, nonce: str | None, field: str | None) -> bool:
        if not nonce or not field or "." not in field:
            return False
        ts, sig = field.split(".", 1)
        if not ts.isdigit() or time.time() - int(ts) > CSRF_MAX_AGE_S:
            return False
        return hmac.compare_digest(sig, self._sign(nonce, ts))


# ------------------------------------------------------------------ pages

def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _page(service: JobFairService, title: str, body: str) -> str:
    ev = service.fair.event
    return (f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)} · {_e(ev.name)}</title><link rel=\"stylesheet\" href=\"/apply/apply.css\"></head>"
            f"<body><header><h1>{_e(ev.name)}</h1><p>{_e(ev.organizer)}</p></header><main>{body}</main></body></html>")


def _notice(service: JobFairService) -> str:
    items = "".join(f"<dt>{_e(h)}</dt><dd>{_e(t)}</dd>" for h, t in privacy.notice_lines(service.fair))
    return (f"<section><h2>个人信息保护说明 <span class=\"en\">Privacy notice</span></h2>"
            f"<dl class=\"notice\">{items}</dl><small>版本 {_e(service.notice_version)}</small></section>")


def _job_row(job: Any, checked: bool) -> str:
    meta = " · ".join(x for x in (f"招{job.headcount}人", job.location, job.hours, "、".join(job.benefits)) if x)
    req = f"<div class=\"m\">{_e(job.requirements)}</div>" if job.requirements else ""
    return (f"<label class=\"job{' featured' if checked else ''}\"><input type=\"checkbox\" name=\"job\" "
            f"value=\"{_e(job.id)}\"{' checked' if checked else ''}><span><span class=\"t\">{_e(job.title)}</span> "
            f"<span class=\"s\">{_e(job.salary.display())}</span><div class=\"m\">{_e(meta)}</div>{req}</span></label>")


def apply_page(service: JobFairService, csrf_field: str, job: str | None = None, error: str | None = None,
               values: dict[str, Any] | None = None) -> str:
    """The form: jobs grouped by employer, each group with its own unticked consent box."""
    values = values or {}
    chosen = set(values.get("jobs") or ([job] if job else []))
    consented = set(values.get("consents") or [])
    parts = []
    if error:
        parts.append(f"<div class=\"error\" role=\"alert\">{_e(error)}</div>")
    parts.append("<form method=\"post\" action=\"/apply\">")
    parts.append(f"<input type=\"hidden\" name=\"csrf\" value=\"{_e(csrf_field)}\">")
    for i, (employer, jobs) in enumerate(job_groups(service.fair, job)):
        rows = "".join(_job_row(j, j.id in chosen) for j in jobs)
        consent = (f"<label class=\"consent\"><input type=\"checkbox\" name=\"consent\" value=\"{_e(employer.id)}\""
                   f"{' checked' if employer.id in consented else ''}><span>我同意将我的姓名、手机号和所选岗位提供给"
                   f"<b>{_e(employer.name)}</b>，用于联系面试。<span class=\"en\">I agree to share my name, mobile and "
                   f"chosen jobs with this employer.</span></span></label>")
        inner = (f"<h2>{_e(employer.name)}</h2><div class=\"m\">{_e(employer.industry)} {_e(employer.address)}</div>"
                 f"{rows}{consent}")
        featured_group = job is not None and any(j.id == job for j in jobs)
        if job is None or featured_group:
            parts.append(f"<section>{inner}</section>")
        else:
            parts.append(f"<details><summary>{_e(employer.name)}（{len(jobs)} 个岗位）</summary>{inner}</details>")
    parts.append(
        "<section><h2>您的联系方式 <span class=\"en\">Your contact</span></h2>"
        f"<label class=\"f\" for=\"name\">姓名 <span class=\"en\">Name</span></label>"
        f"<input id=\"name\" type=\"text\" name=\"name\" maxlength=\"20\" autocomplete=\"name\" required "
        f"value=\"{_e(values.get('name'))}\">"
        f"<label class=\"f\" for=\"phone\">手机号 <span class=\"en\">Mobile</span></label>"
        f"<input id=\"phone\" type=\"tel\" name=\"phone\" maxlength=\"20\" inputmode=\"tel\" autocomplete=\"tel\" "
        f"required value=\"{_e(values.get('phone'))}\">"
        "<button type=\"submit\">提交报名 Apply</button></section></form>")
    parts.append(_notice(service))
    parts.append("<section><a href=\"/apply/withdraw\">撤回同意 / Withdraw consent</a></section>")
    return _page(service, "在线报名", "".join(parts))


def thanks_page(service: JobFairService, result: dict) -> str:
    rows = "".join(f"<li>{_e(a['employer'])} · {_e(a['title'])} — "
                   f"{'报名成功' if a['status'] == 'created' else '已报名过，无需重复提交'}</li>"
                   for a in result["applications"])
    head = "报名成功！用人单位会通过手机联系您。" if result["status"] == "created" else "您已报名过这些岗位。"
    body = (f"<section><div class=\"ok\">{_e(head)} <span class=\"en\">"
            f"{'Application received.' if result['status'] == 'created' else 'You had already applied.'}</span></div>"
            f"<p>{_e(result['name'])} {_e(result['phone'])}</p><ul>{rows}</ul>"
            f"<p>撤回码 <span class=\"en\">withdrawal code</span>：</p><p class=\"code\">{_e(result['withdraw_code'])}</p>"
            f"<p><small>请截图保存。凭手机号和撤回码可随时<a href=\"/apply/withdraw\">撤回同意</a>。</small></p>"
            f"<p><a href=\"/apply\">继续浏览其他岗位</a></p></section>")
    return _page(service, "报名成功", body)


def withdraw_page(service: JobFairService, csrf_field: str, error: str | None = None, done: dict | None = None) -> str:
    parts = []
    if error:
        parts.append(f"<div class=\"error\" role=\"alert\">{_e(error)}</div>")
    if done is not None:
        msg = (f"已撤回 {done['withdrawn']} 条报名，您的信息已被遮盖。" if done["withdrawn"]
               else "没有找到可撤回的报名（可能已撤回，或撤回码不正确）。")
        parts.append(f"<div class=\"ok\">{_e(msg)}</div>")
    parts.append(
        "<section><h2>撤回同意 <span class=\"en\">Withdraw consent</span></h2><form method=\"post\" "
        f"action=\"/apply/withdraw\"><input type=\"hidden\" name=\"csrf\" value=\"{_e(csrf_field)}\">"
        "<label class=\"f\" for=\"phone\">手机号 Mobile</label><input id=\"phone\" type=\"tel\" name=\"phone\" "
        "maxlength=\"20\" required><label class=\"f\" for=\"code\">撤回码 Withdrawal code</label>"
        "<input id=\"code\" type=\"text\" name=\"code\" maxlength=\"20\" autocomplete=\"off\">"
        "<button type=\"submit\">撤回 Withdraw</button></form></section>")
    if service.fair.event.contact:
        parts.append(f"<section>忘记撤回码？请联系 {_e(service.fair.event.contact)}</section>")
    return _page(service, "撤回同意", "".join(parts))


# ------------------------------------------------------------------ routes

def routes(service: JobFairService) -> list[BaseRoute]:
    """The apply form (public) and the operator API (`/api/...`, token-protected by the app)."""
    settings = service.fair.apply
    limiter = RateLimiter(settings.rate_per_minute, settings.burst)
    csrf = Csrf(hashlib.sha256(f"csrf|{service.store.salt}".encode()).digest())

    def ip_of(request: Request) -> str:
        return client_ip(request, settings.trust_forwarded)

    def html_response(content: str, status: int, request: Request, nonce: str | None = None) -> HTMLResponse:
        response = HTMLResponse(content, status, headers=PAGE_HEADERS)
        if nonce and nonce != request.cookies.get(CSRF_COOKIE):
            response.set_cookie(CSRF_COOKIE, nonce, max_age=CSRF_MAX_AGE_S, path="/apply", httponly=True,
                                samesite="lax", secure=request.url.scheme == "https")
        return response

    def is_json(request: Request) -> bool:
        return request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"

    async def parse(request: Request) -> tuple[dict[str, Any], bool]:
        """(fields, is_json); form fields that may repeat come back as lists."""
        body = await read_body(request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                data = json.loads(body or b"null")
            except (ValueError, UnicodeDecodeError):
                raise HttpError(422, "body is not valid JSON") from None
            if not isinstance(data, dict):
                raise HttpError(422, "body must be a JSON object")
            return data, True
        if ctype == "application/x-www-form-urlencoded":
            try:
                raw = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100, strict_parsing=False)
            except (UnicodeDecodeError, ValueError):
                raise HttpError(422, "form is not valid UTF-8 / 表单编码错误") from None
            return {k: (v if k in ("job", "consent") else v[0]) for k, v in raw.items()}, False
        raise HttpError(415, "send application/x-www-form-urlencoded or application/json")

    def limited(request: Request) -> None:
        wait = limiter.take(ip_of(request))
        if wait:
            raise HttpError(429, "提交太频繁，请稍后再试 / too many posts from your address, try again later",
                            {"Retry-After": str(max(1, int(wait + 0.999)))})

    def error_response(exc: HttpError | JobFairError, request: Request, as_json: bool,
                       page: Callable[[str], str] | None = None) -> Response:
        status = exc.status
        reason = exc.reason if isinstance(exc, HttpError) else exc.message
        headers = exc.headers if isinstance(exc, HttpError) else {}
        if as_json or page is None:
            body: dict[str, Any] = {"error": reason}
            if isinstance(exc, JobFairError):
                body["code"] = exc.code
            return JSONResponse(body, status, headers=headers)
        nonce, field = csrf.issue(request.cookies.get(CSRF_COOKIE))
        response = html_response(page(field) if status not in (413, 415) else _page(service, "错误", f"<div class=\"error\">{_e(reason)}</div>"),
                                 status, request, nonce)
        response.headers.update(headers)
        return response

    # ---------------------------------------------------------- public

    async def apply_get(request: Request) -> Response:
        job = request.query_params.get("job")
        job = job if job and service.fair.job(job) else None
        await service.visit(job, ip_of(request))
        nonce, field = csrf.issue(request.cookies.get(CSRF_COOKIE))
        return html_response(apply_page(service, field, job), 200, request, nonce)

    async def public_post(request: Request) -> tuple[dict, bool]:
        """What every public form post passes first: rate limit, same origin, body, CSRF (forms)."""
        limited(request)
        if not same_origin(request):
            raise HttpError(403, "跨站提交被拒绝 / cross-site post refused")
        data, as_json = await parse(request)
        if not as_json and not csrf.check(request.cookies.get(CSRF_COOKIE), data.get("csrf")):
            raise HttpError(403, "页面已过期，请重新提交 / the form expired, please submit again")
        return data, as_json

    async def apply_post(request: Request) -> Response:
        as_json = is_json(request)
        values: dict[str, Any] = {}

        def page(field: str, message: str = "") -> str:
            return apply_page(service, field, None, message, values)

        try:
            data, as_json = await public_post(request)
            jobs = data.get("jobs", data.get("job"))
            consents = data.get("consent", data.get("consents"))
            values.update(name=data.get("name"), phone=data.get("phone"),
                          jobs=jobs if isinstance(jobs, list) else [jobs], consents=consents if isinstance(consents, list) else [])
            req = service.validate(data.get("name"), data.get("phone"), jobs, consents)
            result = await service.apply(req, ip_of(request), request.headers.get("user-agent", ""),
                                         "json" if as_json else "form")
        except (HttpError, JobFairError) as exc:
            reason = exc.reason if isinstance(exc, HttpError) else exc.message
            return error_response(exc, request, as_json, lambda field: page(field, reason))
        status = 201 if result["status"] == "created" else 200
        if as_json:
            return JSONResponse(result, status)
        return html_response(thanks_page(service, result), status, request)

    async def withdraw_get(request: Request) -> Response:
        nonce, field = csrf.issue(request.cookies.get(CSRF_COOKIE))
        return html_response(withdraw_page(service, field), 200, request, nonce)

    async def withdraw_post(request: Request) -> Response:
        as_json = is_json(request)
        try:
            data, as_json = await public_post(request)
            job = data.get("job")
            if isinstance(job, list):
                job = job[0] if job else None
            result = await service.withdraw(data.get("phone"), data.get("code"), job)
        except (HttpError, JobFairError) as exc:
            reason = exc.reason if isinstance(exc, HttpError) else exc.message
            return error_response(exc, request, as_json, lambda field: withdraw_page(service, field, reason))
        if as_json:
            return JSONResponse(result, 200)
        nonce, field = csrf.issue(request.cookies.get(CSRF_COOKIE))
        return html_response(withdraw_page(service, field, done=result), 200, request, nonce)

    async def apply_css(request: Request) -> Response:
        return FileResponse(STATIC / "apply.css", media_type="text/css",
                            headers={"Cache-Control": "public, max-age=3600"})

    # ---------------------------------------------------------- operator API

    def api(handler: Callable[[Request, dict[str, Any]], Awaitable[Any]], needs_body: bool = True) \
            -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                data: dict[str, Any] = {}
                if needs_body:
                    body = await read_body(request)
                    try:
                        data = json.loads(body or b"{}")
                    except (ValueError, UnicodeDecodeError):
                        raise HttpError(422, "body is not valid JSON") from None
                    if not isinstance(data, dict):
                        raise HttpError(422, "body must be a JSON object")
                result = await handler(request, data)
            except (HttpError, JobFairError) as exc:
                return error_response(exc, request, True)
            return JSONResponse(result)
        return endpoint

    def optional_id(data: dict, key: str, hint: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise HttpError(422, f"{key}: {hint}")
        return value

    async def feature(request: Request, data: dict) -> Any:
        result = service.feature(optional_id(data, "job", 'a job id such as "J003", or null to take the job off air'))
        await service.written()
        return result

    async def segment(request: Request, data: dict) -> Any:
        result = service.start_segment(optional_id(data, "employer",
                                                   'an employer id such as "E02", or null to end the segment'))
        await service.written()
        return result

    async def stats(request: Request, data: dict) -> Any:
        return service.stats()

    async def overlay(request: Request, data: dict) -> Any:
        return service.overlay_context()

    async def viewers(request: Request, data: dict) -> Any:
        return await service.add_viewer_sample(data.get("platform"), data.get("count"),
                                               data.get("source", "manual"), data.get("note", ""))

    async def totals(request: Request, data: dict) -> Any:
        return await service.add_total(data.get("platform"), data.get("metric"), data.get("value"),
                                       data.get("note", ""))

    async def applications(request: Request, data: dict) -> Any:
        try:
            limit = min(1000, max(1, int(request.query_params.get("limit", "100"))))
            offset = max(0, int(request.query_params.get("offset", "0")))
        except ValueError:
            raise HttpError(422, "limit and offset are whole numbers") from None
        rows = await asyncio.to_thread(service.applications, limit, offset)
        return {"applications": rows, "limit": limit, "offset": offset,
                "total": service.summary()["applications"]["total"]}

    return [
        Route("/apply", apply_get, methods=["GET"]),
        Route("/apply", apply_post, methods=["POST"]),
        Route("/apply/apply.css", apply_css, methods=["GET"]),
        Route("/apply/withdraw", withdraw_get, methods=["GET"]),
        Route("/apply/withdraw", withdraw_post, methods=["POST"]),
        Route("/api/jobfair/feature", api(feature), methods=["POST"]),
        Route("/api/jobfair/segment", api(segment), methods=["POST"]),
        Route("/api/jobfair/stats", api(stats, needs_body=False), methods=["GET"]),
        Route("/api/jobfair/overlay", api(overlay, needs_body=False), methods=["GET"]),
        Route("/api/jobfair/applications", api(applications, needs_body=False), methods=["GET"]),
        Route("/api/jobfair/totals", api(totals), methods=["POST"]),
        Route("/api/viewers", api(viewers), methods=["POST"]),
    ]

