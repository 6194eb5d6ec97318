"""Pure functions over collected data: scope, interface reach, LAN address, probe targets.

All address work goes through the standard ``ipaddress`` module. Nothing here performs I/O,
so every function is safe to call from any thread and easy to test exhaustively.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from netdash.core.model import Interface, Listener, ListenerIdentity, Scope, Snapshot, Via

__all__ = [
    "SCOPE_ORDER",
    "IPAddress",
    "LanAddresses",
    "choose_lan",
    "family_of",
    "interfaces_reaching",
    "is_exposed",
    "leader",
    "listener_reach",
    "own_addresses",
    "parse_address",
    "probe_targets",
    "resolve_lan",
    "scope_of",
    "service_ids",
    "validate_lan",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LanAddresses = Mapping[int, str]
"""The LAN address per address family: ``{4: "192.168.1.100", 6: "2001:db8::1"}``."""

SCOPE_ORDER: tuple[Scope, ...] = (Scope.ALL_INTERFACES, Scope.SPECIFIC_INTERFACE, Scope.LOOPBACK)
"""The order scopes are shown in: the most exposed first."""

LOOPBACK_TARGET = {4: "127.0.0.1", 6: "::1"}


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


def family_of(text: str) -> int:
    """4 or 6: the family of the socket bound to ``text`` (``::ffff:a.b.c.d`` is 6)."""
    return ipaddress.ip_address(text.strip()).version


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


def is_exposed(scope: Scope) -> bool:
    """True when devices other than this machine may connect (any non-loopback scope)."""
    return scope is not Scope.LOOPBACK


def _same_address(a: IPAddress, b: IPAddress) -> bool:
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
        if any(_same_address(ip, a) for a in _interface_addresses(interface)):
            names.append(interface.name)
    return tuple(names)


def listener_reach(listener: Listener, interfaces: Iterable[Interface]) -> tuple[str, ...]:
    """:func:`interfaces_reaching` for a listener, honouring what is known of IPV6_V6ONLY and
    SO_BINDTODEVICE (a socket bound to a device is reached only through it)."""
    names = interfaces_reaching(listener.address, interfaces, listener.dual_stack)
    if listener.bound_device is not None:
        names = tuple(n for n in names if n == listener.bound_device)
    return names


def leader(listener: Listener) -> int | None:
    """The pid of a socket's leading holder: the holder whose parent holds none of its sockets
    (the master of a pre-fork server), lowest first; ``None`` when no owner is known. Workers
    coming and going (or a holder's fork child, for the instant before it execs) leave it
    unchanged."""
    if len(listener.processes) == 1:
        return listener.processes[0].pid  # most sockets: no process is its own parent
    pids = set(listener.pids)
    leaders = [p.pid for p in listener.processes if p.pid is not None and p.ppid not in pids]
    if leaders:
        return min(leaders)
    return min(pids) if pids else None


def service_ids(listeners: Iterable[Listener]) -> dict[ListenerIdentity, str]:
    """Group listeners into services: one program on one port and protocol, over any number
    of addresses and families (``0.0.0.0:8000`` and ``[::]:8000`` of one uvicorn).

    The program is the socket's :func:`leader`. Listeners whose owner is unknown are a
    service each. Returns ``{listener.identity: service_id}``; ids look like
    ``tcp/8000/pid4242``.
    """
    ids: dict[ListenerIdentity, str] = {}
    for listener in listeners:
        pid = leader(listener)
        if pid is not None:
            owner = f"pid{pid}"
        else:
            owner = f"inode{listener.inode}-{listener.family}-{listener.address}"
        ids[listener.identity] = f"{listener.protocol}/{listener.port}/{owner}"
    return ids


def own_addresses(interfaces: Iterable[Interface]) -> frozenset[IPAddress]:
    """Every address held by one of this machine's interfaces, plus 127.0.0.0/8's 127.0.0.1.

    Zones are dropped, so ``fe80::1%eth0`` and ``fe80::1`` compare equal.
    """
    found: set[IPAddress] = {ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")}
    for interface in interfaces:
        for a in _interface_addresses(interface):
            found.add(ipaddress.ip_address(a.packed))
    return frozenset(found)


def _lan_candidate(text: str) -> IPAddress | None:
    try:
        ip = parse_address(text)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return None
    return ip


def choose_lan(snapshot: Snapshot) -> dict[int, str]:
    """The address other devices would use to reach this machine, per family.

    Taken from the interface holding the default route (``snapshot.default_route_interfaces``),
    else from the first up, non-loopback interface with a usable address (not loopback,
    link-local, multicast or unspecified). A family with no such address is absent.
    """
    by_name = {i.name: i for i in snapshot.interfaces}
    ordered: list[Interface] = [
        by_name[n] for n in snapshot.default_route_interfaces if n in by_name
    ]
    ordered += [i for i in snapshot.interfaces if i not in ordered]
    lan: dict[int, str] = {}
    for interface in ordered:
        if not interface.is_up or interface.is_loopback:
            continue
        for text in interface.addresses:
            ip = _lan_candidate(text)
            if ip is not None and ip.version not in lan:
                lan[ip.version] = str(ip)
    return dict(sorted(lan.items()))


def validate_lan(text: str, interfaces: Iterable[Interface]) -> dict[int, str]:
    """Check a user-given LAN address (``--lan``) and return it as ``{family: address}``.

    Raises ``ValueError`` with a message fit for the user when the text is not an IP address,
    is loopback or wildcard, or is not held by any interface of this machine (netdash only
    ever contacts this machine's own addresses).
    """
    try:
        ip = parse_address(text)
    except ValueError:
        raise ValueError(f"--lan {text!r} is not an IP address") from None
    if ip.is_link_local:
        raise ValueError(
            f"--lan {text} is link-local; other devices use a routable address (see `ip addr`)"
        )
    if ip.is_loopback or ip.is_unspecified:
        raise ValueError(f"--lan {text} is a loopback or wildcard address, not a LAN address")
    if ipaddress.ip_address(ip.packed) not in own_addresses(interfaces):
        raise ValueError(
            f"--lan {text} is not an address of this machine; netdash only probes its own "
            "addresses (see `ip addr`)"
        )
    return {ip.version: str(ip)}


def resolve_lan(snapshot: Snapshot, overrides: Sequence[str] = ()) -> dict[int, str]:
    """The LAN address per family: auto-detected (:func:`choose_lan`), with each ``--lan``
    override replacing the address of its own family only.

    Raises ``ValueError`` (message fit for the user) for an override that
    :func:`validate_lan` rejects, or for two overrides of one family.
    """
    lan = choose_lan(snapshot)
    given: set[int] = set()
    for text in overrides:
        chosen = validate_lan(text, snapshot.interfaces)
        family = next(iter(chosen))
        if family in given:
            raise ValueError(f"--lan given twice for IPv{family}; give at most one per family")
        given.add(family)
        lan.update(chosen)
    return dict(sorted(lan.items()))


def probe_targets(listener: Listener, lan: LanAddresses) -> list[tuple[Via, str]]:
    """The (via, address) pairs a listener is probed at, loopback first.

    Via loopback: the listener's own address when it is a loopback address (``127.0.1.1``),
    else ``127.0.0.1`` for IPv4 and ``::1`` for IPv6; a ``::`` listener is tried over both
    families unless it is known to be IPv6-only. Via LAN: for a listener bound to one
    non-loopback address, that address itself (the only one devices can reach it at,
    whichever interface holds it); otherwise the LAN address of each of its families that
    has one. ``lan`` is only a hint for these: a
    loopback listener is also tried at the LAN address, to show it is refused there.
    """
    ip = parse_address(listener.address)
    scope = scope_of(listener.address)
    # A `::` socket that set IPV6_V6ONLY gets no IPv4 probe: 127.0.0.1 would reach some other
    # socket (sshd's 0.0.0.0:22 beside its [::]:22) and credit this one with its answer.
    dual = scope is Scope.ALL_INTERFACES and ip.version == 6 and listener.dual_stack is not False
    families = [6, 4] if dual else [ip.version]
    targets: list[tuple[Via, str]] = []
    for family in families:
        if scope is Scope.LOOPBACK:
            targets.append((Via.LOOPBACK, str(ip)))
        else:
            targets.append((Via.LOOPBACK, LOOPBACK_TARGET[family]))
    if scope is Scope.SPECIFIC_INTERFACE:
        targets.append((Via.LAN, str(ip)))
        return targets
    for family in families:
        if family in lan:
            targets.append((Via.LAN, lan[family]))
    return targets
