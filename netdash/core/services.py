"""Services: listeners grouped as a user thinks of them, one program on one port over all its
addresses, and the rows of every table. Pure: nothing here performs I/O.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from netdash.core.addresses import SCOPE_ORDER, scope_of
from netdash.core.model import Listener, ListenerIdentity, ListenerKey, ProbeResult, Process, Scope

__all__ = [
    "ResultsByListener",
    "ServiceRow",
    "ServiceRows",
    "group_results",
    "leader",
    "listeners_by_scope",
    "row_processes",
    "row_results",
    "service_ids",
    "service_rows",
    "visible",
]

ResultsByListener = Mapping[ListenerKey, Sequence[ProbeResult]]
"""Probe results by listener key, in the order they were made."""


def leader(listener: Listener) -> int | None:
    """The pid of a socket's leading holder: the holder whose parent holds none of its sockets
    (the master of a pre-fork server), lowest first; ``None`` when no owner is known. Workers
    coming and going (or a holder's fork child, for the instant before it execs) leave it
    unchanged."""
    if len(listener.processes) == 1:
        return listener.processes[0].pid  # most sockets: no process is its own parent
    pids = set(listener.pids)
    leaders = [p.pid for p in listener.processes if p.pid is not None and p.ppid not in pids]
    if leaders:
        return min(leaders)
    return min(pids) if pids else None


def service_ids(listeners: Iterable[Listener]) -> dict[ListenerIdentity, str]:
    """Group listeners into services: one program on one port and protocol, over any number
    of addresses and families (``0.0.0.0:8000`` and ``[::]:8000`` of one uvicorn).

    The program is the socket's :func:`leader`. Listeners whose owner is unknown are a
    service each. Returns ``{listener.identity: service_id}``; ids look like
    ``tcp/8000/pid4242``.
    """
    ids: dict[ListenerIdentity, str] = {}
    for listener in listeners:
        pid = leader(listener)
        if pid is not None:
            owner = f"pid{pid}"
        else:
            owner = f"inode{listener.inode}-{listener.family}-{listener.address}"
        ids[listener.identity] = f"{listener.protocol}/{listener.port}/{owner}"
    return ids


def group_results(results: Iterable[ProbeResult]) -> dict[ListenerKey, list[ProbeResult]]:
    """Probe results grouped by listener key, in the order given."""
    grouped: dict[ListenerKey, list[ProbeResult]] = {}
    for result in results:
        grouped.setdefault(result.listener, []).append(result)
    return grouped


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


class ServiceRows:
    """:func:`service_rows` of one snapshot's listeners, computed once, and of any subset of
    them (a filter, a toggle) derived from it in time proportional to the subset: a row whose
    listeners are all kept is the same object, so what was computed for it (cells, widths)
    can be reused.

    ``listeners`` are every listener a view may show (the snapshot's); a subset passed to
    :meth:`of` must be drawn from them, each once (others are left out). Rows keep the full
    grouping's order; a row partly kept holds its kept listeners, and ``sockets_on_endpoint``
    counts sockets over the whole snapshot, as its docstring says.
    """

    def __init__(self, listeners: Sequence[Listener]) -> None:
        self.all = service_rows(listeners)
        self._rows: list[ServiceRow] = [row for _, rows in self.all for row in rows]
        self._sizes = [len(row.listeners) for row in self._rows]
        self._where = {id(li): n for n, row in enumerate(self._rows) for li in row.listeners}
        self._starts: list[tuple[int, Scope]] = []  # (first row, scope) of each group
        first = 0
        for scope, rows in self.all:
            self._starts.append((first, scope))
            first += len(rows)

    def of(self, listeners: Sequence[Listener]) -> list[tuple[Scope, list[ServiceRow]]]:
        """The rows of ``listeners``, a subset of those given at construction (when some are
        not, :func:`service_rows` of ``listeners`` instead)."""
        try:
            counts = Counter(map(self._where.__getitem__, map(id, listeners)))
        except KeyError:
            return service_rows(listeners)
        if not counts:
            return []
        kept = sorted(counts)
        rows = self._rows
        sizes = self._sizes
        whole = sum(counts.values()) == sum(map(sizes.__getitem__, kept))
        out: list[tuple[Scope, list[ServiceRow]]] = []
        ends = [first for first, _ in self._starts[1:]] + [len(rows)]
        at = 0
        for (_, scope), end in zip(self._starts, ends, strict=True):
            stop = bisect_left(kept, end, at)
            if stop > at:
                members = list(map(rows.__getitem__, kept[at:stop]))
                if not whole:
                    members = self._parts(members, counts, kept[at:stop], listeners)
                out.append((scope, members))
            at = stop
        return out

    def _parts(
        self,
        members: list[ServiceRow],
        counts: Mapping[int, int],
        indices: Sequence[int],
        listeners: Sequence[Listener],
    ) -> list[ServiceRow]:
        """``members`` with each row of which only some listeners are kept replaced by a row
        of those."""
        chosen: set[int] | None = None
        out = []
        for row, n in zip(members, indices, strict=True):
            if counts[n] != self._sizes[n]:
                if chosen is None:
                    chosen = {id(li) for li in listeners}
                pairs = [
                    (li, k)
                    for li, k in zip(row.listeners, row.sockets_on_endpoint, strict=True)
                    if id(li) in chosen
                ]
                row = ServiceRow(
                    key=row.key,
                    scope=row.scope,
                    service=row.service,
                    listeners=tuple(li for li, _ in pairs),
                    sockets_on_endpoint=tuple(k for _, k in pairs),
                )
            out.append(row)
        return out


def row_processes(row: ServiceRow) -> tuple[Process, ...]:
    """Every process of a row, parent first, each once."""
    seen: dict[int | None, Process] = {}
    for listener in row.listeners:
        for process in listener.processes:
            seen.setdefault(process.pid if process.pid is not None else id(process), process)
    return tuple(seen.values())


def row_results(row: ServiceRow, results: ResultsByListener) -> list[ProbeResult]:
    """Probe results of every endpoint in a row, each endpoint once."""
    out: list[ProbeResult] = []
    seen: set[ListenerKey] = set()
    for listener in row.listeners:
        if listener.key not in seen:
            seen.add(listener.key)
            out += results.get(listener.key, ())
    return out
