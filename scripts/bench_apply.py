#!/usr/bin/env python3
"""Sustained applications/s and latency of POST /apply against real public-service processes.

    .venv/bin/python scripts/bench_apply.py [--store sqlite|postgres] [--processes 1|2]
        [--count 3000] [--concurrency 32] [--seconds 60] [--kill none|service|postgres]
        [--refresh-cost]

Starts the public service (`stream-ops fair serve`, see `start_service`) with the example fair and the
per-address limit lifted, on SQLite in a temp folder (WAL + synchronous=FULL) or on a
PostgreSQL server it starts itself (tests/pg.py: initdb in a temp folder). With two
processes the load alternates between them, as a load balancer would. `--kill` SIGKILLs
one service process, or the PostgreSQL server, a third of the way into the burst and
restarts it; then every acknowledged (201) application must be in the store.
`--refresh-cost` times what the studio pays per refresh of its figures at the end size.
`--on-air` runs show (b) of scripts/bench.py (4 × 720p30 grid + lower-third → 1080p30, one
recording) with the fair through `stream-ops run`, whose child is the public service, and
sends a paced burst (`--rate`, default 300/s) at it: the program's frames and late frames
before, during and after the burst come from the studio's /metrics.
Client and servers share this machine's cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
FAIR = ROOT / "scenes" / "fair" / "fair.yaml"
sys.path.insert(0, str(ROOT / "tests"))     # tests/pg.py: a throwaway PostgreSQL server; servers.free_port


def unlimited_show(folder: Path, store_url: str | None) -> Path:
    """A show whose fair is the example fair with the per-address limit lifted; data in ./data."""
    text = FAIR.read_text(encoding="utf-8")
    text = text.replace("rate_per_minute: 5 ", "rate_per_minute: 10000000 ").replace("burst: 5", "burst: 10000000")
    (folder / "fair.yaml").write_text(text, encoding="utf-8")
    store = f', store: "{store_url}"' if store_url else ""
    show = folder / "show.yaml"
    show.write_text("show: {name: bench-apply, data_dir: data}\n"
                    "sources: {c: {kind: color, color: \"#000000\"}}\n"
                    "scenes: {s: {layers: [{source: c}]}}\n"
                    "outputs: {}\n"
                    f"jobfair: {{include: fair.yaml{store}}}\n", encoding="utf-8")
    return show


def start_service(show: Path, port: int) -> subprocess.Popen:
    """One public-service process (`stream-ops fair serve`) on `port`, ready to answer."""
    # Its log goes to a file: an unread pipe fills up and blocks a service that logs an outage.
    log = (show.parent / f"service-{port}.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "stream_ops", "fair", "serve", str(show), "--port", str(port)],
                            cwd=ROOT, stderr=log, stdout=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/apply/apply.css", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("service did not start: " + (show.parent / f"service-{port}.log").read_text(errors="replace"))


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process (and its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
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
        assert self.reader is not None
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
        self.writer = None


class Burst:
    """Workers posting distinct applications over the given ports; remembers what was acknowledged."""

    def __init__(self, ports: list[int], count: int, concurrency: int, seconds: float, start: int = 0,
                 rate: float | None = None) -> None:
        self.ports, self.count, self.concurrency, self.seconds = ports, count + start, concurrency, seconds
        self.next_i = start
        self.first = start
        self.rate = rate                  # applications per second, paced; None: as fast as answered
        self.t0 = time.monotonic()
        self.latencies: list[float] = []
        self.acked: list[str] = []
        self.errors = 0
        self.jobs = [f"J{n:03d}" for n in range(1, 31)]

    async def worker(self, k: int, deadline: float) -> None:
        conn = Conn(self.ports[k % len(self.ports)])
        try:
            while self.next_i < self.count and time.monotonic() < deadline:
                i = self.next_i
                self.next_i += 1
                if self.rate:   # an open-loop pace: each application leaves at its own time
                    await asyncio.sleep(max(0.0, self.t0 + (i - self.first) / self.rate - time.monotonic()))
                body = application(i, self.jobs)
                t = time.perf_counter()
                try:
                    status = await conn.post_json("/apply", body)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    self.errors += 1               # not acknowledged: the applicant would retry
                    conn.close()
                    await asyncio.sleep(0.05)
                    continue
                self.latencies.append(time.perf_counter() - t)
                if status == 201:
                    self.acked.append(body["phone"])
                else:
                    self.errors += 1
        finally:
            conn.close()

    async def run(self, during: Any = None) -> tuple[float, float]:
        deadline = time.monotonic() + self.seconds
        self.t0 = time.monotonic()
        t0, c0 = time.perf_counter(), time.process_time()
        tasks = [asyncio.create_task(self.worker(k, deadline)) for k in range(self.concurrency)]
        if during is not None:
            await during(self)
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0, time.process_time() - c0


def refresh_cost(store: Any, fair_path: Path) -> str:
    """CPU the studio pays per figure refresh: a full read, and the incremental one it does."""
    from stream_ops.jobfair import stats
    from stream_ops.jobfair.model import load_fair_file
    from stream_ops.jobfair.service import JobFairService
    from stream_ops.jobfair.store import NewApplication, new_withdraw_code

    n = 10
    c0 = time.process_time()
    for _ in range(n):
        fig = stats.figures(store.snapshot())
    full = (time.process_time() - c0) / n * 1000
    fair, _ = load_fair_file(fair_path)
    studio = JobFairService(fair, "bench", Path("."), store=store)
    spent = 0.0
    for k in range(n):                          # 50 new applications between two refreshes
        asyncio.run(store.add_applications([NewApplication("张三", f"1390{k:03d}{i:04d}", "J001", "E01", "n")
                                            for i in range(50)], new_withdraw_code()))
        c0 = time.process_time()
        studio._read_figures()
        spent += time.process_time() - c0
    return (f"studio refresh at {fig.counts.rows} applications, {fig.visits} visits: full read "
            f"{full:.0f} ms CPU; incremental (50 new) {spent / n * 1000:.1f} ms CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kill", choices=["none", "service", "postgres"], default="none")
    parser.add_argument("--refresh-cost", action="store_true")
    parser.add_argument("--on-air", action="store_true", help="show (b) on air while the burst runs")
    parser.add_argument("--rate", type=float, default=300.0, help="with --on-air: applications per second")
    args = parser.parse_args()
    if args.on_air:
        on_air(args)
        return
    from servers import free_port
    from stream_ops.jobfair.stores import open_store

    pg = None
    if args.store == "postgres" or args.kill == "postgres":
        from pg import start_server
        pg = start_server()
        if pg is None:
            raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = pg.create_db("bench") if pg else None
        show = unlimited_show(folder, url)
        fair = folder / "fair.yaml"
        ports = [free_port() for _ in range(args.processes)]
        procs = [start_service(show, p) for p in ports]
        cpu_total = 0.0
        killed = ""
        try:
            asyncio.run(Burst(ports, 100 * len(ports), 8, 10).run())          # warm-up (not counted)
            cpu0 = [cpu_seconds(p.pid) for p in procs]

            async def kill_and_restart(b: Burst) -> None:
                nonlocal killed
                if args.kill == "none":
                    return
                while b.next_i - 100 * len(ports) < args.count // 3:
                    await asyncio.sleep(0.01)
                acked_before = len(b.acked)
                if args.kill == "service":
                    victim = procs[0]
                    cpu_total_before = cpu_seconds(victim.pid) - cpu0[0]
                    victim.send_signal(signal.SIGKILL)
                    await asyncio.to_thread(victim.wait)
                    procs[0] = await asyncio.to_thread(start_service, show, ports[0])
                    cpu0[0] = cpu_seconds(procs[0].pid) - cpu_total_before
                else:
                    assert pg is not None
                    await asyncio.to_thread(pg.kill)
                    await asyncio.to_thread(pg.start)
                killed = f"SIGKILLed the {args.kill} after {acked_before} acknowledged, restarted"

            burst = Burst(ports, args.count, args.concurrency, args.seconds, start=100 * len(ports))
            elapsed, client_cpu = asyncio.run(burst.run(kill_and_restart))
            cpu_total = sum(cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0))
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
        store = open_store(url, folder / "data")
        assert store is not None
        try:
            stored = {a.phone for a in store.applications()}
            missing = [p for p in burst.acked if p not in stored]
            refresh = ""
            if args.refresh_cost:
                refresh = refresh_cost(store, fair)
        finally:
            store.close()
    if pg is not None:
        pg.stop()
    lat = sorted(burst.latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    engine = "SQLite WAL synchronous=FULL" if args.store == "sqlite" else "PostgreSQL (fsync on, synchronous_commit on)"
    print(f"machine: {os.cpu_count()} cores; {args.processes} public-service process(es); {engine}; group commit")
    print(f"requests: {len(lat)} at concurrency {args.concurrency} in {elapsed:.2f} s; 201: {len(burst.acked)}; "
          f"other/errors: {burst.errors}")
    print(f"sustained: {len(burst.acked) / elapsed:.0f} applications/s")
    if lat:
        print(f"latency ms: p50 {p(0.50):.1f}  p90 {p(0.90):.1f}  p99 {p(0.99):.1f}  max {lat[-1] * 1000:.1f}  "
              f"mean {statistics.fmean(lat) * 1000:.1f}")
    print(f"service CPU: {cpu_total:.2f} s = {cpu_total / elapsed:.2f} core, "
          f"{cpu_total / max(1, len(burst.acked)) * 1000:.2f} ms per application; "
          f"load generator {client_cpu / elapsed:.2f} core")
    if killed:
        print(killed)
    print(f"acknowledged {len(burst.acked)}; in the store: {len(burst.acked) - len(missing)}; lost: {len(missing)}")
    if refresh:
        print(refresh)
    if missing:
        raise SystemExit(f"LOST acknowledged applications: {missing[:10]}")


def metrics(port: int, token: str) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line and not line.startswith("#") and "{" not in line.split()[0]}


def on_air(args: argparse.Namespace) -> None:
    """Show (b) on air while the public service takes a paced burst: does the program notice?"""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench
    from servers import free_port

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        unlimited_show(folder, None)
        spec = bench.spec_b()
        sources = {name: {"kind": "file", "path": str(bench.media(h)), "loop": True} for name, h in spec.inputs}
        doc = json.loads(bench.show_yaml("bench-on-air", spec.height, sources, {"b": spec.scene},
                                         {"rec": {"kind": "file", "path": "rec.ts", "autostart": True}}, "b"))
        doc["show"]["data_dir"] = "data"
        doc["jobfair"] = {"include": "fair.yaml"}
        (folder / "show.yaml").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        port, public = free_port(), free_port()
        token = "bench"
        log = (folder / "show.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "stream_ops", "run", str(folder / "show.yaml"), "--port",
                                 str(port), "--public-port", str(public)], cwd=ROOT, stdout=log, stderr=log,
                                env={**os.environ, "STREAM_OPS_TOKEN": token})
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{public}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the show did not start: " + (folder / "show.log").read_text(errors="replace"))
                time.sleep(0.2)
            time.sleep(5)   # warm-up: every source live, the encoder settled
            windows = []
            for label, burst in (("before", False), ("burst", True), ("after", False)):
                m0, t0 = metrics(port, token), time.monotonic()
                b = None
                if burst:
                    b = Burst([public], int(args.rate * args.seconds), 64, args.seconds, rate=args.rate)
                    asyncio.run(b.run())
                else:
                    time.sleep(args.seconds)
                m1, dt = metrics(port, token), time.monotonic() - t0
                frames = m1["stream_ops_frames_total"] - m0["stream_ops_frames_total"]
                late = m1["stream_ops_late_frames_total"] - m0["stream_ops_late_frames_total"]
                windows.append((label, frames / dt, late, b))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    print(f"machine: {os.cpu_count()} cores; show (b) 1080p30 on air + apply service child (nice +10), SQLite")
    for label, fps, late, b in windows:
        line = f"{label:>6}: program {fps:.1f} fps, {late:.0f} late frames"
        if b is not None:
            lat = sorted(b.latencies)
            q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))] * 1000  # noqa: E731
            line += (f"; {len(b.acked)} applications acknowledged at {len(b.acked) / args.seconds:.0f}/s "
                     f"(asked {args.rate:.0f}/s), p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, errors {b.errors}")
        print(line)


if __name__ == "__main__":
    main()
