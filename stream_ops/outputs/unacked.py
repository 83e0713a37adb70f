"""Bytes a push child's TCP connection holds that its peer has not acknowledged (Linux).

An RTMP output's "delivered" is what its child wrote less this. A target that
vanished without a reset (cable, NAT, frozen host) acknowledges nothing, so
written-minus-unacknowledged stops growing at once instead of after the kernel's
buffer (megabytes, tens of seconds) fills.

`/proc/PID/net/tcp` answers it, but lists (and the kernel formats) every TCP
socket of the machine: ≈ 2.4 ms a call with 270 sockets, 4 calls a second per
output, the largest part of an output's cost. So `/proc` is read once per
connection, to learn its addresses, and each later question goes to the kernel's
sock_diag netlink interface as an exact lookup of that one socket (µs).
"""
from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, NLMSG_ERROR = 4, 20, 1, 2
ESTABLISHED = "01"
NO_COOKIE = b"\xff" * 8
_WQUEUE_AT = 16 + 4 + 48 + 8      # nlmsghdr, family/state/timer/retrans, sockid, expires + rqueue


def _address(hexaddr: str) -> bytes:
    """/proc/net/tcp prints each 32-bit word of an address as the host-order integer: back to network bytes."""
    return b"".join(int(hexaddr[i:i + 8], 16).to_bytes(4, "little") for i in range(0, len(hexaddr), 8))


def _socket_inodes(pid: int) -> set[str]:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()
    inodes: set[str] = set()
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:       # closed since the listing (the listing's own descriptor, for one)
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def _proc_rows(pid: int) -> list[tuple[int, list[str]]]:
    """(address family, fields) of the process's established TCP sockets, from /proc."""
    inodes = _socket_inodes(pid)
    rows = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            if len(fields) > 9 and fields[3] == ESTABLISHED and fields[9] in inodes:
                rows.append((family, fields))
    return rows


def tcp_unacked(pid: int) -> int:
    """Unacknowledged bytes of all the process's established TCP sockets, from /proc (0 where it cannot tell)."""
    return sum(int(fields[4].split(":")[0], 16) for _, fields in _proc_rows(pid))


def diag_request(family: int, local: bytes, lport: int, remote: bytes, rport: int) -> bytes:
    """A sock_diag request for exactly one TCP socket, by its addresses (local first, as the kernel keys it)."""
    sockid = (struct.pack(">HH", lport, rport) + local.ljust(16, b"\0") + remote.ljust(16, b"\0")
              + struct.pack("=I", 0) + NO_COOKIE)
    body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    return struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0) + body


class UnackedBytes:
    """`unacked()` of one child's connection(s): /proc once, then a netlink lookup per call."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._requests: list[bytes] = []
        self._nl: socket.socket | None = None

    def unacked(self) -> int:
        if not self._requests:
            rows = _proc_rows(self.pid)
            self._requests = [diag_request(family, _address(f[1].split(":")[0]), int(f[1].split(":")[1], 16),
                                           _address(f[2].split(":")[0]), int(f[2].split(":")[1], 16))
                              for family, f in rows]
            # Not connected yet (or not Linux): what /proc said.
            return sum(int(f[4].split(":")[0], 16) for _, f in rows)
        try:
            if self._nl is None:
                self._nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
                self._nl.settimeout(1.0)
            total = 0
            for request in self._requests:
                self._nl.send(request)
                answer = self._nl.recv(8192)
                if struct.unpack_from("=H", answer, 4)[0] == NLMSG_ERROR:   # the socket is gone: look again
                    self._requests = []
                    return self.unacked()
                total += struct.unpack_from("=I", answer, _WQUEUE_AT)[0]
            return total
        except OSError:           # no netlink here: /proc every time
            self.close()
            return tcp_unacked(self.pid)

    def close(self) -> None:
        if self._nl is not None:
            self._nl.close()
            self._nl = None
