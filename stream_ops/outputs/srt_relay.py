"""A UDP relay between an SRT push child and its target that counts acknowledged bytes.

Run as its own process (`command()`: this file by path, stdlib only, so it
imports nothing of ours and starts in ~30 ms). ffmpeg's libsrt cannot say what the receiver has acknowledged, and it notices a
vanished receiver only after libsrt's 5 s peer-idle timeout, which ffmpeg cannot
shorten; until then its writes succeed and `total_size` grows. This relay sees every
datagram both ways: it sums the payload of each new data packet by sequence number
and, when the receiver's ACK says "everything before N arrived", reports the bytes
up to N. So "delivered" means acknowledged by the target, whatever the bitrate.

Protocol on stdout: `port N` once (where the child should send), then
`acked BYTES` every 0.25 s. It ends when stdin closes (the parent is gone).
"""
from __future__ import annotations

import os
import select
import socket
import sys
import time
from collections import deque

REPORT_EVERY_S = 0.25
MAX_PENDING = 1 << 16          # unacknowledged packets remembered (≈ 85 MB of TS); older ones are forgotten
SEQ_MASK = 0x7FFFFFFF
ACK = 0x0002


def command(host: str, port: int) -> list[str]:
    """argv of a relay to an SRT target at host:port."""
    return [sys.executable, "-I", os.path.abspath(__file__), host, str(port)]


def seq_before(a: int, b: int) -> bool:
    """a comes before b in SRT's 31-bit wrapping sequence space."""
    return 0 < ((b - a) & SEQ_MASK) < (1 << 30)


class AckCounter:
    """Payload bytes of data packets sent, and of those the receiver acknowledged."""

    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0
        self._last_seq: int | None = None
        self._pending: deque[tuple[int, int]] = deque()   # (seq, bytes sent through seq)

    def data(self, packet: bytes) -> None:
        """A datagram from our sender: count a data packet's payload once (not retransmissions)."""
        if len(packet) < 16 or packet[0] & 0x80:
            return
        seq = int.from_bytes(packet[0:4], "big") & SEQ_MASK
        if self._last_seq is not None and not seq_before(self._last_seq, seq):
            return
        self._last_seq = seq
        self.sent += len(packet) - 16
        self._pending.append((seq, self.sent))
        if len(self._pending) > MAX_PENDING:
            self._pending.popleft()

    def reply(self, packet: bytes) -> None:
        """A datagram from the receiver: an ACK moves `acked` to everything before its sequence."""
        if len(packet) < 20 or not packet[0] & 0x80:
            return
        if int.from_bytes(packet[0:2], "big") & 0x7FFF != ACK:
            return
        upto = int.from_bytes(packet[16:20], "big") & SEQ_MASK
        while self._pending and seq_before(self._pending[0][0], upto):
            self.acked = self._pending.popleft()[1]


def run(host: str, port: int) -> None:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    upstream = socket.socket(family, kind, proto)
    upstream.connect(address)
    downstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    downstream.bind(("127.0.0.1", 0))
    out = sys.stdout
    out.write(f"port {downstream.getsockname()[1]}\n")
    out.flush()
    counter = AckCounter()
    sender: tuple[str, int] | None = None
    stdin = sys.stdin.fileno()
    next_report = time.monotonic()
    while True:
        ready, _, _ = select.select([downstream, upstream, stdin], [], [], REPORT_EVERY_S)
        for sock in ready:
            if sock == stdin:
                if not os.read(stdin, 4096):
                    return
                continue
            try:
                packet, peer = sock.recvfrom(65536)
            except OSError:      # ICMP "port unreachable" on the connected upstream: the target is not there
                continue
            try:
                if sock is downstream:
                    sender = peer
                    counter.data(packet)
                    upstream.send(packet)
                elif sender is not None:
                    counter.reply(packet)
                    downstream.sendto(packet, sender)
            except OSError:
                pass             # a lost datagram is SRT's to recover, not ours
        now = time.monotonic()
        if now >= next_report:
            out.write(f"acked {counter.acked}\n")
            out.flush()
            next_report = now + REPORT_EVERY_S


if __name__ == "__main__":
    try:
        run(sys.argv[1], int(sys.argv[2]))
    except (KeyboardInterrupt, BrokenPipeError):
        pass
