"""Risks in the assessment, table-driven: facts at each target × bind address × policy give
the risk (kind, severity, reach), the loudest one, its sentence, and what each ``--fail-on``
fails on (README, "Risks"; CONTRACTS.md for exit codes). Pure."""

from __future__ import annotations

import pytest

from netdash.core.assess import FAIL_ON, Assessment, host_check, risks_of
from netdash.core.model import (
    Interface,
    Listener,
    Outcome,
    ProbeResult,
    Process,
    RiskFact,
    Snapshot,
    Via,
)
from netdash.core.policy import Policy, parse_allow
from netdash.core.risk import RISK_KINDS, SEVERITIES

LO = Interface("lo", True, ("127.0.0.1",), is_loopback=True)
ETH = Interface("eth0", True, ("198.18.0.1",))
JUPYTER = (Process(77, "jupyter-server", "ada"),)

TOKENLESS = RiskFact("jupyter-no-token", True, "GET /api/status", '200 {"kernels": 0}', 200)
TOKEN = RiskFact("jupyter-no-token", False, "GET /api/status", '403 {"message": "Forbidden"}', 403)
ANY_HOST = RiskFact("dns-rebinding", True, "GET / (Host: x.invalid)", "200", 200)
HOST_403 = RiskFact("dns-rebinding", False, "GET / (Host: x.invalid)", "403", 403)
HOST_500 = RiskFact("dns-rebinding", False, "GET / (Host: x.invalid)", "500", 500)
PONG = RiskFact("redis-no-auth", True, "PING", "+PONG")
DENIED = RiskFact("redis-no-auth", False, "PING", "-DENIED Redis is running in protected mode")
WS_101 = RiskFact("ws-any-origin", True, "WebSocket handshake /", "HTTP/1.1 101", 101)
CORS = RiskFact("cors-credentials", True, "GET /", "Access-Control-Allow-Origin: *", 200)


def _result(address: str, via: Via, *facts: RiskFact, port: int = 8888) -> ProbeResult:
    target = "198.18.0.1" if via is Via.LAN else "127.0.0.1"
    return ProbeResult(
        ("tcp", address, port), via, target, f"http://{target}:{port}/", Outcome.HTTP, 1.0,
        status=200, risks=facts,
    )  # fmt: skip


# address, loopback facts, LAN facts (None: no LAN probe) -> [(kind, severity, reach)]
CASES: list[tuple[str, str, tuple[RiskFact, ...], tuple[RiskFact, ...] | None, list[tuple[str, str, str]]]] = [  # noqa: E501
    ("tokenless on all interfaces", "0.0.0.0", (TOKENLESS, ANY_HOST), (TOKENLESS, ANY_HOST),
     [("jupyter-no-token", "critical", "lan")]),
    ("tokenless, all interfaces, no LAN probe", "0.0.0.0", (TOKENLESS,), None,
     [("jupyter-no-token", "critical", "lan")]),
    ("tokenless on loopback, any Host", "127.0.0.1", (TOKENLESS, ANY_HOST), None,
     [("jupyter-no-token", "critical", "browser"), ("dns-rebinding", "low", "browser")]),
    ("tokenless on loopback, host check", "127.0.0.1", (TOKENLESS, HOST_403), None,
     [("jupyter-no-token", "critical", "local")]),
    ("tokenless on loopback, rebinding unknown", "127.0.0.1", (TOKENLESS, HOST_500), None,
     [("jupyter-no-token", "critical", "local")]),
    ("token", "0.0.0.0", (TOKEN, ANY_HOST), (TOKEN, ANY_HOST), []),
    ("token on loopback, any Host", "127.0.0.1", (TOKEN, ANY_HOST), None,
     [("dns-rebinding", "low", "browser")]),
    ("redis protected mode", "0.0.0.0", (PONG,), (DENIED,), [("redis-no-auth", "high", "local")]),
    ("redis unprotected", "0.0.0.0", (PONG,), (PONG,), [("redis-no-auth", "high", "lan")]),
    ("redis: HTTP rebinding does not carry RESP", "127.0.0.1", (PONG, ANY_HOST), None,
     [("redis-no-auth", "high", "local"), ("dns-rebinding", "low", "browser")]),
    ("websocket any origin, loopback", "127.0.0.1", (WS_101,), None,
     [("ws-any-origin", "medium", "browser")]),
    ("websocket any origin, LAN", "0.0.0.0", (WS_101,), (WS_101,),
     [("ws-any-origin", "medium", "lan")]),
    ("CORS with credentials", "127.0.0.1", (CORS, HOST_403), None,
     [("cors-credentials", "medium", "local")]),
    ("nothing found", "127.0.0.1", (TOKEN, HOST_403), None, []),
    ("unknown check names are ignored", "127.0.0.1", (RiskFact("new-check", True),), None, []),
]  # fmt: skip


def _case(address: str, lo: tuple[RiskFact, ...], lan: tuple[RiskFact, ...] | None):  # type: ignore[no-untyped-def]
    results = [_result(address, Via.LOOPBACK, *lo)]
    if lan is not None:
        results.append(_result(address, Via.LAN, *lan))
    listener = Listener("tcp", address, 8888, 4, JUPYTER, inode=1)
    snapshot = Snapshot("host", (LO, ETH), (listener,), 0.0)
    return listener, snapshot, {listener.key: results}


@pytest.mark.parametrize(
    ("address", "lo", "lan", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_risks_by_facts_and_reach(
    address: str,
    lo: tuple[RiskFact, ...],
    lan: tuple[RiskFact, ...] | None,
    expected: list[tuple[str, str, str]],
) -> None:
    listener, snapshot, results = _case(address, lo, lan)
    assessed = Assessment(snapshot, results).of(listener)
    assert [(r.kind, r.severity, r.reach) for r in assessed.risks] == expected
    loudest = expected[0] if expected else None
    assert (assessed.risk.kind if assessed.risk else None) == (loudest[0] if loudest else None)
    assert assessed.risk_severity == (loudest[1] if loudest else None)
    # Every risk is also a finding in words, loudest first (findings() reaches every output).
    sentences = [n for n in assessed.notes if n.split(":")[0] in SEVERITIES]
    assert sentences == [r.sentence for r in assessed.risks]


# address, facts, allow rules -> failures for (exposed, critical, risk)
FAIL_CASES = [
    ("tokenless LAN", "0.0.0.0", (TOKENLESS,), (), (True, True, True)),
    ("tokenless LAN, exposure allowed", "0.0.0.0", (TOKENLESS,), ("8888",), (True, True, True)),
    ("tokenless LAN, risk allowed", "0.0.0.0", (TOKENLESS,), ("jupyter-no-token@8888",),
     (False, False, False)),
    ("risk rule for another port", "0.0.0.0", (TOKENLESS,), ("jupyter-no-token@9999",),
     (True, True, True)),
    ("tokenless loopback", "127.0.0.1", (TOKENLESS, HOST_403), (), (False, True, True)),
    ("tokenless loopback, any Host", "127.0.0.1", (TOKENLESS, ANY_HOST), (), (False, True, True)),
    ("redis LAN", "0.0.0.0", (PONG,), (), (False, False, True)),
    ("rebinding only (low)", "127.0.0.1", (ANY_HOST,), (), (False, False, False)),
    ("websocket (medium)", "127.0.0.1", (WS_101,), (), (False, False, True)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("address", "facts", "allow", "fails"),
    [c[1:] for c in FAIL_CASES],
    ids=[c[0] for c in FAIL_CASES],
)
def test_fail_on(
    address: str, facts: tuple[RiskFact, ...], allow: tuple[str, ...], fails: tuple[bool, ...]
) -> None:
    _listener, snapshot, results = _case(address, facts, facts if address == "0.0.0.0" else None)
    policy = Policy.of(parse_allow(a) for a in allow)
    assessment = Assessment(snapshot, results, policy)
    assert tuple(bool(assessment.risk_failures(f)) for f in FAIL_ON) == fails
    exposure_finding = bool(assessment.findings)
    for fail_on, risk_fails in zip(FAIL_ON, fails, strict=True):
        assert assessment.exit_code_for(fail_on) == (1 if risk_fails or exposure_finding else 0)


def test_a_risk_rule_acknowledges_the_risk_not_the_exposure() -> None:
    listener, snapshot, results = _case("0.0.0.0", (TOKENLESS,), (TOKENLESS,))
    assessment = Assessment(snapshot, results, Policy.of([parse_allow("jupyter-no-token@8888")]))
    assessed = assessment.of(listener)
    assert assessed.is_finding  # still an exposure
    assert [r.allowed_by for r in assessed.risks] == ["jupyter-no-token@8888"]
    assert assessed.risk is None and assessed.risk_severity is None
    assert assessment.risky == []


def test_without_probe_results_nothing_changes() -> None:
    listener = Listener("tcp", "0.0.0.0", 8888, 4, JUPYTER, inode=1)
    assessment = Assessment(Snapshot("host", (LO, ETH), (listener,), 0.0))
    assert assessment.of(listener).risks == ()
    for fail_on in FAIL_ON:
        assert assessment.exit_code_for(fail_on) == assessment.exit_code == 1


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ((ANY_HOST,), "any Host accepted (200)"),
        ((HOST_403,), "host check (403)"),
        ((RiskFact("dns-rebinding", False, "GET /", "421", 421),), "host check (421)"),
        ((HOST_500,), "unknown (500)"),
        ((), None),
    ],
)
def test_host_check_words(facts: tuple[RiskFact, ...], expected: str | None) -> None:
    assert host_check([_result("127.0.0.1", Via.LOOPBACK, *facts)]) == expected


def test_sentences_say_who_can_do_what() -> None:
    risks = risks_of([_result("127.0.0.1", Via.LOOPBACK, TOKENLESS, ANY_HOST)])
    assert risks[0].sentence == (
        "critical: any web page you open can run code as the server's user "
        "(Jupyter without a token)"
    )
    assert risks[0].evidence == 'GET /api/status -> 200 {"kernels": 0}'


def test_every_risk_kind_has_a_known_severity_and_a_fix() -> None:
    for kind, meaning in RISK_KINDS.items():
        assert meaning.severity in SEVERITIES, kind
        assert meaning.fix and meaning.capability, kind


@pytest.mark.parametrize(
    ("spec", "risk", "port"),
    [
        ("jupyter-no-token@8888", "jupyter-no-token", 8888),
        ("redis-no-auth@6379", "redis-no-auth", 6379),
    ],
)
def test_risk_rules_parse(spec: str, risk: str, port: int) -> None:
    rule = parse_allow(spec)
    assert (rule.risk, rule.port, rule.program) == (risk, port, None)


def test_an_unknown_kind_at_a_port_is_an_error_not_a_rule_that_matches_nothing() -> None:
    """A fresh user's `--allow foo@bar` was taken silently (as a program name no process
    has): a typo in a risk kind must say so."""
    with pytest.raises(ValueError, match="'jupyter-no-tokn' is not a risk kind"):
        parse_allow("jupyter-no-tokn@8888")
    with pytest.raises(ValueError, match="needs a port number"):
        parse_allow("jupyter-no-token@x")
    with pytest.raises(ValueError, match="between 1 and 65535"):
        parse_allow("redis-no-auth@70000")
