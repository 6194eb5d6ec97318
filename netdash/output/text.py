"""Turn a snapshot and probe results into labels, JSON and a text table.

The labels (``process_label``, ``probe_label``, ``verdict``) are shared by the CLI and the TUI so
the two always say the same thing. Text from other programs goes through ``text.clean`` and is
wrapped in ``rich.text.Text``, never parsed as markup.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from netdash import __version__
from netdash.core.addresses import SCOPE_ORDER, listener_reach, parse_address, scope_of, service_ids
from netdash.core.model import (
    Interface,
    Listener,
    ListenerKey,
    Outcome,
    ProbeResult,
    Process,
    Scope,
    Snapshot,
    Via,
)
from netdash.core.text import clean

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

    from rich.console import Console

__all__ = [
    "JSON_SCHEMA_VERSION",
    "VERDICT_STYLE",
    "PortKey",
    "ServiceRow",
    "Verdict",
    "address_label",
    "findings",
    "group_results",
    "ipv4_loopback_ports",
    "listeners_by_scope",
    "pid_label",
    "print_table",
    "probe_label",
    "process_label",
    "row_processes",
    "row_reach",
    "row_results",
    "row_verdict",
    "service_rows",
    "snapshot_to_json",
    "stack_label",
    "verdict",
    "verdict_sentence",
    "visible",
]

JSON_SCHEMA_VERSION = 2
"""2: ``verdict`` takes the values of :class:`Verdict`; probes gain identification keys."""

SCOPE_TITLES = {
    Scope.ALL_INTERFACES: "all-interfaces (wildcard): every device on every network can connect",
    Scope.SPECIFIC_INTERFACE: "specific-interface: devices on that interface's network can connect",
    Scope.LOOPBACK: "loopback: only this machine can connect",
}


class Verdict(str, enum.Enum):
    """The one thing to know about a listener, from its scope and what probing showed.

    ``EXPOSED``: a probe to the LAN address connected: other devices on that network can
    reach it (barring a firewall, which a probe from this machine does not cross).
    ``EXPOSED_UNVERIFIED``: bound beyond loopback, but not (yet) seen accepting on the LAN
    address: not probed, or the LAN probe was inconclusive.
    ``LOCAL_ONLY``: bound to loopback: only this machine can connect.
    ``IPV6_LOOPBACK_ONLY``: bound to ``::1`` with nothing on IPv4 loopback for that port:
    ``http://127.0.0.1:PORT`` is refused while ``http://[::1]:PORT`` answers (Vite on
    Node 17+). Not down, just not on IPv4.
    """

    EXPOSED = "exposed"
    EXPOSED_UNVERIFIED = "exposed-unverified"
    LOCAL_ONLY = "local-only"
    IPV6_LOOPBACK_ONLY = "ipv6-loopback-only"


ResultsByListener = Mapping[ListenerKey, Sequence[ProbeResult]]
PortKey = tuple[str, int]


def group_results(results: Iterable[ProbeResult]) -> dict[ListenerKey, list[ProbeResult]]:
    """Probe results grouped by listener key, in the order given."""
    grouped: dict[ListenerKey, list[ProbeResult]] = {}
    for result in results:
        grouped.setdefault(result.listener, []).append(result)
    return grouped


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
) -> Verdict:
    """The verdict for one listener. ``v4_loopback`` is :func:`ipv4_loopback_ports` of the
    whole snapshot; without it an ``::1`` listener is simply local-only."""
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


def listeners_by_scope(listeners: Iterable[Listener]) -> list[tuple[Scope, list[Listener]]]:
    """Listeners grouped by scope, most exposed scope first; empty groups left out."""
    groups: dict[Scope, list[Listener]] = {scope: [] for scope in SCOPE_ORDER}
    for listener in listeners:
        groups[scope_of(listener.address)].append(listener)
    return [(scope, items) for scope, items in groups.items() if items]


def visible(listeners: Iterable[Listener], udp: bool) -> list[Listener]:
    """TCP listeners, and UDP ones too when ``udp``."""
    return [li for li in listeners if udp or li.protocol == "tcp"]


@dataclass(frozen=True)
class ServiceRow:
    """One line of a table: the listeners of one service within one scope.

    ``key`` is stable across polls (``all-interfaces|tcp/8000/pid4242``); ``listeners`` are in
    snapshot order; ``sockets_on_endpoint`` counts, per listener, every socket in the snapshot
    on the same protocol, address and port (more than 1 with SO_REUSEPORT).
    """

    key: str
    scope: Scope
    service: str
    listeners: tuple[Listener, ...]
    sockets_on_endpoint: tuple[int, ...]

    @property
    def first(self) -> Listener:
        return self.listeners[0]


def service_rows(listeners: Sequence[Listener]) -> list[tuple[Scope, list[ServiceRow]]]:
    """Listeners as table rows: by scope (most exposed first), one row per service."""
    ids = service_ids(listeners)
    per_endpoint = Counter(li.key for li in listeners)
    out: list[tuple[Scope, list[ServiceRow]]] = []
    for scope, members in listeners_by_scope(listeners):
        grouped: dict[str, list[Listener]] = {}
        for listener in members:
            grouped.setdefault(ids[listener.identity], []).append(listener)
        rows = [
            ServiceRow(
                key=f"{scope.value}|{service}",
                scope=scope,
                service=service,
                listeners=tuple(items),
                sockets_on_endpoint=tuple(per_endpoint[li.key] for li in items),
            )
            for service, items in grouped.items()
        ]
        out.append((scope, rows))
    return out


def stack_label(listener: Listener, results: Sequence[ProbeResult] = ()) -> str:
    """For a ``::`` listener: ``dual-stack`` or ``IPv6 only`` as the kernel reported
    (IPV6_V6ONLY), else as IPv4 probes showed (``… (probed)``), else ``IPv4 unknown``.
    Empty for every other listener."""
    if listener.family != 6 or scope_of(listener.address) is not Scope.ALL_INTERFACES:
        return ""
    if listener.dual_stack is not None:
        return "dual-stack" if listener.dual_stack else "IPv6 only"
    v4 = [r for r in results if ":" not in r.target]
    if v4:
        return (
            "dual-stack (probed)" if any(r.outcome.accepted for r in v4) else "IPv6 only (probed)"
        )
    return "IPv4 unknown"


def address_label(row: ServiceRow, results: Sequence[ProbeResult] = ()) -> str:
    """The bind addresses of a row: ``0.0.0.0, :: (dual-stack)``; ``×4`` marks an address
    and port shared by 4 sockets (SO_REUSEPORT); ``%eth0`` a socket bound to a device."""
    parts: list[str] = []
    for listener, count in zip(row.listeners, row.sockets_on_endpoint, strict=True):
        text = listener.address
        if listener.bound_device and "%" not in text:
            text += f"%{listener.bound_device}"
        if count > 1:
            text += f" ×{count}"
        stack = stack_label(listener, results)
        if stack:
            text += f" ({stack})"
        if text not in parts:
            parts.append(text)
    return ", ".join(parts)


def row_processes(row: ServiceRow) -> tuple[Process, ...]:
    """Every process of a row, parent first, each once."""
    seen: dict[int | None, Process] = {}
    for listener in row.listeners:
        for process in listener.processes:
            seen.setdefault(process.pid if process.pid is not None else id(process), process)
    return tuple(seen.values())


def process_label(processes: Listener | Sequence[Process]) -> str:
    """``uvicorn``; ``gunicorn +3 workers`` when the other holders are its children; ``+N``
    for other co-holders; ``unknown`` (with the owning user when known: ``unknown (postgres)``).
    """
    procs = processes.processes if isinstance(processes, Listener) else tuple(processes)
    named = [p for p in procs if p.name]
    if not named:
        users = [p.user for p in procs if p.user]
        return f"unknown ({clean(users[0], 20)})" if users else "unknown"
    first = named[0]
    label = clean(first.name, 40)
    others = [p for p in procs if p is not first]
    if not others:
        return label
    if all(p.ppid == first.pid for p in others):
        noun = "worker" if len(others) == 1 else "workers"
        return f"{label} +{len(others)} {noun}"
    return f"{label} +{len(others)}"


def pid_label(processes: Listener | Sequence[Process]) -> str:
    procs = processes.processes if isinstance(processes, Listener) else tuple(processes)
    pids = [p.pid for p in procs if p.pid is not None]
    if not pids:
        return "?"
    return str(pids[0]) + (f" +{len(pids) - 1}" if len(pids) > 1 else "")


def _one_result(result: ProbeResult) -> str:
    if result.outcome in (Outcome.HTTP, Outcome.TLS) and result.status is not None:
        return f"{result.outcome.value} {result.status}"
    return result.outcome.value


def _family(result: ProbeResult) -> str:
    return "v6" if ":" in result.target else "v4"


def probe_label(results: Sequence[ProbeResult], via: Via) -> str:
    """Short text for the results of one via: ``http 200``, ``refused``. A ``::`` listener
    tried over both families that answered over one only reads ``http 200 (v6 only)``; other
    mixed results are listed per family (``v6 refused · v4 timeout``).
    ``""`` when that via was not probed."""
    mine = [r for r in results if r.via is via]
    if not mine:
        return ""
    parts = [_one_result(r) for r in mine]
    if len(set(parts)) == 1:
        return parts[0]
    accepted = [r for r in mine if r.outcome.accepted]
    if len(accepted) == 1:
        return f"{_one_result(accepted[0])} ({_family(accepted[0])} only)"
    return " · ".join(f"{_family(r)} {part}" for r, part in zip(mine, parts, strict=True))


def server_label(results: Sequence[ProbeResult]) -> str:
    """What answered: the identified server or framework, else the ``Server`` header, else
    the protocol named by a greeting; ``""`` when nothing says."""
    for result in results:
        if result.identified:
            return clean(result.identified, 40)
    for result in results:
        if result.server:
            return clean(result.server, 40)
    return ""


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


def findings(results: Sequence[ProbeResult]) -> list[str]:
    """Facts worth a user's attention in one listener's results, in words:
    a host check that refused the LAN address (the port is reachable all the same), and a
    redirect that sends LAN visitors to localhost (where their own machine answers)."""
    out: list[str] = []
    loop_ok = any(
        r.via is Via.LOOPBACK and r.status is not None and r.status < 400 for r in results
    )
    for result in results:
        if result.via is not Via.LAN or result.status is None:
            continue
        if result.status in (400, 403, 421) and loop_ok:
            out.append(f"reachable, host check refused ({result.status} for Host {result.target})")
        if result.location and _is_loopback_host(_host_of(result.location)):
            out.append(f"redirects LAN visitors to {clean(result.location, 80)}")
    return list(dict.fromkeys(out))


def verdict_sentence(
    row: ServiceRow, results: Sequence[ProbeResult], v4_loopback: Collection[PortKey]
) -> tuple[Verdict, str]:
    """The line a user reads first about a row: the verdict and what it rests on."""
    v = row_verdict(row, results, v4_loopback)
    first = row.first
    what = server_label(results)
    docs = next((r.docs for r in results if r.docs), None)
    extra = findings(results)
    if v is Verdict.EXPOSED:
        lan = next(r for r in results if r.via is Via.LAN and r.outcome.accepted)
        said = (
            _one_result(lan) + (f", {what}" if what else "") + (f", docs at {docs}" if docs else "")
        )
        text = f"EXPOSED: accepts connections on the LAN address {lan.target} ({said})"
    elif v is Verdict.EXPOSED_UNVERIFIED:
        lan_results = [r for r in results if r.via is Via.LAN]
        if not results:
            why = "not probed yet (p)"
        elif not lan_results:
            why = "no LAN address to probe"
        else:
            why = "LAN probe: " + probe_label(results, Via.LAN)
        text = f"exposed by bind ({address_label(row, results)}), not verified: {why}"
    elif v is Verdict.IPV6_LOOPBACK_ONLY:
        port = first.port
        text = (
            f"IPv6 loopback only: http://127.0.0.1:{port} is refused, http://[::1]:{port} answers"
        )
    else:
        text = "local only: bound to loopback, only this machine can connect"
        if any(r.via is Via.LAN for r in results):
            text += f" (LAN probe: {probe_label(results, Via.LAN)})"
    if v is not Verdict.EXPOSED and what:
        text += f"; {what}"
    return v, "; ".join([text, *extra])


def _process_json(listener: Listener) -> list[dict[str, Any]]:
    return [
        {
            "pid": p.pid,
            "ppid": p.ppid,
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
    }


def snapshot_to_json(
    snapshot: Snapshot,
    lan: Mapping[int, str],
    results: ResultsByListener | None = None,
    udp: bool = False,
) -> dict[str, Any]:
    """The documented JSON document for ``netdash list --json`` (see README, "JSON").

    ``results`` is ``None`` when probing was not asked for; each listener then has
    ``"probes": []`` and ``"verdict"`` from its scope alone. UDP listeners are included only
    with ``udp``.
    """
    shown = visible(snapshot.listeners, udp)
    ids = service_ids(shown)
    per_endpoint = Counter(li.key for li in shown)
    v4_ports = ipv4_loopback_ports(snapshot.listeners)
    # Reach depends only on these three (and the snapshot's interfaces): most listeners share
    # a handful of bind addresses, so each is worked out once.
    reach: dict[tuple[str, bool | None, str | None], tuple[str, ...]] = {}
    listeners = []
    for listener in shown:
        mine = list((results or {}).get(listener.key, ()))
        how = (listener.address, listener.dual_stack, listener.bound_device)
        if how not in reach:
            reach[how] = listener_reach(listener, snapshot.interfaces)
        listeners.append(
            {
                "protocol": listener.protocol,
                "address": listener.address,
                "port": listener.port,
                "family": listener.family,
                "scope": scope_of(listener.address).value,
                "interfaces": list(reach[how]),
                "verdict": verdict(listener, mine, v4_ports).value,
                "findings": findings(mine),
                "service": ids[listener.identity],
                "dual_stack": listener.dual_stack,
                "stack": stack_label(listener, mine) or None,
                "sockets_on_port": per_endpoint[listener.key],
                "inode": listener.inode or None,
                "uid": listener.uid,
                "bound_device": listener.bound_device,
                "processes": _process_json(listener),
                "probes": [_probe_json(r) for r in mine],
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
        "probed": results is not None,
        "udp": udp,
        "interfaces": [
            {
                "name": i.name,
                "is_up": i.is_up,
                "is_loopback": i.is_loopback,
                "addresses": list(i.addresses),
            }
            for i in snapshot.interfaces
        ],
        "listeners": listeners,
    }


VERDICT_STYLE = {
    Verdict.EXPOSED: "bold red",
    Verdict.EXPOSED_UNVERIFIED: "yellow",
    Verdict.LOCAL_ONLY: "green",
    Verdict.IPV6_LOOPBACK_ONLY: "cyan",
}


def print_table(
    snapshot: Snapshot,
    lan: Mapping[int, str],
    results: ResultsByListener | None,
    console: Console,
    udp: bool = False,
) -> None:
    """Print the snapshot as one table per scope, most exposed first, one row per service."""
    from rich import box  # imported here: JSON and the TUI's labels need no Rich tables
    from rich.table import Table
    from rich.text import Text

    lan_text = ", ".join(lan.values()) or "none found"
    console.print(Text(f"{clean(snapshot.hostname, 60)} · LAN address: {lan_text}", style="bold"))
    for reason in snapshot.partial_reasons:
        console.print(Text(f"partial view: {reason}", style="yellow"))
    shown = visible(snapshot.listeners, udp)
    if not shown:
        console.print("No TCP or UDP listeners." if udp else "No TCP listeners.")
        return
    probed = results is not None
    v4_ports = ipv4_loopback_ports(snapshot.listeners)
    for scope, rows in service_rows(shown):
        console.print()
        console.print(Text(SCOPE_TITLES[scope], style="bold"))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("PROTO")
        table.add_column("ADDRESS")
        table.add_column("PORT", justify="right")
        table.add_column("PID", justify="right")
        table.add_column("PROCESS")
        table.add_column("INTERFACES")
        table.add_column("VERDICT")
        if probed:
            table.add_column("LOOPBACK", no_wrap=True)
            table.add_column("LAN", no_wrap=True)
            table.add_column("WHAT")
        for row in rows:
            mine = row_results(row, results or {})
            v = row_verdict(row, mine, v4_ports)
            reach: list[str] = []
            for listener in row.listeners:
                reach += [
                    n for n in listener_reach(listener, snapshot.interfaces) if n not in reach
                ]
            processes = row_processes(row)
            cells: list[Text] = [
                Text(row.first.protocol),
                Text(address_label(row, mine)),
                Text(str(row.first.port)),
                Text(pid_label(processes)),
                Text(process_label(processes)),
                Text(", ".join(clean(n, 20) for n in reach) or "no interface"),
                Text(v.value, style=VERDICT_STYLE[v]),
            ]
            if probed:
                cells += [
                    Text(probe_label(mine, Via.LOOPBACK)),
                    Text(probe_label(mine, Via.LAN) or _no_lan_probe(row)),
                    Text(server_label(mine)),
                ]
            table.add_row(*cells)
            for line in findings(mine):
                table.add_row(Text(""), Text(f"↳ {line}", style="yellow"))
        console.print(table)


def _no_lan_probe(row: ServiceRow) -> str:
    return "not probed (udp)" if row.first.protocol == "udp" else "no LAN address"


def row_reach(row: ServiceRow, interfaces: Sequence[Interface]) -> list[str]:
    """Interfaces through which any listener of the row is reachable, in interface order."""
    reach: set[str] = set()
    for listener in row.listeners:
        reach.update(listener_reach(listener, interfaces))
    return [i.name for i in interfaces if i.name in reach]


def row_results(row: ServiceRow, results: ResultsByListener) -> list[ProbeResult]:
    """Probe results of every endpoint in a row, each endpoint once."""
    out: list[ProbeResult] = []
    seen: set[ListenerKey] = set()
    for listener in row.listeners:
        if listener.key not in seen:
            seen.add(listener.key)
            out += results.get(listener.key, ())
    return out


def row_verdict(
    row: ServiceRow, results: Sequence[ProbeResult], v4_loopback: Collection[PortKey] | None = None
) -> Verdict:
    """The most severe verdict over a row's listeners."""
    verdicts = {
        verdict(li, [r for r in results if r.listener == li.key], v4_loopback)
        for li in row.listeners
    }
    for level in (
        Verdict.EXPOSED,
        Verdict.EXPOSED_UNVERIFIED,
        Verdict.IPV6_LOOPBACK_ONLY,
        Verdict.LOCAL_ONLY,
    ):
        if level in verdicts:
            return level
    return Verdict.LOCAL_ONLY
