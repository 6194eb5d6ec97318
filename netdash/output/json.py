"""JSON documents: ``netdash list --json`` (schema/netdash-list.schema.json) and
``netdash check --json`` (schema/netdash-check.schema.json), both written from an
:class:`~netdash.core.assess.Assessment`, and the compact encoder used for pipes and files.

Strings from other programs (:class:`~netdash.core.text.Untrusted`) are kept whole: the
encoders write their :attr:`~netdash.core.text.Untrusted.raw` text, which JSON escapes
(:func:`outside_text`); see CONTRACTS.md for when a schema version changes.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from netdash import __version__
from netdash.core.assess import Assessment, ExposureGroup, Risk, host_check
from netdash.core.model import Listener, ProbeResult, Verdict, Via
from netdash.core.reach import Decision, InterfaceReach
from netdash.core.services import service_ids
from netdash.core.text import Untrusted
from netdash.output.labels import answered_by, leading_program, probe_label, stack_label

__all__ = [
    "CHECK_SCHEMA_VERSION",
    "JSON_SCHEMA_VERSION",
    "EncodedStrings",
    "check_to_json",
    "compact_json",
    "firewall_json",
    "json_text",
    "listing_pieces",
    "reach_json",
    "snapshot_to_json",
]

JSON_SCHEMA_VERSION = 3
"""Version of the ``netdash list --json`` document. 2: ``verdict`` takes the values of
:class:`~netdash.core.model.Verdict`; probes gain identification keys. 3: ``verdict`` gains
``shielded`` and ``exposed`` also means "the firewall lets it in"; listeners gain ``reach``
(per interface: outcome, deciding rule, exceptions by source), the document ``firewall``."""

CHECK_SCHEMA_VERSION = 3
"""Version of the ``netdash check --json`` document. 2: one exposure object per service and
scope (``addresses`` lists its bind addresses; ``address`` is the first), where 1 had one per
socket. 3: verdicts judge the firewall too (``shielded`` listeners are no finding and are
listed under ``shielded``); exposures gain ``reach``, the document ``firewall``."""


def outside_text(value: object) -> str:
    """The JSON encoders' ``default``: an :class:`~netdash.core.text.Untrusted` is written as
    its whole raw text (valid Unicode; JSON escapes quotes and control characters); anything
    else that JSON cannot encode raises ``TypeError`` as ``json.dumps`` does."""
    if isinstance(value, Untrusted):
        return value.raw
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_text(document: object, pretty: bool) -> str:
    """The document as JSON text ending in a newline: indented when ``pretty`` (a person at a
    terminal), else compact (:func:`compact_json`, several times faster)."""
    if pretty:
        return json.dumps(document, indent=2, default=outside_text) + "\n"
    return compact_json(document, end="\n")


def _process_json(listener: Listener) -> list[dict[str, Any]]:
    return [
        {
            "pid": p.pid,
            "ppid": p.ppid,
            "name": p.name,
            "user": p.user,
            "cmdline": list(p.cmdline),
            "project": None
            if p.project is None
            else {"root": p.project.root, "name": p.project.name, "branch": p.project.branch},
        }
        for p in listener.processes
    ]


def _probe_json(result: ProbeResult) -> dict[str, Any]:
    return {
        "via": result.via.value,
        "target": result.target,
        "url": result.url,
        "outcome": result.outcome.value,
        "status": result.status,
        "server": result.server,
        "elapsed_ms": result.elapsed_ms,
        "probed_at": result.probed_at,
        "title": result.title,
        "location": result.location,
        "banner": result.banner,
        "certificate": result.certificate,
        "self_signed": result.self_signed,
        "identified": result.identified,
        "kind": result.kind,
        "evidence": result.evidence,
        "docs": result.docs,
        "detail": result.detail,
        "risk_checks": [
            {
                "check": f.check,
                "found": f.found,
                "request": f.request,
                "answer": f.answer,
                "status": f.status,
            }
            for f in result.risks
        ],
    }


def _risk_json(risk: Risk) -> dict[str, Any]:
    return {
        "kind": risk.kind,
        "severity": risk.severity,
        "reach": risk.reach,
        "capability": risk.capability,
        "sentence": risk.sentence,
        "evidence": risk.evidence,
        "fix": risk.fix,
        "via": list(risk.vias),
        "allowed_by": risk.allowed_by,
    }


def _decision_json(decision: Decision | None) -> dict[str, Any]:
    if decision is None:
        return {"rule": None, "ruleset": None, "reason": None}
    rule = decision.rule
    return {
        "rule": None
        if rule is None
        else {
            "table": decision.table,
            "chain": decision.chain,
            "handle": rule.handle,
            "text": rule.text,
            "front_end": decision.front_end,
        },
        "ruleset": decision.ruleset,
        "reason": decision.reason or None,
    }


def reach_json(entries: Sequence[InterfaceReach]) -> list[dict[str, Any]]:
    """A listener's reach per non-loopback interface (``reach`` in both documents)."""
    return [
        {
            "interface": e.interface,
            "outcome": e.outcome,
            "address": e.address,
            **_decision_json(e.decision),
            "exceptions": [
                {"source": x.source, "outcome": x.decision.outcome, **_decision_json(x.decision)}
                for x in e.exceptions
            ],
        }
        for e in entries
    ]


def firewall_json(assessment: Assessment) -> dict[str, Any]:
    """The ``firewall`` object: whether the ruleset was read and evaluated, and why not."""
    view = assessment.firewall
    if view is None:
        return {
            "read": False,
            "ignored": True,
            "reason": "not read (--ignore-firewall)",
            "tools": [],
            "rules": 0,
        }
    rs = view.ruleset
    return {
        "read": view.read,
        "ignored": False,
        "reason": view.reason,
        "tools": list(rs.sources) if rs is not None else [],
        "rules": rs.rule_count if rs is not None else 0,
    }


def snapshot_to_json(
    assessment: Assessment,
    lan: Mapping[int, str],
    listeners: Sequence[Listener] | None = None,
) -> dict[str, Any]:
    """The documented JSON document for ``netdash list --json`` (see README, "JSON";
    schema/netdash-list.schema.json): the shown listeners of ``assessment`` (or the given
    subset of them, ``listeners``: ``--exposed``, ``who PORT``).

    Not probed (``assessment.probed`` false): each listener has ``"probes": []`` and its
    ``"verdict"`` from its bind address alone.
    """
    snapshot = assessment.snapshot
    shown = assessment.shown if listeners is None else tuple(listeners)
    ids = service_ids(shown)
    per_endpoint = Counter(li.key for li in shown)
    # A process's entry repeats in every listener it holds, a reach in every listener of the
    # same address and port class: each distinct one is one list object, shared by those
    # listeners (the same JSON; :func:`listing_pieces` encodes each once).
    processes: dict[tuple[int, ...], list[dict[str, Any]]] = {}
    reaches: dict[int, list[dict[str, Any]]] = {}
    out = []
    for listener in shown:
        assessed = assessment.of(listener)
        mine = assessed.results
        held = tuple(map(id, listener.processes))  # the snapshot keeps them alive
        procs = processes.get(held)
        if procs is None:
            procs = processes[held] = _process_json(listener)
        reach = reaches.get(id(assessed.firewall))  # the view keeps the tuple alive
        if reach is None:
            reach = reaches[id(assessed.firewall)] = reach_json(assessed.firewall)
        out.append(
            {
                "protocol": listener.protocol,
                "address": listener.address,
                "port": listener.port,
                "family": listener.family,
                "scope": assessed.scope.value,
                "interfaces": list(assessed.reach),
                "verdict": assessed.verdict.value,
                "allowed_by": assessed.allowed_by.spec if assessed.allowed_by else None,
                "findings": list(assessed.notes),
                "service": ids[listener.identity],
                "dual_stack": listener.dual_stack,
                "stack": stack_label(listener, mine) or None,
                "sockets_on_port": per_endpoint[listener.key],
                "inode": listener.inode or None,
                "uid": listener.uid,
                "bound_device": listener.bound_device,
                "processes": procs,
                "probes": [_probe_json(r) for r in mine],
                "reach": reach,
                "risks": [_risk_json(r) for r in assessed.risks],
                "risk": assessed.risk_severity,
                "host_check": host_check(mine),
            }
        )
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "netdash_version": __version__,
        "hostname": snapshot.hostname,
        "taken_at": snapshot.taken_at,
        "source": snapshot.source,
        "partial": snapshot.partial,
        "partial_reasons": list(snapshot.partial_reasons),
        "lan_addresses": list(lan.values()),
        "probed": assessment.probed,
        "udp": assessment.udp,
        "firewall": firewall_json(assessment),
        "interfaces": [
            {
                "name": i.name,
                "is_up": i.is_up,
                "is_loopback": i.is_loopback,
                "addresses": list(i.addresses),
            }
            for i in snapshot.interfaces
        ],
        "listeners": out,
    }


def _exposure_json(group: ExposureGroup) -> dict[str, Any]:
    lead = group.lead
    li = lead.listener
    return {
        "protocol": li.protocol,
        "address": li.address,
        "addresses": list(group.addresses),
        "port": li.port,
        "family": li.family,
        "scope": lead.scope.value,
        "verdict": group.verdict.value,
        "interfaces": list(group.reach),
        "program": leading_program(li),
        "pids": list(group.pids),
        "user": next((p.user for p in li.processes if p.user), None),
        "cmdline": next((list(p.cmdline) for p in li.processes if p.cmdline), []),
        "identified": group.identified,
        "lan_probe": probe_label(group.results, Via.LAN) or None,
        "server": answered_by(group.results),
        "findings": list(group.notes),
        "hint": {"tool": lead.hint.tool, "text": lead.hint.text},
        "allowed_by": lead.allowed_by.spec if lead.allowed_by else None,
        "ignored": lead.ignored,
        "reach": reach_json([e for m in group.members for e in m.firewall]),
    }


def _risk_group_json(group: ExposureGroup, fail_on: str) -> dict[str, Any]:
    lead = group.lead
    li = lead.listener
    return {
        "protocol": li.protocol,
        "addresses": list(group.addresses),
        "port": li.port,
        "scope": lead.scope.value,
        "verdict": group.verdict.value,
        "program": leading_program(li),
        "pids": list(group.pids),
        "identified": group.identified,
        "fails": any(m.fails(fail_on) for m in group.members),
        "risks": [_risk_json(r) for r in group.risks],
    }


def check_to_json(report: Assessment, fail_on: str = "exposed") -> dict[str, Any]:
    """The ``netdash check --json`` document (schema/netdash-check.schema.json).

    ``ok`` is true when there is no finding; ``findings``, ``allowed`` and ``ignored`` hold
    exposure objects (program, pids, address, port, scope, verdict, hint, …); ``risks`` one
    object per service with a risk (``fails``: it fails ``--fail-on``), ``risk_failures``
    how many fail (the exit status is 1 when ``findings`` or ``risk_failures``).
    """
    risky = report.groups([a for a in report.listeners if a.risks])
    risky.sort(key=lambda g: g.risks[0].rank)  # the loudest first
    return {
        "schema_version": CHECK_SCHEMA_VERSION,
        "netdash_version": __version__,
        "hostname": report.snapshot.hostname,
        "taken_at": report.snapshot.taken_at,
        "partial": report.snapshot.partial,
        "partial_reasons": list(report.snapshot.partial_reasons),
        "probed": report.probed,
        "udp": report.udp,
        "ok": not report.findings,
        "allow": [r.spec for r in report.policy.rules],
        "local_only": report.local,
        "findings": [_exposure_json(g) for g in report.groups(report.findings)],
        "allowed": [_exposure_json(g) for g in report.groups(report.allowed)],
        "ignored": [_exposure_json(g) for g in report.groups(report.ignored)],
        "shielded": [
            _exposure_json(g)
            for g in report.groups([a for a in report.listeners if a.verdict is Verdict.SHIELDED])
        ],
        "firewall": firewall_json(report),
        "fail_on": fail_on,
        "risks": [_risk_group_json(g, fail_on) for g in risky],
        "risk_failures": sum(1 for g in risky if any(m.fails(fail_on) for m in g.members)),
    }


class EncodedStrings(dict[str, str]):
    """The JSON text of each distinct string, escaped once (:meth:`dict.__getitem__` is the
    string encoder of :func:`compact_json`): a process's command line repeats in every
    listener it holds, and escaping a long one (a Java class path) costs far more than a
    dictionary look-up."""

    def __missing__(self, text: str) -> str:
        encoded = self[text] = json.encoder.encode_basestring_ascii(text)
        return encoded


SHARED_KEYS = ("processes", "reach")
"""The keys of a listener entry whose values :func:`snapshot_to_json` shares between
listeners."""


def listing_pieces(document: dict[str, Any], end: str = "\n") -> list[bytes]:
    """``compact_json(document, end)`` for a ``list --json`` document, as ASCII pieces whose
    concatenation is exactly that text, to be written in turn (:func:`os.writev`): each
    distinct list object under a listener's :data:`SHARED_KEYS` is encoded once and its
    piece repeated, so a command line of kilobytes held by a process with thousands of
    sockets is neither encoded nor copied into one string thousands of times.

    The skeleton is encoded with a placeholder string in place of each shared list; its
    encoding (:class:`EncodedStrings`) is a NUL, which the ASCII encoder never writes for a
    string (``\\u0000``), so the text splits there. The placeholders carry a random token,
    so no string of the document can stand for one."""
    listeners = document.get("listeners")
    if not isinstance(listeners, list) or getattr(json.encoder, "c_make_encoder", None) is None:
        return [compact_json(document, end).encode("ascii")]
    token = os.urandom(8).hex()
    strings = EncodedStrings()
    fragments: dict[int, int] = {}  # id(shared list) -> its index in ``encoded``
    encoded: list[bytes] = []
    entries = []
    for entry in listeners:
        copy = None
        for key in SHARED_KEYS:
            value = entry.get(key) if isinstance(entry, dict) else None
            if not isinstance(value, list) or not value:
                continue
            index = fragments.get(id(value))
            if index is None:
                index = fragments[id(value)] = len(encoded)
                encoded.append(_encode(value, strings).encode("ascii"))
                strings[f"\0{token}:{index}"] = f"\0{index}\0"
            if copy is None:
                copy = dict(entry)  # the same keys in the same order
            copy[key] = f"\0{token}:{index}"
        entries.append(entry if copy is None else copy)
    skeleton = _encode({**document, "listeners": entries}, strings) + end
    parts = skeleton.split("\0")
    pieces = [parts[0].encode("ascii")]
    for i in range(1, len(parts) - 1, 2):
        pieces.append(encoded[int(parts[i])])
        pieces.append(parts[i + 1].encode("ascii"))
    return pieces


def _encode(document: object, strings: EncodedStrings, end: str = "") -> str:
    """``json.dumps(document, separators=(",", ":"), default=outside_text) + end`` through
    CPython's C encoder (``json.encoder.c_make_encoder``), with ``strings`` as its string
    encoder. The arguments are those ``json.JSONEncoder.iterencode`` passes for these
    separators: circular check on, outside text whole (anything else a ``TypeError``),
    ASCII, NaN allowed."""
    encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        {},
        outside_text,
        strings.__getitem__,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
    return "".join([*encode(document, 0), end])  # one copy of megabytes, not two


def compact_json(document: object, end: str = "") -> str:
    """Exactly ``json.dumps(document, separators=(",", ":"), default=outside_text) + end``,
    faster when strings repeat:
    CPython's C encoder (``json.encoder.c_make_encoder``, what ``json.dumps`` itself uses)
    with :class:`EncodedStrings` as its string encoder, so a command line repeated in every
    listener its process holds is escaped once (bench/RESULTS.md). Falls back to
    ``json.dumps`` where the C encoder is missing (PyPy)."""
    if getattr(json.encoder, "c_make_encoder", None) is None:
        return json.dumps(document, separators=(",", ":"), default=outside_text) + end
    return _encode(document, EncodedStrings(), end)
