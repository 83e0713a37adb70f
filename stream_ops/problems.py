"""Problems found in a show file, located by their path in the YAML tree.

Checks produce `Problem(path, message)`; `stream_ops.showfile` turns the path into
`FILE:LINE:COL` using the positions it recorded while parsing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

PathPart = Union[str, int]
YamlPath = tuple[PathPart, ...]


@dataclass(frozen=True)
class Problem:
    path: YamlPath                 # e.g. ("scenes", "host", "layers", 1, "rect")
    message: str                   # what is wrong and what to write instead
    severity: Literal["error", "warning"] = "error"
    key: bool = False              # point at the key itself rather than its value


class ShowFileError(Exception):
    """Raised by `load_show` with every problem, already formatted FILE:LINE:COL."""

    def __init__(self, lines: list[str], warnings: list[str] | None = None) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.warnings = warnings or []
