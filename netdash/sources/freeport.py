"""Is a TCP or UDP port free for a new server? Answered by trying, not by reading the socket
table.

For each address a development server commonly binds (``127.0.0.1``, ``::1``, ``0.0.0.0``
and ``::``, the last dual-stack as Linux's default, so it also meets IPv4 sockets), one socket
is created, bound and closed at once. TCP: with ``SO_REUSEADDR`` (as servers set it, so a
port with connections in TIME_WAIT counts as free) and put in LISTEN; a listening socket
closed before any connection leaves nothing behind. UDP: bound without ``SO_REUSEADDR``, so
any socket bound to the port makes it taken (UDP has no TIME_WAIT). Nothing connects or
sends anywhere.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "ADDRESSES",
    "COMMON_PORTS",
    "AddressState",
    "PortState",
    "port_state",
    "suggest_ports",
]

ADDRESSES: tuple[str, ...] = ("127.0.0.1", "::1", "0.0.0.0", "::")
"""Where a server would bind, in the order reported."""

COMMON_PORTS: tuple[int, ...] = (8000, 8080, 3000, 5000)
"""Development ports suggested first when no port is given."""


@dataclass(frozen=True)
class AddressState:
    """The result of trying one address. ``state`` is ``"free"``, ``"in-use"``
    (EADDRINUSE), ``"denied"`` (EACCES: a privileged port without the right to bind it) or
    ``"unavailable"`` (the family or address is not configured here: no IPv6, say);
    ``detail`` is the system's message for the last three."""

    address: str
    state: str
    detail: str | None = None


@dataclass(frozen=True)
class PortState:
    """A port tried on every address of :data:`ADDRESSES` that exists here.

    ``free`` is true when no address said ``in-use`` or ``denied`` (and at least one could
    be tried)."""

    port: int
    addresses: tuple[AddressState, ...]

    @property
    def free(self) -> bool:
        tried = [a for a in self.addresses if a.state != "unavailable"]
        return bool(tried) and all(a.state == "free" for a in tried)

    @property
    def taken_on(self) -> list[AddressState]:
        return [a for a in self.addresses if a.state in ("in-use", "denied")]


def _try(address: str, port: int, protocol: str = "tcp") -> AddressState:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    try:
        sock = socket.socket(family, kind)
    except OSError as exc:
        return AddressState(address, "unavailable", exc.strerror or str(exc))
    with contextlib.closing(sock):
        if protocol == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and address == "::":
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            sock.bind((address, port))
            if protocol == "tcp":
                sock.listen(1)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno == errno.EADDRINUSE:
                return AddressState(address, "in-use", reason)
            if exc.errno == errno.EACCES:
                return AddressState(address, "denied", reason)
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                return AddressState(address, "unavailable", reason)
            raise
    return AddressState(address, "free")


def port_state(port: int, addresses: Sequence[str] = ADDRESSES, protocol: str = "tcp") -> PortState:
    """Try ``port`` (``protocol`` ``"tcp"`` or ``"udp"``) on each address, one at a time,
    releasing each socket at once.

    Raises ``ValueError`` for a port outside 1-65535 and ``OSError`` for a failure other
    than the documented states (out of file descriptors, say).
    """
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not between 1 and 65535")
    return PortState(port, tuple(_try(a, port, protocol) for a in addresses))


def _candidates(start: int | None) -> Iterator[int]:
    seen: set[int] = set()
    if start is None:
        for port in COMMON_PORTS:
            seen.add(port)
            yield port
        start = COMMON_PORTS[0] + 1
    for port in range(start, 65536):
        if port not in seen:
            yield port


def suggest_ports(
    count: int, start: int | None = None, limit: int = 2000, protocol: str = "tcp"
) -> list[int]:
    """Up to ``count`` free ports of ``protocol`` (:meth:`PortState.free`): at or above
    ``start``, or, with no ``start``, :data:`COMMON_PORTS` first and then upwards from 8001.
    At most ``limit`` ports are tried, so the answer may be shorter than ``count``."""
    found: list[int] = []
    for tried, port in enumerate(_candidates(start)):
        if len(found) >= count or tried >= limit:
            break
        if port_state(port, protocol=protocol).free:
            found.append(port)
    return found
