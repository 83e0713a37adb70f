"""Every source recorded on its own (ISO), and the program's edit list, after a SIGKILL.

Two cameras publish (RTMP and SRT) to a show that records both as they arrive and
records its program; the operator cuts between scenes; the show is killed. The ISO
files must decode with each camera's picture, and the edit list's times must be
where the program recording really changes picture.
"""
from __future__ import annotations

import csv
import signal
import time
from pathlib import Path

import av
import pytest

from peers import Publisher, ShowProcess, free_port, looks_like, wait_until

pytestmark = pytest.mark.slow

FPS = 30


def colours(path: Path) -> list[tuple[float, tuple[float, float, float]]]:
    """(seconds from the first frame, mean RGB of the centre) for every decodable frame."""
    out: list[tuple[float, tuple[float, float, float]]] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            rgb = frame.reformat(width=32, height=18, format="rgb24").to_ndarray()[5:13, 8:24].reshape(-1, 3).mean(axis=0)
            out.append((float(frame.pts * stream.time_base), tuple(float(c) for c in rgb)))
    t0 = out[0][0] if out else 0.0
    return [(t - t0, c) for t, c in out]


def test_iso_files_and_edit_list_survive_sigkill(tmp_path: Path) -> None:
    rtmp_port, srt_port = free_port(), free_port()
    show = ShowProcess(tmp_path, f"""
    show:
      name: iso
      video: {{width: 640, height: 360, fps: {FPS}, bitrate_kbps: 800, keyframe_s: 1, preset: ultrafast}}
      audio: {{sample_rate: 44100, channels: 2, bitrate_kbps: 64}}
      start_scene: cam1
    sources:
      cam1: {{kind: rtmp, listen: "rtmp://127.0.0.1:{rtmp_port}/live/cam1"}}
      cam2: {{kind: srt, listen: "srt://127.0.0.1:{srt_port}"}}
      blue: {{kind: color, color: "#0000ff"}}
    scenes:
      cam1: {{layers: [{{source: cam1}}]}}
      cam2: {{layers: [{{source: cam2}}]}}
      blue: {{layers: [{{source: blue}}]}}
    outputs:
      program: {{kind: file, path: "rec/{{show}}-program.ts", autostart: true}}
    iso:
      sources: all
      path: "rec/{{show}}-{{source}}-{{start:%Y%m%d-%H%M%S}}.mkv"
    """)
    cams = [Publisher(f"rtmp://127.0.0.1:{rtmp_port}/live/cam1", color="red"),
            Publisher(f"srt://127.0.0.1:{srt_port}", color="yellow")]
    try:
        for name in ("cam1", "cam2"):
            wait_until(lambda: show.source(name)["state"] == "live" and show.source(name).get("iso_file"), 20,
                       message=f"{name} live and recorded")
        iso = {name: Path(show.source(name)["iso_file"]) for name in ("cam1", "cam2")}
        time.sleep(1.5)
        takes = ["blue", "cam2", "cam1", "cam2"]
        for scene in takes:
            assert show.request("POST", "/api/program", {"scene": scene})[0] == 200
            time.sleep(1.5)
        program = tmp_path / "rec" / "iso-program.ts"
        wait_until(lambda: len(list(csv.DictReader(program.with_suffix(".csv").open()))) == 1 + len(takes), 5,
                   message="every switch in the edit list")
        show.stop(signal.SIGKILL)
    finally:
        for cam in cams:
            cam.stop()
        show.stop()

    # ISO files: each camera as it arrived, decodable up to the kill.
    for name, colour in (("cam1", "red"), ("cam2", "yellow")):
        assert iso[name].parent == (tmp_path / "rec").resolve() and iso[name].name.startswith(f"iso-{name}-")
        frames = colours(iso[name])
        assert len(frames) >= 5 * FPS, f"{name}: only {len(frames)} frames decodable after SIGKILL"
        assert sum(looks_like(c, colour) for _, c in frames) >= 0.95 * len(frames), f"{name} ISO is not {colour}"

    # The edit list: its times are where the program recording changes picture.
    rows = list(csv.DictReader(program.with_suffix(".csv").open(encoding="utf-8")))
    assert [r["scene"] for r in rows] == ["cam1", *takes]
    assert rows[0]["start_s"] == "0.000" and rows[-1]["end_s"] == ""
    assert rows[1]["sources"] == "blue" and rows[2]["iso"].startswith(f"cam2={iso['cam2']}@")
    offset = float(rows[2]["iso"].rsplit("@", 1)[1])      # where cam2's first cut starts in cam2's ISO file
    assert 0 < offset <= colours(iso["cam2"])[-1][0]
    recorded = colours(program)
    look = {"cam1": "red", "cam2": "yellow", "blue": "blue"}
    for before, row in zip(rows, rows[1:]):
        at = float(row["start_s"])
        assert float(before["end_s"]) == at
        # The first frame of the new scene's colour after the previous switch, and the last frame before it.
        changed = next(t for t, c in recorded if t >= float(before["start_s"]) + 0.2 and looks_like(c, look[row["scene"]]))
        assert abs(changed - at) <= 1.5 / FPS, f"{row['scene']}: edit list says {at:.3f} s, picture changed at {changed:.3f} s"
    # The CMX3600 EDL says the same, in timecode.
    edl = program.with_suffix(".edl").read_text(encoding="utf-8").splitlines()
    assert edl[0] == "TITLE: iso" and edl[1] == "FCM: NON-DROP FRAME"
    events = [line.split() for line in edl if line[:3].isdigit()]
    assert [e[1] for e in events] == ["CAM1", "BLUE", "CAM2", "CAM1", "CAM2"]
    for e, row in zip(events, rows):
        frames = int(row["start_frame"])
        assert e[6] == f"00:00:{frames // FPS:02d}:{frames % FPS:02d}", (e, row)
