"""Verdicts with the firewall (issue 13): ``shielded``, ``exposed`` by the firewall's ``open``,
``exposed-unverified`` for an unknown reach, ``check``'s exit codes, and the words every output
shares. The rulesets are parsed from real ``nft -j`` output (tests/unit/data/firewall)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from netdash.core.assess import Assessment
from netdash.core.model import Interface, Listener, Process, Snapshot, Verdict
from netdash.core.reach import FirewallView, NetInterface
from netdash.core.ruleset import Ruleset
from netdash.core.services import service_rows
from netdash.output.json import check_to_json, snapshot_to_json
from netdash.output.labels import VERDICT_MARK, reach_phrase, verdict_sentence
from netdash.output.prom import check_metrics
from netdash.sources.iptables_save import parse_iptables_save
from netdash.sources.nft_json import parse_nft_json

DATA = Path(__file__).parent / "data" / "firewall"
IFACES = (
    NetInterface("lo", (ipaddress.ip_interface("127.0.0.1/8"),), is_loopback=True),
    NetInterface(
        "v0",
        (ipaddress.ip_interface("198.18.0.1/24"), ipaddress.ip_interface("2001:db8::1/64")),
    ),
)
INTERFACES = (
    Interface("lo", True, ("127.0.0.1", "::1"), is_loopback=True),
    Interface("v0", True, ("198.18.0.1", "2001:db8::1")),
)


def _ufw() -> Ruleset:
    tables = parse_iptables_save(
        (DATA / "ufw_iptables_nft.save").read_text(), version=4, backend="nft"
    )
    tables += parse_iptables_save(
        (DATA / "ufw_ip6tables_nft.save").read_text(), version=6, backend="nft"
    )
    return Ruleset(tuple(tables))


def _listener(address: str, port: int, protocol: str = "tcp") -> Listener:
    return Listener(
        protocol,
        address,
        port,
        6 if ":" in address else 4,
        (Process(pid=10, name="srv"),),
        inode=port,
    )


def _assess(view: FirewallView | None, *listeners: Listener) -> Assessment:
    snap = Snapshot("host", INTERFACES, tuple(listeners), 0.0, firewall=view)
    return Assessment(snap)


def test_ufw_default_deny_shields_a_wide_listener_and_names_the_rule() -> None:
    view = FirewallView(True, None, _ufw(), IFACES)
    a = _assess(view, _listener("0.0.0.0", 22), _listener("0.0.0.0", 8000))
    ssh, web = (a.of(li) for li in a.shown)
    assert ssh.verdict is Verdict.SHIELDED
    assert [(e.interface, e.outcome) for e in ssh.firewall] == [("v0", "blocked")]
    # ufw allows 8000 but denies the phone: open from the network, except one source
    assert web.verdict is Verdict.EXPOSED
    assert [x.source for x in web.firewall[0].exceptions] == ["198.18.0.2/32"]
    assert [f.listener.port for f in a.findings] == [8000]
    assert a.exit_code == 1  # 8000 is a finding; 22 is not
    assert a.shielded == 1
    (_, rows), *_ = a.rows()
    sentences = {r.row.first.port: verdict_sentence(r)[1] for r in rows}
    assert sentences[22] == (
        "shielded: 22 bound to 0.0.0.0; the firewall drops it on v0: ufw: default deny "
        "incoming (policy drop of ip filter INPUT)"
    )
    assert sentences[8000].startswith(
        "EXPOSED: 8000 bound to 0.0.0.0; the firewall lets it in on v0: ufw: allow 8000/tcp "
        "(ip filter ufw-user-input #2); except from 198.18.0.2/32"
    )
    assert reach_phrase(web.firewall[0]).startswith("v0: open: ufw: allow 8000/tcp")
    assert VERDICT_MARK[Verdict.SHIELDED] == "⊘"


def test_check_passes_when_every_wide_listener_is_shielded() -> None:
    view = FirewallView(True, None, _ufw(), IFACES)
    a = _assess(view, _listener("0.0.0.0", 22), _listener("::", 23), _listener("127.0.0.1", 5))
    assert [x.verdict for x in a.listeners] == [
        Verdict.SHIELDED,
        Verdict.SHIELDED,
        Verdict.LOCAL_ONLY,
    ]
    assert a.exit_code == 0
    doc = check_to_json(a)
    assert doc["ok"] and doc["schema_version"] == 3
    assert [s["port"] for s in doc["shielded"]] == [22, 23]
    assert doc["firewall"]["read"] is True
    assert doc["shielded"][0]["reach"][0]["outcome"] == "blocked"
    metrics = check_metrics(a)
    assert "netdash_firewall_read 1" in metrics
    assert "netdash_shielded_listeners 2" in metrics


def test_an_unknown_reach_is_a_finding_never_shielded() -> None:
    rs = parse_nft_json((DATA / "ufw_nft.json").read_text())  # xt matches: not evaluable
    a = _assess(FirewallView(True, None, rs, IFACES), _listener("0.0.0.0", 22))
    (only,) = a.listeners
    assert only.verdict is Verdict.EXPOSED_UNVERIFIED
    assert only.firewall[0].outcome == "unknown"
    assert a.exit_code == 1
    (_, rows), *_ = a.rows()
    assert "the firewall's answer is unknown on v0" in verdict_sentence(rows[0])[1]


def test_firewall_not_read_keeps_bind_verdicts_and_check_exits_3_when_unproven() -> None:
    from netdash.sources.firewall import NOT_READ

    view = FirewallView(False, NOT_READ)
    from netdash.core.policy import Policy, parse_allow

    snap = Snapshot("host", INTERFACES, (_listener("0.0.0.0", 22),), 0.0, firewall=view)
    a = Assessment(snap, policy=Policy.of((parse_allow("22"),), ()))
    assert a.listeners[0].verdict is Verdict.EXPOSED_UNVERIFIED
    assert a.findings == [] and a.exit_code == 3  # allowed, but the firewall is unproven
    assert snapshot_to_json(a, {})["firewall"]["reason"] == NOT_READ
    ignored = Assessment(
        Snapshot("host", INTERFACES, (_listener("0.0.0.0", 22),), 0.0),
        policy=Policy.of((parse_allow("22"),), ()),
    )
    assert ignored.exit_code == 0  # --ignore-firewall: bind-only, as before
    assert snapshot_to_json(ignored, {})["firewall"]["ignored"] is True


def test_a_listener_on_an_address_no_interface_holds_keeps_its_bind_verdict() -> None:
    view = FirewallView(True, None, _ufw(), IFACES)
    a = _assess(view, _listener("10.9.9.9", 22))
    assert a.listeners[0].verdict is Verdict.EXPOSED_UNVERIFIED
    assert [e.outcome for e in a.listeners[0].firewall] == ["not-bound-there"]


def test_views_compare_by_ruleset_identity() -> None:
    rs = _ufw()
    assert FirewallView(True, None, rs, IFACES) == FirewallView(True, None, rs, IFACES)
    assert FirewallView(True, None, rs, IFACES) != FirewallView(True, None, _ufw(), IFACES)


def test_service_rows_take_shielded_below_exposed() -> None:
    view = FirewallView(True, None, _ufw(), IFACES)
    a = _assess(view, _listener("0.0.0.0", 22), _listener("198.18.0.1", 22))
    assert {x.verdict for x in a.listeners} == {Verdict.SHIELDED}
    assert len(service_rows(list(a.shown))) >= 1


def test_a_row_of_two_sockets_names_each_interface_once() -> None:
    # Two SO_REUSEPORT sockets on 0.0.0.0:8000 are one row; its sentence named v0 twice.
    first = _listener("0.0.0.0", 8000)
    second = Listener("tcp", "0.0.0.0", 8000, 4, (Process(pid=10, name="srv"),), inode=8001)
    a = _assess(FirewallView(True, None, _ufw(), IFACES), first, second)
    (_, rows), *_ = a.rows()
    [row] = rows
    sentence = verdict_sentence(row)[1]
    assert "lets it in on v0: ufw" in sentence, sentence
    assert "v0, v0" not in sentence
