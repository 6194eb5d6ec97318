"""The firewall readers and the evaluator, on outputs the real tools printed.

The files in tests/unit/data/firewall were captured inside ``unshare -n`` (``*_commands.sh``
and ``nft_features.nft`` are what made them): ``nft -j list ruleset`` of a ruleset using sets,
maps, verdict maps, jumps, gotos, returns, fib, ct state and a DNAT; ufw's ruleset as
``iptables-nft-save``/``ip6tables-nft-save`` and as ``nft -j`` (where its matches are ``xt``
expressions without arguments); and iptables-legacy rules."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdash.core.reach import (
    BLOCKED,
    NOT_BOUND_THERE,
    OPEN,
    UNKNOWN,
    FirewallView,
    NetInterface,
    Packet,
    dnat_rules,
    evaluate,
    port_bounds,
    reach,
    representative,
    walk_hook,
)
from netdash.core.ruleset import Ruleset, RulesetError
from netdash.sources.firewall import FirewallReader, parse_generation_reply, read_ruleset
from netdash.sources.iptables_save import parse_iptables_save
from netdash.sources.nft_json import parse_nft_json

DATA = Path(__file__).parent / "data" / "firewall"
LAN = "198.18.0.1"
PHONE = "198.18.0.2"
OTHER = "198.18.0.3"


def _text(name: str) -> str:
    return (DATA / name).read_text()


def _nft() -> Ruleset:
    return parse_nft_json(_text("nft_features.json"))


def _ufw() -> Ruleset:
    tables = parse_iptables_save(_text("ufw_iptables_nft.save"), version=4, backend="nft")
    tables += parse_iptables_save(_text("ufw_ip6tables_nft.save"), version=6, backend="nft")
    return Ruleset(tuple(tables))


def _legacy() -> Ruleset:
    tables = parse_iptables_save(_text("legacy_iptables.save"), version=4, backend="legacy")
    tables += parse_iptables_save(_text("legacy_ip6tables.save"), version=6, backend="legacy")
    return Ruleset(tuple(tables))


def _ev(
    rs: Ruleset, proto: str, port: int, src: str = OTHER, dst: str = LAN
) -> tuple[str, int | None]:
    d = evaluate(
        rs, Packet(proto, ipaddress.ip_address(src), ipaddress.ip_address(dst), port, "v0")
    )
    return d.outcome, d.rule.handle if d.rule else None


@pytest.mark.parametrize(
    ("proto", "port", "src", "dst", "expected"),
    [
        ("tcp", 22, OTHER, LAN, (OPEN, 10)),  # tcp dport @allowed accept
        ("tcp", 8001, PHONE, LAN, (BLOCKED, 9)),  # iifname + saddr prefix + dport
        ("tcp", 8001, "10.1.1.1", LAN, (BLOCKED, 11)),  # ip saddr @nets (interval set)
        ("tcp", 7050, OTHER, LAN, (BLOCKED, 12)),  # dport range, reject
        ("udp", 5353, OTHER, LAN, (OPEN, 14)),  # anonymous set
        ("tcp", 9000, OTHER, LAN, (OPEN, 15)),  # named verdict map: accept
        ("tcp", 9001, OTHER, LAN, (BLOCKED, 15)),  # named verdict map: drop
        ("udp", 9000, OTHER, LAN, (UNKNOWN, 21)),  # a tcp dport vmap does not apply to UDP
        ("tcp", 9101, OTHER, LAN, (BLOCKED, 27)),  # vmap jump, goto, drop
        ("tcp", 5556, "2001:db8::5", "2001:db8::1", (OPEN, 25)),  # jump into a user chain
        ("tcp", 1234, OTHER, LAN, (OPEN, 19)),  # fib daddr type local
        ("tcp", 4444, OTHER, LAN, (OPEN, 20)),  # ip daddr
        ("tcp", 34, OTHER, LAN, (OPEN, 22)),  # meta mark: accept either way
        ("udp", 99, OTHER, LAN, (UNKNOWN, 21)),  # meta mark decides accept or drop: unknown
        ("tcp", 8080, OTHER, LAN, (UNKNOWN, 2)),  # a DNAT elsewhere; forwarding not known
    ],
)
def test_nft_ruleset_decisions(
    proto: str, port: int, src: str, dst: str, expected: tuple[str, int]
) -> None:
    assert _ev(_nft(), proto, port, src, dst) == expected


def test_a_return_from_a_user_chain_falls_back_to_the_caller() -> None:
    # uc: tcp dport 5555 return → back to input, later rules: meta mark (unknown) …
    assert _ev(_nft(), "tcp", 5555, "2001:db8::5", "2001:db8::1")[0] == UNKNOWN


def test_ct_state_established_does_not_let_a_new_connection_in() -> None:
    rs = _ufw()
    assert _ev(rs, "tcp", 22)[0] == BLOCKED


def test_ufw_rules_in_ufw_words() -> None:
    rs = _ufw()
    open_ = evaluate(
        rs, Packet("tcp", ipaddress.ip_address(OTHER), ipaddress.ip_address(LAN), 8000, "v0")
    )
    assert open_.outcome == OPEN
    deny = evaluate(
        rs, Packet("tcp", ipaddress.ip_address(PHONE), ipaddress.ip_address(LAN), 8000, "v0")
    )
    assert deny.outcome == BLOCKED
    assert deny.reason.startswith("ufw: deny from 198.18.0.2 (ip filter ufw-user-input #1)")
    policy = evaluate(
        rs, Packet("udp", ipaddress.ip_address(OTHER), ipaddress.ip_address(LAN), 8000, "v0")
    )
    assert policy.reason.startswith("ufw: default deny incoming")
    v6 = evaluate(
        rs,
        Packet(
            "tcp",
            ipaddress.ip_address("2001:db8::3"),
            ipaddress.ip_address("2001:db8::1"),
            8000,
            "v0",
        ),
    )
    assert v6.outcome == OPEN


def test_ufw_through_nft_json_alone_is_unknown_never_wrong() -> None:
    rs = parse_nft_json(_text("ufw_nft.json"))
    for port in (22, 8000):
        outcome, _ = _ev(rs, "tcp", port)
        assert outcome == UNKNOWN


def test_legacy_tables() -> None:
    rs = _legacy()
    assert _ev(rs, "tcp", 9005)[0] == OPEN  # multiport range into my-chain: accept
    assert _ev(rs, "tcp", 9005, PHONE)[0] == BLOCKED  # my-chain returns: policy drop
    assert _ev(rs, "tcp", 22) == (BLOCKED, None)  # -m recent: either way it is blocked
    assert _ev(rs, "udp", 7) == (OPEN, 4)
    assert _ev(rs, "tcp", 2000, "2001:db8::3", "2001:db8::1") == (BLOCKED, 1)  # ! --dport
    assert _ev(rs, "tcp", 200, "2001:db8::3", "2001:db8::1")[0] == OPEN


def test_reach_per_interface_with_exceptions_by_source() -> None:
    rs = _legacy()
    v0 = NetInterface("v0", (ipaddress.ip_interface("198.18.0.1/24"),))
    other = NetInterface("v9", (ipaddress.ip_interface("10.9.0.1/24"),))
    lo = NetInterface("lo", (ipaddress.ip_interface("127.0.0.1/8"),), is_loopback=True)
    wide = reach(rs, "tcp", "0.0.0.0", 8000, [lo, v0, other])
    assert [r.interface for r in wide] == ["v0", "v9"]
    assert wide[0].outcome == OPEN
    assert [(e.source, e.decision.outcome) for e in wide[0].exceptions] == [
        ("198.18.0.2/32", BLOCKED)
    ]
    narrow = reach(rs, "tcp", LAN, 8000, [v0, other])
    assert [r.outcome for r in narrow] == [OPEN, NOT_BOUND_THERE]
    assert reach(rs, "tcp", "0.0.0.0", 22, [v0])[0].outcome == BLOCKED


@pytest.mark.parametrize("name", ["nft", "ufw", "legacy", "ingress", "empty"])
def test_a_view_evaluates_once_per_port_class_and_answers_as_reach_does(name: str) -> None:
    import dataclasses

    rs = {
        "nft": _nft,
        "ufw": _ufw,
        "legacy": lambda: dataclasses.replace(_legacy(), forwarding=((4, True), (6, True))),
        "ingress": lambda: parse_nft_json(_text("ingress_rpfilter.json")),
        "empty": Ruleset,
    }[name]()
    ifaces = (
        NetInterface("lo", (ipaddress.ip_interface("127.0.0.1/8"),), is_loopback=True),
        NetInterface(
            "v0",
            (ipaddress.ip_interface("198.18.0.1/24"), ipaddress.ip_interface("2001:db8::1/64")),
        ),
        NetInterface("v9", (ipaddress.ip_interface("10.9.0.1/24"),)),
    )
    bounds = port_bounds(rs)
    ports = {1, 80, 8080, 65535} | {b + d for b in bounds for d in (-1, 0, 1) if 0 < b + d < 65536}
    for proto in ("tcp", "udp"):
        for address, dual in (("0.0.0.0", None), (LAN, None), ("::", True), ("::", False)):
            view = FirewallView(True, None, rs, ifaces)  # fresh: cached answers come from it
            for port in sorted(ports):
                direct = reach(rs, proto, address, port, ifaces, dual_stack=dual)
                assert view.reach_of(proto, address, port, dual) == direct, (proto, address, port)
            assert len(view._cache) <= len(bounds) + 1


def test_a_dnat_elsewhere_is_judged_by_the_forward_path() -> None:
    import dataclasses

    legacy = _legacy()  # nat PREROUTING: -i v0 --dport 8080 -j DNAT 10.0.0.2:80
    routed = dataclasses.replace(legacy, forwarding=((4, True), (6, True)))
    d = evaluate(
        routed, Packet("tcp", ipaddress.ip_address(OTHER), ipaddress.ip_address(LAN), 8080, "v0")
    )
    assert d.outcome == OPEN and d.dnat is not None and d.dnat.to_address == "10.0.0.2"
    assert "the connection goes to 10.0.0.2:80; the forward path" in d.reason
    off = dataclasses.replace(legacy, forwarding=((4, False),))
    d = evaluate(
        off, Packet("tcp", ipaddress.ip_address(OTHER), ipaddress.ip_address(LAN), 8080, "v0")
    )
    assert d.outcome == BLOCKED and "does not forward IPv4" in d.reason


def test_ingress_and_reverse_path_chains_are_walked_and_never_guessed() -> None:
    rs = parse_nft_json(_text("ingress_rpfilter.json"))
    # fib saddr . iif oif missing drop: not evaluated, and it decides: unknown, never open
    outcome, handle = _ev(rs, "tcp", 80)
    assert (outcome, handle) == (UNKNOWN, 2)
    # an ingress drop of port 7777 on a device nft -j does not name: unknown too
    d = evaluate(
        rs, Packet("tcp", ipaddress.ip_address(OTHER), ipaddress.ip_address(LAN), 7777, "v0")
    )
    assert d.outcome == UNKNOWN and "ingress" in d.reason


def test_representative_avoids_inner_prefixes() -> None:
    net = ipaddress.ip_network("198.18.0.0/30")
    inner = [ipaddress.ip_network("198.18.0.1/32"), ipaddress.ip_network("198.18.0.2/32")]
    assert str(representative(net, inner)) == "198.18.0.3"
    assert (
        representative(ipaddress.ip_network("10.0.0.0/31"), [ipaddress.ip_network("10.0.0.0/31")])
        is not None
    )


def test_dnat_rules_and_forward_walk() -> None:
    found = dnat_rules(_nft())
    assert [(d.to_address, d.to_port, d.path) for d in found] == [("10.0.0.2", (80, 80), ("pre",))]
    assert [m.key for m in found[0].matches] == ["iifname", "dport"]
    legacy = dnat_rules(_legacy())
    assert [(d.to_address, d.backend) for d in legacy] == [("10.0.0.2", "legacy")]
    fwd = walk_hook(
        _legacy(),
        "forward",
        Packet(
            "tcp",
            ipaddress.ip_address(OTHER),
            ipaddress.ip_address("10.0.0.2"),
            80,
            "v0",
            False,
            None,
        ),
    )
    assert fwd.outcome == OPEN


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        '{"nftables": 3}',
        '{"nftables": [{"rule": {"family": 1}}]}',
        '{"nftables": [1]}',
    ],
)
def test_nft_json_errors(text: str) -> None:
    with pytest.raises(RulesetError):
        parse_nft_json(text)


@pytest.mark.parametrize(
    "text",
    [
        "-A INPUT -j DROP",
        "*filter\n-A INPUT -j DROP",
        "*filter\n:INPUT\nCOMMIT",
        "*filter\nwhat\nCOMMIT",
        '*filter\n-A INPUT -m comment --comment "x\nCOMMIT',
    ],
)
def test_iptables_save_errors(text: str) -> None:
    with pytest.raises(RulesetError):
        parse_iptables_save(text, version=4, backend="nft")


def test_generation_reply() -> None:
    attr = struct.pack("=HH", 8, 1) + struct.pack(">I", 77)
    body = struct.pack("=BBH", 0, 0, 0) + attr
    msg = struct.pack("=IHHII", 16 + len(body), (10 << 8) | 15, 0, 1, 0) + body
    assert parse_generation_reply(msg) == 77
    err = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -1) + bytes(16)
    with pytest.raises(OSError):
        parse_generation_reply(err)


def test_reader_reads_once_per_generation() -> None:
    outputs = {
        "nft": _text("nft_features.json"),
        "iptables-nft-save": _text("ufw_iptables_nft.save"),
        "ip6tables-nft-save": _text("ufw_ip6tables_nft.save"),
    }
    calls: list[str] = []

    def run(argv: object) -> str:
        name = next(iter(argv))  # type: ignore[call-overload]
        calls.append(name)
        return outputs[name]

    gen = [5]
    reader = FirewallReader(run=run, generation=lambda: gen[0], legacy=lambda: {4: False, 6: False})
    first = reader.poll()
    assert first.read and first.ruleset is not None and len(calls) == 3
    assert {t.label for t in first.ruleset.tables} == {
        "inet f",
        "ip nat",
        "ip filter",
        "ip6 filter",
    }
    reader.poll()
    assert len(calls) == 3
    gen[0] = 6
    reader.poll()
    assert len(calls) == 6

    def denied() -> int:
        raise PermissionError(1, "Operation not permitted")

    assert FirewallReader(run=run, generation=denied).poll().reason == (
        "firewall not read: run with sudo to see what reaches each port"
    )


def test_reader_rereads_legacy_tables_when_their_info_changes_or_a_minute_passed() -> None:
    outputs = {
        "nft": '{"nftables": []}',
        "iptables-nft-save": "",
        "ip6tables-nft-save": "",
        "iptables-legacy-save": _text("legacy_iptables.save"),
    }
    calls: list[str] = []

    def run(argv: object) -> str:
        name = next(iter(argv))  # type: ignore[call-overload]
        calls.append(name)
        return outputs[name]

    info, now = [("filter", 5, 832)], [0.0]
    reader = FirewallReader(
        run=run,
        generation=lambda: 1,
        clock=lambda: now[0],
        legacy=lambda: {4: True, 6: False},
        signature=lambda: tuple(info),
    )
    assert reader.poll().legacy and calls.count("iptables-legacy-save") == 1
    reader.poll()
    assert calls.count("iptables-legacy-save") == 1  # nothing changed: no tool ran
    info[0] = ("filter", 6, 904)  # IPT_SO_GET_INFO: one more entry
    reader.poll()
    assert calls.count("iptables-legacy-save") == 2
    now[0] = 61.0  # same info, but a minute passed
    reader.poll()
    assert calls.count("iptables-legacy-save") == 3


def test_read_ruleset_prefers_the_save_text_for_iptables_nft_tables() -> None:
    outputs = {
        "nft": _text("ufw_nft.json"),
        "iptables-nft-save": _text("ufw_iptables_nft.save"),
        "ip6tables-nft-save": _text("ufw_ip6tables_nft.save"),
        "iptables-legacy-save": _text("legacy_iptables.save"),
    }
    rs = read_ruleset(lambda argv: outputs[next(iter(argv))], legacy={4: True, 6: False})
    labels = sorted(t.label for t in rs.tables)
    assert labels == ["ip filter", "ip filter (legacy)", "ip nat (legacy)", "ip6 filter"]
    # both backends are enforced: the legacy policy drop wins over ufw's allow
    assert _ev(rs, "tcp", 8000)[0] == OPEN
    assert _ev(rs, "tcp", 8000, PHONE)[0] == BLOCKED


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.sampled_from(
        ["ip", "tcp", "dport", "saddr", "@s", "v0", "accept", "input", "10.0.0.0", "prefix"]
    ),
)
_KEYS = st.sampled_from(
    [
        "family",
        "table",
        "name",
        "chain",
        "expr",
        "match",
        "left",
        "right",
        "op",
        "payload",
        "protocol",
        "field",
        "meta",
        "key",
        "set",
        "elem",
        "prefix",
        "addr",
        "len",
        "range",
        "vmap",
        "data",
        "hook",
        "prio",
        "policy",
        "dnat",
        "port",
        "jump",
        "target",
        "rule",
        "nftables",
    ]
)


def _nest(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(inner, st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4))


_json = _nest(_nest(_nest(_json_leaf)))  # JSON-like values three levels deep


@FUZZ
@given(_json)
def test_nft_json_fuzz(doc: object) -> None:
    import json

    for text in (json.dumps(doc), json.dumps({"nftables": doc}), json.dumps({"nftables": [doc]})):
        try:
            rs = parse_nft_json(text)
        except RulesetError:
            continue
        evaluate(
            rs, Packet("tcp", ipaddress.ip_address(OTHER), ipaddress.ip_address(LAN), 80, "v0")
        )


_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "*filter",
                "*nat",
                "COMMIT",
                ":INPUT DROP [0:0]",
                ":c - [0:0]",
                "-A INPUT -j c",
                "-A c -j RETURN",
                "-A INPUT -p tcp --dport 1:9 -j ACCEPT",
                "-A INPUT -s 10.0.0.0/8 -j DROP",
                "-A INPUT ! -i lo -m multiport --dports 1,2:3 -j REJECT",
                "-A INPUT -j DNAT --to-destination [::1]:80",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=12,
)


@FUZZ
@given(_lines)
def test_iptables_save_fuzz(lines: list[str]) -> None:
    try:
        tables = parse_iptables_save("\n".join(lines), version=4, backend="nft")
    except RulesetError:
        return
    evaluate(
        Ruleset(tuple(tables)),
        Packet("tcp", ipaddress.ip_address(OTHER), ipaddress.ip_address(LAN), 5, "v0"),
    )


def test_front_ends_are_recognised_by_name() -> None:
    from netdash.core.ruleset import Table, front_end

    firewalld = Table("inet", "firewalld")
    assert front_end(firewalld, "filter_IN_public_allow") == "firewalld zone public"
    assert front_end(firewalld, "filter_INPUT") == "firewalld"
    ip_filter = Table("ip", "filter")
    assert front_end(ip_filter, "DOCKER-USER") == "Docker DOCKER-USER"
    assert front_end(ip_filter, "DOCKER-FORWARD") == "Docker"
    assert front_end(ip_filter, "ufw6-user-input") == "ufw"
    assert front_end(ip_filter, "INPUT") is None


def test_iptables_nft_view_is_taken_chain_by_chain() -> None:
    """A native ``table ip nat`` (chains ``prerouting``) keeps its chains; iptables-nft-save's
    made-up empty ``PREROUTING`` is dropped; a chain both show comes from iptables-nft-save."""
    from netdash.core.ruleset import Chain, Table
    from netdash.sources.firewall import _merge_iptables_nft

    native = Table("ip", "nat", {"prerouting": Chain("prerouting", hook="prerouting")})
    made_up = Table("ip", "nat", {"PREROUTING": Chain("PREROUTING", hook="prerouting")})
    nft_filter = Table("ip", "filter", {"INPUT": Chain("INPUT", hook="input")})
    saved_filter = Table("ip", "filter", {"INPUT": Chain("INPUT", hook="input", policy="drop")})
    merged = _merge_iptables_nft([native, nft_filter], [made_up, saved_filter])
    assert [list(t.chains) for t in merged] == [["prerouting"], ["INPUT"]]
    assert merged[1].chains["INPUT"].policy == "drop"
