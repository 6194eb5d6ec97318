"""The assessment, table-driven: every scope × probe outcome × policy combination gets the
verdict, policy state, counts and exit code the README and CONTRACTS.md promise. Pure."""

from __future__ import annotations

import itertools

import pytest

from netdash.core.assess import EXPOSED, Assessment
from netdash.core.model import (
    Interface,
    Listener,
    Outcome,
    ProbeResult,
    Process,
    Snapshot,
    Verdict,
    Via,
)
from netdash.core.policy import Policy, parse_allow

LO = Interface("lo", True, ("127.0.0.1", "::1"), is_loopback=True)
ETH = Interface("eth0", True, ("198.18.0.1", "2001:db8::1"))
DOCKER = Interface("docker0", True, ("172.17.0.1",))
INTERFACES = (LO, ETH, DOCKER)

UVICORN = (Process(4242, "uvicorn", "ada", ("uvicorn", "app:app", "--host", "0.0.0.0")),)

# Bind addresses by scope: (address, family, what a LAN probe of it means).
BINDS = {
    "all-interfaces v4": ("0.0.0.0", 4),
    "all-interfaces v6 dual-stack": ("::", 6),
    "specific-interface": ("198.18.0.1", 4),
    "specific-interface on docker0": ("172.17.0.1", 4),
    "loopback v4": ("127.0.0.1", 4),
    "loopback v6": ("::1", 6),
}
OUTCOMES: list[Outcome | None] = [None, *Outcome]  # None: not probed
POLICIES = {
    "none": Policy(),
    "allow port": Policy.of([parse_allow("8000")]),
    "allow program": Policy.of([parse_allow("uvicorn")]),
    "allow other port": Policy.of([parse_allow("9000")]),
    "ignore docker0": Policy.of(ignore=["docker0"]),
    "ignore eth0 and docker0": Policy.of(ignore=["eth0", "docker0"]),
}


def _listener(address: str, family: int) -> Listener:
    return Listener("tcp", address, 8000, family, UVICORN, inode=1, dual_stack=True)


def _results(listener: Listener, outcome: Outcome | None) -> list[ProbeResult]:
    if outcome is None:
        return []
    return [
        ProbeResult(
            listener.key, Via.LOOPBACK, "127.0.0.1", "http://127.0.0.1:8000/", Outcome.HTTP, 1.0
        ),
        ProbeResult(listener.key, Via.LAN, "198.18.0.1", "http://198.18.0.1:8000/", outcome, 1.0),
    ]


def _expected_verdict(scope_name: str, outcome: Outcome | None) -> Verdict:
    if outcome is not None and outcome.accepted:
        return Verdict.EXPOSED
    if scope_name.startswith("loopback"):
        # ::1 alone on port 8000: nothing serves it on IPv4 loopback.
        return Verdict.IPV6_LOOPBACK_ONLY if scope_name == "loopback v6" else Verdict.LOCAL_ONLY
    return Verdict.EXPOSED_UNVERIFIED


CASES = list(itertools.product(BINDS, OUTCOMES, POLICIES))


@pytest.mark.parametrize(("scope_name", "outcome", "policy_name"), CASES)
def test_every_scope_outcome_and_policy(
    scope_name: str, outcome: Outcome | None, policy_name: str
) -> None:
    address, family = BINDS[scope_name]
    listener = _listener(address, family)
    snapshot = Snapshot("devbox", INTERFACES, (listener,), 0.0)
    results = {listener.key: _results(listener, outcome)} if outcome is not None else None
    policy = POLICIES[policy_name]
    assessment = Assessment(snapshot, results, policy)
    assessed = assessment.of(listener)

    verdict = _expected_verdict(scope_name, outcome)
    assert assessed.verdict is verdict
    exposed = verdict in EXPOSED
    assert assessed.exposed is exposed

    reach = set(assessed.reach)
    if scope_name.startswith("loopback"):
        assert reach == {"lo"}
    elif scope_name == "specific-interface":
        assert reach == {"eth0"}
    elif scope_name == "specific-interface on docker0":
        assert reach == {"docker0"}
    else:
        assert {"eth0", "lo"} <= reach

    allowed = policy_name in ("allow port", "allow program")
    outside = reach - {"lo"}
    ignored = bool(outside) and outside <= policy.ignore_interfaces
    assert (assessed.allowed_by is not None) is allowed
    assert assessed.ignored is ignored
    finding = exposed and not allowed and not ignored
    assert assessed.is_finding is finding
    assert (assessed.acknowledged is not None) is (allowed or ignored)

    # The counts every output reads.
    assert [a.listener for a in assessment.findings] == ([listener] if finding else [])
    assert len(assessment.allowed) == (1 if exposed and allowed and not ignored else 0)
    assert len(assessment.ignored) == (1 if exposed and ignored else 0)
    assert assessment.local == (0 if exposed else 1)
    assert assessment.verified == (1 if finding and verdict is Verdict.EXPOSED else 0)
    assert assessment.exit_code == (1 if finding else 0)
    assert assessment.probed is (outcome is not None)

    # A row of one listener says the same.
    ((_, (row,)),) = assessment.rows()
    assert row.verdict is verdict
    assert (row.acknowledged is not None) is (exposed and (allowed or ignored))


def test_a_row_takes_its_most_severe_listener_and_each_endpoint_once() -> None:
    v4 = Listener("tcp", "0.0.0.0", 8000, 4, UVICORN, inode=1)
    v6 = Listener("tcp", "::", 8000, 6, UVICORN, inode=2, dual_stack=False)
    twin = Listener("tcp", "0.0.0.0", 8000, 4, UVICORN, inode=3)  # SO_REUSEPORT sibling
    snapshot = Snapshot("devbox", INTERFACES, (v4, v6, twin), 0.0)
    results = {v4.key: _results(v4, Outcome.HTTP), v6.key: _results(v6, Outcome.REFUSED)}
    assessment = Assessment(snapshot, results)
    ((_, (row,)),) = assessment.rows()
    assert row.verdict is Verdict.EXPOSED
    assert len(row.results) == 4  # v4's two results once (not twice for its twin), v6's two
    assert assessment.of(v6).verdict is Verdict.EXPOSED_UNVERIFIED


def test_udp_is_assessed_only_in_view_and_its_hint_names_the_protocol() -> None:
    mdns = Listener("udp", "0.0.0.0", 5353, 4, (Process(600, "avahi-daemon"),), inode=9)
    snapshot = Snapshot("devbox", INTERFACES, (mdns,), 0.0)
    assert Assessment(snapshot).findings == []
    (finding,) = Assessment(snapshot, udp=True).findings
    assert "--allow 5353/udp" in finding.hint.text
    assert (
        Assessment(snapshot, udp=True, policy=Policy.of([parse_allow("5353/udp")])).findings == []
    )
    assert Assessment(snapshot, udp=True, policy=Policy.of([parse_allow("5353/tcp")])).findings
