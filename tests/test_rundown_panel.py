"""The run of show from the panel, in headless Chromium against a real `stream-ops run`:
the rundown listed with what is on now highlighted, the countdown, the overrun in red,
advancing with the button and with the N key (not while typing in a field), the program
following each segment's scene. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

import re

import pytest

from peers import ShowProcess, wait_until
from test_panel import SHOTS, TOKEN, Panel, browser, wait_js  # noqa: F401  (browser is a fixture)

SHOW = """
show:
  name: 节目单测试 Rundown test
  video: {width: 320, height: 180, fps: 10, bitrate_kbps: 300, preset: ultrafast}
  start_scene: green
  transition: {kind: cut}
sources:
  red:   {kind: color, color: "#ff0000"}
  blue:  {kind: color, color: "#0000ff"}
  green: {kind: color, color: "#00ff00"}
scenes:
  green: {label: 绿, layers: [{source: green}, {text: "{{ clock }} {{ segment.title }} {{ countdown }}", rect: [0, 140, 320, 40], size: 20}]}
  blue:  {label: 蓝, layers: [{source: blue}]}
  red:   {label: 红, layers: [{source: red}]}
rundown:
  segments:
    - {title: 开场 Opening, length: 2s, scene: blue, notes: 两秒后超时}
    - {title: 第二段 Second, length: 10m, scene: red}
    - {title: 结束 Close, scene: green}
"""


@pytest.fixture(scope="module")
def rundown_show(tmp_path_factory):
    show = ShowProcess(tmp_path_factory.mktemp("rundown"), SHOW, token=TOKEN)
    yield show
    show.stop()


def program(show: ShowProcess) -> str:
    return show.state()["program"]


@pytest.mark.slow
def test_the_rundown_is_run_from_the_panel_with_the_button_and_the_n_key(browser, rundown_show):
    SHOTS.mkdir(parents=True, exist_ok=True)
    show = rundown_show
    panel = Panel(browser, show)
    try:
        page = panel.page
        page.wait_for_selector("#rundown:not([hidden]) #rundown-list li >> nth=2")
        assert page.locator("#rundown-list li.on-now").count() == 0
        assert page.inner_text("#countdown-label") == "未开始"
        assert program(show) == "green"

        # The button: segment 1 is on, highlighted, its scene on program, the countdown running.
        page.click("#advance")
        page.wait_for_selector('#rundown-list li.on-now[data-key="0"]')
        wait_until(lambda: program(show) == "blue", 5, message="segment 1's scene on program")
        page.wait_for_selector('#pgm-name:has-text("蓝")')
        assert re.fullmatch(r"00:0[0-2]", page.inner_text("#countdown")), page.inner_text("#countdown")
        assert page.inner_text("#countdown-label") == "距下一段"
        assert page.locator('#rundown-list li.up-next[data-key="1"]').count() == 1

        # Two seconds planned: then the overrun, in red.
        page.wait_for_selector("#countdown.overrun", timeout=8000)
        wait_js(page, "document.querySelector('#countdown').textContent.startsWith('+')")
        assert page.inner_text("#countdown-label") == "超时"
        assert page.eval_on_selector("#countdown", "el => getComputedStyle(el).color") == "rgb(255, 59, 78)"
        page.screenshot(path=str(SHOTS / "panel-rundown-overrun.png"))

        # N in a text field is typing, not an advance.
        page.focus("#duration")
        page.keyboard.press("n")
        page.locator("#duration").blur()
        assert show.request("GET", "/api/rundown")[1]["current"] == 0

        # The key: segment 2 is on, the program follows, the overrun is gone.
        page.keyboard.press("N")
        page.wait_for_selector('#rundown-list li.on-now[data-key="1"]')
        wait_until(lambda: program(show) == "red", 5, message="segment 2's scene on program")
        page.wait_for_selector('#pgm-name:has-text("红")')
        page.wait_for_selector("#countdown:not(.overrun)")
        assert re.fullmatch(r"(09:5\d|10:00)", page.inner_text("#countdown")), page.inner_text("#countdown")
        assert page.locator('#rundown-list li.done[data-key="0"]').count() == 1
        page.wait_for_selector('#log li:has-text("节目单 第 2 段开始：第二段 Second")')
        page.screenshot(path=str(SHOTS / "panel-rundown.png"))

        rundown = show.request("GET", "/api/rundown")[1]
        first, second = rundown["segments"][:2]
        assert rundown["current"] == 1 and first["actual_end"] == second["actual_start"] is not None
        assert first["actual_end"] - first["actual_start"] >= 2   # it was shown overrunning

        page.click("#lang")
        page.wait_for_selector('#advance:has-text("NEXT")')
        assert page.inner_text("#countdown-label") == "Next in"
        assert not [e for e in panel.errors if "HTTP" in e or "Error" in e], panel.errors
    finally:
        panel.close()
