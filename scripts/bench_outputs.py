#!/usr/bin/env python3
"""What one RTMP output costs: its Python threads and its push child, per program second.

Show-sized packets (the bench's 720p camera file re-encoded by our Encoder at
4.5 Mb/s) are offered in real time (30 fps) to N `PushOutput`s pushing to
ffmpeg null listeners on loopback (not counted); CPU of the outputs' threads
(by name, from /proc via psutil) and of their ffmpeg children is summed over the
window. Less noisy than `bench.py fanout` on a shared machine: it measures only
the outputs, not the whole show.

    .venv/bin/python scripts/bench_outputs.py --outputs 5
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402
from stream_ops.config import AudioSettings, OutputConfig, VideoSettings  # noqa: E402
from stream_ops.encoder import Encoder  # noqa: E402
from stream_ops.outputs.push import PushOutput  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outputs", type=int, default=5)
    args = ap.parse_args()
    enc = Encoder(VideoSettings(1280, 720, 30, 4500, 2.0, "ultrafast"), AudioSettings())
    silence = np.zeros((1470, 2), np.int16)
    with av.open(str(bench.media(720))) as c:     # 10 s: 60 frames to go live, 240 measured
        per_frame = [enc.encode_video(f.to_ndarray(format="yuv420p"), i) + enc.encode_audio(silence)
                     for i, f in enumerate(c.decode(video=0))]
    rate = sum(len(p.data) for f in per_frame for p in f) * 8 / 1000 / (len(per_frame) / 30)
    targets = [bench.null_target(bench.free_port()) for _ in range(args.outputs)]
    outs = [PushOutput(OutputConfig(name=f"o{i}", kind="rtmp", url=url), enc.templates, lambda o: None,
                       lambda *a, **k: None, 30) for i, (_, url) in enumerate(targets)]
    for o in outs:
        o.start()

    def feed(frames: list) -> None:
        t0 = time.monotonic()
        for i, packets in enumerate(frames):
            time.sleep(max(0.0, t0 + i / 30 - time.monotonic()))
            for p in packets:
                for o in outs:
                    o.offer(p)

    def cpu() -> tuple[dict[str, float], float]:
        names = {t.native_id: t.name for t in threading.enumerate() if t.name.startswith("output-")}
        threads: dict[str, float] = {}
        for t in psutil.Process().threads():
            if t.id in names:
                role = names[t.id].split("-")[-1] if names[t.id].count("-") > 1 else "writer"
                threads[role] = threads.get(role, 0.0) + t.user_time + t.system_time
        kids = sum(sum(k.cpu_times()[:2]) for k in psutil.Process().children() if "-progress" in " ".join(k.cmdline()))
        return threads, kids

    try:
        feed(per_frame[:60])
        if not all(o.state == "live" for o in outs):
            raise SystemExit(f"outputs not live: {[o.state for o in outs]}")
        (th0, k0), w0 = cpu(), time.monotonic()
        feed(per_frame[60:])
        (th1, k1), wall = cpu(), time.monotonic() - w0
        n = len(outs)
        threads = {role: (th1[role] - th0.get(role, 0.0)) / wall / n for role in th1}
        children = (k1 - k0) / wall / n
        print(f"{n} RTMP outputs at {rate:.0f} kb/s, {wall:.1f} s: per output {children + sum(threads.values()):.4f} core "
              f"= push child {children:.4f} + threads " + ", ".join(f"{r} {v:.4f}" for r, v in sorted(threads.items()))
              + f"; dropped {sum(o.dropped for o in outs)}")
    finally:
        for o in outs:
            o.stop()
        for t, _ in targets:
            t.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
