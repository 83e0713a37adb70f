#!/usr/bin/env python3
"""The README's picture: the demo show's panel, as an operator sees it after a few moves.

    .venv/bin/python scripts/screenshot.py [--out docs/img/panel.png] [--lang zh|en]
    .venv/bin/python scripts/screenshot.py --show jobfair.yaml --program studio --preview plant \
        --out docs/img/panel-canvases.png      # the job fair's two canvases (横屏 + 竖屏)

Runs `stream-ops run scenes/demo.yaml` (or another show of `scenes/`) on a free port (data
and recordings in a temp folder), stages `host` in preview, takes `grid` to program, starts
nothing else, and has Debian's chromium (Playwright, /usr/bin/chromium) take the picture.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "panel.png")
    parser.add_argument("--lang", choices=["zh", "en"], default="zh")
    parser.add_argument("--show", default="demo.yaml", help="a show file in scenes/")
    parser.add_argument("--program", default="grid", help="the scene taken to program")
    parser.add_argument("--preview", default="host", help="the scene staged in preview")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        # The demo as shipped, but writing its data and recording into the temp folder.
        scenes = Path(tmp) / "scenes"
        shutil.copytree(ROOT / "scenes", scenes)
        port, token = free_port(), "readme"
        proc = subprocess.Popen([sys.executable, "-m", "stream_ops", "run", str(scenes / args.show), "--port", str(port)],
                                env={**os.environ, "STREAM_OPS_TOKEN": token}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"{args.show} did not start")
                time.sleep(0.2)
            time.sleep(3)   # every source live
            for path, scene in (("/api/program", args.program), ("/api/preview", args.preview)):
                answer = httpx.post(base + path, json={"scene": scene}, headers=auth)
                if answer.status_code != 200:
                    raise SystemExit(f"{path} {scene}: {answer.text}")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
                page.goto(f"{base}/?token={token}")
                page.wait_for_url(base + "/")
                if args.lang == "en":
                    page.evaluate("localStorage.setItem('stream-ops.lang', 'en')")
                    page.reload()
                page.wait_for_selector("body:not(.offline)")
                time.sleep(3)   # thumbnails and meters running
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
