"""Published ports: DNAT rules that carry new connections from this host's networks elsewhere.

A published port is the NAT rule, not a socket: Docker's ``DOCKER`` chain, podman's and
Kubernetes' NodePort chains and hand-written ``dnat to`` rules all rewrite a new connection's
destination in the nat prerouting path, after which it goes through the FORWARD path (Docker's
``DOCKER-USER`` first), never INPUT — so an INPUT deny (ufw) does not stop it. A host socket
may exist (``docker-proxy``; with ``userland-proxy: false`` a placeholder held by ``dockerd``)
or not at all (a hand-written DNAT, often podman, NodePorts).

This module joins, without any I/O:

* :class:`Forwarding` — one DNAT path as the firewall evaluation saw it: host interface,
  protocol and port, the target, the DNAT rule, and what the FORWARD path does to it;
* the other network namespaces of this host (:mod:`netdash.core.namespaces`): the one that
  holds the target address and the listener (and process) there;
* the Docker Engine API's containers: the container's name and image.

Every kind of DNAT is handled the same way; chain names only label the front-end.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from netdash.core.model import Listener, ListenerIdentity
from netdash.core.namespaces import (
    CONTAINER_INTERNAL,
    HOST,
    PUBLISHED,
    Container,
    NamespaceListener,
    NetNamespace,
)
from netdash.core.reach import (
    BLOCKED,
    OPEN,
    UNKNOWN,
    Decision,
    DnatRule,
    NetInterface,
    Packet,
    dnat_rules,
    match_holds,
    representative,
    source_prefixes,
    walk_hook,
)
from netdash.core.ruleset import Chain, Rule, Ruleset, Table
from netdash.core.ruleset import Verdict as RulesetVerdict

__all__ = [
    "BLOCKED",
    "OPEN",
    "UNKNOWN",
    "Forwarding",
    "NamespaceView",
    "PublishedPort",
    "evaluate_forwardings",
    "exposure_of",
    "publish",
]


@dataclass(frozen=True)
class Forwarding:
    """One DNAT path for new connections arriving on a host interface.

    ``interface``: the host interface the connection arrives on (``v0``); ``protocol``
    ``tcp``/``udp``; ``port`` the host port it is addressed to; ``target_address`` and
    ``target_port`` where the DNAT sends it; ``dnat_rule`` the DNAT rule's text (with table
    and chain); ``outcome`` :data:`OPEN`, :data:`BLOCKED` or :data:`UNKNOWN` from the FORWARD
    path's evaluation; ``rule`` the rule that decided it (or the reason for ``unknown``;
    ``None`` when a chain's accepting policy decided); ``front_end`` the tool that wrote the
    DNAT when recognised (``docker``), else ``None``.
    """

    interface: str
    protocol: str
    port: int
    target_address: str
    target_port: int
    dnat_rule: str
    outcome: str
    rule: str | None = None
    front_end: str | None = None


@dataclass(frozen=True)
class PublishedPort:
    """A published port with everything known about where it leads.

    ``forwarding`` the DNAT path; ``namespace`` the other network namespace of this host that
    holds the target address (``None``: not on this host, or not readable); ``listener`` the
    listener there that the connection meets (``None``: nothing listens, it is refused, or the
    namespace is unknown); ``container`` the Docker container with that address, when the
    Docker API was readable; ``host_listeners`` sockets on the host with the same protocol and
    port (``docker-proxy``, ``dockerd``'s placeholder), which the DNAT bypasses.
    """

    forwarding: Forwarding
    namespace: NetNamespace | None = None
    listener: NamespaceListener | None = None
    container: Container | None = None
    host_listeners: tuple[Listener, ...] = ()

    @property
    def open(self) -> bool:
        """True when a new connection from that interface's network gets through."""
        return self.forwarding.outcome == OPEN

    @property
    def target_label(self) -> str:
        f = self.forwarding
        host = f"[{f.target_address}]" if ":" in f.target_address else f.target_address
        return f"{host}:{f.target_port}"

    @property
    def behind(self) -> str:
        """What is behind the target, for a person: ``container web, image busybox, httpd
        (pid 4242)``; ``nothing listens there``; ``not on this host`` (untrusted names: render
        with ``clean``)."""
        parts = []
        if self.container is not None:
            parts.append(f"container {self.container.name}")
            if self.container.image:
                parts.append(f"image {self.container.image}")
        elif self.namespace is not None and (self.namespace.names or self.listener is None):
            parts.append(self.namespace.label)  # else the process below names it
        if self.listener is not None:
            for process in self.listener.processes[:1]:
                parts.append(f"{process.name or '?'} (pid {process.pid})")
        elif self.namespace is not None and self.namespace.unreadable is None:
            parts.append("nothing listens there")
        if self.namespace is None and self.container is None:
            parts.append("not in a network namespace of this host")
        return ", ".join(parts)

    def sentence(self) -> str:
        """``published: v0:8080 → 172.17.0.2:80 (container web, image busybox) — open,
        FORWARD policy accept``."""
        f = self.forwarding
        decided = f.rule or ("no rule stops it" if f.outcome == OPEN else "")
        tail = f", {decided}" if decided else ""
        return (
            f"published: {f.interface}:{f.port}/{f.protocol} → {self.target_label} "
            f"({self.behind}) — {f.outcome}{tail}"
        )


def _namespace_of(address: str, namespaces: Iterable[NetNamespace]) -> NetNamespace | None:
    for namespace in namespaces:
        if namespace.holds(address):
            return namespace
    return None


def _container_of(address: str, containers: Iterable[Container]) -> Container | None:
    for container in containers:
        if address in container.addresses:
            return container
    return None


def publish(
    forwardings: Iterable[Forwarding],
    namespaces: Sequence[NetNamespace] = (),
    containers: Sequence[Container] = (),
    host_listeners: Sequence[Listener] = (),
) -> tuple[PublishedPort, ...]:
    """Join each DNAT path with the namespace, listener and container behind its target and
    the host sockets on its port; sorted by interface, protocol, port and target."""
    by_port: dict[tuple[str, int], list[Listener]] = {}
    for listener in host_listeners:
        by_port.setdefault((listener.protocol, listener.port), []).append(listener)
    found = []
    for f in forwardings:
        namespace = _namespace_of(f.target_address, namespaces)
        target = (
            namespace.listening(f.protocol, f.target_address, f.target_port)
            if namespace is not None
            else None
        )
        found.append(
            PublishedPort(
                forwarding=f,
                namespace=namespace,
                listener=target,
                container=_container_of(f.target_address, containers),
                host_listeners=tuple(by_port.get((f.protocol, f.port), ())),
            )
        )
    found.sort(
        key=lambda p: (
            p.forwarding.interface,
            p.forwarding.protocol,
            p.forwarding.port,
            p.forwarding.target_address,
        )
    )
    return tuple(found)


def exposure_of(
    namespace: NetNamespace, listener: NamespaceListener, published: Iterable[PublishedPort]
) -> str:
    """:data:`~netdash.core.namespaces.PUBLISHED` when a published port leads to ``listener``
    in ``namespace`` (whatever the firewall does to it), else
    :data:`~netdash.core.namespaces.CONTAINER_INTERNAL`; in the host's own namespace (seen
    from another), :data:`~netdash.core.namespaces.HOST`."""
    if namespace.host:
        return HOST
    for port in published:
        if (
            port.namespace is not None
            and port.namespace.inode == namespace.inode
            and port.listener == listener
        ):
            return PUBLISHED
    return CONTAINER_INTERNAL


@dataclass(frozen=True)
class NamespaceView:
    """What netdash knows beyond its own network namespace, for one snapshot.

    ``published`` the published ports (DNAT paths; empty when the ruleset was not read);
    ``namespaces`` the other network namespaces with their listeners (empty unless asked:
    ``--namespaces``, the dashboard's ``N``); ``containers`` the Docker API's containers
    (``None``: the API was not readable); ``proxied`` the container behind each
    ``docker-proxy`` listener of the host, by listener identity.
    """

    published: tuple[PublishedPort, ...] = ()
    namespaces: tuple[NetNamespace, ...] = ()
    containers: tuple[Container, ...] | None = None
    proxied: Mapping[ListenerIdentity, Container] = field(default_factory=dict)

    @property
    def open_published(self) -> tuple[PublishedPort, ...]:
        """The published ports a new connection from some network gets through: findings
        for ``check``."""
        return tuple(p for p in self.published if p.open)

    def exposure(self, namespace: NetNamespace, listener: NamespaceListener) -> str:
        return exposure_of(namespace, listener, self.published)


# -- from the ruleset: every DNAT path, evaluated ----------------------------------------------

MAX_EXPANDED = 64
"""A ``dport`` range of at most this many ports is published port by port; a wider one by its
two ends (a NodePort-style range would otherwise make thousands of entries)."""


def _ports(dnat: DnatRule) -> list[tuple[str, int, int]]:
    """``(protocol, first port of its range, port)`` for each host port ``dnat`` applies to,
    from its ``dport`` conditions (the rule's own last: the tightest), protocol from the
    match (``tcp dport``) or an ``l4proto`` condition. A DNAT without a port condition, or
    with only a negated one, gives nothing (every port: not listed one by one)."""
    dports = [m for m in dnat.matches if m.key == "dport" and not m.negate]
    if not dports:
        return []
    match = dports[-1]
    protocols: list[str] = []
    if match.proto in ("tcp", "udp"):
        protocols = [match.proto]
    else:
        for m in dnat.matches:
            if m.key == "l4proto" and not m.negate:
                protocols += [str(v) for v in m.values if str(v) in ("tcp", "udp")]
    found = []
    for protocol in protocols or ["tcp"]:
        for value in match.values:
            if not (isinstance(value, tuple) and len(value) == 2):
                continue
            lo, hi = int(value[0]), int(value[1])
            span = range(lo, hi + 1) if hi - lo < MAX_EXPANDED else (lo, hi)
            found += [(protocol, lo, port) for port in span]
    return found


def _target_port(dnat: DnatRule, first: int, port: int) -> int:
    """The port a connection to host ``port`` is sent to: unchanged without ``to_port``; a
    single target port; or, for a target range, the same offset into it as into the host
    range (as the kernel maps a range onto a range)."""
    if dnat.to_port is None:
        return port
    lo, hi = dnat.to_port
    return lo if lo == hi else min(lo + (port - first), hi)


def _same_target(verdict: RulesetVerdict | None, dnat: DnatRule) -> bool:
    return (
        verdict is not None
        and verdict.to_address == dnat.to_address
        and verdict.to_port == dnat.to_port
    )


def _forwards(ruleset: Ruleset, version: int) -> Decision | None:
    """Whether this host routes the DNAT's connection at all: ``None`` when it forwards IP
    ``version``; a blocked decision when it does not (the kernel drops a packet it would
    have to forward); unknown when the sysctl could not be read."""
    routed = ruleset.forwards(version)
    sysctl = "net.ipv4.ip_forward" if version == 4 else "net.ipv6.conf.all.forwarding"
    if routed is None:
        return Decision(UNKNOWN, f"whether this host forwards IPv{version} is not known ({sysctl})")
    if not routed:
        return Decision(
            BLOCKED, f"this host does not forward IPv{version} ({sysctl} is 0): the kernel drops it"
        )
    return None


def _rule_words(decision: Decision) -> str | None:
    """The deciding rule in words (the evaluator's reason), ``None`` when nothing decided."""
    return decision.reason or None


SMALL_CHAIN = 16
"""Chains with fewer rules are walked whole: filtering them costs more than it saves."""
_NONE: frozenset[int] = frozenset()
_ChainIndex = tuple[set[int], dict[int, set[int]], set[int], dict[object, set[int]]]


class _Pruned:
    """The ruleset as one packet sees it: each chain without the rules that cannot match it.

    A rule with a condition that is certainly false for a packet never acts on it, so leaving
    it out changes no verdict, reason or rule handle — only the time a walk takes. Two
    conditions are indexed, the ones that tell apart the thousands of rules of many published
    ports: a non-negated ``dport`` of at most :data:`MAX_EXPANDED` ports, and a non-negated
    ``daddr`` of single addresses (``/32``, ``/128``). Docker writes one DNAT per host port
    and one accept per container address: each packet then walks a handful of rules where
    the whole chain would cost O(rules) per published port, O(rules²) for all of them.
    """

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        # Per (table index, chain name): rule indices free of each kind of condition, and
        # indices by port and by address.
        self._index: dict[tuple[int, str], _ChainIndex] = {}
        self._big: dict[int, list[str]] = {}  # table index -> its chains worth filtering
        for t, table in enumerate(ruleset.tables):
            for name, chain in table.chains.items():
                any_port: set[int] = set()
                by_port: dict[int, set[int]] = {}
                any_host: set[int] = set()
                by_host: dict[object, set[int]] = {}
                for i, rule in enumerate(chain.rules):
                    ports = _port_condition(rule)
                    if ports is None:
                        any_port.add(i)
                    else:
                        for port in ports:
                            by_port.setdefault(port, set()).add(i)
                    hosts = _host_condition(rule)
                    if hosts is None:
                        any_host.add(i)
                    else:
                        for host in hosts:
                            by_host.setdefault(host, set()).add(i)
                if len(chain.rules) >= SMALL_CHAIN:
                    self._index[(t, name)] = (any_port, by_port, any_host, by_host)
                    self._big.setdefault(t, []).append(name)

    def for_packet(self, packet: Packet) -> Ruleset:
        if not self._index:
            return self.ruleset
        tables = list(self.ruleset.tables)
        for t, names in self._big.items():
            table = tables[t]
            chains = dict(table.chains)
            for name in names:
                chain = chains[name]
                any_port, by_port, any_host, by_host = self._index[(t, name)]
                ports = by_port.get(packet.dport, _NONE)
                hosts = by_host.get(packet.daddr, _NONE)
                # Walk the smaller side and test membership of the other: O(kept), not O(rules).
                if len(any_port) + len(ports) <= len(any_host) + len(hosts):
                    keep = [i for i in (*any_port, *ports) if i in any_host or i in hosts]
                else:
                    keep = [i for i in (*any_host, *hosts) if i in any_port or i in ports]
                chains[name] = _with_rules(chain, tuple(chain.rules[i] for i in sorted(keep)))
            tables[t] = _with_chains(table, chains)
        new = object.__new__(Ruleset)
        new.__dict__.update(self.ruleset.__dict__, tables=tuple(tables))
        return new


def _with_rules(chain: Chain, rules: tuple[Rule, ...]) -> Chain:
    """``chain`` with other rules: a shallow copy of its fields (``dataclasses.replace`` and
    ``copy.copy`` cost several times more, and this runs twice per published port)."""
    new = object.__new__(Chain)
    new.__dict__.update(chain.__dict__, rules=rules)
    return new


def _with_chains(table: Table, chains: dict[str, Chain]) -> Table:
    new = object.__new__(Table)
    new.__dict__.update(table.__dict__, chains=chains)
    return new


def _port_condition(rule: Rule) -> frozenset[int] | None:
    """The ports a rule's non-negated ``dport`` condition allows (any protocol), or ``None``
    when it has none that is small enough to index."""
    for m in rule.matches:
        if m.key != "dport" or m.negate or not m.values:
            continue
        ports: set[int] = set()
        for value in m.values:
            if not (isinstance(value, tuple) and len(value) == 2):
                return None
            lo, hi = int(value[0]), int(value[1])
            if hi - lo >= MAX_EXPANDED:
                return None
            ports.update(range(lo, hi + 1))
        return frozenset(ports)
    return None


def _host_condition(rule: Rule) -> frozenset[object] | None:
    """The single addresses a rule's non-negated ``daddr`` condition allows, or ``None``."""
    for m in rule.matches:
        if m.key != "daddr" or m.negate or not m.values:
            continue
        hosts: set[object] = set()
        for value in m.values:
            if not isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
                return None
            if value.num_addresses != 1:
                return None
            hosts.add(value.network_address)
        return frozenset(hosts)
    return None


def evaluate_forwardings(
    ruleset: Ruleset,
    interfaces: Sequence[NetInterface],
    route: Callable[[str], str | None] = lambda address: None,
) -> tuple[Forwarding, ...]:
    """Every DNAT path of ``ruleset`` as :class:`Forwarding` entries: for each DNAT reachable
    from a prerouting chain (:func:`~netdash.core.reach.dnat_rules`), each host port it
    names and each up, non-loopback interface with an address of the DNAT's family, a new
    connection from that interface's network (a source the ruleset tests no prefix of) to
    the interface's address is walked through ``ingress`` and ``prerouting``: where this DNAT
    is the one that fires, the rewritten connection is walked through ``forward``
    (``daddr_local`` false, output interface from ``route(target address)``; ``None``:
    unknown, so matches on it are "maybe"). Redirects to this host are not published ports.

    Outcomes: ``open`` (nothing stops it), ``blocked`` (a rule or a policy drops or rejects
    it, before or after the DNAT), ``unknown`` (a rule that could decide it is not evaluated:
    the reason names it). Never raises for an unusual ruleset; a malformed target address
    is skipped.
    """
    prefixes = source_prefixes(ruleset)
    pruned = _Pruned(ruleset)
    out: dict[tuple[str, str, int, str, int], Forwarding] = {}
    for dnat in dnat_rules(ruleset):
        if dnat.to_address is None:
            continue  # redirect: to this host's own port
        try:
            target = ipaddress.ip_address(dnat.to_address.strip("[]"))
        except ValueError:
            continue
        oif = route(str(target))
        for protocol, first, port in _ports(dnat):
            target_port = _target_port(dnat, first, port)
            for iface in interfaces:
                if iface.is_loopback:
                    continue
                for address in iface.addresses:
                    if address.version != target.version:
                        continue
                    source = representative(address.network, prefixes) or address.network[0]
                    packet = Packet(protocol, source, address.ip, port, iface.name)
                    if any(match_holds(m, packet) is False for m in dnat.matches):
                        continue
                    seen = pruned.for_packet(packet)
                    decision = walk_hook(seen, "ingress", packet)
                    if decision.outcome == OPEN:
                        decision = walk_hook(seen, "prerouting", packet)
                        if decision.outcome == OPEN and not _same_target(decision.dnat, dnat):
                            continue  # another DNAT fires first, or this one does not
                        if decision.outcome == OPEN:
                            decision = _forwards(ruleset, target.version) or decision
                        if decision.outcome == OPEN:
                            forward = Packet(
                                protocol,
                                source,
                                target,
                                target_port,
                                iface.name,
                                daddr_local=False,
                                oifname=oif,
                            )
                            decision = walk_hook(pruned.for_packet(forward), "forward", forward)
                    key = (iface.name, protocol, port, str(target), target_port)
                    if key in out:
                        continue  # the interface's first address of that family decides
                    out[key] = Forwarding(
                        interface=iface.name,
                        protocol=protocol,
                        port=port,
                        target_address=str(target),
                        target_port=target_port,
                        dnat_rule=f"{dnat.table} {' → '.join(dnat.path)}: {dnat.rule.text}",
                        outcome=decision.outcome,
                        rule=_rule_words(decision),
                        front_end=dnat.front_end,
                    )
    return tuple(out.values())
