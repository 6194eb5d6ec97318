"""Addresses: parsing, scope, and which interfaces reach a bind address.

All address work goes through the standard ``ipaddress`` module. Nothing here performs I/O,
so every function is safe to call from any thread and easy to test exhaustively.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from netdash.core.model import Interface, Listener, Scope

__all__ = [
    "SCOPE_ORDER",
    "IPAddress",
    "interfaces_reaching",
    "listener_reach",
    "own_addresses",
    "parse_address",
    "same_address",
    "scope_of",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCOPE_ORDER: tuple[Scope, ...] = (Scope.ALL_INTERFACES, Scope.SPECIFIC_INTERFACE, Scope.LOOPBACK)
"""The order scopes are shown in: the most exposed first."""


@functools.lru_cache(maxsize=8192)
def parse_address(text: str) -> IPAddress:
    """Parse a bind or interface address, keeping an IPv6 zone (``fe80::1%eth0``).

    IPv4-mapped IPv6 addresses (``::ffff:10.0.0.1``, RFC 4291 §2.5.5.2) are returned as the
    IPv4 address they carry, since that is the address the socket really serves.
    Raises ``ValueError`` for text that is not an IP address.
    """
    address = ipaddress.ip_address(text.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8192)
def scope_of(address: str) -> Scope:
    """The scope of a bind address (cached: every view asks it for every listener, of a few
    distinct addresses).

    Loopback is the whole of 127.0.0.0/8 and ``::1`` (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3),
    decided by network, never by looking the address up on an interface. The wildcard address
    (``0.0.0.0``, ``::``) is all-interfaces; anything else is specific-interface.
    Raises ``ValueError`` for text that is not an IP address.
    """
    ip = parse_address(address)
    if ip.is_loopback:
        return Scope.LOOPBACK
    if ip.is_unspecified:
        return Scope.ALL_INTERFACES
    return Scope.SPECIFIC_INTERFACE


def same_address(a: IPAddress, b: IPAddress) -> bool:
    """Equal addresses; a zone on only one side does not prevent a match."""
    if a.version != b.version:
        return False
    if isinstance(a, ipaddress.IPv6Address) and isinstance(b, ipaddress.IPv6Address):
        if a.scope_id and b.scope_id and a.scope_id != b.scope_id:
            return False
        return a.packed == b.packed
    return a == b


@functools.lru_cache(maxsize=1024)
def _interface_addresses(interface: Interface) -> tuple[IPAddress, ...]:
    """The parsed addresses of an interface (cached: interfaces rarely change)."""
    out: list[IPAddress] = []
    for text in interface.addresses:
        try:
            out.append(parse_address(text))
        except ValueError:
            continue
    return tuple(out)


def interfaces_reaching(
    address: str, interfaces: Iterable[Interface], dual_stack: bool | None = True
) -> tuple[str, ...]:
    """Names of the up interfaces through which a listener bound to ``address`` is reachable.

    Loopback binds are reached through loopback interfaces; ``0.0.0.0`` through every up
    interface holding an IPv4 address; ``::`` through every up interface holding an IPv6
    address and, when ``dual_stack`` is true (Linux's default unless IPV6_V6ONLY or
    ``net.ipv6.bindv6only``), an IPv4 one; ``dual_stack=None`` (unknown) claims IPv6 only. A
    specific address is reached through the interface(s) holding it — none, if none does.
    """
    ip = parse_address(address)
    scope = scope_of(address)
    up = [i for i in interfaces if i.is_up]
    if scope is Scope.LOOPBACK:
        return tuple(i.name for i in up if i.is_loopback)
    if scope is Scope.ALL_INTERFACES:
        if ip.version == 4:
            return tuple(i.name for i in up if any(a.version == 4 for a in _interface_addresses(i)))
        families = {4, 6} if dual_stack else {6}
        return tuple(
            i.name for i in up if any(a.version in families for a in _interface_addresses(i))
        )
    names = []
    for interface in up:
        if any(same_address(ip, a) for a in _interface_addresses(interface)):
            names.append(interface.name)
    return tuple(names)


def listener_reach(listener: Listener, interfaces: Iterable[Interface]) -> tuple[str, ...]:
    """:func:`interfaces_reaching` for a listener, honouring what is known of IPV6_V6ONLY and
    SO_BINDTODEVICE (a socket bound to a device is reached only through it)."""
    names = interfaces_reaching(listener.address, interfaces, listener.dual_stack)
    if listener.bound_device is not None:
        names = tuple(n for n in names if n == listener.bound_device)
    return names


def own_addresses(interfaces: Iterable[Interface]) -> frozenset[IPAddress]:
    """Every address held by one of this machine's interfaces, plus 127.0.0.0/8's 127.0.0.1.

    Zones are dropped, so ``fe80::1%eth0`` and ``fe80::1`` compare equal.
    """
    found: set[IPAddress] = {ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")}
    for interface in interfaces:
        for a in _interface_addresses(interface):
            found.add(ipaddress.ip_address(a.packed))
    return frozenset(found)
