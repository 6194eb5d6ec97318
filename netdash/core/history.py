"""Listener history as data: what one assessment says about each listener (:class:`Seen`),
what changed between two of them (:func:`changes`), the events of a probe run
(:func:`probe_events`), when a change deserves a desktop notification (:func:`alarms`,
:class:`NotifyLimiter`) and the ``--since`` durations (:func:`parse_since`).

Pure: no clock, no disk. :mod:`netdash.history` stores the events in SQLite and the
dashboard and ``netdash watch`` feed it. Only program names are kept, never command lines
(CONTRACTS.md: other users' command lines are not stored; so none are).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from netdash.core.model import ListenerKey, ProbeResult, Verdict

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from netdash.core.assess import Assessment, ListenerAssessment

__all__ = [
    "EVENT_KINDS",
    "Event",
    "NotifyKey",
    "NotifyLimiter",
    "Seen",
    "alarm_reasons",
    "alarms",
    "changes",
    "parse_since",
    "probe_events",
    "seen_of",
]

EVENT_KINDS = ("appeared", "disappeared", "verdict", "probe")
"""``appeared``/``disappeared``: a listener (protocol, bind address, port) came or went;
``verdict``: its verdict changed (``previous`` → ``verdict``); ``probe``: a probe run's
outcome for it, in words (``detail``)."""

_EXPOSED = frozenset({Verdict.EXPOSED.value, Verdict.EXPOSED_UNVERIFIED.value})


@dataclass(frozen=True)
class Seen:
    """One listener as an assessment judged it, in the terms history keeps.

    ``verdict`` and ``scope`` are their values (``"exposed"``, ``"all-interfaces"``);
    ``program`` is the leading process's name (``None`` when unreadable), ``pid`` and ``user``
    its pid and user name; ``project`` the git project label (``netdash@main``); ``allowed``
    is true when an allow rule or ignored interfaces acknowledge the exposure;
    ``reasons`` are the :func:`alarm_reasons` of this listener (empty: nothing to tell).
    """

    protocol: str
    address: str
    port: int
    scope: str
    verdict: str
    program: str | None = None
    pid: int | None = None
    user: str | None = None
    project: str | None = None
    allowed: bool = False
    reasons: frozenset[str] = frozenset()

    @property
    def key(self) -> ListenerKey:
        return (self.protocol, self.address, self.port)

    @property
    def exposed(self) -> bool:
        return self.verdict in _EXPOSED


@dataclass(frozen=True)
class Event:
    """One line of the timeline. ``at`` is seconds since the epoch; ``kind`` one of
    :data:`EVENT_KINDS`; ``previous`` the verdict before (``verdict`` events only);
    ``detail`` the probe's outcome in words (``probe`` events only); the rest as
    :class:`Seen`."""

    at: float
    kind: str
    protocol: str
    address: str
    port: int
    scope: str
    verdict: str
    previous: str | None = None
    program: str | None = None
    pid: int | None = None
    user: str | None = None
    project: str | None = None
    detail: str | None = None

    @property
    def exposed(self) -> bool:
        return self.verdict in _EXPOSED


ALARM_SEVERITIES = frozenset({"critical", "high"})
"""Risk severities worth a notification (:mod:`netdash.core.risk`): someone who reaches the
port runs code, becomes root, or reads and writes the service's data."""


def alarm_reasons(assessed: ListenerAssessment) -> frozenset[str]:
    """Why a listener deserves to be told about: ``"exposed"`` for a finding (exposed,
    neither allowed nor reachable only through ignored interfaces), and ``"risk:<kind>"``
    for each critical or high risk the probe found that no allow rule acknowledges
    (``risk:jupyter-no-token``); empty: nothing to tell.

    The one place a notification's cause is decided: :func:`alarms` tells about a listener
    that gained a reason, so one that became risky (a probe found Jupyter's token gone) is
    told with no other change."""
    reasons = {"exposed"} if assessed.is_finding else set()
    for risk in assessed.risks:
        if risk.allowed_by is None and risk.severity in ALARM_SEVERITIES:
            reasons.add(f"risk:{risk.kind}")
    return frozenset(reasons)


def _seen(assessed: ListenerAssessment) -> Seen:
    li = assessed.listener
    # The first holder whose name could be read (a pre-fork family's parent): its name only.
    lead = next((p for p in li.processes if p.name), li.processes[0] if li.processes else None)
    project = lead.project.label if lead is not None and lead.project is not None else None
    return Seen(
        protocol=li.protocol,
        address=li.address,
        port=li.port,
        scope=assessed.scope.value,
        verdict=assessed.verdict.value,
        program=lead.name.raw if lead is not None and lead.name else None,
        pid=lead.pid if lead is not None else None,
        user=lead.user.raw if lead is not None and lead.user else None,
        project=project,
        allowed=assessed.exposed and not assessed.is_finding,
        reasons=alarm_reasons(assessed),
    )


def seen_of(assessment: Assessment) -> dict[ListenerKey, Seen]:
    """Every listener of the assessment's snapshot (TCP and UDP, whatever is in view) by key,
    SO_REUSEPORT sockets sharing a key counted once (the first)."""
    out: dict[ListenerKey, Seen] = {}
    for li in assessment.snapshot.listeners:
        if li.key not in out:
            out[li.key] = _seen(assessment.of(li))
    return out


def _event(at: float, kind: str, seen: Seen, previous: str | None = None) -> Event:
    return Event(
        at=at,
        kind=kind,
        protocol=seen.protocol,
        address=seen.address,
        port=seen.port,
        scope=seen.scope,
        verdict=seen.verdict,
        previous=previous,
        program=seen.program,
        pid=seen.pid,
        user=seen.user,
        project=seen.project,
    )


def keep_proved(before: Seen | None, after: Seen, probed: bool) -> Seen:
    """``after``, except that an observation without a probe of this listener (``probed``
    false) does not take back a proof: ``exposed`` stays ``exposed`` rather than falling to
    ``exposed-unverified`` while the same program holds it. So ``netdash watch`` (no probe)
    and a dashboard that probed do not record the verdict flapping between them."""
    if (
        not probed
        and before is not None
        and before.verdict == Verdict.EXPOSED.value
        and after.verdict == Verdict.EXPOSED_UNVERIFIED.value
        and before.program == after.program
    ):
        return replace(after, verdict=before.verdict)
    return after


def changes(
    before: Mapping[ListenerKey, Seen],
    after: Mapping[ListenerKey, Seen],
    at: float,
) -> list[Event]:
    """The events that turn ``before`` into ``after`` at time ``at`` (epoch seconds):
    ``appeared`` for a new key, ``disappeared`` for a key gone (with what was last known of
    it), ``verdict`` for a verdict that changed. A new owner on the same key (another
    program) is a disappearance and an appearance. Ordered: disappearances, then the rest by
    key, so a timeline reads naturally."""
    out: list[Event] = []
    for key, was in before.items():
        still = after.get(key)
        if still is None or still.program != was.program:
            out.append(_event(at, "disappeared", was))
    for key in sorted(after, key=lambda k: (k[2], k[0], k[1])):
        new = after[key]
        old = before.get(key)
        if old is None or old.program != new.program:
            out.append(_event(at, "appeared", new))
        elif old.verdict != new.verdict:
            out.append(_event(at, "verdict", new, previous=old.verdict))
    return out


def probe_detail(results: Sequence[ProbeResult]) -> str:
    """A probe's outcome for one listener in words: ``loopback 127.0.0.1 http 200 · lan
    198.18.0.1 refused`` (each target once, in the order probed)."""
    parts = []
    for r in results:
        outcome = r.outcome.value + (f" {r.status}" if r.status is not None else "")
        parts.append(f"{r.via.value} {r.target} {outcome}")
    return " · ".join(dict.fromkeys(parts))


def probe_events(
    seen: Mapping[ListenerKey, Seen],
    results: Mapping[ListenerKey, Sequence[ProbeResult]],
    at: float,
) -> list[Event]:
    """One ``probe`` event per listener of ``results`` still in ``seen``, with its verdict
    after the probe and the outcome in ``detail``."""
    out = []
    for key, found in results.items():
        now = seen.get(key)
        if now is not None and found:
            out.append(replace(_event(at, "probe", now), detail=probe_detail(found)))
    return out


NotifyKey = tuple[str, str, int, str]
"""A listener as notifications count it: ``(program, protocol, port, scope)`` — not the
pid, so a restarted server is the same listener."""


def notify_key(seen: Seen) -> NotifyKey:
    return (seen.program or "?", seen.protocol, seen.port, seen.scope)


def alarms(
    before: Mapping[ListenerKey, Seen] | None, after: Mapping[ListenerKey, Seen]
) -> list[Seen]:
    """The listeners of ``after`` with an alarm reason they did not have in ``before``
    (newly exposed beyond loopback and not allowed, or newly risky). ``before`` is
    ``None`` at start: nothing is new then (what already listened is no news)."""
    if before is None:
        return []
    out = []
    for key, now in after.items():
        old = before.get(key)
        had = old.reasons if old is not None and old.program == now.program else frozenset()
        if now.reasons - had:
            out.append(now)
    return out


class NotifyLimiter:
    """At most one notification per :func:`notify_key` per ``every`` seconds (default an
    hour). :meth:`allow` is given the time (epoch seconds); pure otherwise."""

    def __init__(self, every: float = 3600.0) -> None:
        self.every = every
        self._last: dict[NotifyKey, float] = {}

    def allow(self, seen: Seen, now: float) -> bool:
        key = notify_key(seen)
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        self._last[key] = now
        return True


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float) -> float:
    """``--since``: ``30m``, ``2h``, ``1d``, ``1w`` (also ``s``) back from ``now``, or an ISO
    date or date-time (``2026-12-04``, ``2026-12-04T09:30``; local time unless it names an
    offset). Returns epoch seconds. Raises ``ValueError`` with a message for the user."""
    found = _DURATION.match(text)
    if found:
        return now - float(found.group(1)) * _UNIT[found.group(2).lower()]
    try:
        when = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a duration (30m, 2h, 1d, 1w) or an ISO date (2026-12-04)"
        ) from None
    return when.timestamp()
