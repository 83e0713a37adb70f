"""Output kinds. Adding a kind = a module with an `Output` subclass + one line in `output_class`."""
from __future__ import annotations

from .base import Output


def output_class(kind: str) -> type[Output]:
    from .push import PushOutput
    from .recorder import RecordOutput

    kinds: dict[str, type[Output]] = {"rtmp": PushOutput, "srt": PushOutput, "file": RecordOutput}
    try:
        return kinds[kind]
    except KeyError:
        raise ValueError(f"unknown output kind {kind!r}") from None


__all__ = ["Output", "output_class"]
