"""``netdash check``: which listeners are exposed beyond what the user has allowed.

An exposure is a listener whose verdict (:func:`netdash.output.text.verdict`) is ``exposed`` or
``exposed-unverified``: bound beyond loopback, proven reachable on the LAN address or not
(yet) shown otherwise. Each exposure is, in this order:

* *ignored* when every non-loopback interface it is reachable through is one the user
  ignores (``ignore_interfaces``: a listener on ``docker0``'s address, say);
* *allowed* when an allow rule (:mod:`netdash.core.policy`) matches it;
* else a *finding*, with a fix hint (:mod:`netdash.core.hints`).

Pure: the caller collects and probes; nothing here performs I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netdash import __version__
from netdash.core.addresses import listener_reach, scope_of
from netdash.core.hints import Hint, fix_hint
from netdash.core.model import Interface, Listener, ListenerKey, ProbeResult, Scope, Snapshot, Via
from netdash.core.policy import AllowRule, first_match
from netdash.core.text import clean
from netdash.output.text import (
    Verdict,
    findings,
    ipv4_loopback_ports,
    pid_label,
    probe_label,
    process_label,
    server_label,
    verdict,
    visible,
)

__all__ = [
    "CHECK_SCHEMA_VERSION",
    "EXPOSED",
    "CheckReport",
    "Exposure",
    "endpoint",
    "evaluate",
    "ignored_reach",
    "leading_program",
    "report_to_json",
    "report_to_text",
]

CHECK_SCHEMA_VERSION = 1
"""Version of the ``netdash check --json`` document (schema/netdash-check.schema.json)."""

EXPOSED = frozenset({Verdict.EXPOSED, Verdict.EXPOSED_UNVERIFIED})
"""The verdicts that count as exposed."""


def endpoint(address: str, port: int) -> str:
    """``0.0.0.0:8000``, ``[::]:8000``: an address and port as a URL would write them."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def leading_program(listener: Listener) -> str:
    """The name of the first readable holder (the parent of a pre-fork family), else
    ``"unknown"``. Cleaned of control characters."""
    for process in listener.processes:
        if process.name:
            return clean(process.name, 60)
    return "unknown"


@dataclass(frozen=True)
class Exposure:
    """One exposed listener and what ``check`` makes of it.

    ``reach`` names the up interfaces it is reachable through; ``identified`` is what a probe
    named (``None`` when unknown or not probed) and ``what`` the identified server or its
    ``Server`` header (``""``: nothing said); ``notes`` are the probe's findings (a host
    check that refused the LAN address, a redirect to localhost); ``lan_probe`` is the LAN
    probe's short text (``"http 200"``, ``""`` when not probed); ``allowed_by`` is the
    matching rule (``None``: not allowed); ``ignored`` is true when it is reachable only
    through ignored interfaces.
    """

    listener: Listener
    verdict: Verdict
    scope: Scope
    reach: tuple[str, ...]
    identified: str | None
    what: str
    lan_probe: str
    notes: tuple[str, ...]
    hint: Hint
    allowed_by: AllowRule | None = None
    ignored: bool = False

    @property
    def is_finding(self) -> bool:
        return self.allowed_by is None and not self.ignored


@dataclass(frozen=True)
class CheckReport:
    """Every exposure of one snapshot, in snapshot order; ``local`` counts the listeners
    shown that are not exposed. ``exit_code`` is 1 with any finding, else 0."""

    snapshot: Snapshot
    exposures: tuple[Exposure, ...]
    local: int
    probed: bool
    udp: bool
    rules: tuple[AllowRule, ...]

    @property
    def findings(self) -> list[Exposure]:
        return [e for e in self.exposures if e.is_finding]

    @property
    def allowed(self) -> list[Exposure]:
        return [e for e in self.exposures if e.allowed_by is not None and not e.ignored]

    @property
    def ignored(self) -> list[Exposure]:
        return [e for e in self.exposures if e.ignored]

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0


def ignored_reach(
    listener: Listener, interfaces: Sequence[Interface], ignore: Collection[str]
) -> bool:
    """True when ``ignore`` is not empty and every non-loopback interface the listener is
    reachable through is in it (a listener reachable through none is not ignored)."""
    if not ignore:
        return False
    loopback = {i.name for i in interfaces if i.is_loopback}
    outside = [n for n in listener_reach(listener, interfaces) if n not in loopback]
    return bool(outside) and all(n in ignore for n in outside)


def evaluate(
    snapshot: Snapshot,
    results: Mapping[ListenerKey, Sequence[ProbeResult]] | None,
    rules: Sequence[AllowRule] = (),
    ignore_interfaces: Collection[str] = (),
    udp: bool = False,
) -> CheckReport:
    """Sort the snapshot's exposed listeners into findings, allowed and ignored.

    ``results`` are probe results by listener key (``None``: not probed); UDP listeners are
    considered only with ``udp``.
    """
    shown = visible(snapshot.listeners, udp)
    v4_ports = ipv4_loopback_ports(snapshot.listeners)
    exposures: list[Exposure] = []
    local = 0
    for listener in shown:
        mine = list((results or {}).get(listener.key, ()))
        v = verdict(listener, mine, v4_ports)
        if v not in EXPOSED:
            local += 1
            continue
        identified = next((r.identified for r in mine if r.identified), None)
        exposures.append(
            Exposure(
                listener=listener,
                verdict=v,
                scope=scope_of(listener.address),
                reach=listener_reach(listener, snapshot.interfaces),
                identified=identified,
                lan_probe=probe_label(mine, Via.LAN),
                what=server_label(mine),
                notes=tuple(findings(mine)),
                hint=fix_hint(
                    listener.processes,
                    next((r.kind for r in mine if r.kind), None),
                    listener.address,
                    listener.port,
                    listener.protocol,
                ),
                allowed_by=first_match(listener, rules),
                ignored=ignored_reach(listener, snapshot.interfaces, ignore_interfaces),
            )
        )
    return CheckReport(
        snapshot=snapshot,
        exposures=tuple(exposures),
        local=local,
        probed=results is not None,
        udp=udp,
        rules=tuple(rules),
    )


def _line(exposure: Exposure) -> str:
    li = exposure.listener
    mark = "‼" if exposure.verdict is Verdict.EXPOSED else "⚠"
    owner = process_label(li)
    pid = pid_label(li)
    user = next((p.user for p in li.processes if p.user), None)
    who = f"{owner} (pid {pid}" + (f", user {clean(user, 30)})" if user else ")")
    via = ", ".join(clean(n, 20) for n in exposure.reach) or "no interface"
    text = (
        f"{mark} {exposure.verdict.value}: {li.protocol} {endpoint(li.address, li.port)} "
        f"{who}, {exposure.scope.value} via {via}"
    )
    if exposure.lan_probe:
        text += f"; LAN probe: {exposure.lan_probe}"
    if exposure.what:
        text += f", {exposure.what}"
    return text


def report_to_text(report: CheckReport) -> str:
    """The human report: each finding with program, pid, address, port and fix hint, then
    what was allowed or ignored, then a one-line summary. Ends with a newline."""
    out: list[str] = []
    for exposure in report.findings:
        out.append(_line(exposure))
        for note in exposure.notes:
            out.append(f"    {clean(note, 120)}")
        out.append(f"    fix: {exposure.hint.text}")
    allowed = report.allowed
    if allowed:
        out.append("allowed:")
        for exposure in allowed:
            rule = exposure.allowed_by.spec if exposure.allowed_by else ""
            out.append(f"  {_line(exposure)} [allowed by {rule}]")
    if report.ignored:
        out.append("ignored (reachable only through ignored interfaces):")
        for exposure in report.ignored:
            out.append(f"  {_line(exposure)}")
    n = len(report.findings)
    kinds = "TCP and UDP" if report.udp else "TCP"
    tail = f"{len(allowed)} allowed, {len(report.ignored)} ignored, {report.local} local-only"
    if not report.probed:
        tail += "; not probed (--probe verifies)"
    if n:
        noun = "listener" if n == 1 else "listeners"
        out.append(f"FAIL: {n} exposed {kinds} {noun} not allowed ({tail})")
    else:
        out.append(f"OK: nothing exposed beyond what is allowed ({tail})")
    return "\n".join(out) + "\n"


def _exposure_json(exposure: Exposure) -> dict[str, Any]:
    li = exposure.listener
    return {
        "protocol": li.protocol,
        "address": li.address,
        "port": li.port,
        "family": li.family,
        "scope": exposure.scope.value,
        "verdict": exposure.verdict.value,
        "interfaces": list(exposure.reach),
        "program": leading_program(li),
        "pids": list(li.pids),
        "user": next((p.user for p in li.processes if p.user), None),
        "cmdline": next((list(p.cmdline) for p in li.processes if p.cmdline), []),
        "identified": exposure.identified,
        "lan_probe": exposure.lan_probe or None,
        "server": exposure.what or None,
        "findings": list(exposure.notes),
        "hint": {"tool": exposure.hint.tool, "text": exposure.hint.text},
        "allowed_by": exposure.allowed_by.spec if exposure.allowed_by else None,
        "ignored": exposure.ignored,
    }


def report_to_json(report: CheckReport) -> dict[str, Any]:
    """The ``netdash check --json`` document (schema/netdash-check.schema.json).

    ``ok`` is true when there is no finding; ``findings``, ``allowed`` and ``ignored`` hold
    exposure objects (program, pids, address, port, scope, verdict, hint, …).
    """
    return {
        "schema_version": CHECK_SCHEMA_VERSION,
        "netdash_version": __version__,
        "hostname": report.snapshot.hostname,
        "taken_at": report.snapshot.taken_at,
        "partial": report.snapshot.partial,
        "probed": report.probed,
        "udp": report.udp,
        "ok": not report.findings,
        "allow": [r.spec for r in report.rules],
        "local_only": report.local,
        "findings": [_exposure_json(e) for e in report.findings],
        "allowed": [_exposure_json(e) for e in report.allowed],
        "ignored": [_exposure_json(e) for e in report.ignored],
    }
