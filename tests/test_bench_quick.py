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


def _bench():
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench
    return bench


def test_rss_slope_is_a_least_squares_fit_in_mib_per_hour():
    bench = _bench()
    # 1 MiB more every 10 s = 360 MiB/h, with noise that a fit must average out.
    samples = [(t, int((500 + t / 10 + (0.5 if t % 20 else -0.5)) * 2**20)) for t in range(0, 600, 5)]
    assert abs(bench.rss_slope_mib_per_h(samples) - 360) < 5
    assert abs(bench.rss_slope_mib_per_h([(t, 400 * 2**20) for t in range(10)])) < 1e-9
    assert bench.rss_slope_mib_per_h([(0.0, 1)]) is None


def test_growth_table_gives_cost_per_added_source_on_both_sides():
    bench = _bench()
    row = lambda cpu: {"cpu_per_s": cpu, "late_frames": 0, "encoder_drops": 0, "max_gap_ms": 40.0,  # noqa: E731
                       "peak_rss_mib": 300.0, "peak_pss_mib": 200.0, "others_cores": 0.0, "speed": 1.0}
    lines = bench.growth_table({1: {"stream_ops": row(0.5), "ffmpeg": row(0.4)},
                                4: {"stream_ops": row(1.1), "ffmpeg": row(0.9)}})
    four = next(line for line in lines if line.startswith("| 4 |"))
    cells = [c.strip() for c in four.strip("|").split("|")]
    assert cells[:6] == ["4", "1.10", "0.20", "0.90", "0.17", "1.22×"] and cells[-1] == "1.00"
