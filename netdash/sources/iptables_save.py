"""Read ``iptables-save`` text (``iptables-nft-save``, ``ip6tables-nft-save``,
``iptables-legacy-save``, ``ip6tables-legacy-save``) into :class:`~netdash.core.ruleset.Table` s.

Source: the save format of iptables(8)/iptables-save(8): ``*table``, ``:CHAIN POLICY
[packets:bytes]``, ``-A CHAIN match… -j TARGET``, ``COMMIT``. The built-in chains are base
chains at the priorities iptables registers (``NF_IP_PRI_RAW`` -300, ``MANGLE`` -150,
``NAT_DST`` -100, ``FILTER`` 0, ``SECURITY`` 50, ``NAT_SRC`` 100). Translated: ``-i``/``-o``
(``+`` wildcards), ``-s``/``-d`` (lists, prefixes), ``-p``, ``--dport``/``--sport``, ``-m
multiport``, ``-m conntrack --ctstate``, ``-m state --state``, ``-m addrtype --dst-type``,
``-m comment``; targets ACCEPT, DROP, REJECT, RETURN, LOG, jumps/gotos, DNAT and REDIRECT.
Anything else (``-m set``, ``-m recent``, ``-m mark``, ``-m limit`` before a verdict, unknown
targets) becomes an ``unknown`` match or verdict.
"""

from __future__ import annotations

import ipaddress
import re
import shlex

from netdash.core.ruleset import Chain, Match, Rule, RulesetError, Table, Verdict

__all__ = ["BUILTIN_HOOKS", "parse_iptables_save"]

#: Built-in chains per table: (hook, priority) as iptables registers them.
BUILTIN_HOOKS: dict[str, dict[str, tuple[str, int]]] = {
    "raw": {"PREROUTING": ("prerouting", -300), "OUTPUT": ("output", -300)},
    "mangle": {
        "PREROUTING": ("prerouting", -150),
        "INPUT": ("input", -150),
        "FORWARD": ("forward", -150),
        "OUTPUT": ("output", -150),
        "POSTROUTING": ("postrouting", -150),
    },
    "nat": {
        "PREROUTING": ("prerouting", -100),
        "INPUT": ("input", 100),
        "OUTPUT": ("output", -100),
        "POSTROUTING": ("postrouting", 100),
    },
    "filter": {"INPUT": ("input", 0), "FORWARD": ("forward", 0), "OUTPUT": ("output", 0)},
    "security": {"INPUT": ("input", 50), "FORWARD": ("forward", 50), "OUTPUT": ("output", 50)},
}

_QUOTED = re.compile(r"[\"'\\]")
_NEUTRAL_TARGETS = {"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "TRACE", "CT", "NOTRACK"}
_NEUTRAL_MODULES = {"comment", "tcp", "udp"}


def parse_iptables_save(text: str, *, version: int, backend: str) -> list[Table]:
    """Parse one ``*-save`` output for IPv4 (``version=4``: tables of family ``ip``) or IPv6
    (``6``: ``ip6``), read through ``backend`` (``"nft"`` or ``"legacy"``).

    A table that iptables-nft reports as incompatible (``# Table `filter' is incompatible,
    use 'nft' tool.``) is skipped: ``nft -j`` has it. Raises
    :class:`~netdash.core.ruleset.RulesetError` for a line that does not fit the format
    (with its line number)."""
    family = "ip" if version == 4 else "ip6"
    tables: list[Table] = []
    name: str | None = None
    policies: dict[str, str] = {}
    order: list[str] = []
    rules: dict[str, list[Rule]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            if name is not None:
                raise RulesetError(f"iptables-save line {number}: a table starts before COMMIT")
            name = line[1:].strip()
            if not name or " " in name:
                raise RulesetError(f"iptables-save line {number}: bad table name")
            policies, order, rules = {}, [], {}
            continue
        if name is None:
            raise RulesetError(f"iptables-save line {number}: text outside a table")
        if line == "COMMIT":
            tables.append(_table(family, name, backend, policies, order, rules))
            name = None
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            if len(parts) < 2:
                raise RulesetError(f"iptables-save line {number}: bad chain line")
            policies[parts[0]] = parts[1]
            order.append(parts[0])
            rules.setdefault(parts[0], [])
            continue
        if line.startswith("-A ") or line.startswith("-I "):
            try:
                # most rules hold no quote or escape: a plain split is 10 times faster
                words = line.split() if not _QUOTED.search(line) else shlex.split(line)
            except ValueError as exc:
                raise RulesetError(f"iptables-save line {number}: {exc}") from None
            if len(words) < 2:
                raise RulesetError(f"iptables-save line {number}: -A without a chain")
            chain = words[1]
            if chain not in rules:
                rules[chain] = []
                order.append(chain)
            handle = len(rules[chain]) + 1
            rules[chain].append(
                _rule(words[2:], family, name, chain, handle, backend, line, set(policies))
            )
            continue
        raise RulesetError(f"iptables-save line {number}: not a table, chain, rule or COMMIT")
    if name is not None:
        raise RulesetError("iptables-save: the last table has no COMMIT")
    return tables


def _table(
    family: str,
    name: str,
    backend: str,
    policies: dict[str, str],
    order: list[str],
    rules: dict[str, list[Rule]],
) -> Table:
    hooks = BUILTIN_HOOKS.get(name, {})
    chains: dict[str, Chain] = {}
    for cname in order:
        hook = hooks.get(cname)
        policy = policies.get(cname, "-")
        chains[cname] = Chain(
            name=cname,
            rules=tuple(rules.get(cname, ())),
            hook=hook[0] if hook and policy != "-" else None,
            priority=hook[1] if hook else 0,
            policy="drop" if policy == "DROP" else "accept",
            type="nat" if name == "nat" else "filter",
        )
    return Table(family, name, chains, backend)


def _ranges(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        a = int(lo) if lo else 0
        b = int(hi) if hi else (65535 if _ else a)
        if not (0 <= a <= 65535 and 0 <= b <= 65535):
            raise ValueError(part)
        out.append((min(a, b), max(a, b)))
    return tuple(out)


def _rule(
    words: list[str],
    family: str,
    table: str,
    chain: str,
    handle: int,
    backend: str,
    line: str,
    declared: set[str],
) -> Rule:
    matches: list[Match] = []
    verdict = Verdict("continue")
    comment: str | None = None
    proto: str | None = None
    module: str | None = None
    negate = False
    limit_seen = False
    i = 0
    n = len(words)

    def arg() -> str:
        nonlocal i
        if i >= n:
            raise RulesetError(f"iptables-save: {words[i - 1]} without a value in {chain}")
        value = words[i]
        i += 1
        return value

    while i < n:
        w = words[i]
        i += 1
        if w == "!":
            negate = True
            continue
        neg, negate = negate, False
        try:
            if w in ("-i", "--in-interface", "-o", "--out-interface"):
                value = arg()
                name = value[:-1] + "*" if value.endswith("+") else value.replace("*", "\\*")
                key = "iifname" if w in ("-i", "--in-interface") else "oifname"
                matches.append(Match(key, (name,), neg, f"{w} {value}"))
            elif w in ("-s", "--source", "-d", "--destination"):
                value = arg()
                nets = tuple(ipaddress.ip_network(v, strict=False) for v in value.split(","))
                key = "saddr" if w in ("-s", "--source") else "daddr"
                matches.append(Match(key, nets, neg, f"{w} {value}"))
            elif w in ("-p", "--protocol"):
                proto = arg().lower()
                if proto not in ("all", "0"):
                    matches.append(Match("l4proto", (proto,), neg, f"-p {proto}"))
                if neg:
                    proto = None
            elif w == "-m" or w == "--match":
                module = arg()
                if module == "limit":
                    limit_seen = True
                elif module in ("rt", "frag", "hbh", "dst", "ipv6header"):
                    # IPv6 extension headers: a plain SYN or datagram carries none
                    matches.append(Match("exthdr", (module,), False, f"-m {module}"))
                elif module not in _NEUTRAL_MODULES | {
                    "multiport",
                    "conntrack",
                    "state",
                    "addrtype",
                }:
                    matches.append(Match("unknown", text=f"-m {module}"))
            elif w in (
                "--dport",
                "--destination-port",
                "--sport",
                "--source-port",
                "--dports",
                "--sports",
                "--ports",
                "--destination-ports",
                "--source-ports",
            ):
                value = arg()
                key = "sport" if "s" in w.lstrip("-")[:1] else "dport"
                if w == "--ports":
                    matches.append(Match("unknown", text=f"--ports {value}"))
                else:
                    matches.append(Match(key, _ranges(value), neg, f"{w} {value}", None, proto))
            elif w in ("--ctstate", "--state"):
                value = arg()
                states = tuple(s.lower() for s in value.split(","))
                matches.append(Match("ct_state", states, neg, f"{w} {value}"))
            elif w == "--dst-type":
                value = arg()
                types = tuple(s.lower() for s in value.split(","))
                matches.append(Match("daddr_type", types, neg, f"--dst-type {value}"))
            elif w == "--comment":
                comment = arg()
            elif w in ("-j", "--jump", "-g", "--goto"):
                verdict = _target(arg(), words[i:], w in ("-g", "--goto"), line, declared)
                break
            elif w.startswith("--"):
                # an option of a module this reader does not translate
                value = words[i] if i < n and not words[i].startswith("-") else ""
                if value:
                    i += 1
                if module in ("limit", "rt", "frag", "hbh", "dst", "ipv6header"):
                    continue
                matches.append(Match("unknown", text=f"{w} {value}".strip()))
            else:
                matches.append(Match("unknown", text=w))
        except ValueError:
            raise RulesetError(f"iptables-save: cannot read '{w}' in a rule of {chain}") from None
    if limit_seen and verdict.kind not in ("continue",):
        matches.append(Match("unknown", text="-m limit"))
    return Rule(
        table=table,
        chain=chain,
        handle=handle,
        matches=tuple(matches),
        verdict=verdict,
        text=line,
        family=family,
        backend=backend,
        comment=comment,
    )


def _target(target: str, rest: list[str], goto: bool, line: str, declared: set[str]) -> Verdict:
    if goto:
        return Verdict("goto", target=target, text=line)
    simple = {"ACCEPT": "accept", "DROP": "drop", "REJECT": "reject", "RETURN": "return"}
    if target in simple:
        return Verdict(simple[target], text=line)
    if target in _NEUTRAL_TARGETS:
        return Verdict("continue", text=line)
    if target in ("DNAT", "REDIRECT"):
        opts = dict(zip(rest[::2], rest[1::2], strict=False))
        if target == "REDIRECT":
            ports = opts.get("--to-ports")
            return Verdict("dnat", to_port=_port_range(ports), local=True, text=line)
        dest = opts.get("--to-destination")
        if dest is None:
            return Verdict("unknown", text=line)
        addr, port = _split_dest(dest)
        return Verdict("dnat", to_address=addr, to_port=_port_range(port), text=line)
    if target in declared:
        return Verdict("jump", target=target, text=line)
    # a target extension (TPROXY, NFQUEUE, SNAT, MASQUERADE …)
    return Verdict("unknown", text=line)


def _split_dest(dest: str) -> tuple[str | None, str | None]:
    if dest.startswith("["):
        addr, _, rest = dest[1:].partition("]")
        return addr or None, rest[1:] if rest.startswith(":") else None
    if dest.count(":") == 1:
        addr, _, port = dest.partition(":")
        return addr or None, port or None
    return dest or None, None


def _port_range(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    lo, _, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if hi else a
    except ValueError:
        return None
    return (a, b)
