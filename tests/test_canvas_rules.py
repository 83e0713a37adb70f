"""Canvases in a running show (in-process, tiny canvases): linked and unlinked commands,
their answers and events, the state, and what each canvas's compositor draws."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stream_ops import frames
from stream_ops.refusal import Refusal
from stream_ops.show import Show
from stream_ops.showfile import check_show_text

SHOW = """
show:
  name: canvases
  video: {width: 320, height: 180, fps: 10, bitrate_kbps: 100, preset: ultrafast}
  canvases:
    portrait: {width: 180, height: 320, bitrate_kbps: 100, label: 竖屏}
sources:
  red: {kind: color, color: "#ff0000"}
  blue: {kind: color, color: "#0000ff"}
  green: {kind: color, color: "#00ff00"}
scenes:
  a: {layers: [{source: red}]}
  b:
    layers: [{source: blue}]
    layouts:
      portrait: [{source: green, rect: [0, 0, 180, 160]}, {source: blue, rect: [0, 160, 180, 160]}]
  c: {layers: [{source: green}]}
outputs:
  land: {kind: file, path: "rec/land.ts"}
  tall: {kind: file, path: "rec/tall.ts", canvas: portrait}
"""


class Recorder:
    def __init__(self, show: Show) -> None:
        self.events: list[Any] = []
        show.bus.listeners.append(lambda e: self.events.append(e) if e.type in ("program", "preview", "link") else None)

    def of(self, *types: str) -> list[tuple[Any, ...]]:
        return [(e.type, e.data.get("canvas"), e.data.get("scene", e.data.get("linked")))
                for e in self.events if e.type in types]


@pytest.fixture
async def show(tmp_path: Path):
    config, _ = check_show_text(SHOW, tmp_path / "show.yaml", env={})
    s = Show(config)
    await s.start()
    yield s
    await s.stop()


def on_air(reply: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {name: (c["program"], c["preview"]) for name, c in reply["canvases"].items()}


async def test_state_lists_every_canvas_main_first_with_its_outputs(show: Show) -> None:
    state = show.state()
    assert state["linked"] is True
    assert [(c["name"], c["label"], c["width"], c["height"], c["outputs"]) for c in state["canvases"]] == [
        ("main", "横屏", 320, 180, ["land"]), ("portrait", "竖屏", 180, 320, ["tall"])]
    assert {o["name"]: o["canvas"] for o in state["outputs"]} == {"land": "main", "tall": "portrait"}
    assert set(state["engine"]["canvases"]) == {"main", "portrait"}
    assert state["engine"]["canvases"]["portrait"]["height"] == 320


async def test_linked_commands_reach_every_canvas(show: Show) -> None:
    rec = Recorder(show)
    assert on_air(await show.set_program("c")) == {"main": ("c", "b"), "portrait": ("c", "b")}
    assert on_air(await show.take()) == {"main": ("b", "c"), "portrait": ("b", "c")}
    assert rec.of("program") == [("program", "main", "c"), ("program", "portrait", "c"),
                                 ("program", "main", "b"), ("program", "portrait", "b")]


async def test_a_named_canvas_switches_alone_even_while_linked(show: Show) -> None:
    reply = await show.set_program("c", canvas="portrait")
    assert on_air(reply) == {"main": ("a", "b"), "portrait": ("c", "b")} and reply["linked"] is True


async def test_unlinked_take_switches_main_only_and_relinking_realigns(show: Show) -> None:
    rec = Recorder(show)
    assert (await show.set_linked(False))["linked"] is False
    await show.set_preview("c", canvas="portrait")
    assert on_air(await show.take()) == {"main": ("b", "a"), "portrait": ("a", "c")}
    assert on_air(await show.take(canvas="portrait")) == {"main": ("b", "a"), "portrait": ("c", "a")}
    reply = await show.set_linked(True)
    assert reply["linked"] is True and on_air(reply) == {"main": ("b", "a"), "portrait": ("b", "a")}
    assert rec.of("link") == [("link", None, False), ("link", None, True)]
    assert ("program", "portrait", "b") in rec.of("program")


async def test_on_air_reads_each_canvas_in_its_own_layout(show: Show) -> None:
    """A phone's tally: green is on program only through the portrait layout of b."""
    assert show.engine.on_air() == ({"red"}, {"blue", "green"})
    await show.set_linked(False)
    await show.set_program("b", canvas="portrait")
    # b was portrait's preview: the cut swaps it with a there
    assert show.engine.on_air() == ({"red", "blue", "green"}, {"blue", "red"})


async def test_unknown_canvas_is_refused_with_did_you_mean(show: Show) -> None:
    with pytest.raises(Refusal) as err:
        await show.set_program("a", canvas="portrat")
    assert err.value.status == 404 and "portrait" in str(err.value)
    with pytest.raises(Refusal) as err:
        await show.set_linked("yes")
    assert err.value.status == 422


async def test_each_canvas_draws_its_own_layout(show: Show) -> None:
    engine = show.engine
    # Scene b: blue on main; on portrait its explicit layout, green on top of blue.
    main = engine.render_scene("b", 320, 180)
    tall = engine.render_scene("b", 180, 320, canvas="portrait")
    assert main.shape == (180 * 3 // 2, 320) and tall.shape == (320 * 3 // 2, 180)
    assert looks(frames.mean_rgb(main, 320, 180, 100, 50, 120, 80), (0, 0, 255))
    assert looks(frames.mean_rgb(tall, 180, 320, 40, 40, 100, 80), (0, 255, 0))
    assert looks(frames.mean_rgb(tall, 180, 320, 40, 200, 100, 80), (0, 0, 255))
    # Scene a has no portrait layout: derived, its one source fills the portrait canvas.
    derived = engine.render_scene("a", 180, 320, canvas="portrait")
    for y in (10, 150, 290):
        assert looks(frames.mean_rgb(derived, 180, 320, 10, y, 160, 20), (255, 0, 0))


def looks(rgb: tuple[float, float, float], want: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(rgb, want))


async def test_a_file_output_on_the_portrait_canvas_records_the_portrait_program(show: Show, tmp_path: Path) -> None:
    import asyncio

    import av

    await show.start_output("tall")
    await show.start_output("land")
    for _ in range(100):
        await asyncio.sleep(0.1)
        if show.engine.outputs["tall"].info()["bytes"] > 20_000 and show.engine.outputs["land"].info()["bytes"] > 20_000:
            break
    await show.stop_output("tall")
    await show.stop_output("land")
    sizes = {}
    for name in ("tall", "land"):
        with av.open(str(tmp_path / "rec" / f"{name}.ts")) as f:
            frame = next(f.decode(video=0))
            sizes[name] = (frame.width, frame.height)
    assert sizes == {"tall": (180, 320), "land": (320, 180)}
