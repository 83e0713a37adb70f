"""The public apply pages as HTML: the form, the thanks page, withdraw.

No scripts at all: the pages work on any phone browser, and the strict
Content-Security-Policy of web/public.py forbids them anyway. Chinese first.
"""
from __future__ import annotations

import html
from typing import Any

from ..jobfair import privacy
from ..jobfair.service import JobFairService, job_groups


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
            f"{_code_part(result.get('withdraw_code'))}"
            f"<p><a href=\"/apply\">继续浏览其他岗位</a></p></section>")
    return _page(service, "报名成功", body)


def _code_part(code: str | None) -> str:
    """The withdrawal code of what this request created; none for a repeat (never an earlier code)."""
    if not code:
        return ("<p><small>请使用第一次报名时得到的撤回码撤回；如已遗失，请联系主办方。"
                "<span class=\"en\">Use the withdrawal code from your first application.</span></small></p>")
    return (f"<p>撤回码 <span class=\"en\">withdrawal code</span>：</p><p class=\"code\">{_e(code)}</p>"
            "<p><small>请截图保存。凭手机号和撤回码可随时<a href=\"/apply/withdraw\">撤回同意</a>。</small></p>")


def withdraw_page(service: JobFairService, csrf_field: str, error: str | None = None, done: dict | None = None) -> str:
    parts = []
    if error:
        parts.append(f"<div class=\"error\" role=\"alert\">{_e(error)}</div>")
    if done is not None:
        # The same words whether or not anything matched: nobody learns who applied where.
        parts.append("<div class=\"ok\">已收到。如手机号与撤回码匹配，相应报名已撤回，您的信息已被遮盖。"
                     "<span class=\"en\">Received. If the mobile and code match, those applications are "
                     "withdrawn and your data masked.</span></div>")
    parts.append(
        "<section><h2>撤回同意 <span class=\"en\">Withdraw consent</span></h2><form method=\"post\" "
        f"action=\"/apply/withdraw\"><input type=\"hidden\" name=\"csrf\" value=\"{_e(csrf_field)}\">"
        "<label class=\"f\" for=\"phone\">手机号 Mobile</label><input id=\"phone\" type=\"tel\" name=\"phone\" "
        "maxlength=\"20\" required><label class=\"f\" for=\"code\">撤回码 Withdrawal code</label>"
        "<input id=\"code\" type=\"text\" name=\"code\" maxlength=\"24\" autocomplete=\"off\" required>"
        "<button type=\"submit\">撤回 Withdraw</button></form></section>")
    if service.fair.event.contact:
        parts.append(f"<section>忘记撤回码？请联系 {_e(service.fair.event.contact)}</section>")
    return _page(service, "撤回同意", "".join(parts))
