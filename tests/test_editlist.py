"""The program edit list: cuts within a recording, CSV and CMX3600 (milliseconds)."""
from __future__ import annotations

import csv
import io

from stream_ops.editlist import ProgramEvent, ProgramLog, cuts, timecode, to_csv, to_edl

FPS = 25


def log() -> ProgramLog:
    pl = ProgramLog(FPS)
    pl.add(ProgramEvent(0, 1000.0, "host", ("cam1",), iso={"cam1": ("/r/cam1.mkv", 990.0)}))
    pl.add(ProgramEvent(250, 1010.0, "wide", ("cam2", "cam1")))
    pl.add(ProgramEvent(400, 1016.0, "slide", (), "fade", 1000))
    return pl


def test_a_recording_sees_the_events_it_covers_in_its_own_frames() -> None:
    got = cuts(log().events(), first=100, last=500, fps=FPS)
    assert [(c.event.scene, c.start, c.end) for c in got] == [("host", 0, 150), ("wide", 150, 300), ("slide", 300, None)]
    assert got[0].wall_start == 1004.0           # clipped: 100 frames after the event began
    assert [c.event.scene for c in cuts(log().events(), first=260, last=300, fps=FPS)] == ["wide"]


def test_csv_rows() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(cuts(log().events(), 100, 500, FPS), FPS))))
    assert [(r["scene"], r["start_s"], r["end_s"]) for r in rows] == [("host", "0.000", "6.000"), ("wide", "6.000", "12.000"),
                                                                      ("slide", "12.000", "")]
    assert rows[0]["iso"] == "cam1=/r/cam1.mkv@14.000" and rows[1]["sources"] == "cam2 cam1"
    assert (rows[2]["transition"], rows[2]["duration_ms"]) == ("fade", "1000")


def test_cmx3600() -> None:
    assert timecode(25 * 3661 + 7, FPS) == "01:01:01:07"
    edl = to_edl("fair", cuts(log().events(), 100, 500, FPS), FPS, now_frame=400)
    lines = edl.splitlines()
    assert lines[:2] == ["TITLE: fair", "FCM: NON-DROP FRAME"]
    events = [line for line in lines if line[:3].isdigit()]
    # Source times of a recorded reel count from its ISO file's first frame (14 s in).
    assert events[0].split()[1:] == ["CAM1", "V", "C", "00:00:14:00", "00:00:20:00", "00:00:00:00", "00:00:06:00"]
    assert events[1].split()[1] == "CAM2"
    # The fade is a 25-frame dissolve from the previous reel into black (no sources), ending at now_frame.
    assert events[2].split()[:5] == ["003", "CAM2", "V", "C", events[1].split()[5]]
    assert events[3].split()[:5] == ["003", "BL", "V", "D", "025"] and events[3].split()[-1] == "00:00:16:00"
    assert "* ISO cam1: /r/cam1.mkv" in lines
