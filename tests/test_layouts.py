"""The derived layout of a scene on a canvas it gives no layout for (pure: rects and crops)."""
from __future__ import annotations

from stream_ops.config import CanvasConfig, LayerConfig, Rect, SceneConfig, ShowConfig, VideoSettings, AudioSettings
from stream_ops.geometry import slot_sizes
from stream_ops.layouts import derive, focus_crop, overlay_scale, scene_layers

MW, MH = 1280, 720
PW, PH = 720, 1280


def src(name: str, rect: Rect | None = None) -> LayerConfig:
    return LayerConfig(kind="source", source=name, rect=rect)


def inside(rect: Rect, w: int = PW, h: int = PH) -> bool:
    return rect.x >= 0 and rect.y >= 0 and rect.x + rect.w <= w and rect.y + rect.h <= h


def test_dominant_source_fills_portrait_cropped_around_the_centre() -> None:
    layers = derive(SceneConfig("s", (src("cam"),)), MW, MH, PW, PH)
    assert len(layers) == 1
    cam = layers[0]
    assert cam.rect == Rect(0, 0, PW, PH) and cam.fit == "cover"
    left, top, right, bottom = cam.crop
    # 16:9 cut to 9:16: keep (9/16)/(16/9) of the width, centred.
    assert abs((1 - left - right) - (9 / 16) / (16 / 9)) < 1e-3 and abs(left - right) < 1e-3 and top == bottom == 0


def test_focus_moves_the_crop_and_stays_inside_the_picture() -> None:
    left, _, right, _ = focus_crop(Rect(0, 0, MW, MH), PW / PH, (0.25, 0.5))
    assert left < right and abs(left + 0.3164 / 2 - 0.25) < 1e-3
    left, _, right, _ = focus_crop(Rect(0, 0, MW, MH), PW / PH, (1.0, 0.5))
    assert right == 0 and left > 0.6
    # A square picture cut to landscape keeps a band around focus y.
    _, top, _, bottom = focus_crop(Rect(0, 0, 100, 100), 2.0, (0.5, 0.0))
    assert top == 0 and abs(bottom - 0.5) < 1e-3
    assert focus_crop(Rect(0, 0, 160, 90), 16 / 9, None) is None


def test_pips_become_a_row_above_the_bottom_band_and_overlays_restack() -> None:
    scene = SceneConfig("s", (
        src("cam"),
        src("pip1", Rect(900, 40, 320, 180)),
        src("pip2", Rect(900, 260, 320, 180)),
        LayerConfig(kind="text", text="title", rect=Rect(40, 20, 760, 56), size=32),
        LayerConfig(kind="qr", qr="http://x", rect=Rect(1080, 480, 180, 180)),
        LayerConfig(kind="text", text="lower third", rect=Rect(40, 620, 1000, 60), size=32),
    ), focus=(0.5, 0.4))
    out = derive(scene, MW, MH, PW, PH)
    assert [l.source or l.text or l.qr for l in out] == ["cam", "pip1", "pip2", "title", "http://x", "lower third"]
    cam, p1, p2, title, qr, lower = out
    assert all(inside(l.rect) for l in out)
    k = overlay_scale(PW, MW)
    # Top band: the title, full width less margins; bottom band: the QR (square) then the lower third.
    assert title.rect.y < 100 and title.rect.w > PW * 0.9 and title.size == round(32 * k)
    assert qr.rect.w == qr.rect.h and qr.rect.x + qr.rect.w > PW * 0.9 and qr.rect.y > PH / 2
    assert lower.rect.y > qr.rect.y and lower.rect.y + lower.rect.h <= PH
    # PiPs side by side, 16:9, just above the bottom band.
    assert p1.rect.y == p2.rect.y and p1.rect.x + p1.rect.w <= p2.rect.x
    assert abs(p1.rect.w / p1.rect.h - 16 / 9) < 0.1 and p1.rect.y + p1.rect.h <= qr.rect.y


def test_grid_stacks_in_a_centred_column_then_two() -> None:
    three = tuple(src(f"c{i}", Rect((i % 2) * 640, (i // 2) * 360, 640, 360)) for i in range(3))
    out = derive(SceneConfig("grid", three), MW, MH, PW, PH)
    xs = {l.rect.x for l in out}
    assert len(xs) == 1 and all(inside(l.rect) for l in out)        # a column of three fits 1280 tall
    ys = [l.rect.y for l in out]
    assert ys == sorted(ys) and abs((ys[0] - 0) - (PH - (ys[-1] + out[-1].rect.h))) <= 4   # centred
    eight = tuple(src(f"c{i}", Rect((i % 4) * 320, (i // 4) * 180, 320, 180)) for i in range(8))
    out = derive(SceneConfig("grid", eight), MW, MH, PW, PH)
    assert len({l.rect.x for l in out}) == 2 and all(inside(l.rect) for l in out)


def test_jobcard_gets_a_tall_box_and_many_overlays_still_fit() -> None:
    texts = tuple(LayerConfig(kind="text", text=str(i), rect=Rect(0, 600, 1280, 120), size=60) for i in range(8))
    card = LayerConfig(kind="jobcard", rect=Rect(40, 380, 620, 300))
    out = derive(SceneConfig("s", (src("cam"), card)), MW, MH, PW, PH)
    assert out[1].rect.h > out[1].rect.w * 0.7 and inside(out[1].rect)   # the landscape card was 620x300
    out = derive(SceneConfig("s", (src("cam"), card) + texts), MW, MH, PW, PH)
    assert all(inside(l.rect) for l in out)
    assert sum(l.rect.h for l in out[1:]) <= PH * 0.6 + 2              # the bands shrink to fit


def test_landscape_canvas_scales_the_main_layers() -> None:
    scene = SceneConfig("s", (src("cam"), LayerConfig(kind="text", text="t", rect=Rect(640, 360, 640, 360), size=40)))
    cam, text = derive(scene, MW, MH, 640, 360)
    assert cam.rect == Rect(0, 0, 640, 360) and text.rect == Rect(320, 180, 320, 180) and text.size == 20


def _show(**scenes: SceneConfig) -> ShowConfig:
    from pathlib import Path

    from stream_ops.config import SourceConfig
    return ShowConfig(name="t", path=Path("t.yaml"), video=VideoSettings(MW, MH), audio=AudioSettings(),
                      sources={n: SourceConfig(n, "color") for n in ("cam", "pip")}, scenes=scenes, outputs={},
                      start_scene=next(iter(scenes)), canvases={"portrait": CanvasConfig("portrait", PW, PH, 2000)})


def test_explicit_layout_wins_and_main_is_the_written_layers() -> None:
    mine = (src("pip", Rect(0, 0, PW, PH)),)
    config = _show(a=SceneConfig("a", (src("cam"),), layouts={"portrait": mine}), b=SceneConfig("b", (src("cam"),)))
    assert scene_layers(config, "a", "portrait") == mine
    assert scene_layers(config, "a") == config.scenes["a"].layers
    assert scene_layers(config, "b", "portrait")[0].rect == Rect(0, 0, PW, PH)


def test_slots_keep_their_shape_and_grow_for_other_canvases_up_to_main() -> None:
    # cam fills main (1280x720); pip is a 320x180 PiP on main but fills the portrait canvas.
    config = _show(a=SceneConfig("a", (src("cam"), src("pip", Rect(900, 40, 320, 180))),
                                 layouts={"portrait": (src("pip", Rect(0, 0, PW, PH)),)}))
    sizes = slot_sizes(config)
    assert sizes["cam"] == (MW, MH)
    w, h = sizes["pip"]
    assert abs(w / h - 16 / 9) < 0.02 and (w, h) == (MW, MH)     # grew, shape kept, capped at main
