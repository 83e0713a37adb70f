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


# --- the page in Chromium, against a real two-canvas show -------------------------------------
TWO_CANVASES = """
show:
  name: 双画布 Two canvases
  video: {width: 640, height: 360, fps: 15, bitrate_kbps: 500, keyframe_s: 1, preset: ultrafast}
  canvases:
    portrait: {width: 360, height: 640, bitrate_kbps: 400, label: 竖屏}
  start_scene: red
sources:
  red: {kind: color, color: "#ff0000", label: 红}
  blue: {kind: color, color: "#0000ff", label: 蓝}
  green: {kind: color, color: "#008000", label: 绿}
scenes:
  red: {label: 红屏, layers: [{source: red}]}
  blue: {label: 蓝屏, layers: [{source: blue}]}
  green:
    label: 绿屏
    layers: [{source: green}]
    layouts: {portrait: [{source: green, rect: [0, 0, 360, 640], fit: cover}]}
outputs:
  rec: {kind: file, path: "rec/landscape.ts", label: 横屏录制}
  rec_v: {kind: file, path: "rec/portrait.ts", canvas: portrait, label: 竖屏录制}
"""

ONE_CANVAS = """
show:
  name: 单画布 One canvas
  video: {width: 640, height: 360, fps: 15, bitrate_kbps: 500, keyframe_s: 1, preset: ultrafast}
sources:
  red: {kind: color, color: "#ff0000"}
  blue: {kind: color, color: "#0000ff"}
scenes:
  red: {layers: [{source: red}]}
  blue: {layers: [{source: blue}]}
outputs:
  rec: {kind: file, path: "rec/one.ts"}
"""

# The colour at the centre of a monitor's picture, read in the page.
MONITOR_RGB = """(target) => {
  const img = document.querySelector(`img[data-thumb="${target}"]`);
  if (!img || !img.naturalWidth) return null;
  const c = document.createElement('canvas'); c.width = c.height = 8;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(img, 0, 0, 8, 8);
  return Array.from(ctx.getImageData(4, 4, 1, 1).data.slice(0, 3));
}"""


def monitor_shows(page, target: str, colour: str) -> bool:
    rgb = page.evaluate(MONITOR_RGB, target)
    return rgb is not None and looks_like(tuple(rgb), colour)


def wait_monitor(page, target: str, colour: str) -> None:
    wait_until(lambda: monitor_shows(page, target, colour), timeout=10, interval=0.1,
               message=f"monitor {target} shows {colour}")


def on_air(rig, canvas: str) -> tuple[str, str]:
    c = next(c for c in rig.state()["canvases"] if c["name"] == canvas)
    return c["program"], c["preview"]


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    show = ShowProcess(tmp_path_factory.mktemp("canvases"), TWO_CANVASES, token=TOKEN)
    yield show
    show.stop()


@pytest.fixture(scope="module")
def two_panel(browser, two):
    SHOTS.mkdir(parents=True, exist_ok=True)
    p = Panel(browser, two)
    yield p
    p.close()


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


@pytest.mark.slow
def test_both_canvases_have_labelled_monitors_and_their_outputs(two_panel, two):
    page = two_panel.page
    for kind in ("program", "preview"):
        wait_js(page, f"document.querySelector('img[data-thumb=\"{kind}\"]').naturalWidth === 640")
        wait_js(page, f"document.querySelector('img[data-thumb=\"{kind}@portrait\"]').naturalHeight === 640")
    state = two.state()
    main_label = state["canvases"][0]["label"] or "main"
    for group in ("#pvw-group", "#pgm-group"):
        assert page.locator(f"{group} > .monitor").count() == 2
        assert page.inner_text(f'{group} > .monitor[data-key="portrait"] .canvas-name') == "竖屏"
        assert page.inner_text(f'{group} > .monitor[data-key="main"] .canvas-name') == main_label
        # Portrait drawn portrait, as tall as the landscape picture beside it (not letterboxed).
        tall = box(page, f'{group} > .monitor[data-key="portrait"] img')
        wide = box(page, f'{group} > .monitor[data-key="main"] img')
        assert tall["height"] > 1.5 * tall["width"], tall
        assert abs(tall["height"] - wide["height"]) < 0.1 * wide["height"], (tall, wide)
        assert abs(tall["y"] + tall["height"] - wide["y"] - wide["height"]) < 4, "pictures line up"
    assert page.inner_text('#pgm-group > .monitor[data-key="portrait"] .tag') == "PGM"
    assert page.inner_text('#pvw-group > .monitor[data-key="portrait"] .tag') == "PVW"
    # Outputs under their canvas's heading.
    assert page.locator('.out-group[data-key="main"] .out[data-key="rec"]').count() == 1
    assert page.locator('.out-group[data-key="portrait"] .out[data-key="rec_v"]').count() == 1
    assert page.locator('.out-group[data-key="main"] .out[data-key="rec_v"]').count() == 0
    assert page.locator('.out-group[data-key="portrait"] .canvas-head').inner_text().startswith("竖屏")
    assert "360×640" in page.inner_text('.out-group[data-key="portrait"] .canvas-head')
    # Linked by default: the toggle says so, there is no canvas choice to make.
    assert page.get_attribute("#link", "aria-pressed") == "true"
    assert page.locator("#link").inner_text().split() == ["联动", "LINKED"]
    assert page.locator("#canvas-target").is_hidden()
    page.screenshot(path=str(SHOTS / "panel-canvases.png"), full_page=True)
    assert not two_panel.errors, two_panel.errors


@pytest.mark.slow
def test_linked_take_switches_both_programs(two_panel, two):
    page = two_panel.page
    page.click('.scene[data-key="blue"]')
    wait_until(lambda: on_air(two, "main")[1] == on_air(two, "portrait")[1] == "blue", timeout=5,
               message="both previews = blue")
    wait_monitor(page, "preview@portrait", "blue")
    page.click("#take")
    wait_until(lambda: on_air(two, "main")[0] == on_air(two, "portrait")[0] == "blue", timeout=5,
               message="both programs = blue")
    wait_monitor(page, "program", "blue")
    wait_monitor(page, "program@portrait", "blue")
    page.wait_for_selector('.scene[data-key="blue"].on-program')
    assert page.inner_text('#pgm-group > .monitor[data-key="portrait"] .scene-name') == "蓝屏"


@pytest.mark.slow
def test_unlinked_take_on_portrait_changes_only_portrait(two_panel, two):
    page = two_panel.page
    main_program = on_air(two, "main")[0]
    assert main_program != "green"
    page.click("#link")
    wait_until(lambda: two.state()["linked"] is False, timeout=5, message="unlinked")
    page.wait_for_selector('#link[aria-pressed="false"]')
    assert page.locator("#canvas-target").is_visible()
    assert [b.split()[0] for b in page.locator("#canvas-target .btn").all_inner_texts()] == ["两者", two.state()["canvases"][0]["label"] or "main", "竖屏"]
    page.click('#canvas-target .btn[data-key="portrait"]')
    page.wait_for_selector('#canvas-target .btn[data-key="portrait"][aria-checked="true"]')
    assert "targeted" in page.get_attribute('#pgm-group > .monitor[data-key="portrait"]', "class")
    assert "targeted" not in page.get_attribute('#pgm-group > .monitor[data-key="main"]', "class")
    main_preview = on_air(two, "main")[1]
    page.click('.scene[data-key="green"]')
    wait_until(lambda: on_air(two, "portrait")[1] == "green", timeout=5, message="portrait preview = green")
    page.locator("body").click(position={"x": 5, "y": 990})
    page.keyboard.press("Space")   # the key takes on the chosen canvas too
    wait_until(lambda: on_air(two, "portrait")[0] == "green", timeout=5, message="portrait program = green")
    assert on_air(two, "main") == (main_program, main_preview), "the landscape canvas did not move"
    wait_monitor(page, "program@portrait", "green")
    assert monitor_shows(page, "program", main_program)
    # The scene buttons show the chosen canvas's tally, and tag the other canvas's program.
    page.wait_for_selector('.scene[data-key="green"].on-program')
    assert page.locator(f'.scene[data-key="{main_program}"] .ctally .c-pgm').count() == 1
    page.screenshot(path=str(SHOTS / "panel-canvases-unlinked.png"), full_page=True)
    # Another client's command reaches this page as an event naming its canvas.
    assert two.request("POST", "/api/program", {"scene": "red", "canvas": "portrait"})[0] == 200
    page.wait_for_selector('#pgm-group > .monitor[data-key="portrait"] .scene-name:text-is("红屏")')
    assert page.inner_text("#pgm-name") == page.inner_text(f'.scene[data-key="{main_program}"] .label')
    wait_monitor(page, "program@portrait", "red")
    # "Both" while unlinked: the preview goes to each canvas.
    page.click('#canvas-target .btn[data-key="all"]')
    page.click('.scene[data-key="green"]')
    wait_until(lambda: on_air(two, "main")[1] == on_air(two, "portrait")[1] == "green", timeout=5,
               message="both previews = green")
    assert two.state()["linked"] is False
    page.click("#lang")
    assert page.locator("#link").inner_text() == "UNLINKED"
    assert page.locator('#canvas-target .btn[data-key="all"]').inner_text() == "Both"
    page.click("#lang")
    # Linking again puts portrait back on the landscape program.
    page.click("#link")
    wait_until(lambda: two.state()["linked"] is True, timeout=5, message="linked again")
    wait_until(lambda: on_air(two, "portrait")[0] == main_program, timeout=5, message="portrait back on main's program")
    wait_monitor(page, "program@portrait", main_program)
    page.wait_for_selector('#link[aria-pressed="true"]')
    assert page.locator("#canvas-target").is_hidden()
    assert not two_panel.errors, two_panel.errors


@pytest.mark.slow
def test_one_canvas_show_has_no_second_monitor_and_no_link(browser, tmp_path):
    show = ShowProcess(tmp_path, ONE_CANVAS, token=TOKEN)
    panel = Panel(browser, show)
    try:
        page = panel.page
        wait_js(page, "document.querySelector('img[data-thumb=\"program\"]').naturalWidth === 640")
        assert page.locator(".monitor").count() == 2
        assert page.locator(".monitor.extra").count() == 0
        assert page.locator("img[data-thumb*='@']").count() == 0
        assert page.locator("#canvas-controls").is_hidden()
        assert page.locator(".canvas-name").evaluate_all("els => els.every(e => e.hidden)")
        assert page.locator(".canvas-head").evaluate_all("els => els.every(e => e.hidden)")
        pgm = box(page, '#pgm-group > .monitor[data-key="main"] img')
        assert abs(pgm["width"] / pgm["height"] - 16 / 9) < 0.02
        page.wait_for_selector('.out[data-key="rec"]')
        assert not panel.errors, panel.errors
    finally:
        panel.close()
        show.stop()
