"""The SRT relay's acknowledgement counting, on hand-built SRT packets (milliseconds)."""
from __future__ import annotations

from stream_ops.outputs.srt_relay import SEQ_MASK, AckCounter, seq_before


def data(seq: int, payload: int = 1316) -> bytes:
    return (seq & SEQ_MASK).to_bytes(4, "big") + bytes(12) + bytes(payload)


def ack(upto: int, light: bool = False) -> bytes:
    header = (0x8000 | 0x0002).to_bytes(2, "big") + bytes(14)
    return header + (upto & SEQ_MASK).to_bytes(4, "big") + (b"" if light else bytes(24))


def test_only_acknowledged_payload_counts() -> None:
    c = AckCounter()
    for seq in range(100, 110):
        c.data(data(seq))
    assert (c.sent, c.acked) == (10 * 1316, 0)
    c.reply(ack(105))                    # packets 100..104 arrived
    assert c.acked == 5 * 1316
    c.data(data(103))                    # a retransmission is not new payload
    assert c.sent == 10 * 1316
    c.reply(ack(110, light=True))
    assert c.acked == 10 * 1316
    c.reply(ack(104))                    # an old ACK never goes backwards
    assert c.acked == 10 * 1316


def test_other_control_packets_and_garbage_are_ignored() -> None:
    c = AckCounter()
    c.data(data(1))
    keepalive = (0x8000 | 0x0001).to_bytes(2, "big") + bytes(14)
    nak = (0x8000 | 0x0003).to_bytes(2, "big") + bytes(14) + (2).to_bytes(4, "big")
    for packet in (keepalive, nak, b"", b"\x80", bytes(3)):
        c.reply(packet)
        c.data(packet if packet and packet[0] & 0x80 else b"\x00")
    assert (c.sent, c.acked) == (1316, 0)


def test_sequence_numbers_wrap() -> None:
    assert seq_before(SEQ_MASK, 0) and not seq_before(0, SEQ_MASK)
    c = AckCounter()
    for seq in (SEQ_MASK - 1, SEQ_MASK, 0, 1):
        c.data(data(seq, 100))
    c.reply(ack(1))
    assert (c.sent, c.acked) == (400, 300)
