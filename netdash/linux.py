"""Linux socket tables without psutil: the kernel's sock_diag netlink dump and ``/proc/*/fd``.

This is how ``ss`` reads sockets, and it tells netdash three things psutil cannot:

* whether a socket bound to ``::`` set IPV6_V6ONLY (``INET_DIAG_SKV6ONLY``), so a wildcard
  IPv6 listener is known to be dual-stack or IPv6-only instead of assumed;
* the socket's inode, so one socket held by several processes (a pre-fork server) lists every
  holder, and several SO_REUSEPORT sockets on one port stay several listeners;
* the owning uid, even when the owning process cannot be seen (another user's process
  without root, or a process in another PID namespace).

Sources: ``linux/sock_diag.h`` and ``linux/inet_diag.h`` (``SOCK_DIAG_BY_FAMILY`` requests
with ``inet_diag_req_v2``, answers as ``inet_diag_msg`` plus attributes), ``proc(5)`` for
``/proc/[pid]/fd``. Everything here raises ``OSError`` when the kernel refuses, so callers can
fall back to psutil.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass

__all__ = ["RawSocket", "count_established", "dump_sockets", "socket_holders"]

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
INET_DIAG_SKV6ONLY = 11
TCP_ESTABLISHED = 1
TCP_CLOSE = 7
TCP_LISTEN = 10

_NLMSGHDR = struct.Struct("=IHHII")
_REQ = struct.Struct("=BBBBI" + "HH16s16sI8s")  # inet_diag_req_v2 with inet_diag_sockid
_MSG = struct.Struct("=BBBB" + "HH16s16sI8s" + "IIIII")  # inet_diag_msg
_RTA = struct.Struct("=HH")


@dataclass(frozen=True)
class RawSocket:
    """One socket as the kernel reports it.

    ``address`` is the bind address as text (link-local IPv6 with ``%interface`` when the
    socket is bound to a device); ``state`` is the kernel's TCP state number (UDP sockets use
    ``TCP_CLOSE`` when unconnected and ``TCP_ESTABLISHED`` when connected); ``v6only`` is
    ``None`` for IPv4 sockets; ``bound_device`` is the interface index from SO_BINDTODEVICE
    (0 when unbound).
    """

    protocol: str
    family: int
    address: str
    port: int
    state: int
    inode: int
    uid: int
    v6only: bool | None
    bound_device: int


def _request(family: int, protocol: int, states: int, seq: int) -> bytes:
    body = _REQ.pack(family, protocol, 0, 0, states, 0, 0, b"", b"", 0, b"\xff" * 8)
    header = _NLMSGHDR.pack(
        _NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
    )
    return header + body


def _attributes(data: bytes, offset: int, end: int) -> Iterator[tuple[int, bytes]]:
    while offset + _RTA.size <= end:
        length, kind = _RTA.unpack_from(data, offset)
        if length < _RTA.size:
            return
        yield kind, data[offset + _RTA.size : offset + length]
        offset += (length + 3) & ~3


def _address_text(family: int, raw: bytes, device: int, names: dict[int, str]) -> str:
    if family == socket.AF_INET:
        return str(ipaddress.IPv4Address(raw[:4]))
    address = ipaddress.IPv6Address(raw)
    if address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"  # as ss and psutil print it
    if address.is_link_local and device and device in names:
        return f"{address}%{names[device]}"
    return str(address)


def _dump(family: int, protocol: int, states: int) -> Iterator[RawSocket]:
    name = "tcp" if protocol == socket.IPPROTO_TCP else "udp"
    version = 4 if family == socket.AF_INET else 6
    names = dict(socket.if_nameindex())
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(5.0)
        nl.sendall(_request(family, protocol, states, seq=1))
        while True:
            data = nl.recv(1 << 20)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    return
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    (error,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
                    if error:
                        raise OSError(-error, os.strerror(-error))
                    return
                start = offset + _NLMSGHDR.size
                fields = _MSG.unpack_from(data, start)
                (fam, state, _timer, _retrans, sport, _dport, src, _dst, device, _cookie,
                 _expires, _rq, _wq, uid, inode) = fields  # fmt: skip
                v6only: bool | None = None
                if fam == socket.AF_INET6:
                    v6only = False
                    for attr, payload in _attributes(data, start + _MSG.size, offset + length):
                        if attr == INET_DIAG_SKV6ONLY and payload:
                            v6only = bool(payload[0])
                yield RawSocket(
                    protocol=name,
                    family=version,
                    address=_address_text(fam, src, device, names),
                    port=socket.ntohs(sport),
                    state=state,
                    inode=inode,
                    uid=uid,
                    v6only=v6only,
                    bound_device=device,
                )
                offset += (length + 3) & ~3


def dump_sockets(udp: bool = True) -> list[RawSocket]:
    """Every TCP socket in LISTEN and, with ``udp``, every unconnected bound UDP socket
    (``ss -tuln``), IPv4 and IPv6, of the caller's network namespace.

    Raises ``OSError`` when the netlink socket cannot be used (not Linux, seccomp, old kernel).
    """
    found: list[RawSocket] = []
    for family in (socket.AF_INET, socket.AF_INET6):
        found += _dump(family, socket.IPPROTO_TCP, 1 << TCP_LISTEN)
        if udp:
            # UDP has no LISTEN: a bound, unconnected socket is in TCP_CLOSE (ss: UNCONN).
            found += (
                s for s in _dump(family, socket.IPPROTO_UDP, 1 << TCP_CLOSE) if s.state == TCP_CLOSE
            )
    return found


def socket_holders(
    inodes: Collection[int], proc: str = "/proc"
) -> tuple[dict[int, list[int]], int]:
    """Which processes hold each of ``inodes``, from the ``socket:[inode]`` links in
    ``/proc/[pid]/fd``. Returns ``({inode: [pid, ...]}, unreadable)`` where ``unreadable``
    counts processes whose fd table could not be read (other users' without root).

    Pids are sorted; processes that exit during the scan are skipped silently.
    """
    wanted = set(inodes)
    holders: dict[int, list[int]] = {}
    unreadable = 0
    try:
        entries = list(os.scandir(proc))
    except OSError:
        return holders, 0
    for entry in entries:
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fd_dir = f"{proc}/{entry.name}/fd"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            unreadable += 1
            continue
        except OSError:
            continue  # exited
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in wanted:
                    pids = holders.setdefault(inode, [])
                    if not pids or pids[-1] != pid:
                        pids.append(pid)
    for pids in holders.values():
        pids.sort()
    return holders, unreadable


def count_established(port: int) -> int:
    """Established TCP connections whose local port is ``port`` (both families).
    Raises ``OSError`` when netlink is refused."""
    total = 0
    for family in (socket.AF_INET, socket.AF_INET6):
        total += sum(
            1 for s in _dump(family, socket.IPPROTO_TCP, 1 << TCP_ESTABLISHED) if s.port == port
        )
    return total
