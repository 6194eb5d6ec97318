# ruff: noqa: E501  (rulesets and sentences verbatim)
"""Published ports from a real Docker ruleset (iptables-nft-save of a private dockerd 20.10
with userland-proxy false, captured in tests/system/test_docker.py's setup), evaluated
without a kernel: the DNAT found, the FORWARD path's verdict and its rule, and the join with
namespaces and containers."""

from __future__ import annotations

import ipaddress

import pytest

from netdash.core import published
from netdash.core.model import Process
from netdash.core.namespaces import (
    CONTAINER_INTERNAL,
    PUBLISHED,
    Container,
    NamespaceListener,
    NetNamespace,
)
from netdash.core.published import evaluate_forwardings, exposure_of, publish
from netdash.core.reach import NetInterface
from netdash.core.ruleset import Ruleset
from netdash.sources.iptables_save import parse_iptables_save

DOCKER = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
{user}
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
"""

FORWARDS = ((4, True), (6, False))  # net.ipv4.ip_forward=1, as Docker sets it

INTERFACES = (
    NetInterface("lo", (ipaddress.ip_interface("127.0.0.1/8"),), True),
    NetInterface("v0", (ipaddress.ip_interface("198.18.0.1/24"),)),
    NetInterface("docker0", (ipaddress.ip_interface("172.17.0.1/16"),)),
)


def ruleset(user: str = "-A DOCKER-USER -j RETURN") -> Ruleset:
    text = DOCKER.replace("{user}", user)
    return Ruleset(tuple(parse_iptables_save(text, version=4, backend="nft")), 0.0, (), FORWARDS)


def to_docker0(address: str) -> str | None:
    return "docker0" if address.startswith("172.17.") else None


def test_docker_publish_is_open_through_docker_s_accept() -> None:
    found = {f.interface: f for f in evaluate_forwardings(ruleset(), INTERFACES, to_docker0)}
    v0 = found["v0"]
    assert (v0.protocol, v0.port, v0.target_address, v0.target_port) == (
        "tcp",
        8080,
        "172.17.0.2",
        80,
    )
    assert v0.outcome == "open"
    assert "-A DOCKER -d 172.17.0.2/32" in (v0.rule or "")
    assert "--dport 8080" in v0.dnat_rule and "DOCKER" in v0.dnat_rule
    assert "lo" not in found  # loopback is never a network a phone is on


def test_docker_user_drop_blocks_it() -> None:
    rules = ruleset(
        "-A DOCKER-USER -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j DROP\n-A DOCKER-USER -j RETURN"
    )
    v0 = next(f for f in evaluate_forwardings(rules, INTERFACES, to_docker0) if f.interface == "v0")
    assert v0.outcome == "blocked"
    assert "DOCKER-USER" in (v0.rule or "")


def test_unknown_output_interface_is_never_a_wrong_answer() -> None:
    v0 = next(f for f in evaluate_forwardings(ruleset(), INTERFACES) if f.interface == "v0")
    assert v0.outcome == "unknown"  # the path depends on -o docker0: "maybe" without a route
    assert "-o docker0" in (v0.rule or "")


def test_a_dnat_limited_to_another_interface_is_not_published_here() -> None:
    text = DOCKER.replace("{user}", "").replace(
        "-A DOCKER -p tcp -m tcp --dport 8080", "-A DOCKER -i eth9 -p tcp -m tcp --dport 8080"
    )
    rules = Ruleset(tuple(parse_iptables_save(text, version=4, backend="nft")), 0.0, (), FORWARDS)
    assert evaluate_forwardings(rules, INTERFACES, to_docker0) == ()


def test_publish_names_container_and_process_and_marks_the_listener() -> None:
    forwardings = evaluate_forwardings(ruleset(), INTERFACES, to_docker0)
    httpd = Process(pid=4242, name="httpd")
    served = NamespaceListener("tcp", 6, "::", 80, 7, (httpd,))
    other = NamespaceListener("tcp", 4, "127.0.0.1", 9000, 8)
    namespace = NetNamespace(99, pids=(4242,), addresses=("172.17.0.2",), listeners=(served, other))
    web = Container("abc", "web", "busybox", ("172.17.0.2",))
    ports = publish(forwardings, [namespace], [web])
    v0 = next(p for p in ports if p.forwarding.interface == "v0")
    assert v0.listener == served and v0.container == web and v0.open
    assert v0.sentence().startswith(
        "published: v0:8080/tcp → 172.17.0.2:80 (container web, image busybox, httpd (pid 4242)) — open"
    )
    assert exposure_of(namespace, served, ports) == PUBLISHED
    assert exposure_of(namespace, other, ports) == CONTAINER_INTERNAL


def test_nothing_listening_at_the_target_is_said() -> None:
    forwardings = evaluate_forwardings(ruleset(), INTERFACES, to_docker0)
    empty = NetNamespace(5, pids=(1,), addresses=("172.17.0.2",))
    [v0] = [p for p in publish(forwardings, [empty]) if p.forwarding.interface == "v0"]
    assert v0.listener is None and "nothing listens there" in v0.behind
    [far] = [p for p in publish(forwardings) if p.forwarding.interface == "v0"]
    assert "not in a network namespace of this host" in far.behind


def test_pruning_long_chains_changes_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """60 published ports, one blocked in DOCKER-USER, one by a rule netdash cannot evaluate,
    one by a port range: the same answers, reasons and rules with the per-packet pruning of
    long chains as with whole chains."""
    from bench.beyond import docker_like_rules

    text = docker_like_rules(60).replace(
        "-A DOCKER-USER -j RETURN",
        "-A DOCKER-USER -d 172.17.0.5/32 -p tcp -m tcp --dport 80 -j DROP\n"
        "-A DOCKER-USER -d 172.17.0.9/32 -m mark --mark 0x7 -j DROP\n"
        "-A DOCKER-USER -p tcp -m tcp --dport 70:90 -d 172.17.0.12/32 -j REJECT\n"
        "-A DOCKER-USER -j RETURN",
    )
    rules = Ruleset(tuple(parse_iptables_save(text, version=4, backend="nft")), 0.0, (), FORWARDS)
    pruned = evaluate_forwardings(rules, INTERFACES, to_docker0)
    monkeypatch.setattr(published, "SMALL_CHAIN", 10**9)
    whole = evaluate_forwardings(rules, INTERFACES, to_docker0)
    assert pruned == whole
    outcomes = {f.target_address: f.outcome for f in pruned if f.interface == "v0"}
    assert len(outcomes) == 60
    assert outcomes["172.17.0.5"] == "blocked" and outcomes["172.17.0.12"] == "blocked"
    assert outcomes["172.17.0.9"] == "unknown"
    assert list(outcomes.values()).count("open") == 57


def test_a_process_is_named_once() -> None:
    forwardings = evaluate_forwardings(ruleset(), INTERFACES, to_docker0)
    served = NamespaceListener("tcp", 4, "0.0.0.0", 80, 7, (Process(pid=7, name="python"),))
    namespace = NetNamespace(5, pids=(7,), addresses=("172.17.0.2",), listeners=(served,))
    [v0] = [p for p in publish(forwardings, [namespace]) if p.forwarding.interface == "v0"]
    assert v0.behind == "python (pid 7)"
    named = NetNamespace(
        5, names=("lab",), pids=(7,), addresses=("172.17.0.2",), listeners=(served,)
    )
    [v0] = [p for p in publish(forwardings, [named]) if p.forwarding.interface == "v0"]
    assert v0.behind == "netns lab, python (pid 7)"


def test_a_host_that_does_not_forward_drops_it() -> None:
    import dataclasses

    off = dataclasses.replace(ruleset(), forwarding=((4, False),))
    v0 = next(f for f in evaluate_forwardings(off, INTERFACES, to_docker0) if f.interface == "v0")
    assert v0.outcome == "blocked" and "net.ipv4.ip_forward is 0" in (v0.rule or "")
    unread = dataclasses.replace(ruleset(), forwarding=())
    v0 = next(
        f for f in evaluate_forwardings(unread, INTERFACES, to_docker0) if f.interface == "v0"
    )
    assert v0.outcome == "unknown"
