"""The ffmpeg binary and the command lines of our ffmpeg children.

Every network media socket lives in an ffmpeg child (PyAV's blocking network
calls hold the GIL); Python only touches pipes. The binary is the static build
shipped by imageio-ffmpeg, so no system FFmpeg is assumed. Command lines are
built with ffmpeg-python; this module holds all of them, so the media flags of
the whole program can be read in one place.
"""
from __future__ import annotations

import ctypes
import os
import re
import sys
from functools import lru_cache
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import ffmpeg as ffmpeg_py

GLOBAL_ARGS = ["-hide_banner", "-nostdin", "-loglevel", "info", "-nostats"]
SMALL_SLOT_PIXELS = 640 * 360


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn that makes the kernel kill an ffmpeg child when stream-ops dies.

    Without it a SIGKILLed show leaves its listeners behind, holding the RTMP/SRT
    ports the next run needs. Linux only; elsewhere children end at their next
    pipe write. The libc call is resolved here, before any fork, so the child runs
    no Python import.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigkill = 1, 9

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigkill)

    return preexec


CHILD_PREEXEC = _parent_death_signal()


@lru_cache(maxsize=1)
def binary() -> str:
    """STREAM_OPS_FFMPEG overrides; otherwise imageio-ffmpeg's static build."""
    override = os.environ.get("STREAM_OPS_FFMPEG")
    if override:
        return override
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _compile(stream: "ffmpeg_py.nodes.OutputStream", extra_global: list[str] | None = None) -> list[str]:
    # ffmpeg-python appends global args at the end; ffmpeg wants them first.
    args = stream.compile(cmd=binary())
    return [args[0], *GLOBAL_ARGS, *(extra_global or []), *args[1:]]


def with_query(url: str, **params: str | int) -> str:
    """Add query parameters (SRT's mode=listener, latency=...) unless already given."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for k, v in params.items():
        query.setdefault(k, str(v))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def source_input_args(kind: str, url: str, loop: bool = True) -> tuple[str, dict[str, object]]:
    """The input URL and options of a source child, by source kind."""
    # Small probe so a feed is on screen quickly; nobuffer keeps latency low for live inputs.
    live = {"fflags": "nobuffer", "probesize": 1_000_000, "analyzeduration": 1_000_000}
    if kind == "rtmp":
        return url, {**live, "listen": 1}
    if kind == "srt":
        return with_query(url, mode="listener", transtype="live"), live
    if kind == "pull":
        opts: dict[str, object] = dict(live)
        scheme = urlsplit(url).scheme
        if scheme == "rtsp":
            opts.update(rtsp_transport="tcp", timeout=5_000_000)
        elif scheme in ("rtmp", "rtmps", "http", "https"):
            opts.update(rw_timeout=5_000_000)
        elif scheme == "srt":
            url = with_query(url, mode="caller", transtype="live")
        return url, opts
    if kind == "file":
        opts = {"re": None}
        if loop:
            opts["stream_loop"] = -1
        return url, opts
    raise ValueError(f"no ffmpeg input for source kind {kind!r}")


def source_command(kind: str, url: str, width: int, height: int, sample_rate: int, channels: int,
                   loop: bool = True, audio: bool = True, iso_path: str | None = None) -> list[str]:
    """ffmpeg child that decodes one source and writes NUT (rawvideo yuv420p + pcm_s16le) to stdout.

    The picture is scaled once, here, to the slot size the scenes need, keeping
    its aspect ratio (black bars). NUT carries both streams in one pipe, and the
    audio stream is optional (`0:a:0?`), which separate raw pipes cannot express.
    """
    in_url, in_opts = source_input_args(kind, url, loop)
    # One decoding thread: frame threads each hold a frame back (measured: -65 ms glass
    # to glass, no CPU cost); the program's parallelism is across sources anyway.
    if width * height <= SMALL_SLOT_PIXELS:
        # Drawn only as a tile: deblocking's effect is lost in the downscale; skipping it
        # saves ~13 % of an H.264 decode (measured on a 720p30 stream scaled to 480x270).
        in_opts["skip_loop_filter"] = "all"
    src = ffmpeg_py.input(in_url, threads=1, **in_opts)
    video = (src.video
             .filter("scale", width, height, force_original_aspect_ratio="decrease", flags="bilinear")
             .filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2")
             .filter("format", "yuv420p"))
    # write_index=0: the NUT muxer otherwise keeps every syncpoint (one per raw frame) in
    # memory for an index it would write at the end of a pipe nobody seeks: ≈ 1.5 MiB a
    # minute per child, 0.7 GiB an hour on the seed rig (bench.py's `long` found it).
    out_opts: dict[str, object] = {"format": "nut", "write_index": 0, "vcodec": "rawvideo",
                                   "fps_mode": "passthrough"}
    if audio:
        out_opts.update(acodec="pcm_s16le", ar=sample_rate, ac=channels, map="0:a:0?")
    else:
        out_opts["an"] = None
    # One filter thread: the chain is one scale of one picture; more threads only hold
    # frames and threads (measured in a 1080p child: 15 -> 11 threads, anonymous memory
    # ≈ 59 -> 53 MiB, 3 runs each; same CPU). MALLOC_ARENA_MAX=2 made no difference here.
    return (_compile(ffmpeg_py.output(video, "pipe:1", **out_opts),
                     ["-filter_threads", "1", "-filter_complex_threads", "1"])
            + (iso_output_args(iso_path) if iso_path else []))


def iso_output_args(path: str) -> list[str]:
    """A second output of a source child: the feed as it arrived (copied, no re-encode), to a file.

    Written progressively and flushed per packet, so a SIGKILLed show leaves a file
    that plays up to the kill: MPEG-TS needs no trailer; Matroska's clusters are
    closed every second (any codec fits, which TS cannot promise).
    """
    args = ["-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-flush_packets", "1"]
    if path.endswith(".ts"):
        args += ["-f", "mpegts"]
    else:
        args += ["-f", "matroska", "-cluster_time_limit", "1000"]
    return args + [path]


PROGRESS_PERIOD_S = 0.25


def push_command(kind: str, target: str, progress_fd: int) -> list[str]:
    """ffmpeg child that sends our stream from stdin to a target; reports bytes on progress_fd.

    RTMP: stdin is FLV muxed in-process (flv.py); the child takes it as one opaque data
    stream and writes it to the `rtmp` protocol, which sends each FLV tag as an RTMP
    message: no demuxing, no remuxing, and no interleaving wait (a remuxer holds each
    video frame until an audio packet with a later timestamp comes: 30–70 ms).
    SRT: stdin is our MPEG-TS, copied (remuxed) to the target.
    """
    # rw_timeout: a target that stops reading (stalled TCP) fails this child within 10 s,
    # and the output reconnects, instead of hanging "connected" forever.
    if kind == "rtmp":
        src = ffmpeg_py.input("pipe:0", format="data", raw_packet_size=1 << 16)
        out = ffmpeg_py.output(src, target, format="data", map="0", c="copy", flush_packets=1, rw_timeout=10_000_000)
    elif kind == "srt":
        # Our TS starts at a keyframe with its headers: a short probe is enough, and keeps switch latency low.
        src = ffmpeg_py.input("pipe:0", format="mpegts", fflags="+genpts+nobuffer", probesize=200_000,
                              analyzeduration=500_000)
        out = ffmpeg_py.output(src, with_query(target, pkt_size=1316, mode="caller"), format="mpegts", c="copy",
                               rw_timeout=10_000_000)
    else:
        raise ValueError(f"no push command for output kind {kind!r}")
    return _compile(out, ["-stats_period", str(PROGRESS_PERIOD_S), "-progress", f"pipe:{progress_fd}"])


_STREAM_RE = re.compile(r"Stream #0:\d+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_AUDIO_RE = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)")


def parse_input_video(line: str) -> tuple[str, int, int] | None:
    """(codec, width, height) from ffmpeg's 'Stream #0:0: Video: h264 ..., 1920x1080' line."""
    m = _STREAM_RE.search(line)
    if not m:
        return None
    return m.group(1), int(m.group(2)), int(m.group(3))


def parse_input_audio(line: str) -> str | None:
    m = _AUDIO_RE.search(line)
    return m.group(1) if m else None


def redact(text: str, secrets: list[str]) -> str:
    """Remove secrets from a line ffmpeg printed (it echoes URLs with keys)."""
    for s in secrets:
        if s:
            text = text.replace(s, "****")
    return text
