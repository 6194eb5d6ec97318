"""The LAN address (what other devices would use to reach this machine) and the addresses a
listener is probed at. Pure: interfaces come in, addresses go out; nothing here performs I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from netdash.core.addresses import IPAddress, own_addresses, parse_address, scope_of
from netdash.core.model import Interface, Listener, Scope, Snapshot, Via

__all__ = [
    "LOOPBACK_TARGET",
    "VIRTUAL_PREFIXES",
    "LanAddresses",
    "choose_lan",
    "choose_lan_explained",
    "is_virtual",
    "probe_targets",
    "resolve_lan",
    "validate_lan",
]

LanAddresses = Mapping[int, str]
"""The LAN address per address family: ``{4: "192.168.1.100", 6: "2001:db8::1"}``."""

LOOPBACK_TARGET = {4: "127.0.0.1", 6: "::1"}
"""The loopback address probed per family when a listener is not bound to one itself."""


def _lan_candidate(text: str) -> IPAddress | None:
    try:
        ip = parse_address(text)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return None
    return ip


VIRTUAL_PREFIXES: tuple[str, ...] = (
    "docker",
    "br-",
    "veth",
    "virbr",
    "cni",
    "flannel",
    "cali",
    "vxlan",
    "podman",
    "lxcbr",
    "lxdbr",
    "vmnet",
    "vboxnet",
    "kube",
    "tun",
    "tap",
    "wg",
    "tailscale",
    "zt",
)
"""Name prefixes of bridges, container and VM links and tunnels (Docker's ``docker0`` and
``br-*``, ``veth*`` pairs, libvirt's ``virbr*``, CNI and Kubernetes, VPNs): addresses other
devices on the LAN do not use to reach this machine, chosen only when nothing else has one."""


def is_virtual(name: str) -> bool:
    """True for an interface named like a bridge, container or VM link or tunnel
    (:data:`VIRTUAL_PREFIXES`)."""
    return name.startswith(VIRTUAL_PREFIXES)


def choose_lan_explained(snapshot: Snapshot) -> tuple[dict[int, str], dict[int, str]]:
    """:func:`choose_lan`'s addresses, and per family why: ``"v0, the interface of the
    default route"``, ``"wlan0 (no default route; physical interfaces before bridges and
    virtual ones)"`` or ``"docker0, a virtual interface: no other holds an address"``."""
    by_name = {i.name: i for i in snapshot.interfaces}
    routed = [by_name[n] for n in snapshot.default_route_interfaces if n in by_name]
    rest = [i for i in snapshot.interfaces if i not in routed]
    ordered = routed + [i for i in rest if not is_virtual(i.name)]
    ordered += [i for i in rest if is_virtual(i.name)]
    lan: dict[int, str] = {}
    why: dict[int, str] = {}
    for interface in ordered:
        if not interface.is_up or interface.is_loopback:
            continue
        for text in interface.addresses:
            ip = _lan_candidate(text)
            if ip is not None and ip.version not in lan:
                lan[ip.version] = str(ip)
                if interface in routed:
                    why[ip.version] = f"{interface.name}, the interface of the default route"
                elif is_virtual(interface.name):
                    why[ip.version] = (
                        f"{interface.name}, a virtual interface: no other holds an address"
                    )
                else:
                    why[ip.version] = (
                        f"{interface.name} (no default route; physical interfaces before "
                        "bridges and virtual ones)"
                    )
    return dict(sorted(lan.items())), dict(sorted(why.items()))


def choose_lan(snapshot: Snapshot) -> dict[int, str]:
    """The address other devices would use to reach this machine, per family.

    Taken from the interface holding the default route (``snapshot.default_route_interfaces``),
    else from the first up, non-loopback interface with a usable address (not loopback,
    link-local, multicast or unspecified), interfaces named like bridges, container links,
    VMs and tunnels (:data:`VIRTUAL_PREFIXES`: ``docker0``, ``br-*``, ``veth*``, ``virbr*``,
    ``cni*`` ...) last. A family with no such address is absent.
    """
    return choose_lan_explained(snapshot)[0]


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
