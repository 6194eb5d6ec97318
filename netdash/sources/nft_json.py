"""Read ``nft -j list ruleset`` (libnftables JSON, schema version 1) into a
:class:`~netdash.core.ruleset.Ruleset`.

Source: the JSON that ``nft -j list ruleset`` prints (libnftables-json(5)). Translated: the
matches of :mod:`netdash.core.ruleset` (``meta iifname``/``iif``/``oifname``/``l4proto``/
``nfproto``, ``ip``/``ip6 saddr``/``daddr`` with prefixes, ranges and sets, ``tcp``/``udp``/``th
dport``/``sport`` with ranges and sets, ``ip protocol``/``ip6 nexthdr``, ``ct state``, ``fib daddr
type``), named and anonymous sets, verdict maps, ``dnat``/``redirect`` and the verdicts.
Everything else (``xt`` expressions that iptables-nft could not translate, marks, bitwise
tests, ``limit``, ``quota``) becomes an ``unknown`` match or verdict, which the evaluator never
turns into a definite answer.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from netdash.core.ruleset import Chain, Match, Rule, Ruleset, RulesetError, Table, Verdict

__all__ = ["NAMED_PRIORITIES", "parse_nft_json"]

#: nft's named priorities (nft(8), "CHAINS"), for the families with IP hooks.
NAMED_PRIORITIES = {
    "raw": -300,
    "mangle": -150,
    "dstnat": -100,
    "filter": 0,
    "security": 50,
    "srcnat": 100,
}

_VERDICTS = ("accept", "drop", "reject", "return", "jump", "goto", "continue")
_DECIDING = ("queue", "snat", "masquerade", "synproxy", "fwd", "dup", "tproxy")
_NEUTRAL = ("counter", "log", "comment", "mangle", "meta", "ct", "set", "map", "notrack")


def parse_nft_json(text: str | bytes, *, read_at: float = 0.0) -> Ruleset:
    """Parse the output of ``nft -j list ruleset``.

    Returns a :class:`Ruleset` of ``backend="nft"`` tables. Raises
    :class:`~netdash.core.ruleset.RulesetError` when the text is not JSON of that shape."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RulesetError(f"nft -j printed something that is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
        raise RulesetError("nft -j printed JSON without an 'nftables' list")
    items: list[Any] = doc["nftables"]
    sets: dict[tuple[str, str, str], list[Any]] = {}
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    chain_meta: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    rules: dict[tuple[str, str], dict[str, list[Rule]]] = {}
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise RulesetError("nft -j: an entry of 'nftables' is not a one-key object")
        kind, body = next(iter(item.items()))
        if kind == "metainfo":
            continue
        if not isinstance(body, dict):
            raise RulesetError(f"nft -j: '{kind}' entry is not an object")
        family = _text(body.get("family"), "family")
        if kind == "table":
            key = (family, _text(body.get("name"), "table name"))
            tables.setdefault(key, body)
            chain_meta.setdefault(key, {})
            rules.setdefault(key, {})
        elif kind in ("set", "map"):
            elems = body.get("elem", [])
            if not isinstance(elems, list):
                raise RulesetError("nft -j: a set's 'elem' is not a list")
            sets[(family, _text(body.get("table"), "table"), _text(body.get("name"), "set"))] = (
                elems
            )
        elif kind == "chain":
            key = (family, _text(body.get("table"), "table"))
            chain_meta.setdefault(key, {})[_text(body.get("name"), "chain name")] = body
        elif kind == "rule":
            key = (family, _text(body.get("table"), "table"))
            chain = _text(body.get("chain"), "chain")
            rules.setdefault(key, {}).setdefault(chain, []).append(
                _rule(body, family, key[1], chain, sets)
            )
    out: list[Table] = []
    for key in dict.fromkeys([*tables, *chain_meta]):
        family, name = key
        chains: dict[str, Chain] = {}
        for cname, meta in chain_meta.get(key, {}).items():
            chains[cname] = _chain(cname, meta, tuple(rules.get(key, {}).get(cname, ())))
        for cname, crules in rules.get(key, {}).items():
            if cname not in chains:
                chains[cname] = Chain(cname, tuple(crules))
        out.append(Table(family, name, chains, "nft"))
    return Ruleset(tuple(out), read_at, ("nft -j list ruleset",))


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise RulesetError(f"nft -j: {what} is missing or not a string")
    return value


def _chain(name: str, meta: Mapping[str, Any], rules: tuple[Rule, ...]) -> Chain:
    hook = meta.get("hook")
    prio = meta.get("prio", 0)
    if isinstance(prio, str):
        base, _, offset = prio.replace(" ", "").partition("+")
        if "-" in base and base.split("-", 1)[0] in NAMED_PRIORITIES:
            base, off = base.split("-", 1)
            prio = NAMED_PRIORITIES[base] - int(off) if off.isdigit() else 0
        else:
            prio = NAMED_PRIORITIES.get(base, 0) + (int(offset) if offset.isdigit() else 0)
    if not isinstance(prio, int):
        raise RulesetError(f"nft -j: chain {name}'s priority is not a number")
    policy = meta.get("policy", "accept")
    return Chain(
        name=name,
        rules=rules,
        hook=hook if isinstance(hook, str) else None,
        priority=prio,
        policy=policy if policy in ("accept", "drop") else "accept",
        type=str(meta.get("type", "filter")),
        device=meta.get("dev") if isinstance(meta.get("dev"), str) else None,
    )


class _Unknown(Exception):
    pass


def _rule(
    body: Mapping[str, Any],
    family: str,
    table: str,
    chain: str,
    sets: Mapping[tuple[str, str, str], list[Any]],
) -> Rule:
    exprs = body.get("expr", [])
    if not isinstance(exprs, list):
        raise RulesetError(f"nft -j: a rule of {table} {chain} has no 'expr' list")
    handle = body.get("handle", 0)
    matches: list[Match] = []
    verdict = Verdict("continue")
    texts: list[str] = []
    for expr in exprs:
        if not isinstance(expr, dict) or len(expr) != 1:
            raise RulesetError(f"nft -j: an expression of {table} {chain} is not a one-key object")
        kind, arg = next(iter(expr.items()))
        texts.append(_expr_text(kind, arg))
        if verdict.kind != "continue":
            continue  # nothing after a verdict changes it
        if kind == "match":
            matches.extend(_match(arg, family, table, sets, texts[-1]))
        elif kind in _VERDICTS:
            target = arg.get("target") if isinstance(arg, dict) else None
            verdict = Verdict(kind, target=target if isinstance(target, str) else None)
        elif kind == "vmap":
            verdict = _vmap(arg, family, table, sets, texts[-1])
        elif kind in ("dnat", "redirect"):
            verdict = _dnat(kind, arg, texts[-1])
        elif kind in ("limit", "quota", "xt") or kind not in _NEUTRAL:
            xt_target = kind == "xt" and isinstance(arg, dict) and arg.get("type") == "target"
            if xt_target or kind in _DECIDING:
                verdict = Verdict("unknown", text=texts[-1])
            else:
                matches.append(Match("unknown", text=texts[-1]))
    comment = body.get("comment") if isinstance(body.get("comment"), str) else None
    text = " ".join(t for t in texts if t)
    if comment:
        text += f' comment "{comment}"'
    return Rule(
        table=table,
        chain=chain,
        handle=handle if isinstance(handle, int) else 0,
        matches=tuple(matches),
        verdict=verdict,
        text=text,
        family=family,
        backend="nft",
        comment=comment,
    )


def _left_key(left: Any, family: str) -> tuple[str, str | None, list[Match]]:
    """(match key, implied transport protocol, implied extra matches) for a match's left
    side; raises _Unknown."""
    if not isinstance(left, dict) or len(left) != 1:
        raise _Unknown
    kind, arg = next(iter(left.items()))
    if not isinstance(arg, dict):
        raise _Unknown
    if kind == "meta":
        key = arg.get("key")
        if key in ("iifname", "iif"):
            return "iifname", None, []
        if key in ("oifname", "oif"):
            return "oifname", None, []
        if key == "l4proto":
            return "l4proto", None, []
        if key in ("nfproto", "protocol"):
            return "nfproto", None, []
        raise _Unknown
    if kind == "payload":
        proto, fld = arg.get("protocol"), arg.get("field")
        if proto in ("ip", "ip6") and fld in ("saddr", "daddr"):
            return fld, None, []
        if proto == "ip" and fld == "protocol":
            return "l4proto", None, [Match("nfproto", ("ipv4",))]
        if proto == "ip6" and fld == "nexthdr":
            return "l4proto", None, [Match("nfproto", ("ipv6",))]
        if proto in ("tcp", "udp", "th") and fld in ("dport", "sport"):
            return fld, None if proto == "th" else proto, []
        raise _Unknown
    if kind == "ct" and arg.get("key") == "state" and "dir" not in arg:
        return "ct_state", None, []
    if kind == "fib" and arg.get("result") == "type" and arg.get("flags") in (["daddr"], "daddr"):
        return "daddr_type", None, []
    raise _Unknown


def _values(
    key: str, right: Any, family: str, table: str, sets: Mapping[Any, list[Any]]
) -> tuple[tuple[object, ...], str | None]:
    """(values, set name) for a match's right side; raises _Unknown."""
    set_name = None
    if isinstance(right, str) and right.startswith("@"):
        set_name = right[1:]
        elems = sets.get((family, table, set_name))
        if elems is None:
            raise _Unknown
        raw: list[Any] = list(elems)
    elif isinstance(right, dict) and "set" in right:
        raw = list(right["set"]) if isinstance(right["set"], list) else [right["set"]]
    elif isinstance(right, list):
        raw = list(right)
    else:
        raw = [right]
    out: list[object] = []
    for r in raw:
        if isinstance(r, dict) and "elem" in r and isinstance(r["elem"], dict):
            r = r["elem"].get("val")
        out.extend(_value(key, r))
    return tuple(out), set_name


@functools.lru_cache(maxsize=8192)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """``ip_network(text, strict=False)``, kept: rulesets repeat their addresses."""
    return ipaddress.ip_network(text, strict=False)


def _value(key: str, v: Any) -> list[object]:
    if key in ("saddr", "daddr"):
        if isinstance(v, str):
            try:
                return [_network(v)]
            except ValueError:
                raise _Unknown from None
        if isinstance(v, dict) and "prefix" in v and isinstance(v["prefix"], dict):
            p = v["prefix"]
            try:
                return [_network(f"{p['addr']}/{int(p['len'])}")]
            except (KeyError, ValueError, TypeError):
                raise _Unknown from None
        if (
            isinstance(v, dict)
            and "range" in v
            and isinstance(v["range"], list)
            and len(v["range"]) == 2
        ):
            try:
                lo, hi = (ipaddress.ip_address(x) for x in v["range"])
                return list(ipaddress.summarize_address_range(lo, hi))
            except (ValueError, TypeError):
                raise _Unknown from None
        raise _Unknown
    if key in ("dport", "sport"):
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535:
            return [(v, v)]
        if isinstance(v, dict) and isinstance(v.get("range"), list) and len(v["range"]) == 2:
            lo, hi = v["range"]
            if all(isinstance(x, int) and not isinstance(x, bool) for x in (lo, hi)):
                return [(lo, hi)]
        raise _Unknown
    if isinstance(v, str | int) and not isinstance(v, bool):
        if key == "nfproto":
            return [{"ip": "ipv4", "ip6": "ipv6"}.get(str(v), str(v))]
        return [str(v).lower() if key in ("ct_state", "daddr_type") else v]
    raise _Unknown


def _match(
    arg: Any, family: str, table: str, sets: Mapping[Any, list[Any]], text: str
) -> list[Match]:
    if not isinstance(arg, dict):
        return [Match("unknown", text=text)]
    op = arg.get("op", "==")
    try:
        key, proto, extra = _left_key(arg.get("left"), family)
        right = arg.get("right")
        if op in ("<", "<=", ">", ">=") and key in ("dport", "sport") and isinstance(right, int):
            lo, hi = {
                "<": (0, right - 1),
                "<=": (0, right),
                ">": (right + 1, 65535),
                ">=": (right, 65535),
            }[op]
            return [*extra, Match(key, ((lo, hi),), False, text, None, proto)]
        if op not in ("==", "!=", "in"):
            raise _Unknown
        values, set_name = _values(key, right, family, table, sets)
    except _Unknown:
        return [Match("unknown", text=text)]
    return [*extra, Match(key, values, op == "!=", text, set_name, proto)]


def _vmap(arg: Any, family: str, table: str, sets: Mapping[Any, list[Any]], text: str) -> Verdict:
    if not isinstance(arg, dict):
        return Verdict("unknown", text=text)
    try:
        key, proto, extra = _left_key(arg.get("key"), family)
        if extra:
            raise _Unknown  # ip protocol vmap …: not evaluated
        data = arg.get("data")
        if isinstance(data, str) and data.startswith("@"):
            elems = sets.get((family, table, data[1:]))
            if elems is None:
                raise _Unknown
        elif isinstance(data, dict) and isinstance(data.get("set"), list):
            elems = data["set"]
        else:
            raise _Unknown
        pairs: list[tuple[tuple[object, ...], Verdict]] = []
        for e in elems:
            if (
                not isinstance(e, list)
                or len(e) != 2
                or not isinstance(e[1], dict)
                or len(e[1]) != 1
            ):
                raise _Unknown
            vkind, varg = next(iter(e[1].items()))
            if vkind not in _VERDICTS:
                raise _Unknown
            target = varg.get("target") if isinstance(varg, dict) else None
            values, _ = _values(key, [e[0]], family, table, sets)
            pairs.append(
                (values, Verdict(vkind, target=target if isinstance(target, str) else None))
            )
    except _Unknown:
        return Verdict("unknown", text=text)
    return Verdict("vmap", key=key, key_proto=proto, vmap=tuple(pairs), text=text)


def _dnat(kind: str, arg: Any, text: str) -> Verdict:
    if arg is None and kind == "redirect":
        return Verdict("dnat", local=True, text=text)
    if not isinstance(arg, dict):
        return Verdict("unknown", text=text)
    addr = arg.get("addr")
    port = arg.get("port")
    if addr is not None and not isinstance(addr, str):
        return Verdict("unknown", text=text)  # a map or expression: not evaluated
    to_port: tuple[int, int] | None = None
    if isinstance(port, int):
        to_port = (port, port)
    elif isinstance(port, dict) and isinstance(port.get("range"), list) and len(port["range"]) == 2:
        to_port = (int(port["range"][0]), int(port["range"][1]))
    elif port is not None:
        return Verdict("unknown", text=text)
    return Verdict("dnat", to_address=addr, to_port=to_port, local=kind == "redirect", text=text)


def _expr_text(kind: str, arg: Any) -> str:
    """A short nft-like rendering of one expression (for the rule's text)."""
    if kind in ("accept", "drop", "return", "continue"):
        return kind
    if kind == "reject":
        return "reject"
    if kind in ("jump", "goto") and isinstance(arg, dict):
        return f"{kind} {arg.get('target')}"
    if kind == "counter":
        return ""
    if kind == "match" and isinstance(arg, dict):
        op = arg.get("op", "==")
        left = _operand(arg.get("left"))
        right = _operand(arg.get("right"))
        return f"{left} {right}" if op in ("==", "in") else f"{left} {op} {right}"
    if kind == "vmap" and isinstance(arg, dict):
        return f"{_operand(arg.get('key'))} vmap {_operand(arg.get('data'))}"
    if kind in ("dnat", "redirect"):
        if not isinstance(arg, dict):
            return kind
        addr = arg.get("addr")
        port = arg.get("port")
        target = _operand(addr) if addr is not None else ""
        if port is not None:
            target += ":" + _operand(port)
        return f"{kind} to {target}"
    if kind == "log":
        return "log"
    return kind if arg is None else f"{kind} {json.dumps(arg, separators=(',', ':'))[:60]}"


def _operand(v: Any) -> str:
    if isinstance(v, dict) and len(v) == 1:
        kind, arg = next(iter(v.items()))
        if kind == "meta" and isinstance(arg, dict):
            return (
                f"meta {arg.get('key')}"
                if arg.get("key") not in ("iifname", "oifname", "iif", "oif", "l4proto")
                else str(arg.get("key"))
            )
        if kind == "payload" and isinstance(arg, dict):
            return f"{arg.get('protocol')} {arg.get('field')}"
        if kind == "ct" and isinstance(arg, dict):
            return f"ct {arg.get('key')}"
        if kind == "fib" and isinstance(arg, dict):
            flags = arg.get("flags")
            flags_text = " . ".join(flags) if isinstance(flags, list) else str(flags)
            return f"fib {flags_text} {arg.get('result')}"
        if kind == "prefix" and isinstance(arg, dict):
            return f"{arg.get('addr')}/{arg.get('len')}"
        if kind == "range" and isinstance(arg, list) and len(arg) == 2:
            return _operand(arg[0]) + "-" + _operand(arg[1])
        if kind == "set" and isinstance(arg, list):
            return "{ " + ", ".join(_operand(x) for x in arg) + " }"
        if kind in ("accept", "drop", "return", "continue"):
            return str(kind)
        if kind in ("jump", "goto") and isinstance(arg, dict):
            return f"{kind} {arg.get('target')}"
    if isinstance(v, list):
        if len(v) == 2 and isinstance(v[1], dict):
            return f"{_operand(v[0])} : {_operand(v[1])}"
        return ", ".join(_operand(x) for x in v)
    if isinstance(v, str):
        return f'"{v}"' if not v.startswith("@") and not _plain(v) else v
    return json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list) else str(v)


def _plain(s: str) -> bool:
    return all(c.isalnum() or c in ".:/-_@" for c in s) and s != ""
