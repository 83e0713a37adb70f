"""Tokens and their comparison: the operator token, phone slot tokens, withdraw codes.

Kept apart from `web/` so the owners of commands (the phone hub, the job fair)
can check a secret without knowing HTTP.
"""
from __future__ import annotations

import hmac
import os
import secrets

MAX_SECRET_CHARS = 256


def make_token() -> str:
    """STREAM_OPS_TOKEN from the environment, or a fresh random one."""
    return os.environ.get("STREAM_OPS_TOKEN") or secrets.token_urlsafe(18)


def same_secret(given: object, real: str | None) -> bool:
    """Constant-time comparison; False (never an error) for anything but two non-empty strings."""
    if not isinstance(given, str) or not given or not real or len(given) > MAX_SECRET_CHARS:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), real.encode())
