"""Typed events: every producer's real fields fit its class, the history keeps what happened
(not refreshes), and docs/api.md's events table is the one the classes generate."""
from __future__ import annotations

import asyncio
import random
import textwrap
from pathlib import Path

import jsonschema
import pytest

from phone_fixtures import OPERATOR, WhipClient, hub_show, serve_hub, wait_for
from stream_ops import events, frames
from stream_ops.events import EventBus
from stream_ops.jobfair.service import JobFairService
from stream_ops.jobfair.viewers import PollerState
from stream_ops.show import Show
from stream_ops.showfile import load_show
from test_jobfair_apply import load_fair

ROOT = Path(__file__).resolve().parent.parent

SHOW = """
show: {name: 事件测试 events, video: {width: 320, height: 180, fps: 10, bitrate_kbps: 300}}
sources:
  red:  {kind: color, color: "#c00000", label: 红}
  blue: {kind: color, color: "#1040c0"}
  phone1: {kind: webrtc, label: 手机1}
scenes:
  red: {layers: [{source: red}]}
  blue: {layers: [{source: blue}]}
outputs:
  record: {kind: file, path: "rec/{show}.ts", label: 本地录制}
  douyin: {kind: rtmp, url: "rtmp://127.0.0.1:9/live", key: "secret-key", platform: douyin, label: 抖音}
"""


def validate(entry: dict) -> None:
    """An event as sent (or kept) matches its published schema."""
    jsonschema.validate(entry, events.schema()[entry["type"]])


class Recorder:
    """Every event a bus delivers, as JSON."""

    def __init__(self, bus: EventBus) -> None:
        self.seen: list[dict] = []
        bus.listeners.append(lambda ev: self.seen.append(ev.to_json()))

    def types(self) -> set[tuple[str, str | None]]:
        return {(e["type"], e.get("event", e.get("kind")) if e["type"] in ("phone", "jobfair") else None)
                for e in self.seen}


async def settle() -> None:
    """Let the loop run what media threads handed it (call_soon_threadsafe)."""
    for _ in range(3):
        await asyncio.sleep(0)


# --- the publishers' own fields ---------------------------------------------------------------
async def test_show_engine_and_outputs_publish_what_their_classes_declare(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(textwrap.dedent(SHOW), encoding="utf-8")
    config, problems = load_show(tmp_path / "show.yaml")
    assert config is not None, problems
    show = Show(config)
    bus, engine = show.bus, show.engine
    bus.bind(asyncio.get_running_loop())
    seen = Recorder(bus)
    engine.set_preview("blue", actor="operator@127.0.0.1")
    engine.take("fade", 300, actor="operator@127.0.0.1")
    engine.set_program("red", actor="operator@127.0.0.1")
    slot = engine.slots["red"]
    slot.push_video(frames.solid(slot.width, slot.height, "#c00000"))   # idle -> live: a change
    for out in engine.outputs.values():
        engine._output_changed(out)
    record = engine.outputs["record"]
    engine.start_output("record", actor="operator@127.0.0.1")     # a recording says which file it writes
    try:
        await wait_for(lambda: record.path is not None)
        engine._output_changed(record)
    finally:
        await asyncio.to_thread(engine.stop_output, "record")
    engine._status_tick(10)                                             # levels, engine, refreshes
    await show.set_source_audio("red", gain_db=-6.0, muted=True)
    bus.log("开播 show started: test", actor="system")
    engine._emit_log("场景 red 渲染出错", level="error", en="scene red: rendering failed")
    await settle()
    want = {("program", None), ("preview", None), ("source_state", None), ("output_state", None),
            ("levels", None), ("engine", None), ("source_audio", None), ("log", None)}
    assert want <= seen.types()
    assert any(e["type"] == "output_state" and e.get("file") for e in seen.seen)
    for entry in seen.seen:
        validate(entry)
    validate({"type": "state", **show.state()})


async def test_phone_hub_events_carry_their_documented_fields() -> None:
    show = hub_show()
    seen = Recorder(show.bus)
    async with serve_hub(show) as (hub, base):
        first = WhipClient(base, "phone1", hub.tokens["phone1"])
        second = WhipClient(base, "phone1", hub.tokens["phone1"])
        try:
            assert await first.publish() == 201                    # offer
            await wait_for(lambda: show.engine.slots["phone1"].state == "live")
            assert await second.publish() == 409                   # refused
            await hub._check(stats=True)                           # stats
            hub.set_takeover("phone1", True)                       # takeover
            await hub.rotate("phone1", kick=True)                  # token_rotated, then left
        finally:
            await first.close()
            await second.close()
    variants = {v for t, v in seen.types() if t == "phone"}
    assert variants == {"offer", "refused", "stats", "takeover", "token_rotated", "left"}
    for entry in seen.seen:
        validate(entry)
    left = next(e for e in seen.seen if e.get("event") == "left")
    assert left["name"] == "phone1" and left["reason"] == "token revoked"


async def test_job_fair_publishes_every_kind_with_its_fields(tmp_path: Path) -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    seen = Recorder(bus)
    service = JobFairService(load_fair(), "test", tmp_path, publish=lambda t, d: bus.publish(t, **d),
                             public_url="https://jobs.example.cn")
    try:
        job = next(iter(service.fair.jobs))
        employer = service.fair.jobs[job].employer_id
        service.start_segment(employer)
        service.feature(job)
        service.feature(None)
        service.start_segment(None)
        platform = next(iter(service.fair.platforms))
        await service.add_viewer_sample(platform, 120)
        await service.add_total(platform, "peak_online", 300)
        service._emit_applications()
        service._poller_changed(PollerState(platform, "youtube"))
        await service.written()
    finally:
        await service.close()
    # The service swallows a publisher's error (a request must not fail): so count what arrived.
    assert {v for t, v in seen.types() if t == "jobfair"} == {"feature", "segment", "viewers", "totals",
                                                             "applications", "poller"}
    for entry in seen.seen:
        validate(entry)


def test_unknown_type_or_field_is_refused_at_the_publisher() -> None:
    bus = EventBus()
    with pytest.raises(ValueError, match="made_up"):
        bus.publish("made_up")
    with pytest.raises(TypeError, match="missing field event"):
        bus.publish("phone", name="phone1", message="joined")   # what the panel used to read
    with pytest.raises(TypeError, match="unknown field.*message.*missing field.*session"):
        bus.publish("phone", name="phone1", event="left", message="joined", reason="gone")
    with pytest.raises(ValueError, match="event='joined'"):
        bus.publish("phone", name="phone1", event="joined")
    with pytest.raises(TypeError, match="missing field.*actor"):
        bus.publish_threadsafe("program", scene="a", previous="b", transition="cut", duration_ms=0)
    assert bus.history == []


# --- the history keeps what happened -------------------------------------------------------
def test_an_hour_of_refreshes_keeps_every_switch() -> None:
    bus = EventBus()
    rng = random.Random(9)
    switches = []
    scenes = ["host", "grid", "slate", "bars"]
    program = "bars"
    for second in range(3600):
        # What the engine sends every second: figures, and a refresh of every live source and output.
        for _ in range(10):
            bus.publish("levels", program={"peak_db": -12.0, "rms_db": -20.0}, sources={})
        bus.publish("engine", fps=30.0, target_fps=30, frames=second * 30, late_frames=0, encoder_drops=0,
                    render_errors=0, max_gap_ms=40.0, composite_ms=1.0, encode_ms=9.0, width=1280, height=720)
        for name in ("cam1", "cam2", "bars", "promo"):
            bus.publish("source_state", name=name, label=name, kind="rtmp", state="live", error=None, width=1920,
                        height=1080, codec="h264", fps=30.0, has_audio=True, gain_db=0.0, muted=False)
        for name in ("channels", "douyin", "record"):
            bus.publish("output_state", name=name, label=name, kind="rtmp", platform=name, target="rtmp://x/****",
                        state="live", desired="running", kbps=3000.0 + rng.random(), bytes=second * 375_000,
                        uptime_s=float(second), reconnects=0, dropped=0, error=None)
        # A dead target retrying all hour long (every 5 s), as outputs/base.py logs it.
        if second % 5 == 0:
            backoff = rng.choice([0.5, 1.0, 2.0, 4.0, 5.0])
            bus.log(f"推流重连 output bili: Connection refused; {backoff:.1f} 秒后重试 retrying in {backoff:.1f} s",
                    level="warning", en=f"output bili: Connection refused; retrying in {backoff:.1f} s")
        if second % 30 == 0:   # an operator taking a scene every half minute
            new = scenes[(second // 30) % len(scenes)]
            bus.publish("program", scene=new, previous=program, transition="cut", duration_ms=0, actor="operator@10.0.0.2")
            bus.log(f"节目 program {program} → {new}（切 cut）", actor="operator@10.0.0.2")
            switches.append(new)
            program = new
    kept = [e["scene"] for e in bus.history if e["type"] == "program"]
    assert kept == switches and len(switches) == 120
    lines = [e for e in bus.history if e["type"] == "log" and e["actor"] == "operator@10.0.0.2"]
    assert len(lines) == 120
    retries = [e for e in bus.history if e["type"] == "log" and e["level"] == "warning"]
    assert len(retries) == 1 and retries[0]["repeats"] == 720
    # The first refresh of each live thing was a change (idle -> live); no later one is kept.
    assert sum(e["type"] in ("source_state", "output_state") for e in bus.history) == 7
    assert not any(e["type"] in ("levels", "engine") for e in bus.history)


def test_a_state_change_is_kept_and_a_refresh_is_not() -> None:
    bus = EventBus()
    common = dict(label="cam1", kind="rtmp", error=None, width=None, height=None, codec=None, fps=0.0,
                  has_audio=False, gain_db=0.0, muted=False)
    for state in ("connecting", "live", "live", "live", "no_signal", "no_signal", "connecting", "live"):
        bus.publish("source_state", name="cam1", state=state, **common)
    assert [e["state"] for e in bus.history] == ["connecting", "live", "no_signal", "connecting", "live"]
    bus.publish("phone", name="phone1", event="stats", session="s", state="connected", codec="h264", audio_codec=None,
                connected_s=1.0, bitrate_kbps=800.0, fps=30.0, rtt_ms=None, packets_lost=0, width=640, height=360)
    bus.publish("preview", scene="grid", actor="operator")
    assert len(bus.history) == 5


def test_history_is_bounded() -> None:
    bus = EventBus(history=50)
    for i in range(200):
        bus.log(f"开始推流 start output o{i}")
    assert len(bus.history) == 50 and bus.history[-1]["message"].endswith("o199")


def test_a_log_line_has_its_english_alone() -> None:
    bus = EventBus()
    bus.log("开播 show started: 云聘 demo", actor="system")
    bus.log("信号中断 source cam1: no signal", level="warning")
    bus.log("plain English line")
    bus.log("节目 program a → b（淡化 fade 500 ms）", en="program a → b (fade 500 ms)")
    assert [e["en"] for e in bus.history] == ["show started: 云聘 demo", "source cam1: no signal",
                                              "plain English line", "program a → b (fade 500 ms)"]
    assert bus.history[0]["message"] == "开播 show started: 云聘 demo"


# --- docs and schema --------------------------------------------------------------------------------
def test_docs_api_events_table_is_generated_from_the_classes() -> None:
    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert events.docs_with_table(doc) == doc, (
        "docs/api.md's events table is out of date: run `python -m stream_ops.events docs/api.md`")


def test_every_type_has_a_schema_and_a_documented_field_list() -> None:
    schemas = events.schema()
    assert set(schemas) == events.EVENT_TYPES
    table = events.markdown()
    for type_ in events.EVENT_TYPES:
        assert f"| `{type_}`" in table
    phone = {s["properties"]["event"]["const"] for s in schemas["phone"]["oneOf"]}
    assert phone == {"offer", "left", "refused", "token_rotated", "takeover", "stats"}
    for cls in events._own_classes():
        assert cls.__doc__, cls
        for f in events.own_fields(cls):
            assert f.metadata.get("doc"), (cls.__name__, f.name)
