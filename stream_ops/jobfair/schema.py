"""JSON Schema (draft 2020-12) of the show file's `jobfair:` section.

The show loader validates `jobfair:` with `JOBFAIR_SCHEMA`; an included fair file is
validated with `FAIR_SCHEMA` by `model.check_jobfair`. Cross-references (unknown
employer, duplicate ids, salary min > max, credit-code checksum, wording) are checked
in `model.py`, where the messages can say what to write instead.
"""
from __future__ import annotations

from typing import Any

_ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
       "description": "Letters, digits, - and _; up to 32 characters."}
_TEXT = {"type": "string", "maxLength": 2000}
_WHEN = {"description": 'ISO 8601 date and time, e.g. "2026-12-01T09:30:00+08:00" (no zone = UTC+8).'}

SALARY_SCHEMA: dict[str, Any] = {
    "title": "Salary 薪资",
    "description": "Numbers for checks and sorting, `text` for the screen; or just a string such as 面议.",
    "oneOf": [
        {"type": "string", "maxLength": 60},
        {"type": "object", "additionalProperties": False, "properties": {
            "min": {"type": "number", "minimum": 0, "description": "Lowest pay in yuan per unit."},
            "max": {"type": "number", "minimum": 0, "description": "Highest pay in yuan per unit."},
            "unit": {"enum": ["month", "year", "day", "hour", "piece"], "default": "month"},
            "text": {"type": "string", "maxLength": 60, "description": "Shown on air, e.g. 4500-6500元/月."},
        }},
    ],
}

JOB_SCHEMA: dict[str, Any] = {
    "title": "Job 岗位",
    "type": "object",
    "required": ["id", "title"],
    "additionalProperties": False,
    "properties": {
        "id": {**_ID, "description": "Unique across the fair; appears in /apply?job=ID."},
        "title": {"type": "string", "minLength": 1, "maxLength": 60, "description": "岗位名称"},
        "headcount": {"type": "integer", "minimum": 1, "description": "招聘人数"},
        "salary": SALARY_SCHEMA,
        "location": {"type": "string", "maxLength": 100, "description": "工作地点"},
        "requirements": {**_TEXT, "description": "任职要求; checked for discriminatory wording."},
        "description": {**_TEXT, "description": "岗位职责"},
        "education": {"type": "string", "maxLength": 60, "description": "学历要求"},
        "benefits": {"description": "福利, e.g. [包吃, 包住, 五险一金]",
                     "oneOf": [{"type": "array", "items": {"type": "string", "maxLength": 30}},
                               {"type": "string", "maxLength": 200}]},
        "hours": {"type": "string", "maxLength": 100, "description": "工作时间 / 班制, e.g. 两班倒"},
    },
}

EMPLOYER_SCHEMA: dict[str, Any] = {
    "title": "Employer 用人单位",
    "type": "object",
    "required": ["id", "name"],
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "description": "Registered name."},
        "credit_code": {"type": "string", "description": "统一社会信用代码, 18 characters (GB 32100-2015)."},
        "industry": {"type": "string", "maxLength": 60},
        "address": {"type": "string", "maxLength": 200},
        "intro": _TEXT,
        "jobs": {"type": "array", "items": JOB_SCHEMA},
    },
}

POLL_SCHEMA: dict[str, Any] = {
    "title": "Viewer poller",
    "description": "Reads the platform's official viewer count. Keys only as \"${ENV_VAR}\".",
    "type": "object",
    "required": ["kind"],
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": ["youtube", "twitch"]},
        "interval_s": {"type": "number", "minimum": 5, "default": 30},
        "video_id": {"type": "string", "description": "youtube: the live video's id."},
        "api_key": {"type": "string", "description": 'youtube: "${YOUTUBE_API_KEY}".'},
        "user_login": {"type": "string", "description": "twitch: the channel name."},
        "client_id": {"type": "string", "description": 'twitch: "${TWITCH_CLIENT_ID}".'},
        "token": {"type": "string", "description": 'twitch: app access token, "${TWITCH_TOKEN}".'},
        "base_url": {"type": "string", "description": "Override the API's base URL (tests, proxies)."},
    },
}

PLATFORM_SCHEMA: dict[str, Any] = {
    "title": "Platform 平台",
    "description": "A label (视频号), or an object with label, primary, meaning and poll.",
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": 40},
        {"type": "object", "additionalProperties": False, "properties": {
            "label": {"type": "string", "maxLength": 40},
            "primary": {"type": "boolean", "description": "Its latest figure is {{ stats.viewers }}."},
            "meaning": {"type": "string", "maxLength": 200,
                        "description": "What its viewer figure means, e.g. 实时在线人数（后台“当前在线”）."},
            "poll": POLL_SCHEMA,
        }},
    ],
}

SESSION_SCHEMA: dict[str, Any] = {
    "title": "Session 场次",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "title": {"type": "string", "maxLength": 60},
        "start": _WHEN,
        "end": _WHEN,
        "employers": {"type": "array", "items": {"type": ["string", "integer"]},
                      "description": "Employer ids in the planned order of their segments."},
        "segments": {"type": "array", "items": {"type": "object", "properties": {"employer": {}}},
                     "description": "Alternative to `employers`: [{employer: E01}, ...]."},
    },
}

_FAIR_PROPERTIES: dict[str, Any] = {
    "event": {
        "title": "Event 招聘会",
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "organizer": {"type": "string", "maxLength": 100,
                          "description": "Who collects applications (named in the privacy notice)."},
            "retention_days": {"type": "integer", "minimum": 1, "maximum": 3650,
                               "description": "Days applications are kept (privacy notice)."},
            "contact": {"type": "string", "maxLength": 100, "description": "Phone or e-mail for withdrawal."},
            "purpose": {"type": "string", "maxLength": 500, "description": "Why data is collected."},
        },
    },
    "platforms": {"title": "Platforms 直播平台", "type": "object",
                  "description": "Keyed by id; ids match outputs' `platform` where streamed.",
                  "additionalProperties": PLATFORM_SCHEMA},
    "sessions": {"title": "Sessions", "type": "array", "items": SESSION_SCHEMA},
    "employers": {"title": "Employers", "type": "array", "items": EMPLOYER_SCHEMA},
    "store": {
        "title": "Store 数据库",
        "description": "Where applications are kept. Leave out for the SQLite file in the show's data folder; "
                       "a postgresql:// URL to share one database between several public-service processes. "
                       "The password comes from the environment: ${VAR} in the URL, or the password key.",
        # Shape only: model.py checks the URL and says what to write instead (a schema's
        # "not valid under any of the given schemas" tells a producer nothing).
        "type": ["string", "object"],
        "properties": {"url": {"type": "string", "maxLength": 500},
                       "password": {"type": "string", "maxLength": 200,
                                    "description": 'From the environment, e.g. "${PGPASSWORD}".'}},
    },
    "apply": {
        "title": "The public apply service 公开报名服务", "type": "object", "additionalProperties": False,
        "properties": {
            "port": {"type": "integer", "minimum": 1, "maximum": 65535,
                     "description": "Port of the public apply service that `stream-ops run` starts as its own "
                                    "process (default 8000). 报名服务端口。"},
            "host": {"type": "string", "minLength": 1, "maxLength": 255,
                     "description": "Address it listens on (default: the studio's --host). 监听地址。"},
            "public_url": {"type": "string", "pattern": "^https?://", "maxLength": 500,
                           "description": "Base URL applicants' phones reach (the QR code), e.g. "
                                          "https://jobs.example.cn; default http://<this machine>:<port>."},
            "trusted_proxies": {"type": "array", "maxItems": 64,
                                "items": {"type": "string", "minLength": 1, "maxLength": 64},
                                "description": "Addresses or networks (CIDR) of your reverse proxies. Only a request "
                                               "from one of them may name the client in X-Forwarded-For. 可信代理。"},
            "rate_per_minute": {"type": "number", "exclusiveMinimum": 0,
                                "description": "Posts per client address per minute (default 5)."},
            "burst": {"type": "integer", "minimum": 1, "description": "Posts at once (default 5)."},
            "max_jobs": {"type": "integer", "minimum": 1, "maximum": 30},
        },
    },
}

FAIR_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Job fair 云聘",
    "description": "The fair itself: event, platforms, sessions, employers and their jobs.",
    "type": "object",
    "required": ["event", "employers"],
    "additionalProperties": False,
    "properties": _FAIR_PROPERTIES,
}

JOBFAIR_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Job fair 云聘",
    "description": "The fair inline, or `include: fair/fair.yaml` (a file next to the show, in git).",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "include": {"type": "string", "minLength": 1,
                    "description": "Path of the fair file, relative to the show file."},
        **_FAIR_PROPERTIES,
    },
    "if": {"required": ["include"]},
    "then": {"propertyNames": {"enum": ["include", "store"]}},
    "else": {"required": ["event", "employers"]},
}
