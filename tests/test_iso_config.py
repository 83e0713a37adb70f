"""The show file's `iso:` section: what it builds and what a producer is told (milliseconds)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stream_ops.config import ISO_DEFAULT_PATH
from stream_ops.problems import ShowFileError
from stream_ops.showfile import check_show_text

BASE = """\
sources:
  cam1: {kind: rtmp, listen: "rtmp://127.0.0.1:19350/live/cam1"}
  site: {kind: pull, url: "rtsp://192.0.2.10/stream1"}
  phone1: {kind: webrtc}
  blue: {kind: color, color: "#0000ff"}
scenes:
  s: {layers: [{source: cam1}]}
"""


def check(iso: str, tmp_path: Path):
    return check_show_text(BASE + textwrap.dedent(iso), "show.yaml", {}, base_dir=tmp_path)


def problems(iso: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ShowFileError) as info:
        check(iso, tmp_path)
    return info.value.lines


def test_all_means_every_source_that_arrives_encoded(tmp_path: Path) -> None:
    config, warnings = check("iso: {sources: all}\n", tmp_path)
    assert warnings == []
    assert config.iso is not None and config.iso.sources == ("cam1", "site", "phone1")
    assert config.iso.path == ISO_DEFAULT_PATH
    config, _ = check('iso: {sources: [site], path: "r/{source}.ts"}\n', tmp_path)
    assert (config.iso.sources, config.iso.path) == (("site",), "r/{source}.ts")
    assert check("", tmp_path)[0].iso is None


def test_problems_point_at_the_line_and_say_what_to_write(tmp_path: Path) -> None:
    lines = problems('iso:\n  sources: [cam1, blue, camm1]\n  path: "rec/{show}.mp4"\n', tmp_path)
    assert any(l.startswith("show.yaml:9:19:") and "drawn here, nothing arrives to record" in l for l in lines), lines
    assert any(l.startswith("show.yaml:9:25:") and "did you mean 'cam1'" in l for l in lines), lines
    assert any(l.startswith("show.yaml:10:9:") and "must contain {source}" in l and ".mkv or .ts" in l for l in lines), lines
    lines = problems("iso: {sources: every, pth: x}\n", tmp_path)
    assert any("must be all" in l for l in lines) and any("did you mean 'path'" in l for l in lines), lines
