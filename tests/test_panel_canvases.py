"""The panel with two canvases (landscape main + portrait): thumbnails per canvas in
milliseconds against a stand-in engine, then the page in headless Chromium against a
real `stream-ops run` — both monitors of each kind, labelled, the portrait ones drawn
portrait; a linked TAKE switching both programs, an unlinked one only the chosen
canvas; outputs under their canvas; and a one-canvas show with none of it.

Screenshots go to test-artifacts/screenshots/.
"""
from __future__ import annotations

from io import BytesIO
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from peers import ShowProcess, looks_like, wait_until
from stream_ops import frames, thumbnails
from stream_ops.thumbnails import Thumbnailer, monitor_size
from stream_ops.web.app import studio_app
from test_panel import SHOTS, TOKEN, FakeEngine, Panel, browser, jpeg_colour, wait_js  # noqa: F401 (fixture)


# --- thumbnails of every canvas, against a stand-in engine ---------------------------------
class FakeCanvasEngine(FakeEngine):
    """FakeEngine with a portrait canvas beside the main one: its program is magenta."""

    def __init__(self) -> None:
        super().__init__()
        self.canvases = {
            "main": SimpleNamespace(name="main", label="横屏", width=640, height=360, preview="grid"),
            "portrait": SimpleNamespace(name="portrait", label="竖屏", width=720, height=1280, preview="close"),
        }

    def program_frame(self, canvas: str = "main") -> np.ndarray:
        if canvas == "portrait":
            return frames.solid(720, 1280, "#ff00ff")
        return super().program_frame()

    def render_scene(self, name: str, w: int, h: int, canvas: str = "main") -> np.ndarray:
        self.renders.append((name, w, h, canvas))
        return frames.solid(w, h, "#ffff00" if canvas == "portrait" else "#ffffff")


def canvas_app() -> tuple[object, FakeCanvasEngine]:
    engine = FakeCanvasEngine()
    show = SimpleNamespace(engine=engine, config=SimpleNamespace(name="两个画布"))
    return studio_app(show, TOKEN, thumbs=Thumbnailer(engine)), engine


def size_of(jpeg: bytes) -> tuple[int, int]:
    return Image.open(BytesIO(jpeg)).size


def test_an_extra_canvas_monitor_keeps_its_shape():
    assert monitor_size(1920, 1080) == thumbnails.MONITOR_SIZE
    assert monitor_size(720, 1280) == (360, 640)
    assert monitor_size(1080, 1920) == (360, 640)
    assert monitor_size(1000, 1000) == (640, 640)
    w, h = monitor_size(607, 1079)   # odd sizes come out even (yuv420p)
    assert w % 2 == 0 and h % 2 == 0 and h > w


def test_thumbnail_targets_and_pictures_of_each_canvas():
    engine = FakeCanvasEngine()
    thumbs = Thumbnailer(engine)
    assert thumbs.targets() == ["source:cam1", "source:cam2", "preview", "program", "preview@portrait", "program@portrait"]
    assert Thumbnailer(FakeEngine()).targets()[-2:] == ["preview", "program"]   # one canvas: as before
    portrait = thumbs.snapshot("program@portrait")
    assert size_of(portrait) == (360, 640)
    r, g, b = jpeg_colour(portrait)
    assert r > 200 and g < 60 and b > 200, "the portrait program (magenta), not the main one (green)"
    assert jpeg_colour(thumbs.snapshot("program"))[1] > 200
    assert size_of(thumbs.snapshot("preview@portrait")) == (360, 640)
    assert size_of(thumbs.snapshot("preview")) == thumbnails.MONITOR_SIZE
    assert engine.renders == [("close", 360, 640, "portrait"), ("grid", 640, 360, "main")]


def test_snapshot_routes_take_a_canvas_and_refuse_an_unknown_one():
    app, _ = canvas_app()
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        r = client.get("/api/thumbs/program.jpg", params={"canvas": "portrait"})
        assert r.status_code == 200 and size_of(r.content) == (360, 640)
        assert jpeg_colour(r.content)[1] < 60
        r = client.get("/api/thumbs/preview.jpg", params={"canvas": "portrait"})
        assert r.status_code == 200 and jpeg_colour(r.content)[2] < 60   # yellow: the portrait layout
        assert size_of(client.get("/api/thumbs/program.jpg").content) == thumbnails.MONITOR_SIZE
        assert size_of(client.get("/api/thumbs/program.jpg", params={"canvas": "main"}).content) == thumbnails.MONITOR_SIZE
        r = client.get("/api/thumbs/program.jpg", params={"canvas": "portrat"})
        assert r.status_code == 404
        assert "did you mean 'portrait'" in r.json()["error"] and "main, portrait" in r.json()["error"]


def test_thumbnail_socket_sends_the_portrait_monitors():
    app, _ = canvas_app()
    with TestClient(app) as client:
        with client.websocket_connect("/api/thumbs/ws", headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            ws.send_json({"watch": ["program@portrait", "preview@portrait", "program@nowhere"]})
            got = {}
            for _ in range(2):
                msg = ws.receive_bytes()
                got[msg[1:1 + msg[0]].decode()] = msg[1 + msg[0]:]
            assert set(got) == {"program@portrait", "preview@portrait"}
            assert size_of(got["program@portrait"]) == (360, 640)
