"""What a new inbound connection meets: the evaluator of a :class:`~netdash.core.ruleset.Ruleset`.

For a packet — protocol (``tcp``/``udp``), source and destination address, destination port,
input interface — :func:`evaluate` walks what the kernel runs for the first packet of a new
connection to this host: the ``ingress`` chains of the input device, then every base chain of
the ``prerouting`` hook (raw, mangle, nat's DNAT, filter) and of the ``input`` hook, each hook's
chains in priority order, over the tables of the packet's families (``ip``/``inet`` or
``ip6``/``inet``) of both nftables and iptables-legacy. Within a chain it follows jumps, gotos
and returns, sets, maps and verdict maps; the packet's conntrack state is ``new``.

Three-valued matching keeps the answer honest: a match netdash does not understand (an ``xt``
expression, ``meta mark``, ``limit``, a source port) "may or may not" hold. The walk then takes
both branches; when they lead to the same outcome that outcome stands, otherwise the result is
``unknown``, naming the rule. An evaluation never yields a wrong ``open`` or ``blocked`` from a
rule it did not understand.

Semantics (kernel's nf_tables and x_tables): a drop or reject is final; an accept ends only
that base chain (the next base chain of the hook still runs); falling off or returning from a
base chain applies its policy; a DNAT in prerouting sends the connection elsewhere.

Not modelled, and why it does not make an answer wrong: reverse-path filtering
(``rp_filter`` or ``fib saddr . iif oif missing``) passes a source on the interface's own
network, which is the only kind of source evaluated here (``fib`` on ``saddr`` is "maybe"); the
SYN-ACK's output path is not walked (an output drop of it would be reported ``open``: rare, and
said in the README). Nothing here performs I/O.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace

from netdash.core.ruleset import (
    Chain,
    IPNetwork,
    Match,
    Rule,
    Ruleset,
    Table,
    Verdict,
    families_for,
    front_end,
    is_ufw_table,
    span,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

OPEN = "open"
BLOCKED = "blocked"
NOT_BOUND_THERE = "not-bound-there"
UNKNOWN = "unknown"

_PROTO_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132}
_MAX_BRANCHES = 256
_MAX_DEPTH = 32

#: Hooks whose chains a new inbound connection to this host meets, in order.
INBOUND_HOOKS = ("ingress", "prerouting", "input")


@dataclass(frozen=True)
class Packet:
    """The first packet of a new connection.

    ``daddr_local``: whether ``daddr`` is one of this host's addresses (``fib daddr type
    local``); ``oifname``: the output interface for the forward path (``""`` on input,
    ``None`` when not known: matches on it are "maybe")."""

    protocol: str
    saddr: IPAddress
    daddr: IPAddress
    dport: int
    iifname: str
    daddr_local: bool = True
    oifname: str | None = ""

    @property
    def version(self) -> int:
        return self.daddr.version


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation.

    ``outcome``: :data:`OPEN`, :data:`BLOCKED` or :data:`UNKNOWN` (:data:`NOT_BOUND_THERE`
    only from :func:`reach`). ``rule``: the deciding rule (``None`` for a policy, with
    ``chain``/``table`` naming the base chain); ``reason``: one line in words, naming the rule
    and its front-end ("ufw: deny 8000/tcp", "policy drop of inet filter input");
    ``dnat``: for a connection a prerouting DNAT moves elsewhere, that verdict.
    """

    outcome: str
    reason: str = ""
    rule: Rule | None = None
    table: str | None = None
    chain: str | None = None
    front_end: str | None = None
    dnat: Verdict | None = None

    @property
    def ruleset(self) -> str | None:
        """``"nft"`` or ``"legacy"`` for the deciding rule, else ``None``."""
        return self.rule.backend if self.rule is not None else None


@dataclass(frozen=True)
class _Res:
    kind: str  # accept | drop | reject | dnat | unknown
    rule: Rule | None
    table: Table
    chain: str
    reason: str = ""
    verdict: Verdict | None = None

    @property
    def category(self) -> tuple[object, ...]:
        if self.kind in ("drop", "reject"):
            return ("block",)
        if self.kind == "dnat" and self.verdict is not None:
            return ("dnat", self.verdict.to_address, self.verdict.to_port)
        return (self.kind,)


class _TooComplex(Exception):
    pass


def _rule_holds(rule: Rule, p: Packet) -> bool | None:
    """All of a rule's matches (three-valued AND), the cheap ones first: False as soon as one
    fails, None when one may or may not hold and none fails."""
    result: bool | None = True
    for m in rule.evaluation_order:
        hit = match_holds(m, p)
        if hit is False:
            return False
        if hit is None:
            result = None
    return result


def _name_matches(pattern: str, name: str) -> bool:
    if pattern.endswith("*") and not pattern.endswith("\\*"):
        return name.startswith(pattern[:-1])
    return name == pattern.replace("\\*", "*")


def _proto_is(value: object, protocol: str) -> bool:
    if isinstance(value, int):
        return value == _PROTO_NUMBERS.get(protocol)
    text = str(value).lower()
    if text.isdigit():
        return int(text) == _PROTO_NUMBERS.get(protocol)
    return text == protocol or (text == "all")


def _in_ranges(port: int, values: Sequence[object]) -> bool:
    return any(isinstance(v, tuple) and len(v) == 2 and v[0] <= port <= v[1] for v in values)


def match_holds(m: Match, p: Packet) -> bool | None:
    """Whether ``m`` holds for ``p``: True, False or None ("may or may not hold": a match
    netdash does not evaluate, a source port, an unknown output interface)."""
    key = m.key
    result: bool | None
    if key in ("dport", "sport"):
        if m.proto is not None and m.proto != p.protocol:
            return False  # tcp dport != 1 does not match a UDP packet
        if key == "sport":
            return None
        result = _in_ranges(p.dport, m.values)
    elif key in ("saddr", "daddr"):
        addr = p.saddr if key == "saddr" else p.daddr
        spans = m.spans
        version = addr.version
        if spans and all(v != version for v, _, _ in spans):
            return False  # ip saddr … implies nfproto ipv4
        number = int(addr)
        result = any(v == version and lo <= number <= hi for v, lo, hi in spans)
    elif key == "iifname":
        result = any(_name_matches(str(v), p.iifname) for v in m.values)
    elif key == "oifname":
        if p.oifname is None:
            return None
        result = any(_name_matches(str(v), p.oifname) for v in m.values)
    elif key == "nfproto":
        want = f"ipv{p.version}"
        result = any(str(v) == want for v in m.values)
    elif key == "l4proto":
        result = any(_proto_is(v, p.protocol) for v in m.values)
    elif key == "ct_state":
        result = any(str(v) == "new" for v in m.values)
    elif key == "exthdr":
        return False  # the packet evaluated is a plain SYN / datagram: no extension header
    elif key == "daddr_type":
        result = _daddr_type(m.values, p)
        if result is None:
            return None
    else:
        return None
    return (not result) if m.negate else result


def _daddr_type(values: Sequence[object], p: Packet) -> bool | None:
    seen = False
    for v in values:
        t = str(v).lower()
        if t == "local" and p.daddr_local:
            return True
        if t == "unicast":
            return True
        if t in ("local", "broadcast", "multicast", "anycast"):
            seen = True
            continue
        return None  # blackhole, unreachable, prohibit …: depends on routes
    return False if seen or not values else None


def _vmap_lookup(v: Verdict, p: Packet) -> Verdict | bool | None:
    """The verdict a verdict map gives, ``None`` for no element, ``False`` when the key is
    not evaluable."""
    for values, verdict in v.vmap:
        m = Match(key=v.key or "unknown", values=values, proto=v.key_proto)
        hit = match_holds(m, p)
        if hit is None:
            return False
        if hit:
            return verdict
    return None


def _describe_rule(rule: Rule, table: Table) -> str:
    fe = front_end(table, rule.chain)
    body = ufw_words(rule) if fe == "ufw" else None
    where = f"{table.label} {rule.chain} #{rule.handle}"
    if body is not None:
        return f"ufw: {body} ({where})"
    label = f"{fe}: " if fe else ""
    return f"{label}{rule.text} ({where})"


def ufw_words(rule: Rule) -> str | None:
    """A ufw user rule in ufw's own words (``deny 8000/tcp``, ``deny from 198.18.0.2``),
    for rules of the ``ufw-user-input`` / ``ufw6-user-input`` chains; else ``None``."""
    if not rule.chain.endswith("user-input"):
        return None
    action = {"accept": "allow", "drop": "deny", "reject": "reject"}.get(rule.verdict.kind)
    if action is None:
        return None
    port = proto = src = None
    for m in rule.matches:
        if m.negate:
            return None
        if m.key == "dport" and len(m.values) == 1 and isinstance(m.values[0], tuple):
            lo, hi = m.values[0]
            port = str(lo) if lo == hi else f"{lo}:{hi}"
            proto = proto or m.proto
        elif m.key == "l4proto" and len(m.values) == 1:
            proto = str(m.values[0])
        elif m.key == "saddr" and len(m.values) == 1:
            net = m.values[0]
            src = str(net.network_address if net.num_addresses == 1 else net)  # type: ignore[attr-defined]
        elif m.key == "ct_state":
            continue
        else:
            return None
    parts = [action]
    if src is not None:
        parts.append(f"from {src}")
    if port is not None:
        parts.append(f"{port}/{proto}" if proto and src is None else f"to any port {port}")
    return " ".join(parts)


def _policy_reason(table: Table, chain: Chain) -> tuple[str, str | None]:
    if is_ufw_table(table) and chain.hook == "input":
        default = "deny" if chain.policy == "drop" else "allow"
        return (
            f"ufw: default {default} incoming (policy {chain.policy} of {table.label} "
            f"{chain.name})",
            "ufw",
        )
    return f"policy {chain.policy} of {table.label} {chain.name}", None


class _Walker:
    def __init__(self, ruleset: Ruleset, packet: Packet) -> None:
        self.ruleset = ruleset
        self.packet = packet
        self.branches = 0

    def base_chain(self, table: Table, chain: Chain) -> _Res:
        return self.run(table, chain, 0, (), chain, 0)

    def run(
        self,
        table: Table,
        chain: Chain,
        index: int,
        stack: tuple[tuple[Chain, int], ...],
        base: Chain,
        depth: int,
    ) -> _Res:
        if depth > _MAX_DEPTH:
            return _Res(
                "unknown", None, table, chain.name, "chains nest deeper than netdash follows"
            )
        rules = chain.rules
        i = index
        while i < len(rules):
            rule = rules[i]
            i += 1
            verdict = rule.verdict
            if verdict.kind == "continue":
                continue
            hit = _rule_holds(rule, self.packet)
            if hit is False:
                continue
            if verdict.kind == "vmap":
                looked = _vmap_lookup(verdict, self.packet)
                if looked is None:
                    continue
                if looked is False:
                    hit = None
                    verdict = Verdict(kind="unknown", text=verdict.text)
                else:
                    assert isinstance(looked, Verdict)
                    verdict = looked
            if hit is True:
                return self.apply(table, chain, rule, verdict, i, stack, base, depth)
            # may or may not match: both branches must agree
            self.branches += 1
            if self.branches > _MAX_BRANCHES:
                raise _TooComplex
            taken = self.apply(table, chain, rule, verdict, i, stack, base, depth)
            skipped = self.run(table, chain, i, stack, base, depth)
            if taken.category == skipped.category:
                return skipped
            return _Res(
                "unknown",
                rule,
                table,
                chain.name,
                f"depends on a match netdash does not evaluate: {_describe_rule(rule, table)}",
            )
        return self.fall_off(table, stack, base, depth)

    def fall_off(
        self, table: Table, stack: tuple[tuple[Chain, int], ...], base: Chain, depth: int
    ) -> _Res:
        if stack:
            caller, at = stack[-1]
            return self.run(table, caller, at, stack[:-1], base, depth)
        kind = "drop" if base.policy == "drop" else "accept"
        reason, _ = _policy_reason(table, base)
        return _Res(kind, None, table, base.name, reason)

    def apply(
        self,
        table: Table,
        chain: Chain,
        rule: Rule,
        verdict: Verdict,
        next_index: int,
        stack: tuple[tuple[Chain, int], ...],
        base: Chain,
        depth: int,
    ) -> _Res:
        kind = verdict.kind
        if kind in ("accept", "drop", "reject"):
            return _Res(kind, rule, table, chain.name, _describe_rule(rule, table))
        if kind == "dnat":
            if _dnat_is_noop(verdict, self.packet):
                return self.run(table, chain, next_index, stack, base, depth)
            return _Res("dnat", rule, table, chain.name, _describe_rule(rule, table), verdict)
        if kind == "return":
            return self.fall_off(table, stack, base, depth)
        if kind in ("jump", "goto"):
            target = table.chains.get(verdict.target or "")
            if target is None:
                return _Res(
                    "unknown", rule, table, chain.name, f"jump to a missing chain {verdict.target}"
                )
            new_stack = (*stack, (chain, next_index)) if kind == "jump" else stack
            return self.run(table, target, 0, new_stack, base, depth + 1)
        return _Res(
            "unknown",
            rule,
            table,
            chain.name,
            f"a statement netdash does not evaluate: {_describe_rule(rule, table)}",
        )


def _dnat_is_noop(v: Verdict, p: Packet) -> bool:
    same_addr = v.to_address is None or (
        _parse_ip(v.to_address) == p.daddr if v.to_address else True
    )
    same_port = v.to_port is None or v.to_port == (p.dport, p.dport)
    return bool(
        same_addr and same_port and not (v.local and v.to_address is None and not p.daddr_local)
    )


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def base_chains(ruleset: Ruleset, hook: str, packet: Packet) -> list[tuple[Table, Chain]]:
    """The base chains of ``hook`` a packet of ``packet.version`` traverses, in priority
    order (nft before legacy at equal priority). ``ingress``: netdev chains of the packet's
    input device."""
    fams = frozenset({"netdev"}) if hook == "ingress" else families_for(packet.version)
    found: list[tuple[int, int, Table, Chain]] = []
    for t in ruleset.tables:
        if t.family not in fams:
            continue
        for c in t.chains.values():
            if c.hook != hook:
                continue
            if hook == "ingress" and c.device not in (None, packet.iifname):
                continue
            found.append((c.priority, 1 if t.backend == "legacy" else 0, t, c))
    found.sort(key=lambda x: (x[0], x[1]))
    return [(t, c) for _, _, t, c in found]


def walk_hook(ruleset: Ruleset, hook: str, packet: Packet) -> Decision:
    """Walk every base chain of one hook (``prerouting``, ``input``, ``forward``, …) for
    ``packet``, in priority order.

    Returns a :class:`Decision`: ``blocked`` when a chain drops or rejects it (a drop is final
    even after a chain that could not be evaluated), ``unknown`` when a chain could not be
    decided and none drops it, ``open`` when every chain lets it through; a DNAT (prerouting)
    is returned as ``open`` with ``dnat`` set: the connection continues to the new
    destination. For the forward path give ``daddr_local=False`` and the ``oifname``."""
    unknown: Decision | None = None
    accepted: _Res | None = None
    for table, chain in base_chains(ruleset, hook, packet):
        walker = _Walker(ruleset, packet)
        try:
            res = walker.base_chain(table, chain)
        except _TooComplex:
            res = _Res(
                "unknown",
                None,
                table,
                chain.name,
                f"too many undecidable rules in {table.label} {chain.name}",
            )
        if res.kind in ("drop", "reject") and hook == "ingress" and chain.device is None:
            # nft -j (1.0.6) does not say which device an ingress chain hooks: it may be
            # another interface's
            res = _Res(
                "unknown",
                res.rule,
                table,
                chain.name,
                f"an ingress chain of a device nft does not name drops it: {res.reason}",
            )
        if res.kind in ("drop", "reject"):
            return _decision(BLOCKED, res)
        if res.kind == "unknown" and unknown is None:
            unknown = _decision(UNKNOWN, res)
        if res.kind == "dnat":
            if unknown is not None:
                return unknown
            chains = base_chains(ruleset, hook, packet)
            if chains[-1][1] is not chain:
                return _decision(
                    UNKNOWN,
                    replace(
                        res,
                        kind="unknown",
                        reason=f"{res.reason}: the {hook} chains after this DNAT are not walked",
                    ),
                )
            return _decision(OPEN, res)
        if res.kind == "accept" and (accepted is None or accepted.rule is None):
            accepted = res
    if unknown is not None:
        return unknown
    if accepted is not None:
        return _decision(OPEN, accepted)
    return Decision(OPEN, "no rule stops it")


def _decision(outcome: str, res: _Res) -> Decision:
    fe = front_end(res.table, res.chain)
    return Decision(
        outcome=outcome,
        reason=res.reason,
        rule=res.rule,
        table=res.table.label,
        chain=res.chain,
        front_end=fe,
        dnat=res.verdict if res.kind == "dnat" else None,
    )


def evaluate(ruleset: Ruleset, packet: Packet) -> Decision:
    """Whether a new inbound connection reaches a socket on this host at
    ``packet.daddr``:``packet.dport``: the ``ingress``, ``prerouting`` and ``input`` hooks.

    ``open``: nothing stops it; ``blocked``: a rule or a policy drops or rejects it;
    ``unknown``: a rule that decides it could not be evaluated (reason names it). A prerouting
    DNAT moves the connection (``Decision.dnat`` is set, the reason says where): to another
    port of this host, the ``input`` hook decides for the new port; to another address (a
    published container port), the ``forward`` hook does, if this host forwards that IP
    version (else ``blocked``; ``unknown`` when that is not known). The port is then open or
    not for whatever answers there, not for the listener bound to the original port."""
    unknown: Decision | None = None
    opened = Decision(OPEN, "no rule stops it")
    for hook in INBOUND_HOOKS:
        d = walk_hook(ruleset, hook, packet)
        better = d.rule is not None or opened.rule is None
        if d.outcome == OPEN and d.dnat is None and better and d.table is not None:
            opened = d
        if d.outcome == BLOCKED:
            return d
        if d.dnat is not None:
            if unknown is not None:
                return unknown
            return _after_dnat(ruleset, packet, d)
        if d.outcome == UNKNOWN and unknown is None:
            unknown = d
    return unknown if unknown is not None else opened


def _after_dnat(ruleset: Ruleset, packet: Packet, d: Decision) -> Decision:
    """Where a DNAT sends the connection and what that path does to it (see
    :func:`evaluate`)."""
    v = d.dnat
    assert v is not None
    head = f"{d.reason}: the connection goes to {_dnat_target(v)}"

    def decided(outcome: str, reason: str, later: Decision | None = None) -> Decision:
        rule = later.rule if later is not None and later.rule is not None else d.rule
        table = later.table if later is not None and later.rule is not None else d.table
        chain = later.chain if later is not None and later.rule is not None else d.chain
        fe = later.front_end if later is not None and later.rule is not None else d.front_end
        return Decision(outcome, reason, rule, table, chain, fe, v)

    if v.to_port is not None and v.to_port[0] != v.to_port[1]:
        return decided(UNKNOWN, f"{head}; a DNAT to a port range is not evaluated")
    port = v.to_port[0] if v.to_port is not None else packet.dport
    target = _parse_ip(v.to_address) if v.to_address else None
    if v.local or v.to_address is None or target == packet.daddr:
        moved = Packet(packet.protocol, packet.saddr, packet.daddr, port, packet.iifname)
        later = walk_hook(ruleset, "input", moved)
        return decided(later.outcome, f"{head}; then {later.reason}", later)
    if target is None or target.version != packet.version or target.is_loopback:
        return decided(UNKNOWN, f"{head}; that destination is not evaluated")
    forwards = ruleset.forwards(packet.version)
    if forwards is None:
        return decided(
            UNKNOWN, f"{head}; whether this host forwards IPv{packet.version} is not known"
        )
    if not forwards:
        return decided(BLOCKED, f"{head}, but this host does not forward IPv{packet.version}")
    moved = Packet(
        packet.protocol, packet.saddr, target, port, packet.iifname, daddr_local=False, oifname=None
    )
    later = walk_hook(ruleset, "forward", moved)
    return decided(later.outcome, f"{head}; the forward path: {later.reason}", later)


def _dnat_target(v: Verdict) -> str:
    addr = v.to_address or ("this host" if v.local else "the same address")
    if v.to_port is None:
        return addr
    lo, hi = v.to_port
    port = str(lo) if lo == hi else f"{lo}-{hi}"
    return f"{addr}:{port}" if v.to_address else f"{addr} port {port}"


# -- per interface ------------------------------------------------------------------------


@dataclass(frozen=True)
class NetInterface:
    """An up interface and its addresses with prefix lengths (``198.18.0.1/24``).
    ``carrier`` false: administratively up without a link (a bridge with no member, an
    unplugged cable): nothing arrives through it, but its addresses are this host's, so a
    packet arriving elsewhere may be addressed to them (the weak host model)."""

    name: str
    addresses: tuple[IPInterface, ...]
    is_loopback: bool = False
    carrier: bool = True


@dataclass(frozen=True)
class Exception_:
    """A source prefix whose outcome differs from its interface's network's."""

    source: str
    decision: Decision


@dataclass(frozen=True)
class InterfaceReach:
    """What a new connection from one interface's network meets.

    ``outcome``: open / blocked / not-bound-there / unknown; ``decision``: the deciding rule
    (``None`` for not-bound-there); ``address``: the address that was evaluated;
    ``exceptions``: source prefixes inside the network with another outcome
    ("open on v0 except from 198.18.0.2/32")."""

    interface: str
    outcome: str
    decision: Decision | None = None
    address: str | None = None
    exceptions: tuple[Exception_, ...] = ()


def source_prefixes(ruleset: Ruleset) -> tuple[IPNetwork, ...]:
    """Every source prefix a rule or verdict map tests, deduplicated."""
    seen: dict[IPNetwork, None] = {}
    for t in ruleset.tables:
        for c in t.chains.values():
            for r in c.rules:
                for m in r.matches:
                    if m.key == "saddr":
                        for v in m.values:
                            if isinstance(v, ipaddress.IPv4Network | ipaddress.IPv6Network):
                                seen[v] = None
                if r.verdict.kind == "vmap" and r.verdict.key == "saddr":
                    for values, _ in r.verdict.vmap:
                        for v in values:
                            if isinstance(v, ipaddress.IPv4Network | ipaddress.IPv6Network):
                                seen[v] = None
    return tuple(seen)


class SourcePrefixes:
    """The source prefixes of a ruleset (:func:`source_prefixes`) with, per network, those
    strictly inside it (kept: a view asks the same few networks for every listener)."""

    def __init__(self, prefixes: Sequence[IPNetwork]) -> None:
        # By first address, once: inside() is asked per network (it sorted on every call,
        # quadratic with a set of thousands of addresses).
        self._spans = sorted(((*span(p), p) for p in prefixes), key=lambda x: x[1])
        self._inside: dict[IPNetwork, tuple[IPNetwork, ...]] = {}

    def covers(self, address: IPAddress) -> bool:
        """True when some prefix holds ``address``."""
        return any(address in p for _, _, _, p in self._spans if p.version == address.version)

    def inside(self, net: IPNetwork) -> tuple[IPNetwork, ...]:
        """Prefixes strictly inside ``net``, by their first address."""
        found = self._inside.get(net)
        if found is None:
            v, lo, hi = span(net)
            found = tuple(
                p
                for pv, plo, phi, p in self._spans
                if pv == v and lo <= plo and phi <= hi and (plo, phi) != (lo, hi)
            )
            self._inside[net] = found
        return found


def representative(net: IPNetwork, avoid: Sequence[IPNetwork] | SourcePrefixes) -> IPAddress | None:
    """An address of ``net`` outside every prefix of ``avoid`` strictly inside ``net`` (the
    first host address when possible), or ``None`` when they cover it."""
    prefixes = avoid if isinstance(avoid, SourcePrefixes) else SourcePrefixes(avoid)
    inner = prefixes.inside(net)
    start = int(net.network_address)
    if net.num_addresses > 2:
        start += 1
    end = int(net.broadcast_address)
    candidate = start
    for _ in range(len(inner) + 1):
        moved = False
        for a in inner:
            if int(a.network_address) <= candidate <= int(a.broadcast_address):
                candidate = int(a.broadcast_address) + 1
                moved = True
        if not moved:
            break
    if candidate > end:
        return None
    return ipaddress.ip_address(candidate) if net.version == 4 else ipaddress.IPv6Address(candidate)


def _addresses_for(
    bind: IPAddress, dual_stack: bool | None, iface: NetInterface
) -> list[IPInterface]:
    if bind.is_unspecified:
        if bind.version == 4:
            return [a for a in iface.addresses if a.version == 4]
        v4 = dual_stack is not False
        return [a for a in iface.addresses if a.version == 6 or (v4 and a.version == 4)]
    mapped = bind.ipv4_mapped if isinstance(bind, ipaddress.IPv6Address) else None
    want = mapped or bind
    return [a for a in iface.addresses if a.ip == want]


def reach(
    ruleset: Ruleset,
    protocol: str,
    bind_address: str,
    port: int,
    interfaces: Sequence[NetInterface],
    *,
    dual_stack: bool | None = None,
    bound_device: str | None = None,
    prefixes: SourcePrefixes | None = None,
) -> tuple[InterfaceReach, ...]:
    """Per up, non-loopback interface: what a new ``protocol`` connection to ``port`` from
    that interface's network meets, for a listener bound to ``bind_address``.

    Each address of the interface the listener answers on is evaluated with a source on that
    address's network (the outcome) and, for every source prefix the ruleset tests inside
    that network, with a source in it (the exceptions). Across the interface's addresses,
    open wins over unknown, unknown over blocked. ``prefixes``: the ruleset's
    :class:`SourcePrefixes` when the caller keeps them (a view does). Raises ``ValueError``
    for a bind address that is not an IP address."""
    bind = ipaddress.ip_address(bind_address.split("%", 1)[0])
    if prefixes is None:
        prefixes = SourcePrefixes(source_prefixes(ruleset))
    out: list[InterfaceReach] = []
    for iface in interfaces:
        if iface.is_loopback or not iface.carrier:
            continue
        addrs = _addresses_for(bind, dual_stack, iface)
        if not addrs or (bound_device is not None and bound_device != iface.name):
            out.append(InterfaceReach(iface.name, NOT_BOUND_THERE))
            continue
        results: list[InterfaceReach] = []
        for a in addrs:
            results.append(_reach_address(ruleset, protocol, a, port, iface.name, prefixes))
        if bind.is_unspecified:
            # Linux is a weak host: a packet that arrives here addressed to another interface's
            # address (a bridge with no carrier, a VPN's) is accepted too, and a wildcard
            # socket answers it. A rule that drops only this interface's own address must
            # not make the listener look shielded.
            for other in interfaces:
                if other is iface or other.is_loopback:
                    continue
                for x in _addresses_for(bind, dual_stack, other):
                    if x.ip.is_link_local:
                        continue  # not routable to us from another link
                    own = next((a for a in addrs if a.version == x.version), None)
                    if own is not None:
                        results.append(
                            _reach_address(ruleset, protocol, own, port, iface.name, prefixes, x.ip)
                        )
        out.append(_combine(results))
    return tuple(out)


def _reach_address(
    ruleset: Ruleset,
    protocol: str,
    address: IPInterface,
    port: int,
    ifname: str,
    prefixes: SourcePrefixes,
    destination: IPAddress | None = None,
) -> InterfaceReach:
    """What a connection from ``address``'s network meets, addressed to ``address`` or, when
    given, to ``destination`` (another of this host's addresses: the weak host model)."""
    net = address.network
    dst = destination if destination is not None else address.ip
    src = representative(net, prefixes)
    if src is None:
        src = net.network_address
    main = evaluate(ruleset, Packet(protocol, src, dst, port, ifname))
    exceptions: list[Exception_] = []
    for p in prefixes.inside(net):
        rep = representative(p, prefixes)
        if rep is None:
            continue
        d = evaluate(ruleset, Packet(protocol, rep, dst, port, ifname))
        if d.outcome != main.outcome:
            exceptions.append(Exception_(str(p), d))
    # A source beyond this network, routed in through it (a server's clients on the
    # Internet, a phone on another subnet behind the router): a rule that drops only the
    # local subnet must not make the listener look shielded.
    far = routed_source(net, prefixes)
    if far is not None:
        d = evaluate(ruleset, Packet(protocol, far, dst, port, ifname))
        if d.outcome != main.outcome and not any(
            x.decision.outcome == d.outcome for x in exceptions
        ):
            exceptions.append(Exception_(f"{far} (routed from other networks)", d))
    return InterfaceReach(ifname, main.outcome, main, str(dst), tuple(exceptions))


_ROUTED_V4 = ("203.0.113.7", "198.51.100.7", "192.0.2.7", "100.64.0.7", "172.31.255.7")
_ROUTED_V6 = ("2a00:ffff::7", "2600:ffff::7", "fd7f:ffff::7")


def routed_source(net: IPNetwork, prefixes: SourcePrefixes) -> IPAddress | None:
    """An address outside ``net`` and outside every source prefix the ruleset tests, standing
    for "any other network" (documentation and unallocated-looking ranges, RFC 5737 first;
    only evaluated, never contacted); ``None`` when every candidate is tested by some rule
    (their own exceptions then say what those sources meet)."""
    for text in _ROUTED_V4 if net.version == 4 else _ROUTED_V6:
        candidate = ipaddress.ip_address(text)
        if candidate in net:
            continue
        if not prefixes.covers(candidate):
            return candidate
    return None


def _combine(results: Sequence[InterfaceReach]) -> InterfaceReach:
    for outcome in (OPEN, UNKNOWN, BLOCKED):
        for r in results:
            if r.outcome == outcome:
                return r
    return results[0]


# -- published ports -----------------------------------------------------------------------


@dataclass(frozen=True)
class DnatRule:
    """A DNAT (or redirect) reached from a prerouting base chain.

    ``matches``: every condition on the way (those of the jump rules that led there, then
    the rule's own); ``path``: the chains walked (``("PREROUTING", "DOCKER")``);
    ``to_address`` (``None`` for a redirect to this host) and ``to_port`` (an inclusive range
    or ``None``: unchanged)."""

    table: str
    family: str
    backend: str
    rule: Rule
    matches: tuple[Match, ...]
    path: tuple[str, ...]
    to_address: str | None
    to_port: tuple[int, int] | None
    front_end: str | None


def dnat_rules(ruleset: Ruleset) -> tuple[DnatRule, ...]:
    """Every DNAT/redirect reachable from a ``prerouting`` base chain through jumps and gotos
    (depth-first, in rule order), with the conditions that lead there. Verdict-map entries that
    jump are followed too (their key becomes a condition)."""
    out: list[DnatRule] = []
    for t in ruleset.tables:
        for c in t.chains.values():
            if c.hook == "prerouting":
                _collect_dnat(t, c, (), (c.name,), out, 0)
    return tuple(out)


def _collect_dnat(
    table: Table,
    chain: Chain,
    conds: tuple[Match, ...],
    path: tuple[str, ...],
    out: list[DnatRule],
    depth: int,
) -> None:
    if depth > _MAX_DEPTH:
        return
    for rule in chain.rules:
        v = rule.verdict
        here = conds + rule.matches
        pairs: list[tuple[tuple[Match, ...], Verdict]] = [(here, v)]
        if v.kind == "vmap":
            pairs = [
                ((*here, Match(key=v.key or "unknown", values=vals, proto=v.key_proto)), sub)
                for vals, sub in v.vmap
            ]
        for ms, verdict in pairs:
            if verdict.kind == "dnat":
                out.append(
                    DnatRule(
                        table.name,
                        table.family,
                        table.backend,
                        rule,
                        ms,
                        path,
                        verdict.to_address,
                        verdict.to_port,
                        front_end(table, chain.name),
                    )
                )
            elif verdict.kind in ("jump", "goto"):
                target = table.chains.get(verdict.target or "")
                if target is not None and target.name not in path:
                    _collect_dnat(table, target, ms, (*path, target.name), out, depth + 1)


# -- what the firewall source hands to the assessment ---------------------------------------


class FirewallView:
    """What the firewall source read, for one snapshot: ``read`` (a ruleset is there),
    ``reason`` (why not: one line for the header and ``check``), the ``ruleset`` and the up
    ``interfaces`` with their prefixes.

    :meth:`reach_of` evaluates a listener once per (protocol, bind address, port,
    IPV6_V6ONLY, bound device) and keeps the answer, so a dashboard that keeps one view while
    the ruleset is unchanged (the generation id) evaluates each listener once. Two views are
    equal when they hold the same ruleset object, interfaces and state (the poller compares
    snapshots)."""

    __slots__ = ("_bounds", "_cache", "_prefixes", "interfaces", "read", "reason", "ruleset")

    def __init__(
        self,
        read: bool,
        reason: str | None = None,
        ruleset: Ruleset | None = None,
        interfaces: tuple[NetInterface, ...] = (),
    ) -> None:
        self.read = read and ruleset is not None
        self.reason = reason
        self.ruleset = ruleset
        self.interfaces = interfaces
        self._cache: dict[tuple[object, ...], tuple[InterfaceReach, ...]] = {}
        self._prefixes: SourcePrefixes | None = None
        self._bounds: list[int] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FirewallView):
            return NotImplemented
        return (
            self.read == other.read
            and self.reason == other.reason
            and self.ruleset is other.ruleset
            and self.interfaces == other.interfaces
        )

    def __hash__(self) -> int:
        return hash((self.read, self.reason, id(self.ruleset), self.interfaces))

    def __repr__(self) -> str:
        return f"<FirewallView read={self.read} reason={self.reason!r}>"

    def reach_of(
        self,
        protocol: str,
        address: str,
        port: int,
        dual_stack: bool | None = None,
        bound_device: str | None = None,
    ) -> tuple[InterfaceReach, ...]:
        """:func:`reach` for one listener over :attr:`interfaces` (``()`` when not read or
        the bind address is not an IP address)."""
        if self.ruleset is None:
            return ()
        if self._bounds is None:
            self._bounds = port_bounds(self.ruleset)
        # Ports between the same two bounds meet the same rules: one evaluation for all.
        key = (protocol, address, bisect_right(self._bounds, port), dual_stack, bound_device)
        found = self._cache.get(key)
        if found is None:
            if self._prefixes is None:
                self._prefixes = SourcePrefixes(source_prefixes(self.ruleset))
            try:
                found = reach(
                    self.ruleset,
                    protocol,
                    address,
                    port,
                    self.interfaces,
                    dual_stack=dual_stack,
                    bound_device=bound_device,
                    prefixes=self._prefixes,
                )
            except ValueError:
                found = ()
            self._cache[key] = found
        return found


def port_bounds(ruleset: Ruleset) -> list[int]:
    """Where the answer of :func:`evaluate` may change along the destination ports, sorted:
    the first port of every port range a rule, a verdict map or a DNAT names, and the port
    after its last. A packet's port is read only against such ranges (:func:`match_holds`
    on ``dport``, :func:`_dnat_is_noop`; a DNAT that keeps the port carries it to the walk
    after it), and no :class:`Decision` holds it, so two ports with no bound between them
    (the same ``bisect_right``) get equal answers. Conservative: every ``(low, high)`` pair
    of ints anywhere in a match, a verdict map or a DNAT counts."""
    bounds: set[int] = set()

    def add(values: Sequence[object]) -> None:
        for v in values:
            if isinstance(v, tuple) and len(v) == 2:
                lo, hi = v
                if isinstance(lo, int) and isinstance(hi, int):
                    bounds.add(lo)
                    bounds.add(hi + 1)

    def verdict(v: Verdict) -> None:
        if v.to_port is not None:
            add((v.to_port,))
        for values, sub in v.vmap:
            add(values)
            verdict(sub)

    for t in ruleset.tables:
        for c in t.chains.values():
            for r in c.rules:
                for m in r.matches:
                    add(m.values)
                verdict(r.verdict)
    return sorted(bounds)


def overall(entries: Sequence[InterfaceReach]) -> str | None:
    """One outcome over a listener's interfaces, exceptions included: ``open`` when any
    network (or source prefix) gets through, else ``unknown`` when any could not be decided,
    else ``blocked`` when at least one interface holds it; ``None`` when no interface does."""
    outcomes: set[str] = set()
    for e in entries:
        if e.outcome == NOT_BOUND_THERE:
            continue
        outcomes.add(e.outcome)
        outcomes.update(x.decision.outcome for x in e.exceptions)
    for outcome in (OPEN, UNKNOWN, BLOCKED):
        if outcome in outcomes:
            return outcome
    return None
