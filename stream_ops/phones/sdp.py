"""Plain SDP checks and edits for phone and WHIP publishers; no media, no aiortc.

aiortc parses the offer itself; these helpers only turn the common ways an offer
can be wrong into a reason a person can act on, and read back what was agreed.
"""
from __future__ import annotations

import re

MAX_SDP_BYTES = 64 * 1024
DECODABLE_VIDEO = ("H264", "VP8")
DECODABLE_AUDIO = ("opus",)


class SdpError(ValueError):
    """An offer we cannot take; the message says why (shown in the 400 body)."""


def sections(sdp: str) -> list[list[str]]:
    """The session block followed by one list of lines per m= section."""
    blocks: list[list[str]] = [[]]
    for line in sdp.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line:
            continue
        if line.startswith("m="):
            blocks.append([])
        blocks[-1].append(line)
    return blocks


def _direction(session: list[str], media: list[str]) -> str:
    for line in media + session:
        if line in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
            return line[2:]
    return "sendrecv"


def _codec_names(media: list[str]) -> list[str]:
    return [m.group(1) for line in media if (m := re.match(r"a=rtpmap:\d+ ([^/]+)/", line))]


def check_offer(sdp: str) -> None:
    """Raise SdpError when the offer is not a publisher's offer we can decode."""
    if not sdp.strip():
        raise SdpError("empty body: POST the SDP offer with Content-Type: application/sdp")
    blocks = sections(sdp)
    session, media = blocks[0], blocks[1:]
    if not session or session[0] != "v=0":
        raise SdpError("not an SDP offer: it must start with v=0")
    if not media:
        raise SdpError("the offer has no m= section: publish a video and/or audio track")
    if not any(line.startswith("a=fingerprint:") for block in blocks for line in block):
        raise SdpError("the offer has no a=fingerprint: WebRTC needs DTLS")
    if not any(line.startswith("a=ice-ufrag:") for block in blocks for line in block):
        raise SdpError("the offer has no a=ice-ufrag: WebRTC needs ICE")
    sending = []
    for block in media:
        kind = block[0][2:].split(" ", 1)[0]
        if kind not in ("video", "audio") or _direction(session, block) not in ("sendonly", "sendrecv"):
            continue
        names = [n.lower() for n in _codec_names(block)]
        wanted = DECODABLE_VIDEO if kind == "video" else DECODABLE_AUDIO
        if not any(w.lower() in names for w in wanted):
            raise SdpError(f"{kind} codecs offered ({', '.join(_codec_names(block)) or 'none'}) cannot be decoded here: "
                           f"send {' or '.join(wanted)}")
        sending.append(kind)
    if not sending:
        raise SdpError("the offer sends no video or audio (all m= sections are recvonly/inactive)")


def negotiated(answer: str) -> dict[str, str]:
    """{'video': 'H264', 'audio': 'opus'}: the first codec of each accepted m= section."""
    out: dict[str, str] = {}
    for block in sections(answer)[1:]:
        head = block[0][2:].split(" ")
        if len(head) < 2 or head[1] == "0":   # port 0: section rejected
            continue
        names = [n for n in _codec_names(block) if n.lower() not in ("rtx", "red", "ulpfec")]
        if names and head[0] not in out:
            out[head[0]] = names[0]
    return out


def with_bandwidth(answer: str, video_kbps: int | None) -> str:
    """Add `b=AS` to the answer's video section: browsers cap their send bitrate to it."""
    if not video_kbps:
        return answer
    out: list[str] = []
    in_video = False
    for line in answer.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        if in_video and line.startswith("b="):
            continue
        out.append(line)
        if in_video and line.startswith("c="):
            out.append(f"b=AS:{int(video_kbps)}")
    return "\r\n".join(out)
