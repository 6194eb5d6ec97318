"""One poll: sockets from the first source that can run, owners, interfaces, into a Snapshot.

The sources are tried in order (:data:`DEFAULT_SOURCES`: sock_diag netlink on Linux, then
psutil); records without pids get their owners by inode from ``/proc/*/fd``
(:mod:`netdash.sources.procfd`, through the cache's ``holders``); owners' metadata comes
from :class:`~netdash.sources.processes.ProcessCache`; interfaces and default routes from
:mod:`netdash.sources.interfaces`.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Sequence

from netdash.core.model import Listener, Process, Snapshot
from netdash.core.text import visible_bytes
from netdash.sources.base import SocketSource, SocketTable, SourceUnavailable
from netdash.sources.firewall import FirewallReader
from netdash.sources.interfaces import read_default_route_interfaces, read_interfaces
from netdash.sources.processes import ProcessCache
from netdash.sources.psutil_source import PsutilSource
from netdash.sources.sock_diag import SockDiagSource

__all__ = ["DEFAULT_SOURCES", "collect_snapshot"]

DEFAULT_SOURCES: tuple[SocketSource, ...] = (SockDiagSource(), PsutilSource())
"""The order sources are tried in: netlink where it runs (Linux), else psutil."""

_NO_PIDS: list[int] = []


def _read_sockets(sources: Sequence[SocketSource]) -> tuple[SocketTable, str]:
    """The table of the first source that can run here, and its name. Raises the last
    :exc:`SourceUnavailable` when none can (or ``ValueError`` for no sources at all)."""
    unavailable: SourceUnavailable | None = None
    for source in sources:
        try:
            return source.read_sockets(), source.name
        except SourceUnavailable as exc:
            unavailable = exc  # netlink refused (seccomp, old kernel): try the next
    if unavailable is None:
        raise ValueError("no socket source given")
    raise unavailable


def _user_name(uid: int | None) -> str | None:
    if uid is None:
        return None
    try:
        import pwd

        return visible_bytes(pwd.getpwuid(uid).pw_name)
    except (ImportError, KeyError):
        return str(uid)


def _parent_first(processes: list[Process]) -> tuple[Process, ...]:
    """Holders whose parent is not a holder come first (the master of a pre-fork server)."""
    if len(processes) == 1:
        return (processes[0],)  # most sockets have one holder
    pids = {p.pid for p in processes}
    return tuple(sorted(processes, key=lambda p: (p.ppid in pids, p.pid or 0)))


def collect_snapshot(
    cache: ProcessCache | None = None,
    sources: Sequence[SocketSource] = DEFAULT_SOURCES,
    firewall: FirewallReader | None = None,
) -> Snapshot:
    """Read interfaces, TCP listeners and UDP listeners now. Blocking; call it off the UI thread.

    ``cache`` keeps owners between polls (a fresh one when ``None``); ``sources`` are tried
    in order until one can run (``Snapshot.source`` names it). A socket held by several
    processes is one listener with several processes; several sockets on one address and
    port (SO_REUSEPORT) are several listeners. Raises only ``psutil.Error``/``OSError`` for
    failures to read the socket table itself (:exc:`SourceUnavailable`, an ``OSError``, when
    no source can run); a process that exits or cannot be read never raises.

    ``firewall``: a :class:`~netdash.sources.firewall.FirewallReader` kept across polls; its
    view (one generation check, a read only when the ruleset changed) goes into
    ``Snapshot.firewall``. ``None`` (``--ignore-firewall``, or a command that does not judge
    reach): no firewall in the snapshot.
    """
    cache = cache if cache is not None else ProcessCache()
    interfaces = read_interfaces()
    table, source = _read_sockets(sources)
    records = table.records
    unowned = [r.inode for r in records if r.pids is None]
    holders = cache.holders.holders(unowned)[0] if unowned else {}

    hidden = 0
    denied: set[int] = set()
    listeners = []
    previous = cache.listeners  # id(record) -> (record, owners, listener) of the last poll
    kept: dict[int, tuple[object, tuple[Process, ...], Listener]] = {}
    seen_pids: set[int] = set()
    resolved: dict[int, tuple[Process | None, str | None]] = {}  # each pid once per poll
    for item in records:
        pids = item.pids if item.pids is not None else holders.get(item.inode, _NO_PIDS)
        processes: list[Process] = []
        for pid in sorted(pids):
            if pid not in resolved:
                resolved[pid] = cache.get(pid)
            process, reason = resolved[pid]
            if process is None:
                continue  # exited between the socket table and now
            seen_pids.add(pid)
            if reason == "permission":
                denied.add(pid)
            processes.append(process)
        if not pids:
            hidden += 1
            processes.append(Process(pid=None, user=_user_name(item.uid)))
        elif not processes:
            continue  # every holder exited: the socket is gone too
        owners = tuple(processes)
        last = previous.get(id(item))
        if last is not None and last[0] is item and last[1] == owners:
            listener = last[2]  # the same record (an unchanged dump) and owners: the same one
        else:
            wildcard6 = item.family == 6 and item.address == "::"
            listener = Listener(
                protocol=item.protocol,
                address=item.address,
                port=item.port,
                family=item.family,
                processes=_parent_first(processes),
                inode=item.inode,
                uid=item.uid,
                dual_stack=(not item.v6only) if wildcard6 and item.v6only is not None else None,
                bound_device=item.bound_device,
            )
        kept[id(item)] = (item, owners, listener)
        listeners.append(listener)
    cache.listeners = kept
    cache.retain(seen_pids)
    listeners.sort(key=lambda li: (li.protocol, li.port, li.family, li.address, li.inode))
    return Snapshot(
        hostname=socket.gethostname(),
        interfaces=interfaces,
        listeners=tuple(listeners),
        taken_at=time.time(),
        partial_reasons=_partial_reasons(hidden, len(denied), table.unread),
        default_route_interfaces=read_default_route_interfaces(),
        source=source,
        firewall=firewall.view() if firewall is not None else None,
    )


def _partial_reasons(hidden: int, denied: int, unread: int = 0) -> tuple[str, ...]:
    if _can_elevate():
        hint = "run as root to see them"
    else:
        hint = "held by a process outside this PID namespace, or by the kernel"
    reasons = []
    if hidden:
        noun = "listener's owner is" if hidden == 1 else "listeners' owners are"
        reasons.append(f"{hidden} {noun} unknown ({hint})")
    if denied:
        noun = "process" if denied == 1 else "processes"
        reasons.append(f"{denied} {noun} could not be read ({hint})")
    if unread:
        noun = "process's sockets" if unread == 1 else "processes' sockets"
        reasons.append(f"{unread} {noun} could not be read: their listeners are missing ({hint})")
    return tuple(reasons)


def _can_elevate() -> bool:
    return sys.platform != "win32" and hasattr(os, "geteuid") and os.geteuid() != 0
