"""scripts/soak.py for 3 minutes: after every fault is undone, the show holds what it held at
the start (child processes, descriptors, threads, /ws clients) and no child outlives it.

Timings (slate, reconnect, gaps) are the report's business and depend on the machine's load;
nothing here asserts them.
"""
from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak", ROOT / "scripts" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_schedule_spreads_each_peers_faults_without_overlap() -> None:
    soak = _soak_module()
    kinds = {"rtmp1": (3, 8), "cam1": (2, 6), "phone1": (3, 8)}
    plan = soak.schedule(kinds, 30.0, 30.0 + 1050, 7, random.Random(11))
    for name in kinds:
        mine = [(at, down) for at, n, down in plan if n == name]
        assert len(mine) == 7
        for (a, d), (b, _) in zip(mine, mine[1:]):
            assert a + d + 8 <= b, (name, mine)      # restored, with time to recover, before the next
        assert mine[0][0] >= 30 and mine[-1][0] + mine[-1][1] <= 30 + 1050


def test_slope_is_least_squares_per_hour() -> None:
    soak = _soak_module()
    assert soak._slope_per_h([(t, 100 + t / 60) for t in range(0, 600)]) == pytest.approx(60.0)
    assert soak._slope_per_h([(t, 7) for t in range(100)]) == 0
    assert soak._slope_per_h([(0, 1), (1, 2)]) is None          # too few points to say

# Slack for counts that are not leaks, with why:
# - descriptors of the stream-ops process: at a sample, the sampler's own HTTP request or a
#   /ws client the churn just dropped may still be open (each +1); the file recording is the
#   same one descriptor whichever file it writes.
FDS_MAIN_SLACK = 4
# - descriptors of the whole tree: the above, plus ffmpeg children opening a socket or two more
#   or fewer depending on where they are in a (re)connect when sampled.
FDS_TREE_SLACK = 8
# - OS threads of the stream-ops process: a phone session's decoders (PyAV/libvpx) run native
#   threads that end only when the garbage collector frees the session; seven rejoins in a row
#   left 0 to +6 of them at a time, going up and down, not growing with each rejoin. asyncio's
#   default executor also starts its workers lazily and keeps them. A leak instead grows with
#   every fault, and this run makes more than 20.
THREADS_SLACK = 12
# Python threads that may appear once and stay (thread pools started on first need).
POOLS = {"asyncio_#", "ThreadPoolExecutor-#_#"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_soak_three_minutes_leaves_no_leak(tmp_path: Path) -> None:
    out, js = tmp_path / "reliability.md", tmp_path / "reliability.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "soak.py"), "--minutes", "3", "--out", str(out),
                           "--json", str(js), "--label", "test run"], capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    r = json.loads(js.read_text())

    # The faults really happened: every peer at least twice.
    by_peer: dict[str, int] = {}
    for f in r["faults"]:
        assert f["kind"] != "error", f
        by_peer[f["name"]] = by_peer.get(f["name"], 0) + 1
    assert set(by_peer) == {"rtmp1", "rtmp2", "rtmp3", "srt1", "record", "cam1", "cam2", "phone1", "phone2", "remote"}
    assert min(by_peer.values()) >= 2, by_peer
    assert sum(r["ws"]["clients"].values()) >= 10 and r["operator"]["commands"] >= 10

    # Everything came back, so the start and end counts describe the same show.
    assert r["all_live"]["start"] and r["all_live"]["end"], r["all_live"]
    start, end = r["resources"]["start"], r["resources"]["end"]
    assert end["children"] == start["children"] and end["ffmpeg_children"] == start["ffmpeg_children"], (start, end)
    assert end["fds_main"] <= start["fds_main"] + FDS_MAIN_SLACK, (start, end)
    assert end["fds_tree"] <= start["fds_tree"] + FDS_TREE_SLACK, (start, end)
    assert end["threads_main"] <= start["threads_main"] + THREADS_SLACK, (start, end)
    assert end["ws_clients"] == start["ws_clients"] == 1, (start, end)   # only the soak's monitor
    names = r["thread_names"]
    if names["start"] and names["end"]:   # py-spy installed: every named Python thread is accounted for
        assert {k: v for k, v in names["end"].items() if k not in POOLS} == \
            {k: v for k, v in names["start"].items() if k not in POOLS}, names

    # SIGTERM ends the show cleanly and takes every child with it.
    assert r["show_exit_code"] == 0
    assert r["leftovers"]["left"] == [], r["leftovers"]

    text = out.read_text()
    assert "## Against the goals" in text and "**Other load**" in text and "test run" in text
