"""Show files the end-to-end tests share."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A small show with a job fair and a phone slot: colour only, so the program costs little.
FAIR_SHOW = """
show:
  name: {name}
  video: {{width: 320, height: 180, fps: 15, bitrate_kbps: 300}}
  data_dir: data
sources:
  blue: {{kind: color, color: "#0000ff"}}
  phone1: {{kind: webrtc}}
scenes:
  blue: {{layers: [{{source: blue}}]}}
  phone: {{layers: [{{source: phone1}}]}}
outputs:
  rec: {{kind: file, path: "rec/{{show}}.ts"}}
jobfair: {{include: fair.yaml}}
"""


def fair_show(folder: Path, name: str, rate_per_minute: int | None = None) -> str:
    """Write the example fair (optionally with another rate limit) into `folder`; return the show's YAML."""
    fair = (ROOT / "scenes" / "fair" / "fair.yaml").read_text(encoding="utf-8")
    if rate_per_minute is not None:
        fair = fair.replace("rate_per_minute: 5 ", f"rate_per_minute: {rate_per_minute} ").replace(
            "burst: 5", f"burst: {rate_per_minute}")
    (folder / "fair.yaml").write_text(fair, encoding="utf-8")
    return FAIR_SHOW.format(name=name)
