"""The engine's pure and in-process parts, in milliseconds: transitions, templates,
overlays, compositor, mixer, event bus, output queues, secrets."""
from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stream_ops import frames, templates
from stream_ops.audio import Mixer, level_db
from stream_ops.compositor import Compositor, crop, slate_frame
from stream_ops.config import (AudioSettings, LayerConfig, OutputConfig, Rect, SceneConfig, Secret, ShowConfig,
                               SourceConfig, VideoSettings)
from stream_ops.encoder import EncodedPacket, Encoder
from stream_ops.events import EventBus
from stream_ops.outputs.base import Output
from stream_ops.overlays import blend, draw_text_box, rgba_to_patch
from stream_ops.sources.base import SourceSlot
from stream_ops.transitions import Transition, crossfade_gains, fade_weight

W, H = 320, 180


def rgb_at(canvas: np.ndarray, x: int, y: int, w: int = 8, h: int = 8) -> tuple[float, float, float]:
    return frames.mean_rgb(canvas, W, H, x, y, w, h)


def close(rgb, want, tol=20) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, want))


def make_show(layers_by_scene: dict[str, list[LayerConfig]], sources: list[str]) -> ShowConfig:
    return ShowConfig(
        name="unit", path=Path("/tmp/unit.yaml"), video=VideoSettings(W, H, 30, 500, 1), audio=AudioSettings(),
        sources={n: SourceConfig(name=n, kind="color") for n in sources},
        scenes={s: SceneConfig(name=s, layers=tuple(ls)) for s, ls in layers_by_scene.items()},
        outputs={}, start_scene=next(iter(layers_by_scene)),
    )


def slot(name: str, color: str, w: int = W, h: int = H) -> SourceSlot:
    s = SourceSlot(SourceConfig(name=name, kind="color"), w, h, 44100, 2)
    s.push_video(frames.solid(w, h, color))
    return s


# --- transitions -------------------------------------------------------------------
def test_cut_is_complete_at_once_and_fade_takes_its_frames():
    cut = Transition.begin("cut", "a", "b", 10, 500, 30)
    assert cut.done(10)
    fade = Transition.begin("fade", "a", "b", 10, 500, 30)
    assert fade.frames == 15
    assert not fade.done(10) and fade.progress(10) == pytest.approx(1 / 15)
    assert fade.done(24) and fade.progress(100) == 1.0
    assert fade_weight(0) == 0 and fade_weight(1) == 256 and fade_weight(0.5) == 128
    out, inn = crossfade_gains(0.5)
    assert out == pytest.approx(inn) and out ** 2 + inn ** 2 == pytest.approx(1.0)


# --- templates -----------------------------------------------------------------------
def test_templates_fill_dotted_values_and_never_fail():
    ctx = {"job": {"title": "普工", "salary": "4500-6500元/月"}, "stats": {"viewers": 1234}}
    assert templates.render("{{ job.title }} {{job.salary}}", ctx) == "普工 4500-6500元/月"
    assert templates.render("在线 {{ stats.viewers }} 人", ctx) == "在线 1234 人"
    assert templates.render("{{ missing.value }}!", ctx) == "!"
    assert templates.render("{{ __class__ }}{{ job.__init__ }}", ctx) == ""
    assert templates.fields("{{ a.b }} {{c}}") == ["a.b", "c"]


# --- overlays ------------------------------------------------------------------------------
def test_opaque_patch_copies_and_alpha_patch_blends_only_its_rect():
    canvas = frames.solid(W, H, "#000000")
    planes = frames.split(canvas, W, H)
    blend(planes, rgba_to_patch(Image.new("RGBA", (40, 20), (255, 0, 0, 255)), 10, 10))
    assert close(rgb_at(canvas, 14, 14, 8, 8), (255, 0, 0))
    blend(planes, rgba_to_patch(Image.new("RGBA", (40, 20), (255, 255, 255, 128)), 100, 100))
    assert close(rgb_at(canvas, 110, 104, 8, 8), (128, 128, 128), 25)
    assert close(rgb_at(canvas, 200, 150, 8, 8), (0, 0, 0))     # untouched elsewhere
    # A patch partly off the canvas is clipped, not an error.
    blend(planes, rgba_to_patch(Image.new("RGBA", (40, 40), (0, 0, 255, 255)), W - 20, H - 20))
    assert close(rgb_at(canvas, W - 10, H - 10, 6, 6), (0, 0, 255))


def test_text_renders_chinese_glyphs():
    img = draw_text_box("龙南市融媒体中心", 400, 60, size=36, background="#000000ff")
    ink = np.asarray(img.convert("L"))
    assert (ink > 200).sum() > 500, "CJK glyphs should put white pixels on the box"


# --- compositor --------------------------------------------------------------------------------
def test_layers_draw_in_order_with_rects_and_opacity():
    layers = {
        "pip": [LayerConfig(kind="source", source="red"),
                LayerConfig(kind="source", source="blue", rect=Rect(160, 0, 160, 90)),
                LayerConfig(kind="color", color="#00ff00", rect=Rect(0, 120, 80, 60), opacity=0.5)],
        "blue": [LayerConfig(kind="source", source="blue")],
    }
    cfg = make_show(layers, ["red", "blue"])
    slots = {"red": slot("red", "#ff0000"), "blue": slot("blue", "#0000ff", 160, 90)}
    comp = Compositor(cfg, slots, W, H)
    canvas = comp.render("pip")
    assert close(rgb_at(canvas, 40, 40), (255, 0, 0))
    assert close(rgb_at(canvas, 230, 30), (0, 0, 255))
    assert close(rgb_at(canvas, 20, 140), (128, 128, 0), 35)   # 50 % green over red
    # The same compositor renders another scene at any time; a smaller canvas scales rects.
    assert close(rgb_at(comp.render("blue"), 100, 100), (0, 0, 255))
    small = Compositor(cfg, slots, 160, 90).render("pip")
    assert close(frames.mean_rgb(small, 160, 90, 110, 10, 8, 8), (0, 0, 255))


def test_stale_source_shows_the_slate_and_fade_mixes():
    cfg = make_show({"a": [LayerConfig(kind="source", source="red")], "b": [LayerConfig(kind="source", source="blue")]},
                    ["red", "blue"])
    slots = {"red": slot("red", "#ff0000"), "blue": slot("blue", "#0000ff")}
    comp = Compositor(cfg, slots, W, H)
    import time

    later = time.monotonic() + 5          # no frame for 5 s: dead
    dead = comp.render("a", later)
    assert not close(rgb_at(dead, 150, 80, 20, 20), (255, 0, 0), 60)
    assert dead.mean() != frames.solid(W, H, "#ff0000").mean()
    mid = comp.render_fade("a", "b", 0.5)
    r, g, b = rgb_at(mid, 150, 80)
    assert 80 < r < 180 and 80 < b < 180


def test_crop_and_slate_shapes():
    frame = frames.solid(64, 36, "#ffffff")
    out, w, h = crop(frame, 64, 36, (0.25, 0, 0.25, 0))
    assert (w, h) == (32, 36) and out.shape == (54, 32)
    assert slate_frame("cam1", 320, 180).shape == (270, 320)


# --- audio -----------------------------------------------------------------------------------------
def test_mixer_sums_heard_sources_with_gain_and_meters_them():
    a, b = SourceSlot(SourceConfig("a", "test"), 2, 2, 44100, 2), SourceSlot(SourceConfig("b", "test"), 2, 2, 44100, 2)
    tone = np.full((8000, 2), 1000, np.int16)
    a.push_audio(tone)
    b.push_audio(tone)
    b.gain_db = -6.0
    mix = Mixer(44100, 2)
    out = mix.mix({"a": a, "b": b}, {"a": 1.0}, 1470)        # only a is heard
    assert int(out[0, 0]) == 1000
    levels = mix.read_levels()
    assert levels["sources"]["b"]["peak_db"] == pytest.approx(level_db(1000 * 10 ** (-6 / 20)), abs=0.2)
    a.muted = True
    out = mix.mix({"a": a, "b": b}, {"a": 1.0, "b": 1.0}, 1470)
    assert int(out[0, 0]) == pytest.approx(501, abs=2)        # a muted, b at -6 dB


# --- event bus -------------------------------------------------------------------------------------
def test_slow_client_loses_only_its_own_messages():
    async def scenario():
        bus = EventBus(client_queue=4)
        bus.bind(asyncio.get_running_loop())
        slow, fast = bus.subscribe(), bus.subscribe()
        for i in range(10):
            bus.publish("preview", scene=f"s{i}", actor="test")
            await fast.get()
        got = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        assert any(e.type == "resync" for e in got)
        assert slow.dropped > 0
        with pytest.raises(ValueError):
            bus.publish("made_up")

    asyncio.run(scenario())


# --- output queue ----------------------------------------------------------------------------------
def test_full_output_queue_drops_and_restarts_at_a_keyframe():
    cfg = OutputConfig(name="o", kind="rtmp", url="rtmp://127.0.0.1/live")
    out = Output(cfg, lambda: (None, None), lambda o: None, lambda *a, **k: None, fps=30)
    out.desired = "running"
    tb = Fraction(1, 30)
    out.offer(EncodedPacket("video", b"p", 0, 0, tb, False))
    assert not out._queue, "an output starts at a keyframe"
    out.offer(EncodedPacket("video", b"k", 1, 1, tb, True))
    for i in range(out.max_packets + 5):
        out.offer(EncodedPacket("video", b"p", i + 2, i + 2, tb, False))
    assert out.dropped > 0 and out._need_keyframe
    assert len(out._queue) < out.max_packets


def test_secrets_never_print():
    key = Secret("sk-live-123")
    cfg = OutputConfig(name="c", kind="rtmp", url="rtmp://push.example.invalid/live", key=key)
    assert "sk-live-123" not in repr(cfg) and "sk-live-123" not in str(cfg)
    assert cfg.target_url() == "rtmp://push.example.invalid/live/sk-live-123"
    assert cfg.masked_target() == "rtmp://push.example.invalid/live/****"
    assert f"{key}" == "****"


def test_encoder_makes_keyframes_on_schedule():
    enc = Encoder(VideoSettings(W, H, 30, 300, 1.0, "ultrafast"), AudioSettings())
    keys = []
    for n in range(65):
        for p in enc.encode_video(frames.solid(W, H, "#336699"), n):
            if p.keyframe:
                keys.append(p.pts)
        enc.encode_audio(np.zeros((1470, 2), np.int16))
    assert keys[:3] == [0, 30, 60]


def test_phones_are_asked_for_no_more_than_the_show_draws():
    from stream_ops.phones.source import phone_options

    tile = phone_options(SourceConfig("p", "webrtc"), (480, 270))
    assert (tile["max_width"], tile["max_height"], tile["max_bitrate_kbps"]) == (640, 360, 800)
    full = phone_options(SourceConfig("p", "webrtc"), (1920, 1080))
    assert (full["max_width"], full["max_height"]) == (1280, 720)
    chosen = phone_options(SourceConfig("p", "webrtc", options={"max_width": 1920, "max_height": 1080}), (480, 270))
    assert (chosen["max_width"], chosen["max_height"]) == (1920, 1080)    # the producer's word wins
