"""SIGKILL in the middle of a burst of applications loses none that were acknowledged."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from servers import free_port

ROOT = Path(__file__).resolve().parent.parent
# The public apply service of a show whose fair is fair.yaml beside it; data in ./data.
FAIR_SHOW = """
show: {name: kill-test, data_dir: data}
sources: {c: {kind: color, color: "#000000"}}
scenes: {s: {layers: [{source: c}]}}
outputs: {}
jobfair: {include: fair.yaml}
"""


@pytest.mark.slow
def test_sigkill_mid_burst_keeps_every_acknowledged_application(tmp_path: Path) -> None:
    fair = (ROOT / "scenes" / "fair" / "fair.yaml").read_text(encoding="utf-8")
    fair = fair.replace("rate_per_minute: 5 ", "rate_per_minute: 10000000 ").replace("burst: 5", "burst: 10000000")
    (tmp_path / "fair.yaml").write_text(fair, encoding="utf-8")
    (tmp_path / "show.yaml").write_text(FAIR_SHOW, encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stream_ops", "fair", "serve", str(tmp_path / "show.yaml"),
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/apply/apply.css", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        acked, unanswered = asyncio.run(_burst(port, proc, total=4000, kill_after=600))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 600 and unanswered > 0, "the kill must land mid-burst"
    conn = sqlite3.connect(tmp_path / "data" / "stream-ops.sqlite3")
    stored = {row[0] for row in conn.execute("SELECT phone FROM applications")}
    conn.close()
    missing = acked - stored
    assert not missing, f"{len(missing)} acknowledged applications lost"


async def _burst(port: int, proc: subprocess.Popen, total: int, kill_after: int) -> tuple[set[str], int]:
    """Post `total` applications from 32 connections; SIGKILL the server after `kill_after` 201s."""
    acked: set[str] = set()
    unanswered = 0
    next_i = 0

    async def worker() -> None:
        nonlocal next_i, unanswered
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        try:
            while next_i < total:
                i = next_i
                next_i += 1
                phone = f"137{i:08d}"
                body = json.dumps({"name": "测试", "phone": phone, "job": "J001", "consent": ["E01"]}).encode()
                try:
                    writer.write(b"POST /apply HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    await writer.drain()
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(next(l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
                                 .split(b":")[1])
                    await reader.readexactly(length)
                except (OSError, asyncio.IncompleteReadError, StopIteration):
                    unanswered += 1
                    return
                if head.startswith(b"HTTP/1.1 201"):
                    acked.add(phone)
                    if len(acked) == kill_after:
                        os.kill(proc.pid, signal.SIGKILL)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(32)))
    return acked, unanswered
