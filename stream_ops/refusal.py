"""`Refusal`: the one way any owner of commands (Show, the phone hub, the job fair) says no.

It carries what a person needs (`message`), what a program can switch on (`code`),
and the class of refusal as an HTTP-style `status`, so that `web/` renders every
refusal the same way with one handler. The owners know nothing else of HTTP.
"""
from __future__ import annotations

# The default `code` for each status, when the raiser gives none.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


class Refusal(Exception):
    """A refused request: `status` (4xx class), `message` for people, `code` for programs.

    `retry_after` (seconds) is set for rate limits; `headers` carries protocol headers
    a refusal must come with (WWW-Authenticate for WHIP, say).
    """

    def __init__(self, status: int, message: str, code: str | None = None, *,
                 retry_after: float | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "refused")
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def as_json(self) -> dict[str, str]:
        return {"error": self.message, "code": self.code}

    def __repr__(self) -> str:
        return f"Refusal({self.status}, {self.message!r}, {self.code!r})"
