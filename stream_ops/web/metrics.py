"""`/metrics`: the engine, sources and outputs in Prometheus' text format."""
from __future__ import annotations

import time
from typing import Any

import psutil


def prometheus(show: Any) -> str:
    """Prometheus text exposition of the engine, sources and outputs."""
    lines: list[str] = []

    def metric(name: str, help_: str, kind: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")

    st = show.engine.stats()
    metric("stream_ops_frames_total", "Program frames encoded", "counter", [({}, st["frames"])])
    metric("stream_ops_late_frames_total", "Program frames skipped because the clock was late", "counter", [({}, st["late_frames"])])
    metric("stream_ops_encode_ms", "Mean encode time per frame (ms)", "gauge", [({}, st["encode_ms"])])
    metric("stream_ops_composite_ms", "Mean composite time per frame (ms)", "gauge", [({}, st["composite_ms"])])
    metric("stream_ops_source_up", "1 while a source delivers frames", "gauge",
           [({"source": s.name}, 1.0 if s.state == "live" else 0.0) for s in show.engine.slots.values()])
    metric("stream_ops_source_fps", "Frames per second arriving from a source", "gauge",
           [({"source": s.name}, s.fps) for s in show.engine.slots.values()])
    outs = [o.info() for o in show.engine.outputs.values()]
    metric("stream_ops_output_live", "1 while bytes flow to an output", "gauge",
           [({"output": o["name"]}, 1.0 if o["state"] == "live" else 0.0) for o in outs])
    metric("stream_ops_output_bytes_total", "Bytes delivered to an output", "counter",
           [({"output": o["name"]}, o["bytes"]) for o in outs])
    metric("stream_ops_output_dropped_total", "Packets dropped in an output's queue", "counter",
           [({"output": o["name"]}, o["dropped"]) for o in outs])
    metric("stream_ops_output_reconnects_total", "Output reconnects", "counter",
           [({"output": o["name"]}, o["reconnects"]) for o in outs])
    proc = psutil.Process()
    cpu = proc.cpu_times()
    metric("stream_ops_process_cpu_seconds_total", "CPU seconds of the stream-ops process (not children)", "counter",
           [({}, round(cpu.user + cpu.system, 3))])
    metric("stream_ops_ws_clients", "Connected WebSocket clients", "gauge", [({}, show.bus.clients)])
    metric("stream_ops_uptime_seconds", "Seconds since the show started", "gauge",
           [({}, round(time.time() - (show.started_at or time.time()), 1))])
    return "\n".join(lines) + "\n"
