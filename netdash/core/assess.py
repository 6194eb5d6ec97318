"""The assessment: every listener's verdict, reach, policy state and fix hint, and the counts.

Computed once per snapshot and probe results by pure functions; every output (``list``,
``check``, ``who``, JSON, Prometheus, the dashboard's header, table, verdict line and details)
reads the same :class:`Assessment`, and none re-derives a verdict or a policy.

A listener's verdict (:class:`netdash.core.model.Verdict`) rests on its bind address and what
probing showed:

* ``exposed``: a probe to the LAN address was accepted;
* ``exposed-unverified``: bound beyond loopback, not (yet) seen accepting on the LAN address;
* ``shielded``: bound beyond loopback, and the firewall blocks it from every non-loopback
  network it is bound on (the firewall was read: :mod:`netdash.core.reach`; a LAN probe from
  this machine travels the local route and does not cross it);
* ``ipv6-loopback-only``: bound to ``::1`` while nothing serves that port on IPv4 loopback;
* ``local-only``: bound to loopback.

An exposure (``exposed`` or ``exposed-unverified``) is, in this order: *ignored* when every
non-loopback interface it is reachable through is ignored; *allowed* when an allow rule
matches it; else a *finding*, with a fix hint (:mod:`netdash.core.hints`). Nothing here
performs I/O; per-listener facts are computed on first use and kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from netdash.core.addresses import listener_reach, parse_address, scope_of
from netdash.core.model import (
    Interface,
    Listener,
    ListenerIdentity,
    ProbeResult,
    Process,
    RiskFact,
    Scope,
    Snapshot,
    Verdict,
    Via,
)
from netdash.core.policy import AllowRule, Policy
from netdash.core.reach import BLOCKED, OPEN, UNKNOWN, FirewallView, InterfaceReach, overall
from netdash.core.risk import (
    BROWSER_CHECKS,
    PROTECTED_STATUSES,
    REACHES,
    RISK_KINDS,
    SEVERITIES,
    severity_rank,
)
from netdash.core.services import (
    ResultsByListener,
    ServiceRow,
    row_processes,
    service_ids,
    service_rows,
    visible,
)
from netdash.core.text import clean

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

    from netdash.core.hints import Hint

__all__ = [
    "EXPOSED",
    "FAIL_ON",
    "SEVERITY",
    "Assessment",
    "ExposureGroup",
    "ListenerAssessment",
    "PortKey",
    "Risk",
    "RowAssessment",
    "findings",
    "highest_risk",
    "host_check",
    "ipv4_loopback_ports",
    "most_severe",
    "risks_of",
    "verdict",
]

EXPOSED = frozenset({Verdict.EXPOSED, Verdict.EXPOSED_UNVERIFIED})
"""The verdicts that count as exposed (``--exposed``, ``netdash_exposed_listeners``)."""

SEVERITY: tuple[Verdict, ...] = (
    Verdict.EXPOSED,
    Verdict.EXPOSED_UNVERIFIED,
    Verdict.SHIELDED,
    Verdict.IPV6_LOOPBACK_ONLY,
    Verdict.LOCAL_ONLY,
)
"""Verdicts, most severe first: a row of several listeners takes the first that applies."""

PortKey = tuple[str, int]
"""``(protocol, port)``."""


class _Lazy:
    """A property computed on first use and then stored in the instance's ``__dict__`` (a
    non-data descriptor: later reads are plain attribute reads). ``functools.cached_property``
    does the same but, before Python 3.12, takes a lock on every read: a third of the
    assessment's cost in ``netdash list --json`` at 4,000 listeners."""

    def __init__(self, func: Callable[[Any], object]) -> None:
        self.func = func
        self.name = func.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> object:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value


if TYPE_CHECKING:
    lazy = functools.cached_property
else:
    lazy = _Lazy


def ipv4_loopback_ports(listeners: Iterable[Listener]) -> frozenset[PortKey]:
    """``(protocol, port)`` pairs that accept on IPv4 loopback: bound to 127.0.0.0/8,
    ``0.0.0.0``, or a ``::`` socket not known to be IPv6-only."""
    ports: set[PortKey] = set()
    for listener in listeners:
        ip = parse_address(listener.address)
        v4_local = ip.version == 4 and (ip.is_loopback or ip.is_unspecified)
        dual_wildcard = listener.address == "::" and listener.dual_stack is not False
        if v4_local or dual_wildcard:
            ports.add((listener.protocol, listener.port))
    return frozenset(ports)


def verdict(
    listener: Listener,
    results: Sequence[ProbeResult] = (),
    v4_loopback: Collection[PortKey] | None = None,
    firewall: Sequence[InterfaceReach] | None = None,
) -> Verdict:
    """The verdict for one listener from its own probe results. ``v4_loopback`` is
    :func:`ipv4_loopback_ports` of the whole snapshot; without it an ``::1`` listener is
    simply local-only. ``firewall``: its reach per interface when the firewall was read
    (:func:`netdash.core.reach.reach`): open from some network is ``exposed``, blocked from
    every network it is bound on is ``shielded``, undecided is ``exposed-unverified``,
    whatever the LAN probe (from this machine) saw; ``None`` or no interface holding the
    address: bind and probe alone."""
    if firewall and scope_of(listener.address) is not Scope.LOOPBACK:
        outcome = overall(firewall)
        if outcome == OPEN:
            return Verdict.EXPOSED
        if outcome == BLOCKED:
            return Verdict.SHIELDED
        if outcome == UNKNOWN:
            return Verdict.EXPOSED_UNVERIFIED
    if any(r.via is Via.LAN and r.outcome.accepted for r in results):
        return Verdict.EXPOSED
    if scope_of(listener.address) is not Scope.LOOPBACK:
        return Verdict.EXPOSED_UNVERIFIED
    if (
        v4_loopback is not None
        and listener.address == "::1"
        and (listener.protocol, listener.port) not in v4_loopback
    ):
        return Verdict.IPV6_LOOPBACK_ONLY
    return Verdict.LOCAL_ONLY


def most_severe(verdicts: Collection[Verdict]) -> Verdict:
    """The first of :data:`SEVERITY` in ``verdicts``; ``local-only`` for none."""
    for level in SEVERITY:
        if level in verdicts:
            return level
    return Verdict.LOCAL_ONLY


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _is_loopback_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return parse_address(host).is_loopback
    except ValueError:
        return False


def findings(results: Sequence[ProbeResult], exposed: bool = False) -> list[str]:
    """Facts worth a user's attention in one listener's results, in words:
    a host check that refused the LAN address (the port is reachable all the same), a
    redirect that sends LAN visitors to localhost (where their own machine answers), and
    each risk the risk checks found (:func:`risks_of`, its :attr:`Risk.sentence`, most
    severe first). ``exposed``: the listener is bound beyond loopback (see :func:`risks_of`)."""
    out: list[str] = [r.sentence for r in risks_of(results, exposed)]
    loop_ok = any(
        r.via is Via.LOOPBACK and r.status is not None and r.status < 400 for r in results
    )
    for result in results:
        if result.via is not Via.LAN or result.status is None:
            continue
        if result.status in (400, 403, 421) and loop_ok:
            out.append(f"reachable, host check refused ({result.status} for Host {result.target})")
        if result.location and _is_loopback_host(_host_of(result.location.raw)):
            out.append(f"redirects LAN visitors to {clean(result.location, 80)}")
    return list(dict.fromkeys(out))


_WHO = {
    "lan": "anyone who reaches it from the network can",
    "browser": "any web page you open can",
    "local": "any program on this machine can",
}


class Risk:
    """One risk of one listener (or row): what a reacher can do, and how far it reaches.

    ``kind`` is a key of :data:`netdash.core.risk.RISK_KINDS`; ``severity`` one of
    :data:`netdash.core.risk.SEVERITIES`; ``reach`` one of :data:`netdash.core.risk.REACHES`;
    ``evidence`` the request and the first line of the answer that showed it
    (``GET /api/status -> 200 {"connections": 0, ...``); ``vias`` the probe paths
    (``"loopback"``, ``"lan"``) where it was found; ``allowed_by`` the allow rule that
    acknowledges it (``jupyter-no-token@8888``), set by :meth:`ListenerAssessment.risks`.
    """

    __slots__ = ("allowed_by", "evidence", "kind", "reach", "severity", "vias")

    def __init__(
        self,
        kind: str,
        severity: str,
        reach: str,
        evidence: str,
        vias: tuple[str, ...],
        allowed_by: str | None = None,
    ) -> None:
        self.kind = kind
        self.severity = severity
        self.reach = reach
        self.evidence = evidence
        self.vias = vias
        self.allowed_by = allowed_by

    def __repr__(self) -> str:
        return f"<Risk {self.kind} {self.severity} {self.reach}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Risk):
            return NotImplemented
        return self.key == other.key and self.allowed_by == other.allowed_by

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def key(self) -> tuple[str, str, str, str, tuple[str, ...]]:
        return (self.kind, self.severity, self.reach, self.evidence, self.vias)

    @property
    def rank(self) -> tuple[int, int]:
        """Sort key, loudest first: severity, then reach (critical from the LAN first)."""
        return (severity_rank(self.severity), REACHES.index(self.reach))

    @property
    def capability(self) -> str:
        return RISK_KINDS[self.kind].capability

    @property
    def fix(self) -> str:
        return RISK_KINDS[self.kind].fix

    @property
    def claim(self) -> str:
        """Who can do what: ``any web page you open can run code as the server's user
        (Jupyter without a token)``."""
        return f"{_WHO[self.reach]} {self.capability}"

    @property
    def sentence(self) -> str:
        """The severity and the claim: ``critical: any web page you open can run code as the
        server's user (Jupyter without a token)``."""
        return f"{self.severity}: {self.claim}"

    def fails(self, fail_on: str) -> bool:
        """Whether this risk fails ``netdash check --fail-on FAIL_ON`` (:data:`FAIL_ON`)."""
        return _fails(self, fail_on)

    def acknowledged(self, rule: str | None) -> Risk:
        """This risk with ``allowed_by`` set to ``rule``."""
        return Risk(self.kind, self.severity, self.reach, self.evidence, self.vias, rule)


def _evidence(fact: RiskFact) -> str:
    request = fact.request or "GET /"
    answer = fact.answer or "(no answer)"
    return clean(f"{request} -> {answer}", 160)


def host_check(results: Sequence[ProbeResult]) -> str | None:
    """What the loopback answer to a foreign ``Host`` showed, in words: ``"any Host accepted
    (200)"`` (DNS rebinding reads it), ``"host check (403)"`` (400, 403 or 421: protected),
    ``"unknown (500)"``; ``None`` when no such request was made."""
    for result in results:
        if result.via is not Via.LOOPBACK:
            continue
        for fact in result.risks:
            if fact.check != "dns-rebinding" or fact.status is None:
                continue
            if fact.found:
                return f"any Host accepted ({fact.status})"
            if fact.status in PROTECTED_STATUSES:
                return f"host check ({fact.status})"
            return f"unknown ({fact.status})"
    return None


def risks_of(results: Sequence[ProbeResult], exposed: bool = False) -> tuple[Risk, ...]:
    """The risks one listener's (or row's) probe results show, loudest first (:attr:`Risk.rank`).

    A risk is a kind with a found :class:`~netdash.core.model.RiskFact` at some target. Its
    reach: ``lan`` when found through the LAN address, or when ``exposed`` (bound beyond
    loopback) and no LAN target checked it; else ``browser`` when the risk rides on HTTP and
    the loopback server accepts a foreign ``Host`` (DNS rebinding) or, for the browser
    checks themselves, always; else ``local`` (Redis in protected mode: ``-DENIED`` through
    the LAN address, ``+PONG`` through loopback). DNS rebinding is not reported for an
    ``exposed`` listener: every device of the LAN reads it already.
    """
    found: dict[str, list[tuple[ProbeResult, RiskFact]]] = {}
    checked_lan: set[str] = set()
    rebinding = False
    for result in results:
        for fact in result.risks:
            if result.via is Via.LAN:
                checked_lan.add(fact.check)
            if fact.found and fact.check in RISK_KINDS:
                found.setdefault(fact.check, []).append((result, fact))
                if fact.check == "dns-rebinding" and result.via is Via.LOOPBACK:
                    rebinding = True
    out: list[Risk] = []
    for kind, seen in found.items():
        meaning = RISK_KINDS[kind]
        vias = tuple(dict.fromkeys(r.via.value for r, _ in seen))
        if kind == "dns-rebinding" and (exposed or not rebinding):
            continue  # only loopback's answer matters: beyond it, every device reads it
        if kind in BROWSER_CHECKS and "lan" not in vias:
            reach = "browser"
        elif "lan" in vias or (exposed and kind not in checked_lan):
            reach = "lan"
        elif meaning.http and rebinding:
            reach = "browser"
        else:
            reach = "local"
        lan_first = sorted(seen, key=lambda pair: pair[0].via is not Via.LAN)
        out.append(Risk(kind, meaning.severity, reach, _evidence(lan_first[0][1]), vias))
    return tuple(sorted(out, key=lambda r: r.rank))


def highest_risk(risks: Iterable[Risk]) -> Risk | None:
    """The loudest of ``risks`` not acknowledged by an allow rule (lowest :attr:`Risk.rank`),
    or ``None``."""
    return min((r for r in risks if r.allowed_by is None), key=lambda r: r.rank, default=None)


FAIL_ON: tuple[str, ...] = ("exposed", "critical", "risk")
"""``netdash check --fail-on`` values. Every one fails on exposures (findings); beyond them
``exposed`` (the default) fails on critical risks reachable beyond loopback, ``critical`` on
every critical risk, ``risk`` on every risk of severity medium or above. Acknowledged risks
(an allow rule naming the kind) never fail."""


def _fails(risk: Risk, fail_on: str) -> bool:
    if risk.allowed_by is not None:
        return False
    if fail_on == "risk":
        return severity_rank(risk.severity) <= severity_rank("medium")
    if fail_on == "critical":
        return risk.severity == "critical"
    return risk.severity == "critical" and risk.reach == "lan"


class ListenerAssessment:
    """What netdash makes of one listener: its ``verdict`` (from ``results``, its own probe
    results), ``scope``, ``reach`` (names of the up interfaces it is reachable through) and
    ``notes`` (the probe's findings in words), and, computed on first use: the policy state
    (``allowed_by``, ``ignored``), the probe's ``identified``/``kind``, and the fix ``hint``.
    ``firewall``: its reach per non-loopback interface when the firewall was read
    (:class:`netdash.core.reach.InterfaceReach`: outcome, deciding rule, exceptions by
    source), else ``()``.
    Every output asks for the first group, so it is set at once (no per-read cost)."""

    __slots__ = (
        "__dict__",
        "_assessment",
        "firewall",
        "listener",
        "notes",
        "reach",
        "results",
        "scope",
        "verdict",
    )

    def __init__(
        self,
        assessment: Assessment,
        listener: Listener,
        results: Sequence[ProbeResult],
        verdict: Verdict,
        scope: Scope,
        reach: tuple[str, ...],
        firewall: tuple[InterfaceReach, ...] = (),
    ) -> None:
        self._assessment = assessment
        self.firewall = firewall
        self.listener = listener
        self.results = tuple(results)
        self.verdict = verdict
        self.scope = scope
        self.reach = reach
        self.notes: tuple[str, ...] = (
            tuple(findings(self.results, verdict in EXPOSED)) if self.results else ()
        )

    def __repr__(self) -> str:
        li = self.listener
        return f"<ListenerAssessment {li.protocol} {li.address}:{li.port} {self.verdict.value}>"

    @property
    def exposed(self) -> bool:
        """``exposed`` or ``exposed-unverified``."""
        return self.verdict in EXPOSED

    @lazy
    def allowed_by(self) -> AllowRule | None:
        """The first allow rule matching the listener (whatever its verdict), or ``None``."""
        return self._assessment.policy.allowing(self.listener)

    @lazy
    def ignored(self) -> bool:
        """Reachable only through ignored (non-loopback) interfaces."""
        return self._assessment.policy.ignores(self.reach, self._assessment.loopback_interfaces)

    @property
    def acknowledged(self) -> str | None:
        """Why this listener needs no alarm, in words (an allow rule matches it, or it is
        reachable only through ignored interfaces); ``None`` otherwise."""
        if self.allowed_by is not None:
            return f"allowed by rule {self.allowed_by.spec!r}"
        if self.ignored:
            return "reachable only through ignored interfaces"
        return None

    @property
    def is_finding(self) -> bool:
        """Exposed, neither ignored nor allowed: what ``check`` fails on and the header counts."""
        return self.exposed and not self.ignored and self.allowed_by is None

    @lazy
    def identified(self) -> str | None:
        """What a probe named (display text), ``None`` when unknown or not probed."""
        return next((r.identified for r in self.results if r.identified), None)

    @lazy
    def kind(self) -> str | None:
        """The identification's stable key (``ProbeResult.kind``), ``None`` when unknown."""
        return next((r.kind for r in self.results if r.kind), None)

    @lazy
    def hint(self) -> Hint:
        """How to bind it to loopback instead (:func:`netdash.core.hints.fix_hint`)."""
        from netdash.core.hints import fix_hint  # only outputs that show hints load them

        li = self.listener
        return fix_hint(li.processes, self.kind, li.address, li.port, li.protocol)

    @lazy
    def risks(self) -> tuple[Risk, ...]:
        """:func:`risks_of` its results, loudest first, each with the allow rule that
        acknowledges it (``allowed_by``; a rule naming the risk kind at its port)."""
        if not self.results:
            return ()
        policy = self._assessment.policy
        return tuple(
            r.acknowledged(_spec(policy.allowing_risk(self.listener, r.kind)))
            for r in risks_of(self.results, self.exposed)
        )

    @property
    def risk(self) -> Risk | None:
        """The loudest risk not acknowledged (:func:`highest_risk`), or ``None``."""
        return highest_risk(self.risks)

    @property
    def risk_severity(self) -> str | None:
        """The severity of :attr:`risk` (``"critical"`` … ``"low"``), ``None`` without one:
        what "newly risky" compares between two assessments."""
        risk = self.risk
        return risk.severity if risk is not None else None

    def fails(self, fail_on: str) -> bool:
        """Whether a risk of this listener fails ``netdash check --fail-on FAIL_ON``
        (:data:`FAIL_ON`)."""
        return any(_fails(r, fail_on) for r in self.risks)


_NO_RISK = (len(SEVERITIES), len(REACHES))


def _riskiest_first(rows: list[RowAssessment]) -> list[RowAssessment]:
    """``rows`` with those that have a risk first, loudest first; the rest keep their order
    (a stable sort; without probe results nothing moves)."""
    if not any(r.results for r in rows):
        return rows
    return sorted(rows, key=lambda r: r.risk.rank if r.risk is not None else _NO_RISK)


def _spec(rule: AllowRule | None) -> str | None:
    return rule.spec if rule is not None else None


def _row_risks(members: Sequence[ListenerAssessment]) -> tuple[Risk, ...]:
    """Every member's risks, each (kind, reach) once, loudest first."""
    seen: dict[tuple[str, str], Risk] = {}
    for member in members:
        for risk in member.risks:
            seen.setdefault((risk.kind, risk.reach), risk)
    return tuple(sorted(seen.values(), key=lambda r: r.rank))


def _endpoint_results(members: Sequence[ListenerAssessment]) -> tuple[ProbeResult, ...]:
    """The probe results of every endpoint of ``members``, each endpoint once (SO_REUSEPORT
    sockets share one endpoint and its results)."""
    results: list[ProbeResult] = []
    seen: set[tuple[str, str, int]] = set()
    for member in members:
        if member.listener.key not in seen:
            seen.add(member.listener.key)
            results += member.results
    return tuple(results)


class RowAssessment:
    """One service row (:class:`netdash.core.services.ServiceRow`) as assessed: its listeners'
    assessments (``members``), the most severe ``verdict``, the probe ``results`` of every
    endpoint in the row (each endpoint once), and the ``lead`` member whose policy state and
    hint speak for the row (its first listener)."""

    __slots__ = ("lead", "members", "probed", "results", "row", "verdict")

    def __init__(
        self, row: ServiceRow, members: Sequence[ListenerAssessment], probed: bool = False
    ) -> None:
        self.row = row
        self.probed = probed
        self.members = tuple(members)
        self.lead = self.members[0]
        self.verdict = most_severe({m.verdict for m in self.members})
        self.results = _endpoint_results(self.members)

    @property
    def exposed(self) -> bool:
        return self.verdict in EXPOSED

    @property
    def acknowledged(self) -> str | None:
        """:attr:`ListenerAssessment.acknowledged` of every listener of an exposed row when
        all of them are acknowledged (the lead's reason), else ``None``."""
        if not self.exposed or any(m.acknowledged is None for m in self.members):
            return None
        return self.lead.acknowledged

    @property
    def hint(self) -> Hint:
        return self.lead.hint

    @property
    def notes(self) -> tuple[str, ...]:
        """The probe's findings over the row's results, in words (:func:`findings`)."""
        return tuple(findings(self.results, self.exposed))

    @property
    def risks(self) -> tuple[Risk, ...]:
        """Every member's risks (:attr:`ListenerAssessment.risks`), loudest first."""
        return _row_risks(self.members)

    @property
    def risk(self) -> Risk | None:
        """The row's loudest risk not acknowledged, or ``None``."""
        return highest_risk(self.risks)

    @property
    def processes(self) -> tuple[Process, ...]:
        """Every process of the row, parent first, each once."""
        return row_processes(self.row)

    @property
    def reach(self) -> tuple[str, ...]:
        """Interfaces through which any listener of the row is reachable, each once, in the
        order its listeners reach them."""
        return tuple(dict.fromkeys(n for m in self.members for n in m.reach))


class ExposureGroup:
    """One service's exposures of one kind (all findings, all allowed or all ignored) within
    one scope: ``netdash check`` reports it once, listing its ``addresses`` (``0.0.0.0`` and
    ``::`` of one uvicorn are one finding). ``members`` are the listeners' assessments in
    snapshot order; ``lead`` (the first) speaks for the group's policy state and hint."""

    __slots__ = ("lead", "members", "results")

    def __init__(self, members: Sequence[ListenerAssessment]) -> None:
        self.members = tuple(members)
        self.lead = self.members[0]
        self.results = _endpoint_results(self.members)

    @property
    def verdict(self) -> Verdict:
        return most_severe({m.verdict for m in self.members})

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every bind address of the group, each once, in snapshot order."""
        return tuple(dict.fromkeys(m.listener.address for m in self.members))

    @property
    def reach(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for m in self.members for n in m.reach))

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(pid for m in self.members for pid in m.listener.pids))

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(findings(self.results, self.verdict in EXPOSED))

    @property
    def risks(self) -> tuple[Risk, ...]:
        """Every member's risks, loudest first."""
        return _row_risks(self.members)

    @property
    def identified(self) -> str | None:
        return next((r.identified for r in self.results if r.identified), None)


class Assessment:
    """Every listener of ``snapshot`` assessed against ``results`` (probe results by listener
    key; ``None``: not probed) and ``policy``; ``udp`` says whether UDP listeners are in view
    (:attr:`shown`; every other count is over the shown listeners).

    Per-listener facts are computed when first asked (:meth:`of`), so a dashboard that shows
    a filtered view of 20,000 listeners pays only for what it shows and counts.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        results: ResultsByListener | None = None,
        policy: Policy | None = None,
        udp: bool = False,
    ) -> None:
        self.snapshot = snapshot
        self.results: Mapping[tuple[str, str, int], Sequence[ProbeResult]] = results or {}
        self.probed = results is not None
        self.policy = policy or Policy()
        self.udp = udp
        self._of: dict[int, ListenerAssessment] = {}  # by id() of the listener
        self._reach: dict[tuple[str, bool | None, str | None], tuple[str, ...]] = {}

    def reach_of(self, listener: Listener) -> tuple[str, ...]:
        """:func:`netdash.core.addresses.listener_reach` over the snapshot's interfaces,
        worked out once per bind address, IPV6_V6ONLY and bound device (most listeners share
        a handful of bind addresses)."""
        how = (listener.address, listener.dual_stack, listener.bound_device)
        found = self._reach.get(how)
        if found is None:
            found = self._reach[how] = listener_reach(listener, self.snapshot.interfaces)
        return found

    @lazy
    def v4_loopback(self) -> frozenset[PortKey]:
        """:func:`ipv4_loopback_ports` of the whole snapshot."""
        return ipv4_loopback_ports(self.snapshot.listeners)

    @lazy
    def loopback_interfaces(self) -> frozenset[str]:
        return frozenset(i.name for i in self.snapshot.interfaces if i.is_loopback)

    @property
    def interfaces(self) -> tuple[Interface, ...]:
        return self.snapshot.interfaces

    @property
    def firewall(self) -> FirewallView | None:
        """What the firewall source read (``None``: not asked, ``--ignore-firewall``)."""
        return self.snapshot.firewall

    @lazy
    def shielded(self) -> int:
        """How many shown listeners the firewall shields (``shielded``)."""
        return sum(1 for a in self.listeners if a.verdict is Verdict.SHIELDED)

    @lazy
    def firewall_unproven(self) -> bool:
        """True when the firewall was asked for but could not be read while a shown listener
        is bound beyond loopback: its verdict rests on the bind address alone."""
        view = self.firewall
        if view is None or view.read:
            return False
        return any(a.scope is not Scope.LOOPBACK for a in self.listeners)

    def of(self, listener: Listener) -> ListenerAssessment:
        """The assessment of ``listener`` (computed once per object: the assessment keeps the
        listener alive, so its ``id`` cannot be reused meanwhile)."""
        found = self._of.get(id(listener))
        if found is None:
            mine = self.results.get(listener.key, ()) if self.results else ()
            scope = scope_of(listener.address)
            fw: tuple[InterfaceReach, ...] = ()
            view = self.firewall
            if view is not None and view.read and scope is not Scope.LOOPBACK:
                fw = view.reach_of(
                    listener.protocol,
                    listener.address,
                    listener.port,
                    listener.dual_stack,
                    listener.bound_device,
                )
            found = ListenerAssessment(
                self,
                listener,
                mine,
                verdict(listener, mine, self.v4_loopback, fw),
                scope,
                self.reach_of(listener),
                fw,
            )
            self._of[id(listener)] = found
        return found

    @lazy
    def shown(self) -> tuple[Listener, ...]:
        """The listeners in view: TCP, and UDP too when :attr:`udp`."""
        return tuple(visible(self.snapshot.listeners, self.udp))

    @lazy
    def listeners(self) -> tuple[ListenerAssessment, ...]:
        """The assessment of every shown listener, in snapshot order."""
        return tuple(self.of(li) for li in self.shown)

    @lazy
    def exposures(self) -> tuple[ListenerAssessment, ...]:
        """Shown listeners whose verdict is ``exposed`` or ``exposed-unverified``."""
        return tuple(a for a in self.listeners if a.exposed)

    @property
    def findings(self) -> list[ListenerAssessment]:
        """Exposures neither allowed nor ignored (a new list each time; found once)."""
        return list(self._findings)

    @lazy
    def _findings(self) -> tuple[ListenerAssessment, ...]:
        return tuple(a for a in self.exposures if a.is_finding)

    @property
    def allowed(self) -> list[ListenerAssessment]:
        """Exposures an allow rule accepts (and not ignored)."""
        return [a for a in self.exposures if a.allowed_by is not None and not a.ignored]

    @property
    def ignored(self) -> list[ListenerAssessment]:
        """Exposures reachable only through ignored interfaces."""
        return [a for a in self.exposures if a.ignored]

    @lazy
    def _service_of(self) -> dict[ListenerIdentity, str]:
        return service_ids(self.shown)

    def groups(self, members: Sequence[ListenerAssessment]) -> list[ExposureGroup]:
        """``members`` grouped by service and scope, in the order each group first appears:
        what ``check`` reports, one entry per service (``service_ids``)."""
        grouped: dict[tuple[Scope, str], list[ListenerAssessment]] = {}
        for member in members:
            key = (member.scope, self._service_of[member.listener.identity])
            grouped.setdefault(key, []).append(member)
        return [ExposureGroup(items) for items in grouped.values()]

    @property
    def local(self) -> int:
        """How many shown listeners are not exposed."""
        return len(self.listeners) - len(self.exposures)

    @lazy
    def verified(self) -> int:
        """Findings whose verdict is ``exposed`` (a LAN probe was accepted)."""
        return sum(1 for a in self.findings if a.verdict is Verdict.EXPOSED)

    @property
    def complete(self) -> bool:
        """False when the snapshot is partial: some owners or some processes' sockets could
        not be read (``Snapshot.partial_reasons`` says which), or the firewall could not be
        read and that leaves a listener beyond loopback unproven
        (:attr:`firewall_unproven`)."""
        return not self.snapshot.partial and not self.firewall_unproven

    @property
    def exit_code(self) -> int:
        """``netdash check``'s status (CONTRACTS.md): 1 with any finding; else 3 when the view
        is incomplete (nothing found in what could be read); else 0."""
        if self.findings:
            return 1
        return 0 if self.complete else 3

    @property
    def risky(self) -> list[ListenerAssessment]:
        """Shown listeners with a risk no allow rule acknowledges (a new list each time;
        found once: the dashboard's status line asks at every redraw)."""
        return list(self._risky)

    @lazy
    def _risky(self) -> tuple[ListenerAssessment, ...]:
        return tuple(a for a in self.listeners if a.risk is not None)

    def risk_failures(self, fail_on: str = "exposed") -> list[ListenerAssessment]:
        """Shown listeners whose risks fail ``check --fail-on FAIL_ON`` (:data:`FAIL_ON`)."""
        return [a for a in self.listeners if a.fails(fail_on)]

    def exit_code_for(self, fail_on: str = "exposed") -> int:
        """:attr:`exit_code`, also 1 when a risk fails ``--fail-on FAIL_ON``; without probe
        results (no risks) the same as :attr:`exit_code`."""
        return 1 if self.risk_failures(fail_on) else self.exit_code

    def row(self, row: ServiceRow) -> RowAssessment:
        """The assessment of one service row of this snapshot."""
        return RowAssessment(row, [self.of(li) for li in row.listeners], self.probed)

    def rows(
        self, listeners: Sequence[Listener] | None = None
    ) -> list[tuple[Scope, list[RowAssessment]]]:
        """``listeners`` (default :attr:`shown`) as assessed service rows by scope, most
        exposed scope first (:func:`netdash.core.services.service_rows`), within a scope the
        rows with a risk first, loudest first."""
        chosen = self.shown if listeners is None else listeners
        return [
            (scope, _riskiest_first([self.row(r) for r in members]))
            for scope, members in service_rows(list(chosen))
        ]
