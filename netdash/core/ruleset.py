"""A packet-filter ruleset as plain data, independent of where it was read.

The readers (:mod:`netdash.sources.nft_json` for ``nft -j list ruleset``,
:mod:`netdash.sources.iptables_save` for ``iptables-nft-save`` / ``iptables-legacy-save``
text) translate what the kernel enforces into these records; the evaluator
(:mod:`netdash.core.reach`) walks them. Nothing here performs I/O.

Shapes:

* a :class:`Ruleset` holds :class:`Table` s (family ``ip``/``ip6``/``inet``/``netdev``/…,
  name, ``backend``: ``nft`` or ``legacy``), each holding :class:`Chain` s;
* a base chain has a ``hook`` (``prerouting``, ``input``, ``forward``, ``output``,
  ``postrouting``, ``ingress``), a numeric ``priority`` (lower runs first) and a ``policy``
  (``accept`` or ``drop``); a regular chain has ``hook=None``;
* a :class:`Rule` is a tuple of :class:`Match` es (all must hold) and one :class:`Verdict`;
  statements that do not decide (counter, log, limit's log, comment) are kept only in
  ``text``.

A match the readers do not understand is kept as a :class:`Match` with ``key="unknown"``: the
evaluator treats it as "may or may not hold" and never draws a definite answer from it.

Set references (``@name``) are resolved by the readers into the match's values; the set's
name stays in ``Match.set_name`` for the rule's text.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from netdash.core.text import interface_name

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Keys a :class:`Match` can test. ``unknown`` is a match the readers could not translate.
MATCH_KEYS = frozenset(
    {
        "iifname",  # input interface name; values are names, a trailing "*" is a wildcard
        "oifname",  # output interface name (forward path)
        "nfproto",  # "ipv4" / "ipv6" (implied by ip/ip6 payload matches in inet tables)
        "l4proto",  # "tcp" / "udp" / "icmp" / …
        "saddr",  # source address: values are networks
        "daddr",  # destination address: values are networks
        "dport",  # destination port: values are (low, high) inclusive ranges
        "sport",  # source port: (low, high) ranges (a new connection's is unknown: "maybe")
        "ct_state",  # conntrack state names: "new", "established", "related", "invalid", …
        "daddr_type",  # fib daddr type / addrtype --dst-type: "local", "broadcast", …
        "exthdr",  # an IPv6 extension header is present (a plain SYN or datagram has none)
        "unknown",  # anything else: evaluates to "maybe"
    }
)

#: Verdict kinds. ``continue`` is a rule without a verdict (counter, log, mark …).
VERDICT_KINDS = frozenset(
    {"accept", "drop", "reject", "return", "jump", "goto", "continue", "vmap", "dnat", "unknown"}
)


def span(net: IPNetwork) -> tuple[int, int, int]:
    """``(IP version, first address, last address)`` of a network as integers (without
    ``broadcast_address``, a locked cached property in Python 3.11: the hot path of parsing)."""
    first = int(net.network_address)
    return net.version, first, first | ((1 << (net.max_prefixlen - net.prefixlen)) - 1)


_COST = {"dport": 0, "l4proto": 0, "nfproto": 0, "ct_state": 0, "iifname": 1, "oifname": 1}


@dataclass(frozen=True)
class Match:
    """One condition of a rule.

    ``values`` depend on ``key``: strings (interface names, protocols, states, address
    types), :data:`IPNetwork` (addresses), or ``(low, high)`` int tuples (ports). The match
    holds when the packet's value is among them (``negate`` inverts it). ``text`` is what the
    source said (for ``unknown`` matches, the reason it was not understood).
    """

    key: str
    values: tuple[object, ...] = ()
    negate: bool = False
    text: str = ""
    set_name: str | None = None
    proto: str | None = None

    spans: tuple[tuple[int, int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.key not in MATCH_KEYS:
            raise ValueError(f"unknown match key {self.key!r}")
        if self.key in ("iifname", "oifname"):  # names as the interfaces' are held
            names = tuple(interface_name(v) if isinstance(v, str) else v for v in self.values)
            object.__setattr__(self, "values", names)
        # address matches as (IP version, first, last) integers: what the evaluator compares
        spans = tuple(
            span(v)
            for v in self.values
            if isinstance(v, ipaddress.IPv4Network | ipaddress.IPv6Network)
        )
        object.__setattr__(self, "spans", spans)


@dataclass(frozen=True)
class Verdict:
    """What a rule does when all its matches hold.

    * ``accept`` / ``drop`` / ``reject``: final for the base chain (a drop or reject is
      final for the packet; an accept ends only this base chain);
    * ``return``: back to the calling chain (or the base chain's policy);
    * ``jump`` / ``goto``: ``target`` names a chain of the same table;
    * ``continue``: the next rule (counters, logs, marks);
    * ``vmap``: ``key`` (a match key: ``dport``, ``saddr``, ``iifname``, …) looked up in
      ``vmap``, a tuple of (values, verdict) pairs where values are as in :class:`Match`
      (``key_proto``: the transport protocol a ``tcp dport`` key implies); no element → next
      rule;
    * ``dnat``: the packet's destination becomes ``to_address``:``to_port`` (either may be
      ``None``: unchanged); ``redirect`` is a dnat to this host (``to_address=None``,
      ``local=True``);
    * ``unknown``: a statement the reader did not understand that may decide the packet.
    """

    kind: str
    target: str | None = None
    key: str | None = None
    key_proto: str | None = None
    vmap: tuple[tuple[tuple[object, ...], Verdict], ...] = ()
    to_address: str | None = None
    to_port: tuple[int, int] | None = None
    local: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        if self.kind not in VERDICT_KINDS:
            raise ValueError(f"unknown verdict kind {self.kind!r}")


@dataclass(frozen=True)
class Rule:
    """One rule: its matches, its verdict and where it lives.

    ``handle`` is nft's rule handle, or the rule's 1-based position in its chain for
    iptables text. ``text`` is the rule in the source's own syntax (nft or iptables-save).
    """

    table: str
    chain: str
    handle: int
    matches: tuple[Match, ...]
    verdict: Verdict
    text: str
    family: str = "inet"
    backend: str = "nft"
    comment: str | None = None
    evaluation_order: tuple[Match, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the cheap matches first: a rule fails on its port or protocol before its addresses
        order = tuple(sorted(self.matches, key=lambda m: _COST.get(m.key, 2)))
        object.__setattr__(self, "evaluation_order", order)


@dataclass(frozen=True)
class Chain:
    """A chain: base chain when ``hook`` is set (with ``priority`` and ``policy``), else a
    regular chain reached only by jump/goto. ``device`` names the interface of a netdev
    ingress chain."""

    name: str
    rules: tuple[Rule, ...] = ()
    hook: str | None = None
    priority: int = 0
    policy: str = "accept"
    type: str = "filter"
    device: str | None = None


@dataclass(frozen=True)
class Table:
    """A table of one family (``ip``, ``ip6``, ``inet``, ``netdev``, ``bridge``, ``arp``)
    read through ``backend`` (``nft``: the nftables ruleset, including what iptables-nft
    wrote; ``legacy``: iptables-legacy's x_tables)."""

    family: str
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)
    backend: str = "nft"

    @property
    def label(self) -> str:
        """``"inet filter"``, or ``"ip filter (legacy)"``."""
        suffix = " (legacy)" if self.backend == "legacy" else ""
        return f"{self.family} {self.name}{suffix}"


@dataclass(frozen=True)
class Ruleset:
    """All tables the kernel enforces, as read at ``read_at`` (seconds since the epoch),
    ``sources`` the commands that printed them, ``forwarding`` the IP versions this host
    routes (see :meth:`forwards`)."""

    tables: tuple[Table, ...] = ()
    read_at: float = 0.0
    sources: tuple[str, ...] = ()
    forwarding: tuple[tuple[int, bool], ...] = ()

    def forwards(self, version: int) -> bool | None:
        """Whether this host forwards IP ``version`` packets (``net.ipv4.ip_forward``,
        ``net.ipv6.conf.all.forwarding``, read with the ruleset), ``None`` when not known: a
        DNAT to another host's address leads through the forward path only then."""
        return dict(self.forwarding).get(version)

    def table(self, family: str, name: str, backend: str = "nft") -> Table | None:
        """The table of that family, name and backend, or ``None``."""
        for t in self.tables:
            if t.family == family and t.name == name and t.backend == backend:
                return t
        return None

    @property
    def rule_count(self) -> int:
        """Number of rules over all tables and chains."""
        return sum(len(c.rules) for t in self.tables for c in t.chains.values())


def families_for(ip_version: int) -> frozenset[str]:
    """Table families an IPv4 (4) or IPv6 (6) packet traverses on the IP hooks."""
    return frozenset({"ip", "inet"}) if ip_version == 4 else frozenset({"ip6", "inet"})


_DOCKER_CHAINS = ("DOCKER", "DOCKER-USER", "DOCKER-FORWARD", "DOCKER-ISOLATION", "DOCKER-CT")


def front_end(table: Table | None, chain: str, table_name: str = "") -> str | None:
    """The front-end that wrote a chain, recognised by name: ``"ufw"``, ``"Docker
    DOCKER-USER"``, ``"Docker"``, ``"firewalld"`` (table ``inet firewalld``, with the zone
    when the chain name carries one: ``"firewalld zone public"``), or ``None``.

    Names only label; the evaluator follows jumps generically (Docker's layout changed in
    version 28)."""
    name = table.name if table is not None else table_name
    family = table.family if table is not None else ""
    if name == "firewalld" and family in ("inet", ""):
        for part in ("_IN_", "_FWD_", "_PRE_"):
            if part in chain:
                zone = chain.split(part, 1)[1].split("_", 1)[0]
                if zone:
                    return f"firewalld zone {zone}"
        return "firewalld"
    if chain.startswith(("ufw-", "ufw6-")):
        return "ufw"
    if chain == "DOCKER-USER":
        return "Docker DOCKER-USER"
    if chain.startswith(_DOCKER_CHAINS):
        return "Docker"
    return None


def is_ufw_table(table: Table) -> bool:
    """Whether ufw wrote into this table (it has ``ufw-``/``ufw6-`` chains)."""
    return any(name.startswith(("ufw-", "ufw6-")) for name in table.chains)


class RulesetError(ValueError):
    """A reader could not parse what a tool printed: the message says what and where (one
    line). Readers raise only this for bad input."""
