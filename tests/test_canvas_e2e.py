"""Two canvases end to end: a landscape and a portrait program, each pushed to its own RTMP
target (ffmpeg listeners on loopback); we decode what each target received and judge sizes
and where the colours are, through linked and unlinked switches and a portrait target lost."""
from __future__ import annotations

import pytest

from peers import Receiver, ShowProcess, free_port, wait_until

pytestmark = pytest.mark.slow

SHOW = """
show:
  name: canvases
  video: {{width: 640, height: 360, fps: 30, bitrate_kbps: 600, keyframe_s: 1, preset: ultrafast}}
  audio: {{sample_rate: 44100, channels: 2, bitrate_kbps: 64}}
  canvases:
    portrait: {{width: 360, height: 640, bitrate_kbps: 500, label: 竖屏}}
  start_scene: pip
sources:
  red: {{kind: color, color: "#ff0000"}}
  blue: {{kind: color, color: "#0000ff"}}
  green: {{kind: color, color: "#008000"}}
  yellow: {{kind: color, color: "#ffff00"}}
scenes:
  pip:      # no portrait layout: derived (red fills it, the blue PiP a tile above the bottom)
    layers: [{{source: red}}, {{source: blue, rect: [400, 200, 200, 112]}}]
  split:    # side by side on main, stacked on portrait (written)
    layers: [{{source: green, rect: [0, 0, 320, 360]}}, {{source: yellow, rect: [320, 0, 320, 360]}}]
    layouts:
      portrait: [{{source: green, rect: [0, 0, 360, 320]}}, {{source: yellow, rect: [0, 320, 360, 320]}}]
  blue:
    layers: [{{source: blue}}]
  green:
    layers: [{{source: green}}]
outputs:
  land: {{kind: rtmp, url: "rtmp://127.0.0.1:{land}/live", key: land, autostart: true}}
  tall: {{kind: rtmp, url: "rtmp://127.0.0.1:{tall}/live", key: tall, canvas: portrait, autostart: true}}
"""


@pytest.fixture
def rig(tmp_path):
    ports = {"land": free_port(), "tall": free_port()}
    receivers = {name: Receiver(f"rtmp://127.0.0.1:{port}/live/{name}") for name, port in ports.items()}
    show = ShowProcess(tmp_path, SHOW.format(**ports))
    yield show, receivers, ports
    for r in receivers.values():
        r.stop()
    show.stop()


def wait_sees(r: Receiver, spots: dict[tuple[float, float], str], what: str, timeout: float = 10) -> None:
    wait_until(lambda: all(r.sees_at(color, fx, fy) for (fx, fy), color in spots.items()), timeout, message=what)


PIP_LAND = {(0.3, 0.3): "red", (0.78, 0.71): "blue"}
PIP_TALL = {(0.5, 0.1): "red", (0.5, 0.4): "red", (0.5, 0.91): "blue", (0.1, 0.91): "red"}


def test_each_target_gets_its_canvas_and_a_linked_take_switches_both(rig):
    show, rx, _ = rig
    wait_sees(rx["land"], PIP_LAND, "landscape pip at the land target", 20)
    wait_sees(rx["tall"], PIP_TALL, "derived portrait pip at the tall target", 20)
    assert rx["land"].size == (640, 360) and rx["tall"].size == (360, 640)

    status, body = show.request("POST", "/api/program", {"scene": "split"})
    assert status == 200 and body["canvases"] == {"main": {"program": "split", "preview": "pip"},
                                                  "portrait": {"program": "split", "preview": "pip"}}
    wait_sees(rx["land"], {(0.25, 0.5): "green", (0.75, 0.5): "yellow"}, "split side by side at land")
    wait_sees(rx["tall"], {(0.5, 0.25): "green", (0.5, 0.75): "yellow"}, "split stacked at tall")

    status, body = show.request("POST", "/api/preview", {"scene": "blue"})
    assert status == 200 and body["canvases"]["portrait"]["preview"] == "blue"
    status, body = show.request("POST", "/api/take", {})
    assert status == 200 and body["program"] == "blue" and body["canvases"]["portrait"]["program"] == "blue"
    for name in ("land", "tall"):
        wait_sees(rx[name], {(0.5, 0.5): "blue", (0.1, 0.1): "blue"}, f"blue after TAKE at {name}")


def test_unlinked_portrait_program_changes_only_the_portrait_target(rig):
    show, rx, _ = rig
    wait_sees(rx["land"], PIP_LAND, "landscape pip", 20)
    wait_sees(rx["tall"], PIP_TALL, "portrait pip", 20)
    status, body = show.request("POST", "/api/link", {"linked": False})
    assert status == 200 and body["linked"] is False
    status, body = show.request("POST", "/api/program", {"scene": "green", "canvas": "portrait"})
    assert status == 200 and body["canvases"]["main"]["program"] == "pip"
    wait_sees(rx["tall"], {(0.5, 0.5): "green", (0.5, 0.91): "green"}, "green on the portrait target")
    seen = rx["land"].count
    wait_until(lambda: rx["land"].count >= seen + 30, 10, message="a second more of landscape frames")
    assert all(rx["land"].sees_at(c, fx, fy) for (fx, fy), c in PIP_LAND.items())   # still the pip
    # An unlinked TAKE without a canvas is main's alone.
    show.request("POST", "/api/preview", {"scene": "blue"})
    status, body = show.request("POST", "/api/take", {})
    assert status == 200 and body["program"] == "blue" and body["canvases"]["portrait"]["program"] == "green"
    wait_sees(rx["land"], {(0.5, 0.5): "blue"}, "blue on the landscape target")
    assert rx["tall"].sees_at("green", 0.5, 0.5)
    status, body = show.request("POST", "/api/program", {"scene": "blue", "canvas": "portriat"})
    assert status == 404 and "portrait" in body["error"]
    status, body = show.request("POST", "/api/link", {"linked": "yes"})
    assert status == 422


def test_losing_the_portrait_target_does_not_disturb_the_landscape_one(rig):
    show, rx, ports = rig
    wait_sees(rx["land"], PIP_LAND, "landscape pip", 20)
    wait_sees(rx["tall"], PIP_TALL, "portrait pip", 20)
    rx["tall"].stop()
    wait_until(lambda: show.output("tall")["state"] != "live", 10, message="tall target lost")
    seen = rx["land"].count
    wait_until(lambda: rx["land"].count >= seen + 90, 15, message="three more seconds at the land target")
    assert show.output("land")["state"] == "live"
    rx["tall"] = Receiver(f"rtmp://127.0.0.1:{ports['tall']}/live/tall")
    wait_sees(rx["tall"], PIP_TALL, "the portrait target back", 30)
    state = show.state()
    main = state["engine"]["canvases"]["main"]
    assert main["encoder_drops"] == 0 and main["frames"] > 0
    assert show.output("land")["reconnects"] == 0 and show.output("tall")["reconnects"] >= 1
