"""The run of show: the plan, now/next/countdown/overrun and auto-advance decisions as pure
functions of `now`; the show file's `rundown:` with FILE:LINE:COL messages; the Show's
advance/go-to with colour sources (no ffmpeg), the journal across a restart, overlays,
the API and the export."""
from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from stream_ops import events, rundown as rd
from stream_ops.config import LayerConfig, Rect
from stream_ops.overlays import TextOverlay
from stream_ops.problems import ShowFileError
from stream_ops.refusal import Refusal
from stream_ops.rundown import Progress, RundownConfig, Run, Segment
from stream_ops.rundown_live import JOURNAL_NAME, write_export
from stream_ops.schema import show_schema
from stream_ops.show import Show
from stream_ops.showfile import check_show_text, load_show

ROOT = Path(__file__).resolve().parent.parent
TZ = rd.CST
DAY = dt.date(2026, 12, 1)


def at(hh: int, mm: int, ss: int = 0) -> float:
    """Unix seconds of a clock time on DAY in China Standard Time."""
    return dt.datetime(2026, 12, 1, hh, mm, ss, tzinfo=TZ).timestamp()


def config(*segments: Segment, auto: bool = False) -> RundownConfig:
    return RundownConfig(tuple(segments), auto_advance=auto)


# --- the plan ----------------------------------------------------------------------------------
def test_lengths_chain_from_a_written_start_and_a_gap_to_the_next_start_is_a_length() -> None:
    c = config(Segment("开场", start_clock=dt.time(14, 0), length_s=300),
               Segment("E01", length_s=900),
               Segment("E02"),                                      # no length: until 14:40
               Segment("E04", start_clock=dt.time(14, 40), length_s=600),
               Segment("答疑"))
    p = rd.plan(c, DAY, anchor=None)
    assert [x.start for x in p] == [at(14, 0), at(14, 5), at(14, 20), at(14, 40), at(14, 50)]
    assert [x.length_s for x in p] == [300, 900, 1200, 600, None]


def test_a_rundown_of_lengths_only_is_planned_from_when_the_first_segment_started() -> None:
    c = config(Segment("a", length_s=60), Segment("b", length_s=30), Segment("c"))
    assert [x.start for x in rd.plan(c, DAY, anchor=None)] == [None, None, None]
    assert [x.start for x in rd.plan(c, DAY, anchor=1000.0)] == [1000.0, 1060.0, 1090.0]


# --- now, next, countdown, overrun ----------------------------------------------------------------
def test_countdown_runs_to_the_segments_own_length_from_its_actual_start() -> None:
    c = config(Segment("a", length_s=60), Segment("b", length_s=30))
    progress = rd.go_to(c, Progress(), 0, now=1000.0)
    planned = rd.plan_for(c, progress, 1000.0)
    assert rd.due(c, planned, progress) == 1060.0
    v = rd.view(c, progress, 1015.2)
    assert (v["current"], v["next"], v["countdown"], v["overrun"]) == (0, 1, "00:45", False)
    v = rd.view(c, progress, 1075.0)
    assert (v["countdown"], v["overrun"]) == ("+00:15", True)


def test_a_late_segment_keeps_its_length_unless_the_next_is_pinned_to_the_clock() -> None:
    free = config(Segment("a", start_clock=dt.time(14, 0), length_s=600), Segment("b", length_s=60))
    pinned = config(Segment("a", start_clock=dt.time(14, 0), length_s=600), Segment("b", start_clock=dt.time(14, 10)))
    late = rd.go_to(free, Progress(), 0, now=at(14, 2))
    assert rd.due(free, rd.plan_for(free, late, at(14, 2)), late) == at(14, 12)
    assert rd.due(pinned, rd.plan_for(pinned, late, at(14, 2)), late) == at(14, 10)


def test_countdown_text() -> None:
    assert rd.countdown_text(None) == ""
    assert rd.countdown_text(0.2) == "00:01"      # rounded up: 00:00 only when it is due
    assert rd.countdown_text(0) == "00:00"
    assert rd.countdown_text(754) == "12:34"
    assert rd.countdown_text(-0.5) == "+00:00"
    assert rd.countdown_text(-61) == "+01:01"
    assert rd.countdown_text(3 * 3600) == "180:00"


def test_before_the_start_the_countdown_is_to_the_first_written_start() -> None:
    c = config(Segment("a", start_clock=dt.time(14, 0)), Segment("b"))
    progress = Progress(armed_at=at(13, 0))
    v = rd.view(c, progress, at(13, 58, 30))
    assert (v["current"], v["next"], v["countdown"]) == (-1, 0, "01:30")
    assert [x["planned_clock"] for x in v["segments"]] == ["14:00", ""]   # in the rundown's zone, for the panel


def test_finished_rundown_has_no_segment_and_no_countdown() -> None:
    c = config(Segment("a", length_s=5))
    progress = rd.go_to(c, rd.go_to(c, Progress(), 0, 10.0), 1, 20.0)
    v = rd.view(c, progress, 30.0)
    assert v["finished"] and v["next"] is None and v["countdown"] == "" and v["started_at"] is None
    assert v["segments"][0]["actual_start"] == 10.0 and v["segments"][0]["actual_end"] == 20.0


# --- auto-advance ------------------------------------------------------------------------------------
def test_auto_advance_fires_when_the_time_comes_and_only_when_allowed() -> None:
    on = config(Segment("a", length_s=60), Segment("b", length_s=60), auto=True)
    off = config(Segment("a", length_s=60), Segment("b", length_s=60), auto=False)
    progress = rd.go_to(on, Progress(), 0, now=1000.0)
    for c, now, want in ((on, 1059.9, False), (on, 1060.0, True), (on, 1500.0, True), (off, 1500.0, False)):
        assert rd.should_auto_advance(c, rd.plan_for(c, progress, now), progress, now) is want, (c.auto_advance, now)


def test_auto_advance_never_skips_a_segment_that_started_after_its_due_time() -> None:
    # Started at 14:45 while segment b is pinned to 14:40: b is late, but a must not be skipped.
    c = config(Segment("a", start_clock=dt.time(14, 30)), Segment("b", start_clock=dt.time(14, 40)), auto=True)
    progress = rd.go_to(c, Progress(), 0, now=at(14, 45))
    assert rd.due(c, rd.plan_for(c, progress, at(14, 45)), progress) == at(14, 40)
    assert not rd.should_auto_advance(c, rd.plan_for(c, progress, at(14, 46)), progress, at(14, 46))


def test_auto_advance_starts_the_first_segment_at_its_time_but_not_after_a_late_start() -> None:
    c = config(Segment("a", start_clock=dt.time(14, 0), length_s=60), auto=True)
    early = Progress(armed_at=at(13, 50))
    assert not rd.should_auto_advance(c, rd.plan_for(c, early, at(13, 59)), early, at(13, 59))
    assert rd.should_auto_advance(c, rd.plan_for(c, early, at(14, 0)), early, at(14, 0))
    late = Progress(armed_at=at(14, 5))   # the show was started after 14:00
    assert not rd.should_auto_advance(c, rd.plan_for(c, late, at(14, 6)), late, at(14, 6))


def test_a_replayed_journal_restores_the_segment_and_its_actual_start_but_does_not_auto_skip() -> None:
    c = config(Segment("a", length_s=60), Segment("b", length_s=60), auto=True)
    entries = [{"at": 1000.0, "current": 0, "title": "a"}, {"at": 1050.0, "current": 1, "title": "b"},
               {"at": 1060.0, "current": 0, "title": "renamed since"}, "not an entry", {"current": 1}]
    progress = rd.replay(c, [e for e in entries if isinstance(e, dict)], now=2000.0)
    assert progress.current == 1 and progress.started_at == 1050.0
    assert progress.runs == (Run(0, 1000.0, 1050.0), Run(1, 1050.0))
    # Its due time (1110) passed while the show was down: the operator decides, not the ticker.
    assert not rd.should_auto_advance(c, rd.plan_for(c, progress, 2000.0), progress, 2000.0)


def test_overlay_values_and_export_rows() -> None:
    c = config(Segment("开场", length_s=60), Segment("企业宣讲", employer="E01", length_s=30))
    progress = rd.go_to(c, rd.go_to(c, Progress(), 0, at(14, 0)), 1, at(14, 1, 10))
    v = rd.overlay_values(c, progress, at(14, 1, 20), {"E01": "示例电子"})
    assert v["clock"] == "14:01:20"
    assert v["segment"]["title"] == "企业宣讲" and v["segment"]["employer"] == "示例电子"
    assert v["countdown"] == "00:20" and v["next"] == {}
    assert rd.overlay_values(None, None, at(9, 5, 7)) == {"clock": "09:05:07"}
    rows = rd.export_rows(c, rd.go_to(c, progress, 2, at(14, 1, 50)), at(15, 0), {"E01": "示例电子"})
    assert rows[0][3:] == ["2026-12-01T14:00:00+08:00", 60, "2026-12-01T14:00:00+08:00",
                           "2026-12-01T14:01:10+08:00", 70.0, 10.0]
    assert rows[1][2] == "示例电子" and rows[1][3] == "2026-12-01T14:01:00+08:00" and rows[1][-1] == 10.0


def test_ticks_land_just_after_each_whole_second() -> None:
    for now in (100.0, 100.3, 100.999):
        wake = now + rd.seconds_to_next_tick(now)
        assert 101.0 < wake < 101.1


def test_a_clock_layer_is_drawn_once_a_second_not_once_a_frame() -> None:
    layer = LayerConfig(kind="text", text="{{ clock }} · {{ segment.title }}", rect=Rect(0, 0, 200, 40))
    overlay = TextOverlay(layer, layer.rect, 1.0)
    draws: list[str] = []
    real = overlay.draw
    overlay.draw = lambda ctx: draws.append(ctx["clock"]) or real(ctx)   # type: ignore[method-assign]
    c = config(Segment("开场", length_s=60))
    progress = rd.go_to(c, Progress(), 0, at(14, 0))
    second = rd.overlay_values(c, progress, at(14, 0, 1))
    for frame in range(30):                     # one second of frames, one context
        overlay.patch(second)
    overlay.patch(dict(second))                 # a refresh within the same second (a job-fair count)
    overlay.patch(rd.overlay_values(c, progress, at(14, 0, 2)))
    assert draws == ["14:00:01", "14:00:02"]


# --- the show file ----------------------------------------------------------------------------------
BASE = """\
show: {name: rundown, video: {width: 320, height: 180, fps: 10, bitrate_kbps: 300}, data_dir: data}
sources:
  red: {kind: color, color: "#c00000"}
  blue: {kind: color, color: "#1040c0"}
scenes:
  red: {layers: [{source: red}]}
  blue: {layers: [{source: blue}]}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ShowFileError) as err:
        check_show_text(text, "show.yaml", env={}, base_dir=ROOT / "scenes")
    return err.value.lines


def test_a_rundown_is_read_with_unquoted_clock_times() -> None:
    text = BASE + textwrap.dedent("""\
        rundown:
          auto_advance: true
          segments:
            - {title: 开场, start: 14:30, length: 90s, scene: red}
            - {title: 两分, length: 2m, notes: 看提词器}
            - {title: 下午, start: "2026-12-01T15:00:00"}
        """)
    cfg, warnings = check_show_text(text, "show.yaml", env={}, base_dir=ROOT / "scenes")
    r = cfg.rundown
    assert r.auto_advance and [s.title for s in r.segments] == ["开场", "两分", "下午"]
    assert r.segments[0].start_clock == dt.time(14, 30) and r.segments[0].length_s == 90
    assert r.segments[1].length_s == 120 and r.segments[1].notes == "看提词器"
    assert r.segments[2].start_at == dt.datetime(2026, 12, 1, 15, 0, tzinfo=rd.CST)
    assert warnings == []


def test_rundown_mistakes_are_named_at_their_line_and_column_with_did_you_mean() -> None:
    text = BASE + textwrap.dedent("""\
        rundown:
          segments:
            - {title: 开场, start: "14:30", scene: rde}
            - {title: 错时, start: "14:00", length: 10 minutes}
            - {title: 无单位, employer: E01, job: J001}
            - {title: 坏时间, start: "2pm", lenght: 5m}
            - {notes: 没有标题}
            - {title: 零, length: 0s}
        """)
    assert problems_of(text) == [
        "show.yaml:10:42: no scene named 'rde' (did you mean 'red'?); scenes are: red, blue",
        "show.yaml:11:26: segment 2 starts at 14:00, not after segment 1 (14:30); list segments in the order they "
        "go on air (a show past midnight: write the date too, e.g. \"2026-12-02T00:15\")",
        "show.yaml:11:43: 'length' in rundown.segments.[2] must be a length like \"10m\", \"90s\" or \"1h30m\", "
        "got \"10 minutes\"",
        "show.yaml:12:30: 'employer' of segment 3 names a job-fair employer, but the show has no jobfair: section; "
        "add one or remove this line",
        "show.yaml:12:40: 'job' of segment 3 names a job-fair job, but the show has no jobfair: section; "
        "add one or remove this line",
        "show.yaml:13:27: 'start' of segment 4 must be a clock time like \"14:30\" or a date and time like "
        "\"2026-12-01T14:30:00+08:00\", got \"2pm\"",
        "show.yaml:13:34: unknown key 'lenght' in rundown.segments.[4] (did you mean 'length'?)",
        "show.yaml:14:7: rundown.segments.[5] needs 'title', e.g. title: \"企业宣讲：示例电子\"",
        "show.yaml:15:26: 'length' of segment 6 must be more than zero, like \"10m\" or \"90s\", got \"0s\"",
    ]


def test_employers_and_jobs_are_checked_against_the_fair() -> None:
    text = (ROOT / "scenes" / "jobfair.yaml").read_text(encoding="utf-8")
    text = text.replace("employer: E02, length: 15m, scene: plant, job: J008",
                        "employer: E2, length: 15m, scene: plan, job: J001")
    lines = problems_of(text.replace("employer: E04,", "employer: E04x,"))
    joined = "\n".join(lines)
    assert "no employer 'E2' (did you mean 'E02'?) in the job fair; employers are: E01, E02, E03, E04, E05" in joined
    assert "no scene named 'plan' (did you mean 'plant'?)" in joined
    assert "no employer 'E04x' (did you mean 'E04'?)" in joined
    ok = text.replace("employer: E2,", "employer: E02,").replace("scene: plan,", "scene: plant,")
    (line,) = problems_of(ok)
    assert line.endswith("job 'J001' is E01's, not E02's: the card would show another company during E02's "
                         "segment; feature one of E02's jobs or set employer: E01")
    assert line.startswith("show.yaml:" + str(ok.splitlines().index(next(
        l for l in ok.splitlines() if "J001}" in l and "E02" in l)) + 1) + ":")


def test_overlapping_plan_and_pointless_auto_advance_are_warnings() -> None:
    text = BASE + textwrap.dedent("""\
        rundown:
          auto_advance: true
          segments:
            - {title: a, start: "14:00", length: 15m}
            - {title: b, start: "14:10"}
        """)
    cfg, warnings = check_show_text(text, "show.yaml", env={}, base_dir=ROOT / "scenes")
    assert warnings == ["show.yaml:11:42: warning: segment 1 is planned to run 5m00s past the start of segment 2; "
                        "it ends when segment 2 is due"]
    _, warnings = check_show_text(BASE + "rundown: {auto_advance: true, segments: [{title: a}]}\n", "show.yaml",
                                  env={}, base_dir=ROOT / "scenes")
    assert warnings and "nothing can advance by itself" in warnings[0]


def test_the_schema_describes_the_rundown_and_the_example_validates() -> None:
    schema = show_schema()
    assert schema["properties"]["rundown"]["properties"]["segments"]["items"]["required"] == ["title"]
    cfg, warnings = load_show(ROOT / "scenes" / "jobfair.yaml")
    assert 3 <= len(cfg.rundown.segments) <= 5 and warnings == []
    assert {s.employer for s in cfg.rundown.segments} - {None} <= set(cfg.jobfair.employers)


# --- the Show: commands, cues, events, the journal -----------------------------------------------------
SHOW = BASE + textwrap.dedent("""\
    rundown:
      segments:
        - {title: 开场 opening, length: 2s, scene: blue}
        - {title: 第二段, length: 10m, scene: red, notes: 提醒扫码}
        - {title: 结束, scene: blue}
    """)


def make_show(tmp_path: Path, text: str = SHOW) -> Show:
    (tmp_path / "show.yaml").write_text(text, encoding="utf-8")
    cfg, _ = load_show(tmp_path / "show.yaml")
    show = Show(cfg)
    show.bus.bind(asyncio.get_running_loop())
    return show


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_advance_takes_the_scene_publishes_an_event_and_writes_the_journal(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    seen: list[dict] = []
    show.bus.listeners.append(lambda ev: seen.append(ev.to_json()))
    assert show.engine.program == "red" and show.rundown_info()["current"] == -1
    info = await show.rundown_advance("operator@127.0.0.1")
    assert info["current"] == 0 and show.engine.program == "blue"
    info = await show.rundown_advance("operator@127.0.0.1")
    assert info["current"] == 1 and show.engine.program == "red" and info["next"] == 2
    await settle()
    moves = [e for e in seen if e["type"] == "rundown"]
    assert [m["index"] for m in moves] == [0, 1] and moves[1]["ended"]["title"] == "开场 opening"
    for e in seen:
        jsonschema.validate(e, events.schema()[e["type"]])
    jsonschema.validate({"type": "state", **show.state()}, events.schema()["state"])
    assert any(e["type"] == "log" and "segment 2 started: 第二段" in e["en"] for e in seen)
    lines = [json.loads(l) for l in (tmp_path / "data" / JOURNAL_NAME).read_text("utf-8").splitlines()]
    assert [(l["current"], l["title"], l["ended"]) for l in lines] == [(0, "开场 opening", None), (1, "第二段", 0)]
    # {{ segment.title }} follows at once, not a second later.
    assert show._context["segment"]["title"] == "第二段"


async def test_go_to_refuses_what_is_not_there_and_ignores_the_segment_already_on(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    for bad, status in ((3, 404), (-1, 404), ("1", 422), (True, 422)):
        with pytest.raises(Refusal) as err:
            await show.rundown_goto(bad)
        assert err.value.status == status, bad
    await show.rundown_goto(2)
    await show.rundown_goto(2)
    assert len((tmp_path / "data" / JOURNAL_NAME).read_text("utf-8").splitlines()) == 1
    await show.rundown_advance()
    assert show.rundown_info()["finished"]
    with pytest.raises(Refusal) as err:
        await show.rundown_advance()
    assert err.value.status == 409
    (tmp_path / "plain").mkdir()
    plain = make_show(tmp_path / "plain", BASE)
    with pytest.raises(Refusal) as err:
        plain.rundown_info()
    assert err.value.status == 404 and "rundown" not in plain.state()


async def test_a_killed_show_keeps_its_actual_times(tmp_path: Path) -> None:
    first = make_show(tmp_path)
    await first.rundown_advance()
    started = first.rundown_info()["segments"][0]["actual_start"]
    await first.rundown_advance()
    del first   # no close, no flush: as a SIGKILL leaves it
    again = make_show(tmp_path)
    info = again.rundown_info()
    assert info["current"] == 1 and info["segments"][0]["actual_start"] == started
    assert info["segments"][0]["actual_end"] == info["segments"][1]["actual_start"] is not None
    await again.rundown_advance()
    assert again.rundown_info()["current"] == 2


async def test_auto_advance_moves_on_when_the_time_is_up(tmp_path: Path) -> None:
    show = make_show(tmp_path, SHOW.replace("rundown:\n", "rundown:\n  auto_advance: true\n"))
    now = [1000.0]
    show.rundown.clock = lambda: now[0]
    await show.rundown_advance()
    assert not await show.rundown.tick()
    now[0] = 1002.0
    assert await show.rundown.tick()
    assert show.rundown_info()["current"] == 1 and show.engine.program == "red"
    now[0] = 1100.0
    assert not await show.rundown.tick()        # 10 minutes are not up


async def test_segments_put_employer_and_job_on_air_and_take_them_off(tmp_path: Path) -> None:
    text = (ROOT / "scenes" / "jobfair.yaml").read_text(encoding="utf-8")
    text = text.replace("data_dir: ../data/jobfair", f"data_dir: {tmp_path / 'data'}").replace("include: fair/", "include: " + str(ROOT / "scenes" / "fair") + "/")
    text = text.replace('path: "../recordings/', f'path: "{tmp_path}/')
    show = make_show(tmp_path, text)
    try:
        await show.rundown_advance()
        assert show.jobfair.segment is None and show.engine.program == "studio"
        await show.rundown_advance()
        assert show.jobfair.segment["employer"] == "E01" and show.jobfair.featured["job"] == "J001"
        assert show.engine.program == "plant"
        show.refresh_context()
        assert show._context["segment"]["employer"] == show.config.jobfair.employers["E01"].name
        await show.rundown_goto(4)
        assert show.jobfair.segment is None and show.jobfair.featured is None
        out = write_export(show.config, tmp_path / "export")
        with out[0].open(encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        assert rows[0][0] == "序号 No." and len(rows) == 6
        assert rows[1][5] and rows[1][6] and rows[2][5] and not rows[3][5]
    finally:
        await show.jobfair.close()


def test_export_without_a_rundown_writes_nothing(tmp_path: Path) -> None:
    cfg, _ = check_show_text(BASE, tmp_path / "show.yaml", env={}, base_dir=tmp_path)
    assert write_export(cfg, tmp_path) == []


# --- the operator API -------------------------------------------------------------------------------
async def test_the_rundown_routes_answer_and_refuse_in_the_one_shape(tmp_path: Path) -> None:
    import httpx

    from stream_ops.web.app import studio_app

    show = make_show(tmp_path)
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    plain = make_show(plain_dir, BASE)
    auth = {"Authorization": "Bearer t"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=studio_app(show, "t")), base_url="http://a") as client:
        r = await client.get("/api/rundown", headers=auth)
        assert r.status_code == 200 and r.json()["current"] == -1 and len(r.json()["segments"]) == 3
        assert (await client.post("/api/rundown/advance")).status_code == 401
        r = await client.post("/api/rundown/advance", headers=auth)
        assert r.status_code == 200 and r.json()["current"] == 0
        r = await client.post("/api/rundown/goto", headers=auth, json={"index": 2})
        assert r.status_code == 200 and r.json()["current"] == 2 and show.engine.program == "blue"
        r = await client.post("/api/rundown/goto", headers=auth, json={"index": 7})
        assert r.status_code == 404 and r.json()["code"] == "unknown_segment"
        for body in ({"index": "1"}, {"index": 1, "go": True}, {}):
            assert (await client.post("/api/rundown/goto", headers=auth, json=body)).status_code == 422, body
        assert (await client.post("/api/rundown/advance", headers=auth)).json()["finished"]
        r = await client.post("/api/rundown/advance", headers=auth)
        assert r.status_code == 409 and r.json()["code"] == "rundown_finished"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=studio_app(plain, "t")), base_url="http://b") as client:
        r = await client.get("/api/rundown", headers=auth)
        assert r.status_code == 404 and r.json()["code"] == "no_rundown"


async def test_stream_ops_export_writes_the_rundown_of_a_show_without_a_fair(tmp_path: Path, capsys) -> None:
    from stream_ops.cli import main

    show = make_show(tmp_path)
    await show.rundown_advance()
    await show.rundown_advance()
    assert await asyncio.to_thread(main, ["export", str(tmp_path / "show.yaml"), "--out", str(tmp_path / "out")]) == 0
    with (tmp_path / "out" / "rundown.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert [r[1] for r in rows[1:]] == ["开场 opening", "第二段", "结束"]
    assert rows[1][5] and rows[1][6] and rows[2][5] and not rows[2][6]   # the second is still on
    assert "rundown.csv" in capsys.readouterr().out


async def test_a_journal_that_cannot_be_written_does_not_stop_the_segment(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    seen: list[dict] = []
    show.bus.listeners.append(lambda ev: seen.append(ev.to_json()))
    show.rundown.journal.path = tmp_path / "show.yaml" / JOURNAL_NAME   # a file where a folder should be
    info = await show.rundown_advance()
    assert info["current"] == 0 and show.engine.program == "blue"
    await settle()
    assert any(e["type"] == "log" and e["level"] == "error" and "journal" in e["en"] for e in seen)
