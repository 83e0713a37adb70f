"""Grid cells and slot sizes: pure arithmetic."""
from __future__ import annotations

from pathlib import Path

from stream_ops.config import (AudioSettings, LayerConfig, Rect, SceneConfig, ShowConfig, SourceConfig,
                               VideoSettings)
from stream_ops.geometry import UNUSED_SLOT, grid_rects, rect_overflow, slot_size, slot_sizes


def test_grid_two_by_two_fills_canvas():
    assert grid_rects(4, 2, Rect(0, 0, 1280, 720)) == [
        Rect(0, 0, 640, 360), Rect(640, 0, 640, 360), Rect(0, 360, 640, 360), Rect(640, 360, 640, 360)]


def test_grid_rows_round_up_and_cells_are_even():
    cells = grid_rects(5, 3, Rect(100, 50, 1001, 601), gap=7)
    assert len(cells) == 5
    assert {(c.w, c.h) for c in cells} == {(328, 296)}
    assert cells[0].x % 2 == 0 and cells[0].y % 2 == 0   # an odd gap moves later cells; sizes stay even
    assert cells[3].y == cells[0].y + 296 + 7 and cells[1].x == cells[0].x + 328 + 7
    assert all(c.x >= 100 and c.x + c.w <= 1101 and c.y + c.h <= 651 for c in cells)


def test_grid_more_columns_than_sources():
    assert grid_rects(2, 4, Rect(0, 0, 1280, 720)) == [Rect(0, 0, 640, 720), Rect(640, 0, 640, 720)]
    assert grid_rects(0, 2, Rect(0, 0, 1280, 720)) == []


def test_slot_size_divides_by_kept_crop_and_caps():
    assert slot_size(Rect(0, 0, 360, 202), None, 1280, 720) == (360, 202)
    assert slot_size(Rect(0, 0, 361, 203), None, 1280, 720) == (362, 204)
    assert slot_size(Rect(0, 0, 400, 300), (0.25, 0, 0.25, 0), 1280, 720) == (800, 300)
    assert slot_size(Rect(0, 0, 1280, 720), (0.1, 0.1, 0.1, 0.1), 1280, 720) == (1280, 720)


def _show(scenes: dict[str, SceneConfig], names: list[str]) -> ShowConfig:
    return ShowConfig(name="t", path=Path("show.yaml"), video=VideoSettings(1280, 720), audio=AudioSettings(),
                      sources={n: SourceConfig(name=n, kind="test") for n in names},
                      scenes=scenes, outputs={}, start_scene=next(iter(scenes)))


def test_slot_sizes_take_the_largest_use():
    scenes = {
        "pip": SceneConfig("pip", (LayerConfig("source", source="a"),
                                   LayerConfig("source", source="b", rect=Rect(880, 40, 360, 202)))),
        "side": SceneConfig("side", (LayerConfig("source", source="b", rect=Rect(0, 0, 640, 300), crop=(0, 0.2, 0, 0.2)),)),
        "text": SceneConfig("text", (LayerConfig("text", text="hi", rect=Rect(0, 0, 100, 40)),)),
    }
    sizes = slot_sizes(_show(scenes, ["a", "b", "c"]))
    assert sizes == {"a": (1280, 720), "b": (640, 500), "c": UNUSED_SLOT}


def test_rect_overflow_words():
    assert rect_overflow(Rect(0, 0, 1280, 720), 1280, 720) == []
    [msg] = rect_overflow(Rect(1000, 0, 360, 200), 1280, 720)
    assert msg.startswith("goes 80 px past the right edge")
    assert "starts 10 px left" in rect_overflow(Rect(-10, 0, 100, 100), 1280, 720)[0]
    assert "positive" in rect_overflow(Rect(0, 0, 0, 100), 1280, 720)[0]
