"""File names of recordings: the program's (`file` outputs) and each source's (ISO)."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path


def fill_path(template: str, show: str, base_dir: Path, start: datetime | None = None, **names: str) -> Path:
    """Fill {show}, {start:%Y%m%d-%H%M%S} and any {name}/{source}; relative paths are under the show file's folder."""
    safe_show = re.sub(r'[\\/:*?"<>|\s]+', "_", show).strip("_") or "show"
    filled = template.format(show=safe_show, start=start or datetime.now(), **names)
    path = Path(filled)
    return (path if path.is_absolute() else base_dir / path).resolve()


def unused(path: Path) -> Path:
    """`path`, or `name-2.ext`, `name-3.ext`... if it exists: a restart never overwrites a recording."""
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate
