"""Pure: FLV tags of our encoded packets (H.264 Annex B + raw AAC), made once per encoder.

RTMP outputs hand these bytes to a push child that only copies them to the socket
(ffmpeg's `rtmp` protocol turns FLV tags into RTMP messages). Muxing here, in
arrival order, removes the interleaving wait a remuxer adds (it holds each video
frame until an AAC packet with a later timestamp arrives: 1–2 frames) and the
per-output TS → FLV remux. A tag is split into its body (made once, shared by
every output) and the 11-byte header, which each output writes with its own
timestamps (each session starts at 0).
"""
from __future__ import annotations

import struct
from fractions import Fraction

AUDIO, VIDEO, SCRIPT = 8, 9, 18
FILE_HEADER = b"FLV\x01\x05\x00\x00\x00\x09" + b"\x00\x00\x00\x00"   # audio + video; PreviousTagSize0
AAC_BYTE = 0xAF          # AAC; FLV says 44 kHz, 16-bit, stereo for AAC whatever the stream is
NAL_SPS, NAL_PPS = 7, 8


def nal_units(annexb: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (start codes and trailing zero bytes removed)."""
    units: list[bytes] = []
    start = annexb.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        nxt = annexb.find(b"\x00\x00\x01", begin)
        unit = annexb[begin:nxt if nxt >= 0 else len(annexb)].rstrip(b"\x00")
        if unit:
            units.append(unit)
        start = nxt
    return units


def avcc(units: list[bytes]) -> bytes:
    """NAL units, each prefixed with its 4-byte length (what FLV and MP4 carry)."""
    return b"".join(struct.pack(">I", len(u)) + u for u in units)


def avc_config(sps: bytes, pps: bytes) -> bytes:
    """AVCDecoderConfigurationRecord: the video sequence header."""
    return (bytes((1, sps[1], sps[2], sps[3], 0xFF, 0xE1)) + struct.pack(">H", len(sps)) + sps
            + b"\x01" + struct.pack(">H", len(pps)) + pps)


def video_body(units: list[bytes], keyframe: bool, cts_ms: int = 0) -> bytes:
    return bytes(((1 if keyframe else 2) << 4 | 7, 1)) + (cts_ms & 0xFFFFFF).to_bytes(3, "big") + avcc(units)


def audio_body(raw_aac: bytes) -> bytes:
    return bytes((AAC_BYTE, 1)) + raw_aac


def tag_header(kind: int, size: int, ts_ms: int) -> bytes:
    """The 11 bytes before a tag's body: type, body size, timestamp (24 bits + 8 high bits), stream 0."""
    return (bytes((kind,)) + size.to_bytes(3, "big") + (ts_ms & 0xFFFFFF).to_bytes(3, "big")
            + bytes(((ts_ms >> 24) & 0xFF, 0, 0, 0)))


def tag(kind: int, body: bytes, ts_ms: int) -> bytes:
    """A whole tag: header, body and the PreviousTagSize that follows it."""
    return tag_header(kind, len(body), ts_ms) + body + struct.pack(">I", 11 + len(body))


def _amf_string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def metadata(fields: dict[str, float | bool | str]) -> bytes:
    """The onMetaData script body (AMF0): what players and ingest servers read first."""
    out = b"\x02" + _amf_string("onMetaData") + b"\x08" + struct.pack(">I", len(fields))
    for key, value in fields.items():
        out += _amf_string(key)
        if isinstance(value, bool):
            out += b"\x01" + bytes((int(value),))
        elif isinstance(value, str):
            out += b"\x02" + _amf_string(value)
        else:
            out += b"\x00" + struct.pack(">d", float(value))
    return out + b"\x00\x00\x09"


def ms(t: int, time_base: Fraction) -> int:
    return int(t * time_base * 1000)


class FlvTags:
    """FLV tag bodies of one encoder's packets, and the bytes a session starts with.

    `head(units)` (for a keyframe that carries SPS and PPS, as x264's
    repeat-headers gives every keyframe) is everything a receiver needs before the
    first frame: the file header, onMetaData and both sequence headers.
    """

    def __init__(self, audio_config: bytes, meta: dict[str, float | bool | str]) -> None:
        self.audio_config = audio_config
        self.meta = metadata(meta)

    def head(self, units: list[bytes]) -> bytes:
        sps = next((u for u in units if u[0] & 0x1F == NAL_SPS), None)
        pps = next((u for u in units if u[0] & 0x1F == NAL_PPS), None)
        if sps is None or pps is None:
            return b""
        return (FILE_HEADER + tag(SCRIPT, self.meta, 0)
                + tag(VIDEO, bytes((0x17, 0, 0, 0, 0)) + avc_config(sps, pps), 0)
                + tag(AUDIO, bytes((AAC_BYTE, 0)) + self.audio_config, 0))
