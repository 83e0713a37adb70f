"""`{{ job.title }}`-style live values in text and QR layers.

Deliberately tiny and safe: dotted lookups into a dict, no expressions, no code.
A missing value renders as an empty string, so a layer never breaks on air.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")


def has_fields(template: str) -> bool:
    return "{{" in template and bool(_FIELD.search(template))


def fields(template: str) -> list[str]:
    """The dotted names a template uses, e.g. ['job.title', 'stats.viewers']."""
    return _FIELD.findall(template)


def lookup(ctx: Mapping[str, Any], dotted: str) -> Any:
    value: Any = ctx
    for part in dotted.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def render(template: str, ctx: Mapping[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        value = lookup(ctx, m.group(1))
        return "" if value is None else str(value)

    return _FIELD.sub(sub, template)
