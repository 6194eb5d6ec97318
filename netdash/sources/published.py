"""Gather what lies beyond netdash's own network namespace for one snapshot: the published
ports (DNAT paths from the firewall evaluation), the other network namespaces
(:mod:`netdash.sources.namespaces`) and the Docker API's containers
(:mod:`netdash.sources.docker`), joined by :func:`netdash.core.published.publish`.

Namespaces are read whenever there are published ports to resolve (their targets' listeners)
or when asked; the Docker API is read once per call.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence

from netdash.core.model import ListenerIdentity, Snapshot
from netdash.core.namespaces import Container, NetNamespace
from netdash.core.published import Forwarding, NamespaceView, publish
from netdash.core.reach import FirewallView
from netdash.core.ruleset import Ruleset
from netdash.sources.docker import proxy_target, read_containers
from netdash.sources.namespaces import read_namespaces
from netdash.sources.processes import ProcessCache

__all__ = [
    "ForwardingWatch",
    "collect_view",
    "forwardings_of",
    "proxied_containers",
    "read_forwardings",
    "route_interface",
]


def proxied_containers(
    snapshot: Snapshot, containers: Sequence[Container]
) -> dict[ListenerIdentity, Container]:
    """The container behind each ``docker-proxy`` listener of ``snapshot``: the one whose
    address and port its command line names (``-container-ip``/``-container-port``, read as
    untrusted text by :func:`~netdash.sources.docker.proxy_target`)."""
    by_address = {a: c for c in containers for a in c.addresses}
    found: dict[ListenerIdentity, Container] = {}
    for listener in snapshot.listeners:
        for process in listener.processes:
            if process.name != "docker-proxy":
                continue
            target = proxy_target([a.raw for a in process.cmdline])
            if target is not None and target[1] in by_address:
                found[listener.identity] = by_address[target[1]]
                break
    return found


def route_interface(address: str, proc: str = "/proc") -> str | None:
    """The interface the main routing table sends ``address`` out of: the longest matching
    prefix of ``/proc/net/route`` (IPv4) or ``/proc/net/ipv6_route`` (IPv6), ``None`` when
    nothing matches or the table cannot be read (then rules on the output interface are
    "maybe" for the evaluator). Policy routing (``ip rule``) is not followed."""
    try:
        target = ipaddress.ip_address(address)
    except ValueError:
        return None
    best: tuple[int, str] | None = None
    try:
        if target.version == 4:
            with open(f"{proc}/net/route") as f:
                lines = f.read().splitlines()[1:]
            value = int(target)
            for line in lines:
                fields = line.split()
                if len(fields) < 8:
                    continue
                dest = int.from_bytes(bytes.fromhex(fields[1]), "little")
                mask = int.from_bytes(bytes.fromhex(fields[7]), "little")
                if value & mask == dest:
                    length = bin(mask).count("1")
                    if best is None or length > best[0]:
                        best = (length, fields[0])
        else:
            with open(f"{proc}/net/ipv6_route") as f:
                lines = f.read().splitlines()
            value = int(target)
            for line in lines:
                fields = line.split()
                if len(fields) < 10 or fields[9] == "lo":
                    continue
                length = int(fields[1], 16)
                dest = int(fields[0], 16)
                shift = 128 - length
                if (value >> shift) == (dest >> shift) and (best is None or length > best[0]):
                    best = (length, fields[9])
    except (OSError, ValueError):
        return None
    return best[1] if best is not None else None


_last: list[tuple[FirewallView, tuple[Forwarding, ...]]] = []


def forwardings_of(firewall: FirewallView) -> tuple[Forwarding, ...]:
    """The DNAT paths of the ruleset a snapshot's firewall view holds (empty when it was not
    read), evaluated once per view: a dashboard keeps one view while the ruleset and the
    interfaces are unchanged, so an idle poll evaluates nothing."""
    from netdash.core.published import evaluate_forwardings

    if not firewall.read or firewall.ruleset is None:
        return ()
    for view, found in _last:
        if view is firewall:
            return found
    found = evaluate_forwardings(firewall.ruleset, firewall.interfaces, route_interface)
    _last[:] = [(firewall, found)]
    return found


def read_forwardings(ruleset: Ruleset | None = None) -> tuple[Forwarding, ...]:
    """The DNAT paths of ``ruleset`` (``None``: read the one the kernel enforces now, with
    :func:`netdash.sources.firewall.read_ruleset`), each evaluated through the FORWARD path
    (:func:`netdash.core.published.evaluate_forwardings`); empty when the ruleset cannot be
    read (no privilege, no ``nft``)."""
    from netdash.core.published import evaluate_forwardings
    from netdash.core.ruleset import RulesetError
    from netdash.sources.firewall import net_interfaces, read_ruleset

    if ruleset is None:
        try:
            ruleset = read_ruleset()
        except (OSError, RulesetError):
            return ()
    return evaluate_forwardings(ruleset, net_interfaces(), route_interface)


class ForwardingWatch:
    """The published ports for a poll loop (the dashboard's ``N`` panel): the ruleset is
    re-read only when nftables' generation id changed (:class:`~netdash.sources.firewall.
    FirewallReader`), and re-evaluated only when the ruleset or the interfaces changed, so an
    idle poll costs one generation check and one interface read. Not thread-safe: one
    thread owns it. ``reason`` says why there are none when the firewall was not read."""

    def __init__(self) -> None:
        from netdash.sources.firewall import FirewallReader

        self._reader = FirewallReader()
        self._key: tuple[object, ...] | None = None
        self._found: tuple[Forwarding, ...] = ()
        self.reason: str | None = None

    def poll(self) -> tuple[Forwarding, ...]:
        from netdash.core.published import evaluate_forwardings
        from netdash.sources.firewall import net_interfaces

        state = self._reader.poll()
        if not state.read or state.ruleset is None:
            self.reason = state.reason
            self._key, self._found = None, ()
            return ()
        self.reason = None
        interfaces = net_interfaces()
        key = (id(state.ruleset), interfaces)
        if key != self._key:
            self._found = evaluate_forwardings(state.ruleset, interfaces, route_interface)
            self._key = key
        return self._found


def collect_view(
    snapshot: Snapshot,
    forwardings: Sequence[Forwarding] | None = None,
    namespaces: bool = False,
    cache: ProcessCache | None = None,
    ruleset: Ruleset | None = None,
) -> NamespaceView:
    """The :class:`~netdash.core.published.NamespaceView` of ``snapshot``: ``forwardings``
    (the DNAT paths of the firewall evaluation; ``None``: read them now with
    :func:`read_forwardings`) joined with the namespaces and containers behind them;
    ``namespaces`` also keeps every other namespace's listeners in the view. Without
    ``forwardings``: those of the snapshot's firewall view when it has one, else of
    ``ruleset`` (``None``: read now). Never raises for what it cannot read."""
    if forwardings is None:
        if snapshot.firewall is not None and ruleset is None:
            forwardings = forwardings_of(snapshot.firewall)
        else:
            forwardings = read_forwardings(ruleset)
    containers = read_containers()
    if namespaces:
        others = read_namespaces(cache=cache)
    elif forwardings:  # only the namespaces behind a published port
        targets = {f.target_address for f in forwardings}
        others = read_namespaces(cache=cache, holding=targets)
    else:
        others = ()
    if containers:
        others = tuple(_name(ns, containers) for ns in others)
    published = publish(forwardings, others, containers or (), snapshot.listeners)
    return NamespaceView(
        published=published,
        namespaces=others if namespaces else (),
        containers=containers,
        proxied=proxied_containers(snapshot, containers or ()),
    )


def _name(namespace: NetNamespace, containers: Sequence[Container]) -> NetNamespace:
    """``namespace`` with the name and image of the container holding one of its addresses."""
    for container in containers:
        if any(namespace.holds(a) for a in container.addresses):
            return dataclasses.replace(namespace, container=container.name, image=container.image)
    return namespace
