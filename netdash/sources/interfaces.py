"""This machine's network interfaces and which of them hold a default route.

Sources: ``psutil.net_if_addrs()`` and ``psutil.net_if_stats()`` for interfaces;
``/proc/net/route`` and ``/proc/net/ipv6_route`` (Linux) for default routes.
"""

from __future__ import annotations

import socket
from pathlib import Path

import psutil

from netdash.core.model import Interface
from netdash.core.text import interface_name

__all__ = ["read_default_route_interfaces", "read_interfaces"]


def read_interfaces() -> tuple[Interface, ...]:
    """This machine's interfaces: ``net_if_addrs()`` merged with ``net_if_stats()``.

    The two need not list the same names (an interface without an address has stats only);
    both are kept. Loopback interfaces come first, then the others by name.
    """
    addrs = {interface_name(k): v for k, v in psutil.net_if_addrs().items()}
    stats = {interface_name(k): v for k, v in psutil.net_if_stats().items()}
    names = list(dict.fromkeys([*addrs, *stats]))
    interfaces = []
    for name in names:
        v4, v6 = [], []
        for entry in addrs.get(name, []):
            if entry.family == socket.AF_INET:
                v4.append(entry.address)
            elif entry.family == socket.AF_INET6:
                address, zone, scope = entry.address.partition("%")
                v6.append(address + zone + interface_name(scope) if zone else address)
        stat = stats.get(name)
        flags = getattr(stat, "flags", "") if stat is not None else ""
        is_loopback = "loopback" in flags.split(",") or (
            bool(v4 or v6) and all(_is_loopback_text(a) for a in v4 + v6)
        )
        interfaces.append(
            Interface(
                name=name,
                is_up=bool(stat.isup) if stat is not None else False,
                addresses=tuple(v4 + v6),
                is_loopback=is_loopback,
            )
        )
    interfaces.sort(key=lambda i: (not i.is_loopback, i.name))  # stable as addresses change
    return tuple(interfaces)


def _is_loopback_text(text: str) -> bool:
    return text.startswith("127.") or text == "::1"


def read_default_route_interfaces(proc_net: Path = Path("/proc/net")) -> tuple[str, ...]:
    """Names of interfaces holding a default route, IPv4 first (Linux ``/proc/net``).

    Returns an empty tuple where the routing table cannot be read (other systems).
    """
    names: list[str] = []
    try:
        for line in (proc_net / "route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
                names.append(interface_name(fields[0]))
    except OSError:
        pass
    try:
        for line in (proc_net / "ipv6_route").read_text().splitlines():
            fields = line.split()
            default = len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00"
            if default and fields[9] != "lo":
                names.append(interface_name(fields[9]))
    except OSError:
        pass
    return tuple(dict.fromkeys(names))
