"""The program/preview/take rules and command checks, on a real `Show`.

Colour sources and no outputs: no ffmpeg child, a tiny canvas, so the engine's
real clock applies each command at a frame boundary in milliseconds.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from stream_ops.config import GAIN_DB_MAX, GAIN_DB_MIN
from stream_ops.refusal import Refusal
from stream_ops.show import Show
from stream_ops.showfile import check_show_text
from stream_ops.transitions import Transition

SHOW = """
show:
  name: rules
  video: {width: 160, height: 90, fps: 10, bitrate_kbps: 100, preset: ultrafast}
  transition: {kind: fade, duration_ms: 700}
sources:
  red: {kind: color, color: "#ff0000"}
  blue: {kind: color, color: "#0000ff"}
  green: {kind: color, color: "#00ff00"}
scenes:
  a: {layers: [{source: red}]}
  b: {layers: [{source: blue}]}
  c: {layers: [{source: green}]}
"""
LONG_FADE_MS = 10_000   # long enough that the next command surely lands mid-fade


def on_main(reply: dict[str, Any]) -> dict[str, str]:
    """The main canvas's program and preview from a command's answer (which also lists every canvas)."""
    return {"program": reply["program"], "preview": reply["preview"]}


def build(tmp_path: Path, text: str = SHOW) -> Show:
    config, _ = check_show_text(text, tmp_path / "show.yaml", env={})
    return Show(config)


COMMAND_EVENTS = ("program", "preview", "source_audio", "output_state")


class Recorder:
    """The events commands publish, in order (levels and figures flow all the time; not those)."""

    def __init__(self, show: Show) -> None:
        self.events: list[Any] = []
        show.bus.listeners.append(lambda e: self.events.append(e) if e.type in COMMAND_EVENTS else None)

    def of(self, *types: str) -> list[tuple[str, str]]:
        return [(e.type, e.data.get("scene")) for e in self.events if e.type in types]


@pytest.fixture
async def show(tmp_path: Path):
    s = build(tmp_path)
    await s.start()
    yield s
    await s.stop()


async def test_starts_with_start_scene_on_program_and_the_next_in_preview(show: Show) -> None:
    state = show.state()
    assert (state["program"], state["preview"]) == ("a", "b")
    assert state["transition"] is None
    assert [s["name"] for s in state["scenes"]] == ["a", "b", "c"]
    assert state["scenes"][1]["sources"] == ["blue"]
    assert {s["name"] for s in state["sources"]} == {"red", "blue", "green"}
    assert state["outputs"] == []
    assert state["show"]["transition"] == "fade" and state["show"]["transition_ms"] == 700


async def test_cut_to_program_publishes_one_program_event(show: Show) -> None:
    rec = Recorder(show)
    reply = await show.set_program("c")
    assert on_main(reply) == {"program": "c", "preview": "b"}
    assert rec.of("program", "preview") == [("program", "c")]
    program = next(e for e in rec.events if e.type == "program")
    assert program.data["previous"] == "a" and program.data["transition"] == "cut"
    assert program.data["duration_ms"] == 0
    assert show.state()["transition"] is None


async def test_program_to_the_scene_in_preview_gives_preview_the_old_program(show: Show) -> None:
    rec = Recorder(show)
    reply = await show.set_program("b")
    assert on_main(reply) == {"program": "b", "preview": "a"}
    assert rec.of("program", "preview") == [("program", "b"), ("preview", "a")]
    # ... so TAKE still does something.
    assert on_main(await show.take()) == {"program": "a", "preview": "b"}


async def test_program_to_the_scene_already_on_program_does_nothing(show: Show) -> None:
    rec = Recorder(show)
    assert on_main(await show.set_program("a")) == {"program": "a", "preview": "b"}
    assert rec.of("program", "preview") == []


async def test_preview_then_take_swaps_and_publishes_in_order(show: Show) -> None:
    rec = Recorder(show)
    assert on_main(await show.set_preview("c")) == {"program": "a", "preview": "c"}
    assert on_main(await show.take()) == {"program": "c", "preview": "a"}
    assert rec.of("program", "preview") == [("preview", "c"), ("program", "c"), ("preview", "a")]
    assert on_main(await show.take()) == {"program": "a", "preview": "c"}


async def test_preview_of_the_scene_already_in_preview_publishes_nothing(show: Show) -> None:
    rec = Recorder(show)
    await show.set_preview("b")
    assert rec.of("preview") == []


async def test_take_when_preview_is_program_does_nothing(tmp_path: Path) -> None:
    one_scene = SHOW.split("scenes:")[0] + "scenes:\n  a: {layers: [{source: red}]}\n"
    s = build(tmp_path, one_scene)
    await s.start()
    try:
        rec = Recorder(s)
        assert on_main(await s.take()) == {"program": "a", "preview": "a"}
        assert rec.of("program", "preview") == []
    finally:
        await s.stop()


async def test_take_without_a_length_is_a_cut(show: Show) -> None:
    rec = Recorder(show)
    await show.take()
    program = next(e for e in rec.events if e.type == "program")
    assert (program.data["transition"], program.data["duration_ms"]) == ("cut", 0)


async def test_take_with_a_length_alone_uses_the_show_transition(show: Show) -> None:
    rec = Recorder(show)
    await show.take(duration_ms=LONG_FADE_MS)
    program = next(e for e in rec.events if e.type == "program")
    assert (program.data["transition"], program.data["duration_ms"]) == ("fade", LONG_FADE_MS)


async def test_fade_without_a_length_uses_the_show_length(show: Show) -> None:
    rec = Recorder(show)
    await show.take("fade")
    program = next(e for e in rec.events if e.type == "program")
    assert (program.data["transition"], program.data["duration_ms"]) == ("fade", 700)


async def test_fade_shows_in_state_while_it_runs(show: Show) -> None:
    await show.take("fade", LONG_FADE_MS)
    state = show.state()
    assert (state["program"], state["preview"]) == ("b", "a")
    assert state["transition"]["kind"] == "fade"
    assert (state["transition"]["from"], state["transition"]["to"]) == ("a", "b")
    assert 0 <= state["transition"]["progress"] < 1


async def test_fade_of_zero_ms_is_a_cut(show: Show) -> None:
    await show.take("fade", 0)
    assert show.state()["transition"] is None


async def test_take_during_a_fade_turns_it_round(show: Show) -> None:
    await show.take("fade", LONG_FADE_MS)
    assert on_main(await show.take("fade", LONG_FADE_MS)) == {"program": "a", "preview": "b"}
    t = show.state()["transition"]
    assert (t["from"], t["to"]) == ("b", "a")
    # Barely into a→b, so the way back starts nearly complete (not from all-b).
    assert t["progress"] > 0.5


def test_a_reversed_fade_starts_from_the_picture_on_air() -> None:
    fade = Transition.begin("fade", "a", "b", 100, 1000, 10)     # 10 frames
    assert fade.progress(106) == pytest.approx(0.7)
    back = fade.reversed(106, 1000, 10)
    assert (back.from_scene, back.to_scene, back.frames) == ("b", "a", 10)
    assert back.progress(106) == pytest.approx(0.3)               # the same picture, now heading back to a
    assert back.done(113) and not back.done(112)
    assert fade.reversed(100, 2000, 10).progress(100) == pytest.approx(0.9)   # its own length


async def test_fade_to_a_third_scene_during_a_fade_starts_from_the_program(show: Show) -> None:
    await show.take("fade", LONG_FADE_MS)
    await show.set_program("c", "fade", LONG_FADE_MS)
    t = show.state()["transition"]
    assert (t["from"], t["to"]) == ("b", "c")


async def test_cut_during_a_fade_ends_the_fade(show: Show) -> None:
    await show.take("fade", LONG_FADE_MS)
    assert on_main(await show.take("cut")) == {"program": "a", "preview": "b"}
    assert show.state()["transition"] is None


async def test_cut_to_the_scene_being_faded_in_finishes_the_fade(show: Show) -> None:
    await show.take("fade", LONG_FADE_MS)
    rec = Recorder(show)
    assert on_main(await show.set_program("b")) == {"program": "b", "preview": "a"}
    assert show.state()["transition"] is None
    assert rec.of("program") == [("program", "b")]


async def test_switches_are_in_the_event_log(show: Show) -> None:
    await show.take()
    messages = [e["message"] for e in show.state()["log"] if e["type"] == "log"]
    assert any("a → b" in m for m in messages)


@pytest.mark.parametrize("command, args, status", [
    ("set_program", ("nope",), 404),
    ("set_preview", ("nope",), 404),
    ("set_program", ("",), 422),
    ("set_program", (None,), 422),
    ("set_program", (["a"],), 422),
    ("set_preview", (3,), 422),
    ("set_program", ("b", "wipe"), 422),
    ("set_program", ("b", "fade", -1), 422),
    ("set_program", ("b", "fade", 10_001), 422),
    ("set_program", ("b", "fade", "500"), 422),
    ("set_program", ("b", "fade", True), 422),
    ("set_program", ("b", "fade", 10 ** 5000), 422),
    ("take", ("dissolve",), 422),
    ("take", ("fade", float("nan")), 422),
    ("start_output", ("nope",), 404),
    ("stop_output", ("nope",), 404),
    ("set_source_audio", ("nope", 0.0), 404),
    ("set_source_audio", ("red",), 422),
    ("set_source_audio", ("red", "3"), 422),
    ("set_source_audio", ("red", True), 422),
    ("set_source_audio", ("red", GAIN_DB_MAX + 0.5), 422),
    ("set_source_audio", ("red", GAIN_DB_MIN - 0.5), 422),
    ("set_source_audio", ("red", None, "yes"), 422),
])
async def test_bad_commands_are_refused_and_change_nothing(show: Show, command: str, args: tuple, status: int) -> None:
    rec = Recorder(show)
    before = show.state()
    with pytest.raises(Refusal) as refused:
        await getattr(show, command)(*args)
    assert refused.value.status == status
    assert refused.value.message
    after = show.state()
    assert (after["program"], after["preview"]) == (before["program"], before["preview"])
    assert audio(after) == audio(before)
    assert rec.events == []


def audio(state: dict[str, Any]) -> dict[str, tuple[float, bool]]:
    return {s["name"]: (s["gain_db"], s["muted"]) for s in state["sources"]}


async def test_source_gain_and_mute_within_the_limits(show: Show) -> None:
    rec = Recorder(show)
    assert (await show.set_source_audio("red", gain_db=GAIN_DB_MAX)) == {"name": "red", "gain_db": GAIN_DB_MAX, "muted": False}
    assert (await show.set_source_audio("red", gain_db=GAIN_DB_MIN, muted=True))["gain_db"] == GAIN_DB_MIN
    assert (await show.set_source_audio("red", muted=False))["muted"] is False
    red = next(s for s in show.state()["sources"] if s["name"] == "red")
    assert red["gain_db"] == GAIN_DB_MIN and red["muted"] is False
    assert [e.type for e in rec.events] == ["source_audio"] * 3


def test_show_file_and_api_share_the_gain_limit(tmp_path: Path) -> None:
    """What validation lets through, the API accepts (one declaration of the range)."""
    at_max = SHOW.replace('red: {kind: color, color: "#ff0000"}',
                          f'red: {{kind: color, color: "#ff0000", gain_db: {GAIN_DB_MAX}}}')
    check_show_text(at_max, tmp_path / "show.yaml", env={})
    over = at_max.replace(f"gain_db: {GAIN_DB_MAX}", f"gain_db: {GAIN_DB_MAX + 1}")
    with pytest.raises(Exception, match=f"at most {GAIN_DB_MAX:g}"):
        check_show_text(over, tmp_path / "show.yaml", env={})


async def test_stop_ends_with_a_clean_line_and_no_lost_signal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = build(tmp_path)
    await s.start()
    caplog.set_level(logging.INFO)
    await s.stop()
    # A source reporting silence while the show stops is shutdown, not a lost signal.
    s.engine.slots["red"].set_state("no_signal")
    lines = [r.getMessage() for r in caplog.records]
    assert not any("信号中断" in line for line in lines)
    assert any("show stopped cleanly" in line for line in lines)
    last_log = [e for e in s.bus.history if e["type"] == "log"][-1]
    assert "show stopped cleanly" in last_log["message"]
