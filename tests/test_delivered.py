"""RTMP's "delivered" = written less what TCP still holds unacknowledged: read from /proc, and
by the netlink lookup of one socket that outputs use (both must agree with the kernel)."""
from __future__ import annotations

import os
import socket
import sys

import pytest

from stream_ops.outputs.unacked import UnackedBytes, tcp_unacked

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/net/tcp is Linux's")


def test_bytes_a_peer_has_not_acknowledged_are_counted_until_it_reads() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        lookup = UnackedBytes(os.getpid())
        try:
            assert tcp_unacked(os.getpid()) == 0 and lookup.unacked() == 0
            # The peer reads nothing: once its window is full, what we write waits, unacknowledged.
            client.setblocking(False)
            sent = 0
            try:
                while True:
                    sent += client.send(b"\0" * 65536)
            except BlockingIOError:
                pass
            held = tcp_unacked(os.getpid())
            assert 0 < held < sent
            assert lookup.unacked() == held and lookup._nl is not None, "netlink answered the same as /proc"
            # The peer reads everything: nothing is left unacknowledged.
            peer.settimeout(5)
            got = 0
            while got < sent:
                got += len(peer.recv(1 << 20))
            client.setblocking(True)
            client.sendall(b"x")          # an exchange so the last ACK is in
            peer.recv(1)
            assert tcp_unacked(os.getpid()) == 0 and lookup.unacked() == 0
        finally:
            lookup.close()
            client.close()
            peer.close()
