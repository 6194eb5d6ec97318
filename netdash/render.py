"""Turn a snapshot and probe results into labels, JSON and a text table.

The labels (``process_label``, ``probe_label``, ``verdict``) are shared by the CLI and the TUI so
the two always say the same thing. Text from other programs goes through ``text.clean`` and is
wrapped in ``rich.text.Text``, never parsed as markup.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from netdash import __version__
from netdash.classify import SCOPE_ORDER, interfaces_reaching, scope_of
from netdash.model import Listener, ListenerKey, Outcome, ProbeResult, Scope, Snapshot, Via
from netdash.text import clean

__all__ = [
    "JSON_SCHEMA_VERSION",
    "Verdict",
    "group_results",
    "listeners_by_scope",
    "pid_label",
    "print_table",
    "probe_label",
    "process_label",
    "snapshot_to_json",
    "verdict",
]

JSON_SCHEMA_VERSION = 1

SCOPE_TITLES = {
    Scope.ALL_INTERFACES: "all-interfaces (wildcard): every device on every network can connect",
    Scope.SPECIFIC_INTERFACE: "specific-interface: devices on that interface's network can connect",
    Scope.LOOPBACK: "loopback: only this machine can connect",
}


class Verdict(str, enum.Enum):
    """How exposed a listener is, combining its scope with what probing showed.

    ``LOCAL``: loopback scope. ``EXPOSED``: bound beyond loopback, not (yet) seen answering on
    the LAN address. ``VERIFIED``: answered a probe to the LAN address.
    """

    LOCAL = "local"
    EXPOSED = "exposed"
    VERIFIED = "verified"


ResultsByListener = Mapping[ListenerKey, Sequence[ProbeResult]]


def group_results(results: Iterable[ProbeResult]) -> dict[ListenerKey, list[ProbeResult]]:
    """Probe results grouped by listener key, in the order given."""
    grouped: dict[ListenerKey, list[ProbeResult]] = {}
    for result in results:
        grouped.setdefault(result.listener, []).append(result)
    return grouped


def verdict(listener: Listener, results: Sequence[ProbeResult] = ()) -> Verdict:
    if any(r.via is Via.LAN and r.outcome.answered for r in results):
        return Verdict.VERIFIED
    if scope_of(listener.address) is Scope.LOOPBACK:
        return Verdict.LOCAL
    return Verdict.EXPOSED


def listeners_by_scope(listeners: Iterable[Listener]) -> list[tuple[Scope, list[Listener]]]:
    """Listeners grouped by scope, most exposed scope first; empty groups left out."""
    groups: dict[Scope, list[Listener]] = {scope: [] for scope in SCOPE_ORDER}
    for listener in listeners:
        groups[scope_of(listener.address)].append(listener)
    return [(scope, items) for scope, items in groups.items() if items]


def process_label(listener: Listener) -> str:
    """``uvicorn``, ``gunicorn +3`` for a socket shared with 3 more processes, or ``unknown``."""
    names = [p.name for p in listener.processes if p.name]
    if not names:
        return "unknown"
    first = clean(names[0], 40)
    more = len(listener.processes) - 1
    return f"{first} +{more}" if more else first


def pid_label(listener: Listener) -> str:
    pids = [p.pid for p in listener.processes if p.pid is not None]
    if not pids:
        return "?"
    return str(pids[0]) + (f" +{len(pids) - 1}" if len(pids) > 1 else "")


def _one_result(result: ProbeResult) -> str:
    if result.outcome in (Outcome.HTTP, Outcome.TLS) and result.status is not None:
        return f"{result.outcome.value} {result.status}"
    return result.outcome.value


def probe_label(results: Sequence[ProbeResult], via: Via) -> str:
    """Short text for the results of one via: ``http 200``, ``refused``, or, when a ``::``
    listener answered differently over IPv6 and IPv4, ``v6 http 200 · v4 refused``.
    ``""`` when that via was not probed."""
    mine = [r for r in results if r.via is via]
    if not mine:
        return ""
    parts = [_one_result(r) for r in mine]
    if len(set(parts)) == 1:
        return parts[0]
    return " · ".join(
        f"v{6 if ':' in r.target else 4} {part}" for r, part in zip(mine, parts, strict=True)
    )


def server_label(results: Sequence[ProbeResult]) -> str:
    for result in results:
        if result.server:
            return clean(result.server, 40)
    return ""


def _process_json(listener: Listener) -> list[dict[str, Any]]:
    return [
        {
            "pid": p.pid,
            "name": p.name,
            "user": p.user,
            "cmdline": list(p.cmdline),
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
        "title": result.title,
        "detail": result.detail,
    }


def snapshot_to_json(
    snapshot: Snapshot,
    lan: Mapping[int, str],
    results: ResultsByListener | None = None,
) -> dict[str, Any]:
    """The documented JSON document for ``netdash list --json`` (see README, "JSON").

    ``results`` is ``None`` when probing was not asked for; each listener then has
    ``"probes": []`` and ``"verdict"`` from its scope alone.
    """
    listeners = []
    for listener in snapshot.listeners:
        mine = list((results or {}).get(listener.key, ()))
        listeners.append(
            {
                "protocol": listener.protocol,
                "address": listener.address,
                "port": listener.port,
                "family": listener.family,
                "scope": scope_of(listener.address).value,
                "interfaces": list(interfaces_reaching(listener.address, snapshot.interfaces)),
                "verdict": verdict(listener, mine).value,
                "processes": _process_json(listener),
                "probes": [_probe_json(r) for r in mine],
            }
        )
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "netdash_version": __version__,
        "hostname": snapshot.hostname,
        "taken_at": snapshot.taken_at,
        "partial": snapshot.partial,
        "partial_reasons": list(snapshot.partial_reasons),
        "lan_addresses": list(lan.values()),
        "probed": results is not None,
        "interfaces": [
            {"name": i.name, "is_up": i.is_up, "addresses": list(i.addresses)}
            for i in snapshot.interfaces
        ],
        "listeners": listeners,
    }


_VERDICT_STYLE = {
    Verdict.VERIFIED: "bold red",
    Verdict.EXPOSED: "yellow",
    Verdict.LOCAL: "green",
}


def print_table(
    snapshot: Snapshot,
    lan: Mapping[int, str],
    results: ResultsByListener | None,
    console: Console,
) -> None:
    """Print the snapshot as one table per scope, most exposed first."""
    lan_text = ", ".join(lan.values()) or "none found"
    console.print(Text(f"{clean(snapshot.hostname, 60)} · LAN address: {lan_text}", style="bold"))
    for reason in snapshot.partial_reasons:
        console.print(Text(f"partial view: {reason}", style="yellow"))
    if not snapshot.listeners:
        console.print("No TCP listeners.")
        return
    probed = results is not None
    for scope, listeners in listeners_by_scope(snapshot.listeners):
        console.print()
        console.print(Text(SCOPE_TITLES[scope], style="bold"))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("ADDRESS")
        table.add_column("PORT", justify="right")
        table.add_column("PID", justify="right")
        table.add_column("PROCESS")
        table.add_column("INTERFACES")
        table.add_column("VERDICT")
        if probed:
            table.add_column("LOOPBACK")
            table.add_column("LAN")
            table.add_column("SERVER")
        for listener in listeners:
            mine = list((results or {}).get(listener.key, ()))
            v = verdict(listener, mine)
            reach = interfaces_reaching(listener.address, snapshot.interfaces)
            row: list[Text] = [
                Text(listener.address),
                Text(str(listener.port)),
                Text(pid_label(listener)),
                Text(process_label(listener)),
                Text(", ".join(clean(n, 20) for n in reach) or "no interface"),
                Text(v.value, style=_VERDICT_STYLE[v]),
            ]
            if probed:
                row += [
                    Text(probe_label(mine, Via.LOOPBACK)),
                    Text(probe_label(mine, Via.LAN) or "no LAN address"),
                    Text(server_label(mine)),
                ]
            table.add_row(*row)
        console.print(table)
