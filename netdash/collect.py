"""Read this machine's interfaces and listening sockets into a :class:`Snapshot`.

Everything operating-system specific lives here. Sources:

* listening sockets: ``psutil.net_connections(kind="tcp")`` filtered to ``CONN_LISTEN``
  (on Linux, ``/proc/net/tcp{,6}`` plus a scan of ``/proc/*/fd`` for owners);
* owners: ``psutil.Process`` (name, username, cmdline, create_time), cached by
  ``(pid, create_time)`` so a reused pid is never taken for the old process;
* interfaces: ``psutil.net_if_addrs()`` merged with ``psutil.net_if_stats()``;
* default route: ``/proc/net/route`` and ``/proc/net/ipv6_route`` (Linux only).

psutil sees only the caller's network namespace: listeners inside containers are invisible.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import psutil

from netdash.model import Interface, Listener, Process, Snapshot

__all__ = ["ProcessCache", "collect_snapshot", "read_default_route_interfaces", "read_interfaces"]

_FAMILIES: dict[int, int] = {int(socket.AF_INET): 4, int(socket.AF_INET6): 6}
T = TypeVar("T")


class ProcessCache:
    """Process metadata keyed by ``(pid, create_time)``; safe to share between threads.

    A process's name, user and command line are read once; later polls only read its
    create time to check the pid still names the same process. Entries for processes not
    seen in a poll are dropped by :meth:`retain`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_pid: dict[int, Process] = {}

    def get(self, pid: int) -> tuple[Process | None, str | None]:
        """The process with this pid, or ``(None, reason)`` when it exited mid-poll.

        A process that exists but cannot be read (``psutil.AccessDenied``) is returned with
        unknown fields and a reason, so its socket stays listed.
        """
        try:
            proc = psutil.Process(pid)
            create_time = proc.create_time()
        except psutil.NoSuchProcess:
            return None, "exited"
        except psutil.AccessDenied:
            return Process(pid=pid), "permission"
        with self._lock:
            cached = self._by_pid.get(pid)
        if cached is not None and cached.create_time == create_time:
            return cached, None
        reason: str | None = None
        try:
            with proc.oneshot():
                name = _try(proc.name)
                user = _try(proc.username)
                cmdline = _try(proc.cmdline) or []
        except psutil.NoSuchProcess:
            return None, "exited"
        if name is None:
            reason = "permission"
        process = Process(
            pid=pid, name=name, user=user, cmdline=tuple(cmdline), create_time=create_time
        )
        with self._lock:
            self._by_pid[pid] = process
        return process, reason

    def retain(self, pids: Iterable[int]) -> None:
        """Forget every cached process whose pid is not in ``pids``."""
        keep = set(pids)
        with self._lock:
            for pid in list(self._by_pid):
                if pid not in keep:
                    del self._by_pid[pid]


def _try(call: Callable[[], T]) -> T | None:
    """``call()``, or ``None`` when psutil denies access; NoSuchProcess propagates."""
    try:
        return call()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return None


def read_interfaces() -> tuple[Interface, ...]:
    """This machine's interfaces: ``net_if_addrs()`` merged with ``net_if_stats()``.

    The two need not list the same names (an interface without an address has stats only);
    both are kept. Loopback interfaces come first, then the order psutil gives.
    """
    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    names = list(dict.fromkeys([*addrs, *stats]))
    interfaces = []
    for name in names:
        v4, v6 = [], []
        for entry in addrs.get(name, []):
            if entry.family == socket.AF_INET:
                v4.append(entry.address)
            elif entry.family == socket.AF_INET6:
                v6.append(entry.address)
        stat = stats.get(name)
        flags = getattr(stat, "flags", "") if stat is not None else ""
        is_loopback = "loopback" in flags.split(",") or (
            bool(v4 or v6) and all(_is_loopback_text(a) for a in v4 + v6)
        )
        interfaces.append(
            Interface(
                name=name,
                is_up=bool(stat.isup) if stat is not None else False,
                addresses=tuple(v4 + v6),
                is_loopback=is_loopback,
            )
        )
    interfaces.sort(key=lambda i: not i.is_loopback)
    return tuple(interfaces)


def _is_loopback_text(text: str) -> bool:
    return text.startswith("127.") or text == "::1"


def read_default_route_interfaces(proc_net: Path = Path("/proc/net")) -> tuple[str, ...]:
    """Names of interfaces holding a default route, IPv4 first (Linux ``/proc/net``).

    Returns an empty tuple where the routing table cannot be read (other systems).
    """
    names: list[str] = []
    try:
        for line in (proc_net / "route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
                names.append(fields[0])
    except OSError:
        pass
    try:
        for line in (proc_net / "ipv6_route").read_text().splitlines():
            fields = line.split()
            default = len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00"
            if default and fields[9] != "lo":
                names.append(fields[9])
    except OSError:
        pass
    return tuple(dict.fromkeys(names))


_Socket = tuple[int, str, int, "int | None"]
"""(family 4/6, bind address, port, pid or None)."""


def _listening_sockets() -> list[_Socket]:
    """TCP sockets in LISTEN, from the system-wide table or, where that is denied (macOS
    without root), from each process's own table."""
    found: list[_Socket] = []

    def add(family: int, laddr: tuple[str, int] | tuple[()], status: str, pid: int | None) -> None:
        version = _FAMILIES.get(family)
        if version is not None and status == psutil.CONN_LISTEN and laddr:
            found.append((version, laddr[0], laddr[1], pid))

    try:
        for conn in psutil.net_connections(kind="tcp"):
            add(conn.family, conn.laddr, conn.status, conn.pid)
    except psutil.AccessDenied:
        for proc in psutil.process_iter():
            try:
                for pconn in proc.net_connections(kind="tcp"):
                    add(pconn.family, pconn.laddr, pconn.status, proc.pid)
            except (psutil.Error, OSError):
                continue
    return found


def collect_snapshot(cache: ProcessCache | None = None) -> Snapshot:
    """Read interfaces and TCP listeners now. Blocking; call it off the UI thread.

    Sockets held by several processes (pre-fork servers) become one listener with several
    processes. Raises only ``psutil.Error``/``OSError`` for failures to read the socket table
    itself; a process that exits or cannot be read never raises.
    """
    cache = cache if cache is not None else ProcessCache()
    interfaces = read_interfaces()
    owners: dict[tuple[str, str, int, int], list[int | None]] = {}
    for family, address, port, pid in _listening_sockets():
        pids = owners.setdefault(("tcp", address, port, family), [])
        if pid not in pids:
            pids.append(pid)

    hidden = 0
    denied: set[int] = set()
    listeners = []
    seen_pids: set[int] = set()
    for (protocol, address, port, family), pids in owners.items():
        processes: list[Process] = []
        known_pids = sorted(p for p in pids if p is not None)
        for pid in known_pids:
            process, reason = cache.get(pid)
            if process is None:
                continue  # exited between the socket table and now
            seen_pids.add(pid)
            if reason == "permission":
                denied.add(pid)
            processes.append(process)
        if not known_pids:
            hidden += 1
            processes.append(Process(pid=None))
        elif not processes:
            continue  # every owner exited: the socket is gone too
        listeners.append(
            Listener(
                protocol=protocol,
                address=address,
                port=port,
                family=family,
                processes=tuple(processes),
            )
        )
    cache.retain(seen_pids)
    listeners.sort(key=lambda listener: (listener.port, listener.family, listener.address))
    return Snapshot(
        hostname=socket.gethostname(),
        interfaces=interfaces,
        listeners=tuple(listeners),
        taken_at=time.time(),
        partial_reasons=_partial_reasons(hidden, len(denied)),
        default_route_interfaces=read_default_route_interfaces(),
    )


def _partial_reasons(hidden: int, denied: int) -> tuple[str, ...]:
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
    return tuple(reasons)


def _can_elevate() -> bool:
    return sys.platform != "win32" and hasattr(os, "geteuid") and os.geteuid() != 0
