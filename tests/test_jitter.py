"""The pull sources' playout buffer, on simulated arrivals (milliseconds)."""
from __future__ import annotations

from stream_ops.sources.jitter import JitterBuffer

FPS = 30


def play(jb: JitterBuffer, arrivals: list[tuple[float, float]], until: float, tick: float = 1 / FPS) -> list[float]:
    """Feed (arrival time, pts) pairs and step a 30 fps clock; return the times of the ticks that got no frame for > 0.4 s."""
    stale: list[float] = []
    last_frame_at: float | None = None
    i, now = 0, 0.0
    while now < until:
        while i < len(arrivals) and arrivals[i][0] <= now:
            jb.put(arrivals[i][1], "video", None, 100, arrivals[i][0])
            i += 1
        if jb.pop_due(now):
            last_frame_at = now
        if last_frame_at is not None and now - last_frame_at > 0.4:
            stale.append(now)
        now += tick
    return stale


def hls_arrivals(segments: int, segment_s: float = 2.0, download_s: float = 0.15) -> list[tuple[float, float]]:
    """Each segment's frames arrive together, shortly after the segment was finished."""
    per = int(segment_s * FPS)
    out = []
    for k in range(segments):
        ready = (k + 1) * segment_s + download_s
        out += [(ready + j * 0.001, k * segment_s + j / FPS) for j in range(per)]
    return out


def test_segment_bursts_play_without_gaps_once_learned() -> None:
    jb = JitterBuffer()
    stale = play(jb, hls_arrivals(15), until=30.0)
    # The first segment teaches the buffer the burst size (one hold at most); then no gap.
    assert not [t for t in stale if t > 6.0], stale
    assert 2.0 <= jb.offset <= 2.5       # about a segment, plus the margin: the buffer is as deep as the bursts


def test_steady_source_adds_only_the_margin() -> None:
    jb = JitterBuffer()
    arrivals = [(10 + n / FPS + 0.02, n / FPS) for n in range(300)]
    assert not play(jb, arrivals, until=19.0)
    assert jb.offset is not None and abs(jb.offset - (10.02 + jb.margin_s)) < 1e-6


def test_bounded_in_bytes_and_a_new_timeline_resets() -> None:
    jb = JitterBuffer(max_bytes=1000)
    for n in range(10):
        jb.put(n / FPS, "video", None, 100, 0.0)
    assert jb.full() and jb.bytes == 1000
    assert len(jb.pop_due(jb.next_due())) == 1 and not jb.full()
    jb.put(500.0, "video", None, 100, 1.0)          # pts jumped (source restarted): not jitter
    assert jb.resets == 1
    assert len(jb.pop_due(1.0)) == 9                # what was held plays at once...
    assert abs(jb.next_due() - (1.0 + jb.margin_s)) < 1e-9   # ...the new frame on its own timeline
