#!/usr/bin/env python3
"""Sustained applications/s and latency of POST /apply against a real uvicorn server on loopback.

    .venv/bin/python scripts/bench_apply.py [--count 3000] [--concurrency 32] [--seconds 60]

Starts `python -m stream_ops.jobfair.standalone` (one uvicorn process, SQLite in a temp
folder, WAL + synchronous=FULL) with the example fair and the per-address limit lifted,
posts JSON applications with distinct phones, then checks that every acknowledged (201)
application is in the database. Client and server share this machine's cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
FAIR = ROOT / "scenes" / "fair" / "fair.yaml"


def unlimited_fair(folder: Path) -> Path:
    text = FAIR.read_text(encoding="utf-8")
    text = text.replace("rate_per_minute: 5 ", "rate_per_minute: 10000000 ").replace("burst: 5", "burst: 10000000")
    path = folder / "fair.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def start_server(fair: Path, data: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "stream_ops.jobfair.standalone", str(fair), "--data", str(data),
                             "--port", str(port)], cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/apply/apply.css", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process (and its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def application(i: int, jobs: list[str]) -> dict:
    job = jobs[i % len(jobs)]
    employer = f"E0{(int(job[1:]) - 1) // 6 + 1}"
    return {"name": random.choice("张王李赵刘陈杨黄") + "某", "phone": f"13{i % 7 + 3}{i:08d}", "job": job,
            "consent": [employer]}


class Conn:
    """A minimal keep-alive HTTP/1.1 client: the load generator must cost less CPU than the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: dict) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = json.dumps(body, ensure_ascii=False).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer:
            self.writer.close()


async def run(port: int, count: int, concurrency: int, seconds: float, start: int = 0
              ) -> tuple[list[float], int, int, float, float]:
    jobs = [f"J{n:03d}" for n in range(1, 31)]
    latencies: list[float] = []
    created = errors = 0
    next_i = start
    count += start
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal next_i, created, errors
        conn = Conn(port)
        try:
            while next_i < count and time.monotonic() < deadline:
                i = next_i
                next_i += 1
                t = time.perf_counter()
                try:
                    status = await conn.post_json("/apply", application(i, jobs))
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    conn.close()
                    conn = Conn(port)
                    continue
                latencies.append(time.perf_counter() - t)
                if status == 201:
                    created += 1
                else:
                    errors += 1
        finally:
            conn.close()

    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, created, errors, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    from stream_ops.jobfair.standalone import free_port

    port = args.port or free_port()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc = start_server(unlimited_fair(folder), folder / "data", port)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(run(port, 100, 8, 10))            # warm-up (not counted)
            cpu0 = cpu_seconds(proc.pid)
            lat, created, errors, elapsed, client_cpu = asyncio.run(run(port, args.count, args.concurrency, args.seconds, start=100))
            server_cpu = cpu_seconds(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait(10)
        conn = sqlite3.connect(folder / "data" / "stream-ops.sqlite3")
        stored = conn.execute("SELECT count(*) FROM applications").fetchone()[0]
        conn.close()
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    print(f"machine: {os.cpu_count()} cores; server: 1 uvicorn process, SQLite WAL synchronous=FULL, group commit")
    print(f"requests: {len(lat)} at concurrency {args.concurrency} in {elapsed:.2f} s; 201: {created}; "
          f"other/errors: {errors}")
    print(f"sustained: {created / elapsed:.0f} applications/s")
    print(f"latency ms: p50 {p(0.50):.1f}  p90 {p(0.90):.1f}  p99 {p(0.99):.1f}  max {lat[-1] * 1000:.1f}  "
          f"mean {statistics.fmean(lat) * 1000:.1f}")
    print(f"server CPU: {server_cpu:.2f} s = {server_cpu / elapsed:.2f} core, "
          f"{server_cpu / max(1, created) * 1000:.2f} ms per application; load generator {client_cpu / elapsed:.2f} core")
    print(f"stored rows: {stored} (warm-up 100 + acknowledged {created}); lost: {100 + created - stored}")


if __name__ == "__main__":
    main()
