"""What the control panel costs the engine process, and how fast TAKE shows.

Runs `stream-ops run SHOW` (default scenes/demo.yaml) on a free port and measures
the CPU of that process (not its ffmpeg children: thumbnails are made in-process)
in three phases of equal length:

  1. nobody watching               — the thumbnail thread sleeps
  2. the panel open in Chromium    — events, levels, every thumbnail
  3. the panel closed again        — back to (1)?

then clicks TAKE a few times (alternating two scenes) and reports the time from
the click to the program monitor's picture changing (pixels read in the page).

    .venv/bin/python scripts/bench_panel.py [--show scenes/demo.yaml] [--seconds 20]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-panel-token"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

TAKE_TIMER = """async () => {
  const img = document.querySelector('img[data-thumb="program"]');
  const canvas = document.createElement('canvas'); canvas.width = canvas.height = 16;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const sample = () => { ctx.drawImage(img, 0, 0, 16, 16); return Array.from(ctx.getImageData(0, 0, 16, 16).data); };
  const before = sample();
  const t0 = performance.now();
  document.querySelector('#take').click();
  while (performance.now() - t0 < 3000) {
    await new Promise(requestAnimationFrame);
    const now = sample();
    let diff = 0;
    for (let i = 0; i < now.length; i += 4) diff += Math.abs(now[i] - before[i]) + Math.abs(now[i + 1] - before[i + 1]) + Math.abs(now[i + 2] - before[i + 2]);
    if (diff / (now.length / 4) > 60) return performance.now() - t0;
  }
  return null;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_share(proc: psutil.Process, seconds: float) -> float:
    """Cores used by `proc` itself (user + system) over `seconds`."""
    t0 = proc.cpu_times()
    w0 = time.monotonic()
    time.sleep(seconds)
    t1 = proc.cpu_times()
    return ((t1.user - t0.user) + (t1.system - t0.system)) / (time.monotonic() - w0)


def thumb_stats(base: str) -> dict:
    req = urllib.request.Request(base + "/api/thumbs/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", default=str(ROOT / "scenes" / "demo.yaml"))
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    ap.add_argument("--takes", type=int, default=10)
    args = ap.parse_args()

    port = free_port()
    env = {**os.environ, "STREAM_OPS_TOKEN": TOKEN}
    server = subprocess.Popen([sys.executable, "-m", "stream_ops", "run", args.show, "--port", str(port)],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        proc = psutil.Process(server.pid)
        time.sleep(3)   # sources settle
        idle = cpu_share(proc, args.seconds)

        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, bypass_csp=True)  # wait_for_function polls with eval
            page.goto(f"{base}/?token={TOKEN}")
            page.wait_for_url(base + "/")
            page.wait_for_function("document.querySelector('img[data-thumb=\"program\"]').naturalWidth > 0")
            time.sleep(2)
            t0 = thumb_stats(base)
            watching = cpu_share(proc, args.seconds)
            t1 = thumb_stats(base)
            scenes = page.evaluate("window.streamOps.S.state.scenes.map(s => s.name)")
            program = page.evaluate("window.streamOps.S.state.program")
            others = [s for s in scenes if s != program][:2]
            timings = []
            for i in range(args.takes):
                target = others[i % len(others)] if len(others) > 1 else others[0]
                page.click(f'.scene[data-key="{target}"]')
                page.wait_for_selector(f'.scene[data-key="{target}"].on-preview')
                time.sleep(0.3)
                took = page.evaluate(TAKE_TIMER)
                if took is not None:
                    timings.append(took)
                time.sleep(0.3)
            browser.close()
        # Back to the starting scene, so phase 3 composites what phase 1 did.
        req = urllib.request.Request(base + "/api/program", data=json.dumps({"scene": program}).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
        time.sleep(2)
        c0 = thumb_stats(base)
        closed = cpu_share(proc, args.seconds)
        c1 = thumb_stats(base)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()

    print(f"show: {args.show}   phases of {args.seconds:.0f} s   CPU of the stream-ops process (1.0 = one core)")
    print(f"  panel closed (before) : {idle:.3f}")
    print(f"  panel open            : {watching:.3f}   (+{watching - idle:.3f} core)")
    print(f"  panel closed (after)  : {closed:.3f}")
    print(f"  of which the thumbnail thread: open {(t1['cpu_s'] - t0['cpu_s']) / args.seconds:.3f} core "
          f"({(t1['encoded'] - t0['encoded']) / args.seconds:.1f} JPEG/s for {len(t1['watched'])} targets), "
          f"closed {(c1['cpu_s'] - c0['cpu_s']) / args.seconds:.3f} core ({c1['encoded'] - c0['encoded']} JPEGs, "
          f"{c1['watchers']} watchers)")
    if timings:
        print(f"TAKE click -> program monitor changed: n={len(timings)} median {statistics.median(timings):.0f} ms, "
              f"min {min(timings):.0f} ms, max {max(timings):.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
