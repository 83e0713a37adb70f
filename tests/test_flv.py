"""FLV made once per encoder (flv.py) and written per RTMP session (push.FlvWriter).

The pure parts are checked on crafted bytes; the whole path by decoding, with
FFmpeg's own FLV demuxer (PyAV), what a session that joins mid-show writes.
"""
from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from stream_ops import flv, frames
from stream_ops.config import AudioSettings, VideoSettings
from stream_ops.encoder import Encoder
from stream_ops.outputs.push import FlvWriter

W, H = 320, 180


def test_nal_units_split_on_three_and_four_byte_start_codes() -> None:
    stream = b"\x00\x00\x00\x01\x67\xaa\xbb" + b"\x00\x00\x01\x68\xcc" + b"\x00\x00\x00\x01\x65\x01\x02\x00\x00"
    assert flv.nal_units(stream) == [b"\x67\xaa\xbb", b"\x68\xcc", b"\x65\x01\x02"]
    assert flv.avcc([b"\x65\x01"]) == b"\x00\x00\x00\x02\x65\x01"


def test_tag_header_carries_size_and_a_32_bit_timestamp() -> None:
    hdr = flv.tag_header(flv.VIDEO, 0x010203, 0x12345678)
    assert hdr == bytes((9, 1, 2, 3, 0x34, 0x56, 0x78, 0x12, 0, 0, 0))
    whole = flv.tag(flv.AUDIO, b"abc", 5)
    assert len(whole) == 11 + 3 + 4 and whole[-4:] == (14).to_bytes(4, "big")


def test_a_session_joining_mid_show_decodes_from_its_first_frame(tmp_path: Path) -> None:
    enc = Encoder(VideoSettings(W, H, 30, 300, 1.0, "ultrafast"), AudioSettings())
    tone = (np.sin(np.arange(1470) * 2 * np.pi * 440 / 44100) * 8000).astype(np.int16)
    packets = []
    for n in range(75):   # red for the first keyframe interval, blue after: the session joins at the blue keyframe
        colour = "#ff0000" if n < 30 else "#0000ff"
        packets += enc.encode_video(frames.solid(W, H, colour), n) + enc.encode_audio(np.stack([tone, tone], axis=1))
    path = tmp_path / "session.flv"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        writer = FlvWriter(fd)
        start = next(i for i, p in enumerate(packets) if p.kind == "video" and p.keyframe and p.pts == 30)
        # As the output's queue hands them on: whatever came since the last write, a few at a time.
        for i in range(start, len(packets), 3):
            writer.mux(packets[i:i + 3])
    finally:
        os.close(fd)

    with av.open(str(path)) as c:
        assert c.format.name == "flv"
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.codec_context.width, v.codec_context.height) == ("h264", W, H)
        assert a.codec_context.name == "aac" and a.codec_context.sample_rate == 44100 and a.codec_context.channels == 2
        video, audio_samples = [], 0
        for packet in c.demux():
            for frame in packet.decode():
                if packet.stream.type == "video":
                    video.append((frame.pts, frame.to_ndarray(format="rgb24")[H // 2, W // 2]))
                else:
                    audio_samples += frame.samples
    # Every frame from the joining keyframe on arrived, blue from the first, timestamps from 0.
    assert len(video) == 45
    assert video[0][0] == 0
    r, g, b = (int(x) for x in video[0][1])
    assert b > 200 and r < 40 and g < 40
    # The tone came along: about as long as the picture (the AAC encoder runs a little behind it).
    assert 1.0 < audio_samples / 44100 <= 1.5
