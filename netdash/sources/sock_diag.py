"""The Linux socket source: the kernel's sock_diag netlink dump, as ``ss`` reads sockets.

It tells netdash three things psutil cannot:

* whether a socket bound to ``::`` set IPV6_V6ONLY (``INET_DIAG_SKV6ONLY``), so a wildcard
  IPv6 listener is known to be dual-stack or IPv6-only instead of assumed;
* the socket's inode, so one socket held by several processes (a pre-fork server) lists every
  holder (owners by inode: :mod:`netdash.sources.procfd`), and several SO_REUSEPORT sockets
  on one port stay several listeners;
* the owning uid, even when the owning process cannot be seen (another user's process
  without root, or a process in another PID namespace).

Sources: ``linux/sock_diag.h`` and ``linux/inet_diag.h`` (``SOCK_DIAG_BY_FAMILY`` requests
with ``inet_diag_req_v2``, answers as ``inet_diag_msg`` plus attributes). The functions here
raise ``OSError`` when the kernel refuses; :class:`SockDiagSource` turns that into
:exc:`~netdash.sources.base.SourceUnavailable`, so the next source is tried.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from netdash.core.text import interface_name
from netdash.sources.base import SocketRecord, SocketTable, SourceUnavailable

__all__ = [
    "Peer",
    "SockDiagSource",
    "count_established",
    "established_peers",
    "parse_peers",
]

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
INET_DIAG_INFO = 2
INET_DIAG_SKV6ONLY = 11
TCP_ESTABLISHED = 1
TCP_CLOSE = 7
TCP_LISTEN = 10

_NLMSGHDR = struct.Struct("=IHHII")
_REQ = struct.Struct("=BBBBI" + "HH16s16sI8s")  # inet_diag_req_v2 with inet_diag_sockid
_MSG = struct.Struct("=BBBB" + "HH16s16sI8s" + "IIIII")  # inet_diag_msg
_RTA = struct.Struct("=HH")
_HEAD = struct.Struct("=IH")  # nlmsg_len, nlmsg_type


def _request(family: int, protocol: int, states: int, seq: int, ext: int = 0) -> bytes:
    body = _REQ.pack(family, protocol, ext, 0, states, 0, 0, b"", b"", 0, b"\xff" * 8)
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


_TEXT: dict[tuple[int, bytes], str] = {}  # (family, raw address) -> text, zone-free ones only
_TEXT_MAX = 4096


def _address_text(family: int, raw: bytes, device: int, names: dict[int, str]) -> str:
    if device and family != socket.AF_INET:
        return _parse_address_text(family, raw, device, names)  # may carry "%interface"
    key = (family, raw)
    text = _TEXT.get(key)
    if text is None:  # most listeners share a handful of addresses: parse each once
        if len(_TEXT) >= _TEXT_MAX:
            _TEXT.clear()  # bounded: many distinct addresses cannot grow it without end
        text = _TEXT[key] = _parse_address_text(family, raw, device, names)
    return text


def _parse_address_text(family: int, raw: bytes, device: int, names: dict[int, str]) -> str:
    if family == socket.AF_INET:
        return str(ipaddress.IPv4Address(raw[:4]))
    address = ipaddress.IPv6Address(raw)
    if address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"  # as ss and psutil print it
    if address.is_link_local and device and device in names:
        return f"{address}%{names[device]}"
    return str(address)


def parse_messages(
    data: bytes, protocol: str, version: int, names: dict[int, str]
) -> tuple[list[tuple[int, SocketRecord]], bool]:
    """One datagram of a sock_diag dump, parsed: ``([(state, record), ...], finished)``.

    ``state`` is the kernel's TCP state number; ``finished`` is true at ``NLMSG_DONE`` (or a
    message too short to be one). ``names`` maps interface index to name
    (``socket.if_nameindex()``). Raises ``OSError`` for the kernel's ``NLMSG_ERROR`` and for
    a message that does not parse (``EBADMSG``): whatever the bytes, nothing else.
    """
    out: list[tuple[int, SocketRecord]] = []
    offset = 0
    try:
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size or kind == NLMSG_DONE:
                return out, True
            if kind == NLMSG_ERROR:
                (error,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
                if error:
                    raise OSError(-error, os.strerror(-error))
                return out, True
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
            out.append(
                (
                    state,
                    SocketRecord(
                        protocol=protocol,
                        family=version,
                        address=_address_text(fam, src, device, names),
                        port=socket.ntohs(sport),
                        inode=inode,
                        uid=uid,
                        v6only=v6only,
                        bound_device=names.get(device) if device else None,
                    ),
                )
            )
            offset += (length + 3) & ~3
    except (struct.error, ValueError) as exc:
        raise OSError(errno.EBADMSG, f"malformed sock_diag message: {exc}") from None
    return out, False


def _dump(family: int, protocol: int, states: int) -> Iterator[tuple[int, SocketRecord]]:
    """``(state, record)`` for each socket of ``family`` and ``protocol`` whose state is in
    the bit mask ``states``. ``state`` is the kernel's TCP state number (UDP sockets use
    ``TCP_CLOSE`` when unconnected and ``TCP_ESTABLISHED`` when connected). Raises
    ``OSError`` when the kernel refuses or answers what does not parse."""
    name = "tcp" if protocol == socket.IPPROTO_TCP else "udp"
    version = 4 if family == socket.AF_INET else 6
    names = _interface_names()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(5.0)
        nl.sendall(_request(family, protocol, states, seq=1))
        while True:
            records, finished = parse_messages(nl.recv(1 << 20), name, version, names)
            yield from records
            if finished:
                return


def _interface_names() -> dict[int, str]:
    """Interface index -> name (:func:`~netdash.core.text.interface_name`: escaped as it is
    shown), from ``socket.if_nameindex()``."""
    return {index: interface_name(name) for index, name in socket.if_nameindex()}


_LISTENING = (
    (socket.AF_INET, socket.IPPROTO_TCP, 1 << TCP_LISTEN),
    (socket.AF_INET, socket.IPPROTO_UDP, 1 << TCP_CLOSE),
    (socket.AF_INET6, socket.IPPROTO_TCP, 1 << TCP_LISTEN),
    (socket.AF_INET6, socket.IPPROTO_UDP, 1 << TCP_CLOSE),
)
"""The dumps of :class:`SockDiagSource`, in order: TCP in LISTEN and UDP in TCP_CLOSE (ss:
UNCONN), IPv4 then IPv6."""

Chunks = tuple[tuple[bytes, ...], ...]
"""The datagrams of each dump of :data:`_LISTENING`, unparsed."""


def _dump_chunks(
    nl: socket.socket, family: int, protocol: int, states: int, seq: int
) -> tuple[bytes, ...]:
    """One dump's datagrams, unparsed, up to the one holding ``NLMSG_DONE`` or
    ``NLMSG_ERROR`` (only message headers are read here)."""
    nl.sendall(_request(family, protocol, states, seq=seq))
    chunks: list[bytes] = []
    while True:
        chunk = nl.recv(1 << 20)
        chunks.append(chunk)
        offset = 0
        while offset + _NLMSGHDR.size <= len(chunk):
            length, kind = _HEAD.unpack_from(chunk, offset)
            if length < _NLMSGHDR.size or kind in (NLMSG_DONE, NLMSG_ERROR):
                return tuple(chunks)
            offset += (length + 3) & ~3
        if not chunk:
            return tuple(chunks)


def _listening_records(chunks: Chunks, names: dict[int, str]) -> list[SocketRecord]:
    """The records of :data:`_LISTENING`'s dumps (UDP: the unconnected sockets only).
    Raises ``OSError`` as :func:`parse_messages`."""
    found: list[SocketRecord] = []
    for (family, protocol, _states), datagrams in zip(_LISTENING, chunks, strict=True):
        name = "tcp" if protocol == socket.IPPROTO_TCP else "udp"
        version = 4 if family == socket.AF_INET else 6
        for datagram in datagrams:
            records, finished = parse_messages(datagram, name, version, names)
            if protocol == socket.IPPROTO_UDP:
                found += (record for state, record in records if state == TCP_CLOSE)
            else:
                found += (record for _, record in records)
            if finished:
                break
    return found


def count_established(port: int) -> int:
    """Established TCP connections whose local port is ``port`` (both families).
    Raises ``OSError`` when netlink is refused."""
    total = 0
    for family in (socket.AF_INET, socket.AF_INET6):
        connected = _dump(family, socket.IPPROTO_TCP, 1 << TCP_ESTABLISHED)
        total += sum(1 for _, record in connected if record.port == port)
    return total


@dataclass(frozen=True)
class Peer:
    """One established TCP connection to a local port: the local address it arrived at, the
    peer's address and port, and how long ago data last went either way (milliseconds, from
    the kernel's ``tcp_info``: ``tcpi_last_data_recv`` / ``tcpi_last_data_sent``; ``None``
    when not told)."""

    local_address: str
    local_port: int
    address: str
    port: int
    idle_ms: int | None = None


_TCP_INFO_LAST_DATA = struct.Struct("=II")  # tcpi_last_data_sent, tcpi_last_ack_sent
_TCP_INFO_LAST_DATA_OFFSET = 44  # after 8 u8 fields and 9 u32s (linux/tcp.h struct tcp_info)
_TCP_INFO_LAST_RECV_OFFSET = 52  # tcpi_last_data_recv


def parse_peers(data: bytes, names: dict[int, str]) -> tuple[list[Peer], bool]:
    """One datagram of a dump of established TCP sockets requested with ``INET_DIAG_INFO``:
    ``([Peer, ...], finished)``. Raises ``OSError`` for the kernel's ``NLMSG_ERROR`` and
    ``EBADMSG`` for bytes that do not parse."""
    out: list[Peer] = []
    offset = 0
    try:
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size or kind == NLMSG_DONE:
                return out, True
            if kind == NLMSG_ERROR:
                (error,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
                if error:
                    raise OSError(-error, os.strerror(-error))
                return out, True
            start = offset + _NLMSGHDR.size
            (fam, _state, _timer, _retrans, sport, dport, src, dst, device, *_rest) = (
                _MSG.unpack_from(data, start)
            )
            idle: int | None = None
            for attr, payload in _attributes(data, start + _MSG.size, offset + length):
                if attr == INET_DIAG_INFO and len(payload) >= _TCP_INFO_LAST_RECV_OFFSET + 4:
                    sent, _ack = _TCP_INFO_LAST_DATA.unpack_from(
                        payload, _TCP_INFO_LAST_DATA_OFFSET
                    )
                    (received,) = struct.unpack_from("=I", payload, _TCP_INFO_LAST_RECV_OFFSET)
                    idle = min(sent, received)
            out.append(
                Peer(
                    local_address=_parse_address_text(fam, src, device, names),
                    local_port=socket.ntohs(sport),
                    address=_parse_address_text(fam, dst, device, names),
                    port=socket.ntohs(dport),
                    idle_ms=idle,
                )
            )
            offset += (length + 3) & ~3
    except (struct.error, ValueError) as exc:
        raise OSError(errno.EBADMSG, f"malformed sock_diag message: {exc}") from None
    return out, False


def established_peers(port: int) -> list[Peer]:
    """The established TCP connections whose local port is ``port`` (both families), most
    recently active first, as the kernel reports them (``ss -tni state established``).
    Raises ``OSError`` when netlink is refused."""
    names = _interface_names()
    peers: list[Peer] = []
    for family in (socket.AF_INET, socket.AF_INET6):
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(5.0)
            ext = 1 << (INET_DIAG_INFO - 1)
            nl.sendall(_request(family, socket.IPPROTO_TCP, 1 << TCP_ESTABLISHED, 1, ext))
            while True:
                found, finished = parse_peers(nl.recv(1 << 20), names)
                peers += (p for p in found if p.local_port == port)
                if finished:
                    break
    peers.sort(key=lambda p: (p.idle_ms is None, p.idle_ms or 0))
    return peers


class SockDiagSource:
    """:class:`~netdash.sources.base.SocketSource` reading the netlink dumps of
    :data:`_LISTENING` (TCP in LISTEN, unconnected UDP: ``ss -tuln``), IPv4 and IPv6. Records
    carry inode, uid, IPV6_V6ONLY and bound device; owners are not known here (``pids`` is
    ``None``): they are found by inode in ``/proc/*/fd``.

    Raises :exc:`~netdash.sources.base.SourceUnavailable` off Linux or when netlink is
    refused (seccomp, an old kernel)."""

    name = "sock_diag"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._netlink: socket.socket | None = None
        self._closer: Callable[[], object] = lambda: None
        self._last: tuple[tuple[Chunks, dict[int, str]], SocketTable] | None = None

    def read_sockets(self) -> SocketTable:
        """The dump as a table. An unchanged dump (the same bytes, over the same netlink
        socket, kept open between reads so its replies carry the same port id) returns the
        very table of the last read, unparsed: an idle poll costs the dump's syscalls and one
        comparison of bytes (issue 18)."""
        if not sys.platform.startswith("linux"):
            raise SourceUnavailable("sock_diag netlink is Linux only")
        try:
            with self._lock:
                names = _interface_names()
                key = (self._chunks(), names)
                if self._last is not None and self._last[0] == key:
                    return self._last[1]
                table = SocketTable(_listening_records(key[0], names))
                self._last = (key, table)
                return table
        except OSError as exc:
            raise SourceUnavailable(f"sock_diag netlink refused: {exc}") from exc

    def _chunks(self) -> Chunks:
        """Every dump of :data:`_LISTENING` over the kept netlink socket; a socket that
        failed (a timeout mid-dump may leave replies queued) is closed, and one fresh socket
        tried before the error is raised."""
        retried = False
        while True:
            if self._netlink is None:
                netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
                netlink.settimeout(5.0)
                self._netlink = netlink
                self._closer = weakref.finalize(self, netlink.close)  # no socket outlives us
            try:
                return tuple(
                    _dump_chunks(self._netlink, *dump, seq=seq)
                    for seq, dump in enumerate(_LISTENING, start=1)
                )
            except OSError:
                self._closer()
                self._netlink = None
                if retried:
                    raise
                retried = True
