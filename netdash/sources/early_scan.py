"""The ``/proc`` owner scan of ``netdash list``, started before its imports (issue 18).

Finding which processes hold the listening sockets reads every ``/proc/[pid]/fd`` link
(:mod:`netdash.sources.procfd`): kernel work, and most of ``netdash list``'s time where
thousands of connections are open. The interpreter's imports take tens of milliseconds
more, on one core. So ``python -m netdash list …`` forks a child first thing
(:func:`start`, with only ``os`` and ``sys`` loaded): it asks sock_diag for the inodes of
the listening sockets (TCP ``LISTEN`` and unconnected UDP, both families: what
:class:`~netdash.sources.sock_diag.SockDiagSource` lists), reads ``/proc`` for their
holders (:func:`netdash.sources.procfd.read_processes`, its own helper included) and
writes the answer to a pipe, while the parent imports. :func:`seed` waits for it and hands
it to the command's :class:`~netdash.sources.procfd.HolderCache` as a full scan made at that
moment, so the parent reads only what changed since: processes started after it, holders
whose start time changed, and a whole new scan if its socket table holds a socket the child
did not see. A child that fails, or says what does not parse, leaves the parent to scan as
before: the answer is the same.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import NoReturn

    from netdash.sources.procfd import HolderCache

__all__ = ["listening_inodes", "request", "seed", "start"]

_started: tuple[int, int] | None = None  # (child pid, read end of its pipe)

MIN_SOCKETS = 2000
"""Sockets in this network namespace (``/proc/net/sockstat``) from which the scan is forked:
below, it takes a few milliseconds where the fork and a second process competing for the
CPU cost more (50 listeners, 200 connections: ``netdash list`` 130 ms forked, 118 ms not;
1,000 and 8,000: 193 ms against 250 ms; bench/RESULTS.md)."""


def _sockets_in_use(path: str = "/proc/net/sockstat") -> int:
    """``sockets: used N`` of ``/proc/net/sockstat`` (this network namespace's sockets, the
    established connections that make a scan long included); 0 when unreadable."""
    try:
        with open(path, "rb") as f:
            return int(f.readline().split()[2])
    except (OSError, ValueError, IndexError):
        return 0


def start(argv: list[str]) -> None:
    """Fork the scan when ``argv`` (the arguments after the program) is a ``list`` command
    on Linux; otherwise do nothing. Call it before any other import, while the process has
    one thread."""
    global _started
    if _started is not None or not argv or argv[0] != "list":
        return
    if "-h" in argv or "--help" in argv or not sys.platform.startswith("linux"):
        return
    if _sockets_in_use() < MIN_SOCKETS:
        return  # a scan of a few milliseconds: the fork and the child's CPU cost more
    try:
        r, w = os.pipe()
    except OSError:
        return
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return
    if pid == 0:  # pragma: no cover - the child (coverage does not follow a fork)
        _child(r, w)
    os.close(w)
    _started = (pid, r)


def _child(r: int, w: int) -> NoReturn:  # pragma: no cover - runs in the forked child
    """Scan and write ``monotonic-time inode,inode,…``, the pids seen, then one line per
    pid read (the format of :func:`netdash.sources.procfd._helper`); exit at once."""
    status = 1
    try:
        os.close(r)
        null = os.open(os.devnull, os.O_RDWR)  # a reader of our stdout waits for no child
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        import time

        from netdash.sources import procfd

        at = time.monotonic()
        inodes = listening_inodes()
        pids = procfd._pids("/proc")
        reads = procfd.read_processes(pids, procfd._link_targets(inodes))
        head = f"{at!r} {','.join(map(str, inodes))}\n" + " ".join(map(str, pids)) + "\n"
        procfd.write_reads(w, reads, head)
        status = 0
    finally:
        os._exit(status)


def listening_inodes() -> list[int]:
    """The inodes of this network namespace's listening TCP and unconnected UDP sockets,
    IPv4 and IPv6: the dumps of :class:`netdash.sources.sock_diag.SockDiagSource` (same
    requests), reading only ``idiag_inode``, and without importing that module (it loads
    the socket records' classes: the child would start later). Raises ``OSError`` when
    netlink refuses or answers what does not parse."""
    import socket
    import struct

    header = struct.Struct("=IHHII")  # nlmsghdr
    inode_at = header.size + 68  # inet_diag_msg: 4 bytes, sockid (48), 4 u32s, then the inode
    out: list[int] = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for protocol, state in (
            (socket.IPPROTO_TCP, _TCP_LISTEN),
            (socket.IPPROTO_UDP, _TCP_CLOSE),
        ):
            with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
                nl.settimeout(5.0)
                nl.sendall(request(family, protocol, 1 << state))
                done = False
                while not done:
                    data = nl.recv(1 << 20)
                    if not data:
                        raise OSError("sock_diag: the dump ended early")
                    offset = 0
                    while offset + header.size <= len(data):
                        length, kind, _, _, _ = header.unpack_from(data, offset)
                        if length < header.size or kind in (_NLMSG_DONE, _NLMSG_ERROR):
                            if kind == _NLMSG_ERROR:
                                (error,) = struct.unpack_from("=i", data, offset + header.size)
                                if error:
                                    raise OSError(-error, os.strerror(-error))
                            done = True
                            break
                        if data[offset + header.size + 1] == state:  # idiag_state
                            out.extend(struct.unpack_from("=I", data, offset + inode_at))
                        offset += (length + 3) & ~3
    return out


# linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h (as in netdash.sources.sock_diag)
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_TCP_CLOSE = 7
_TCP_LISTEN = 10


def request(family: int, protocol: int, states: int) -> bytes:
    """A ``SOCK_DIAG_BY_FAMILY`` dump request: the bytes of
    :func:`netdash.sources.sock_diag._request` (``seq`` 1, no extensions)."""
    import struct

    body = struct.pack(
        "=BBBBI" + "HH16s16sI8s", family, protocol, 0, 0, states, 0, 0, b"", b"", 0, b"\xff" * 8
    )
    flags = 0x1 | 0x300  # NLM_F_REQUEST | NLM_F_DUMP
    return struct.pack("=IHHII", 16 + len(body), _SOCK_DIAG_BY_FAMILY, flags, 1, 0) + body


def seed(holders: HolderCache) -> bool:
    """Wait for the scan :func:`start` forked and give its answer to ``holders``
    (:meth:`~netdash.sources.procfd.HolderCache.seed`); ``False`` when none was started or
    it failed (``holders`` then scans itself)."""
    global _started
    if _started is None:
        return False
    pid, r = _started
    _started = None
    chunks = []
    try:
        while chunk := os.read(r, 1 << 16):
            chunks.append(chunk)
        status = os.waitpid(pid, 0)[1]
    except OSError:
        return False
    finally:
        os.close(r)
    if status != 0:
        return False
    from netdash.sources.procfd import _parse_helper

    try:
        head, seen, rest = b"".join(chunks).decode("ascii").split("\n", 2)
        at_text, inode_text = head.split(" ")
        at = float(at_text)
        inodes = frozenset(int(i) for i in inode_text.split(",") if i)
        pids = {int(p) for p in seen.split()}
    except ValueError:
        return False
    reads = _parse_helper(rest.encode("ascii"))
    if reads is None:
        return False
    holders.seed(inodes, reads, pids, at)
    return True
