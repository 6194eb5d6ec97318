"""The pure history model: what changed between two assessments, which changes deserve a
notification, the once-an-hour limit and ``--since``. Real assessments of fixed snapshots."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest

from netdash.core.assess import Assessment
from netdash.core.history import (
    NotifyLimiter,
    Seen,
    alarms,
    changes,
    keep_proved,
    parse_since,
    probe_events,
    seen_of,
)
from netdash.core.model import Interface, Listener, Outcome, ProbeResult, Process, Snapshot, Via
from netdash.core.policy import Policy, parse_allow

LO = Interface("lo", True, ("127.0.0.1", "::1"), is_loopback=True)
ETH = Interface("eth0", True, ("198.18.0.1",))
NODE = (Process(70, "node", "ada", ("node", "--secret-token=XYZ", "server.js")),)
FLASK = (Process(71, "flask", "bob", ("flask", "run")),)


def snap(*listeners: Listener) -> Snapshot:
    return Snapshot("box", (LO, ETH), listeners, taken_at=1.0)


def seen(*listeners: Listener, policy: Policy | None = None) -> dict[tuple[str, str, int], Seen]:
    return seen_of(Assessment(snap(*listeners), None, policy))


WILD = Listener("tcp", "0.0.0.0", 5000, 4, NODE)
LOOP = Listener("tcp", "127.0.0.1", 5000, 4, NODE)


def test_seen_keeps_the_program_name_and_never_the_command_line() -> None:
    s = seen(WILD)[("tcp", "0.0.0.0", 5000)]
    assert (s.program, s.pid, s.user, s.verdict, s.scope) == (
        "node",
        70,
        "ada",
        "exposed-unverified",
        "all-interfaces",
    )
    assert "XYZ" not in repr(s)
    assert s.reasons == {"exposed"}


def test_changes_appeared_disappeared_and_a_new_owner() -> None:
    before = seen(WILD)
    assert [e.kind for e in changes({}, before, 5.0)] == ["appeared"]
    assert [(e.kind, e.at) for e in changes(before, {}, 6.0)] == [("disappeared", 6.0)]
    other = seen(dataclasses.replace(WILD, processes=FLASK))
    assert [(e.kind, e.program) for e in changes(before, other, 7.0)] == [
        ("disappeared", "node"),
        ("appeared", "flask"),
    ]
    assert changes(before, seen(WILD), 8.0) == []


def test_a_verdict_change_records_before_and_after() -> None:
    unverified = seen(WILD)
    lan = ProbeResult(("tcp", "0.0.0.0", 5000), Via.LAN, "198.18.0.1", "u", Outcome.HTTP, 1.0)
    proved = seen_of(Assessment(snap(WILD), {WILD.key: [lan]}))
    (event,) = changes(unverified, proved, 9.0)
    assert (event.kind, event.previous) == ("verdict", "exposed-unverified")
    assert event.verdict == "exposed"
    (probe,) = probe_events(proved, {WILD.key: [lan]}, 9.0)
    assert probe.detail == "lan 198.18.0.1 http"
    # A later observation without a probe does not take the proof back...
    kept = keep_proved(proved[WILD.key], unverified[WILD.key], probed=False)
    assert kept.verdict == "exposed"
    # ...but a probe that no longer connects does.
    assert keep_proved(proved[WILD.key], unverified[WILD.key], probed=True).verdict == (
        "exposed-unverified"
    )


def test_alarms_only_for_new_unallowed_exposures() -> None:
    assert alarms(None, seen(WILD)) == []  # at start nothing is news
    assert [s.port for s in alarms({}, seen(WILD))] == [5000]
    assert alarms({}, seen(LOOP)) == []  # loopback
    assert alarms({}, seen(WILD, policy=Policy.of([parse_allow("5000")]))) == []  # allowed
    assert alarms(seen(WILD), seen(WILD)) == []  # not new
    # loopback -> wildcard on the same port is a new exposure
    moved = seen(dataclasses.replace(LOOP, address="0.0.0.0"))
    assert [s.port for s in alarms(seen(LOOP), moved)] == [5000]


def test_alarms_tell_about_a_new_reason_alone() -> None:
    """How the risk checks plug in: a reason added to an exposure already known alarms."""
    before = seen(WILD)
    key = ("tcp", "0.0.0.0", 5000)
    risky = {key: dataclasses.replace(before[key], reasons=frozenset({"exposed", "risk:x"}))}
    assert alarms(before, risky) == [risky[key]]


def test_limiter_once_per_program_port_scope_per_hour_not_per_pid() -> None:
    limiter = NotifyLimiter()
    first = seen(WILD)[WILD.key]
    restarted = dataclasses.replace(first, pid=99)
    assert limiter.allow(first, 1000.0)
    assert not limiter.allow(restarted, 1000.0 + 3599)
    assert limiter.allow(restarted, 1000.0 + 3600)
    assert limiter.allow(dataclasses.replace(first, port=5001), 1000.0)


@pytest.mark.parametrize(
    ("text", "back"), [("30m", 1800), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("10s", 10)]
)
def test_since_durations(text: str, back: float) -> None:
    assert parse_since(text, 1_000_000.0) == 1_000_000.0 - back


def test_since_iso_and_mistakes() -> None:
    at = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc).timestamp()
    assert parse_since("2026-12-04T00:00:00+00:00", 0) == at
    with pytest.raises(ValueError, match="not a duration"):
        parse_since("yesterday", 0)


def test_a_loopback_server_that_becomes_risky_alarms_once() -> None:
    """Newly risky (issue 17 with issue 16's checks): a probe finds Jupyter without a token
    on loopback, where it is no exposure: one alarm naming the risk; an allow rule for that
    risk at that port, or a low risk (DNS rebinding of any HTTP server), gives none."""
    from netdash.core.model import RiskFact
    from netdash.history.notify import message_for

    jupyter = Listener("tcp", "127.0.0.1", 8888, 4, NODE)
    tokenless = RiskFact("jupyter-no-token", True, "GET /api/status", '200 {"kernels": 0}', 200)
    any_host = RiskFact("dns-rebinding", True, "GET / (Host: x.invalid)", "200", 200)

    def probed(*facts: RiskFact, policy: Policy | None = None) -> dict[Any, Seen]:
        result = ProbeResult(
            jupyter.key, Via.LOOPBACK, "127.0.0.1", "http://127.0.0.1:8888/", Outcome.HTTP, 1.0,
            status=200, risks=facts,
        )  # fmt: skip
        return seen_of(Assessment(snap(jupyter), {jupyter.key: [result]}, policy))

    before = seen(jupyter)
    told = alarms(before, probed(tokenless, any_host))
    assert [s.reasons for s in told] == [frozenset({"risk:jupyter-no-token"})]
    summary, body = message_for(told[0], None)
    assert summary == "netdash: node on port 8888 is risky"
    assert "run code as the server's user" in body
    assert alarms(probed(tokenless), probed(tokenless)) == []  # once, not every poll
    assert alarms(before, probed(any_host)) == []  # low: no notification
    allowed = Policy.of([parse_allow("jupyter-no-token@8888")])
    assert alarms(before, probed(tokenless, policy=allowed)) == []
