"""scripts/bench.py still runs: a tiny quick run writes its table and JSON (no timing asserted)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_quick_runs_and_writes_its_tables(tmp_path):
    out, js = tmp_path / "bench.md", tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--only", "a,switch",
                           "--seconds", "1.5", "--warm", "0", "--switches", "2", "--out", str(out), "--json", str(js)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(js.read_text())
    assert data["failures"] == {}
    mixing = data["results"]["mixing"]["a"]
    for side in ("stream_ops", "ffmpeg"):
        assert mixing[side]["cpu_per_s"] > 0
    assert mixing["stream_ops"]["peak_rss_mib"] > 0 and "late_frames" in mixing["stream_ops"]
    assert data["results"]["switch"]["n"] == 2
    text = out.read_text()
    assert "## Machine" in text and "## How to run" in text
    assert "| (a) 1 × 720p30 → 720p30 |" in text
    assert "switch: `POST /api/program` returned" in text
