"""Read this machine's interfaces and listening sockets into a :class:`Snapshot`.

Everything operating-system specific lives here. Sources:

* listening sockets: on Linux the kernel's sock_diag netlink dump, as ``ss`` does, with
  owners from ``/proc/*/fd`` (``netdash.sources.sock_diag``): it also gives IPV6_V6ONLY,
  socket inodes
  and owning uids. Elsewhere, or when netlink is refused, ``psutil.net_connections()``;
  where that needs root (macOS), each process's own ``Process.net_connections()``;
* owners: ``psutil.Process`` (name, username, cmdline, create_time), cached by
  ``(pid, create_time)`` so a reused pid is never taken for the old process;
* interfaces: ``psutil.net_if_addrs()`` merged with ``psutil.net_if_stats()``;
* default route: ``/proc/net/route`` and ``/proc/net/ipv6_route`` (Linux only).

psutil sees only the caller's network namespace: listeners inside containers are invisible.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from netdash.core.model import Interface, Listener, Process, Snapshot
from netdash.sources import sock_diag as linux

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = [
    "ProcessCache",
    "ProcessDetails",
    "collect_snapshot",
    "established_connections",
    "process_details",
    "read_default_route_interfaces",
    "read_interfaces",
]

_FAMILIES: dict[int, int] = {int(socket.AF_INET): 4, int(socket.AF_INET6): 6}
_LINUX = sys.platform.startswith("linux")


class ProcessCache:
    """State kept between polls; safe to share between threads.

    Process metadata keyed by ``(pid, create_time)``: a process's name, user and command
    line are read once; later polls only read its start time to check the pid still names
    the same process (on Linux straight from ``/proc/[pid]/stat``, without psutil). Entries
    for processes not seen in a poll are dropped by :meth:`retain`.

    ``holders`` remembers which processes hold which listening sockets on Linux
    (:class:`netdash.sources.sock_diag.HolderCache`), so ``/proc/*/fd`` is not read in full at
    every poll.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_pid: dict[int, Process] = {}
        self._ticks: dict[int, int] = {}  # Linux: pid -> start time in ticks when cached
        self.holders = linux.HolderCache()

    def get(self, pid: int) -> tuple[Process | None, str | None]:
        """The process with this pid, or ``(None, reason)`` when it exited mid-poll.

        A process that exists but cannot be read (``psutil.AccessDenied``) is returned with
        unknown fields and a reason, so its socket stays listed.
        """
        ticks = linux.start_ticks(pid) if _LINUX else None
        if ticks is not None:
            with self._lock:
                cached = self._by_pid.get(pid)
                if cached is not None and self._ticks.get(pid) == ticks:
                    return cached, None  # same pid, same start: the same process
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
            if ticks is not None:
                with self._lock:
                    self._ticks[pid] = ticks
            return cached, None
        reason: str | None = None
        try:
            with proc.oneshot():
                name = _try(proc.name)
                user = _try(proc.username)
                cmdline = _try(proc.cmdline) or []
                ppid = _try(proc.ppid)
        except psutil.NoSuchProcess:
            return None, "exited"
        if name is None:
            reason = "permission"
        process = Process(
            pid=pid,
            name=name,
            user=user,
            cmdline=tuple(cmdline),
            create_time=create_time,
            ppid=ppid,
        )
        with self._lock:
            self._by_pid[pid] = process
            if ticks is not None:
                self._ticks[pid] = ticks
            else:
                self._ticks.pop(pid, None)
        return process, reason

    def retain(self, pids: Iterable[int]) -> None:
        """Forget every cached process whose pid is not in ``pids``."""
        keep = set(pids)
        with self._lock:
            for pid in list(self._by_pid):
                if pid not in keep:
                    del self._by_pid[pid]
                    self._ticks.pop(pid, None)


def _try(call: Callable[[], T]) -> T | None:
    """``call()``, or ``None`` when psutil denies access; NoSuchProcess propagates."""
    try:
        return call()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return None


def read_interfaces() -> tuple[Interface, ...]:
    """This machine's interfaces: ``net_if_addrs()`` merged with ``net_if_stats()``.

    The two need not list the same names (an interface without an address has stats only);
    both are kept. Loopback interfaces come first, then the others by name.
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
    interfaces.sort(key=lambda i: (not i.is_loopback, i.name))  # stable as addresses change
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


@dataclass
class _Found:
    """One listening socket before its owners are resolved."""

    protocol: str
    family: int
    address: str
    port: int
    pids: list[int]
    inode: int = 0
    uid: int | None = None
    v6only: bool | None = None
    bound_device: str | None = None


def _from_sock_diag(cache: ProcessCache) -> list[_Found]:
    """Linux: the netlink socket dump plus a ``/proc/*/fd`` scan (``cache.holders``, which
    reads only what may have changed since the last poll). Raises ``OSError``."""
    raw = linux.dump_sockets(udp=True)
    holders, _unreadable = cache.holders.holders([s.inode for s in raw])
    names = dict(socket.if_nameindex())
    return [
        _Found(
            protocol=s.protocol,
            family=s.family,
            address=s.address,
            port=s.port,
            pids=holders.get(s.inode, []),
            inode=s.inode,
            uid=s.uid,
            v6only=s.v6only,
            bound_device=names.get(s.bound_device) if s.bound_device else None,
        )
        for s in raw
    ]


def _is_listening(protocol: str, status: str, raddr: object) -> bool:
    if protocol == "tcp":
        return status == psutil.CONN_LISTEN
    return status == psutil.CONN_NONE and not raddr  # bound, unconnected UDP


def _from_psutil() -> list[_Found]:
    """TCP LISTEN and unconnected UDP sockets from psutil: the system-wide table or, where
    that is denied (macOS without root), each process's own table."""
    merged: dict[tuple[str, int, str, int], _Found] = {}

    def add(kind: int, family: int, laddr: Any, raddr: Any, status: str, pid: int | None) -> None:
        version = _FAMILIES.get(int(family))
        protocol = "tcp" if kind == socket.SOCK_STREAM else "udp"
        if version is None or not laddr or not _is_listening(protocol, status, raddr):
            return
        key = (protocol, version, laddr[0], laddr[1])
        found = merged.setdefault(key, _Found(protocol, version, laddr[0], laddr[1], []))
        if pid is not None and pid not in found.pids:
            found.pids.append(pid)

    try:
        for conn in psutil.net_connections(kind="inet"):
            add(conn.type, conn.family, conn.laddr, conn.raddr, conn.status, conn.pid)
    except psutil.AccessDenied:
        for proc in psutil.process_iter():
            try:
                for pconn in proc.net_connections(kind="inet"):
                    add(pconn.type, pconn.family, pconn.laddr, pconn.raddr, pconn.status, proc.pid)
            except (psutil.Error, OSError):
                continue
    return list(merged.values())


def _read_sockets(cache: ProcessCache) -> tuple[list[_Found], str]:
    if _LINUX:
        try:
            return _from_sock_diag(cache), "sock_diag"
        except OSError:
            pass  # netlink refused (seccomp, old kernel): psutil reads /proc/net instead
    return _from_psutil(), "psutil"


def _user_name(uid: int | None) -> str | None:
    if uid is None:
        return None
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _parent_first(processes: list[Process]) -> tuple[Process, ...]:
    """Holders whose parent is not a holder come first (the master of a pre-fork server)."""
    if len(processes) == 1:
        return (processes[0],)  # most sockets have one holder
    pids = {p.pid for p in processes}
    return tuple(sorted(processes, key=lambda p: (p.ppid in pids, p.pid or 0)))


def collect_snapshot(cache: ProcessCache | None = None) -> Snapshot:
    """Read interfaces, TCP listeners and UDP listeners now. Blocking; call it off the UI thread.

    A socket held by several processes is one listener with several processes; several
    sockets on one address and port (SO_REUSEPORT) are several listeners. Raises only
    ``psutil.Error``/``OSError`` for failures to read the socket table itself; a process that
    exits or cannot be read never raises.
    """
    cache = cache if cache is not None else ProcessCache()
    interfaces = read_interfaces()
    found, source = _read_sockets(cache)

    hidden = 0
    denied: set[int] = set()
    listeners = []
    seen_pids: set[int] = set()
    resolved: dict[int, tuple[Process | None, str | None]] = {}  # each pid once per poll
    for item in found:
        processes: list[Process] = []
        for pid in sorted(item.pids):
            if pid not in resolved:
                resolved[pid] = cache.get(pid)
            process, reason = resolved[pid]
            if process is None:
                continue  # exited between the socket table and now
            seen_pids.add(pid)
            if reason == "permission":
                denied.add(pid)
            processes.append(process)
        if not item.pids:
            hidden += 1
            processes.append(Process(pid=None, user=_user_name(item.uid)))
        elif not processes:
            continue  # every holder exited: the socket is gone too
        wildcard6 = item.family == 6 and item.address == "::"
        listeners.append(
            Listener(
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
        )
    cache.retain(seen_pids)
    listeners.sort(key=lambda li: (li.protocol, li.port, li.family, li.address, li.inode))
    return Snapshot(
        hostname=socket.gethostname(),
        interfaces=interfaces,
        listeners=tuple(listeners),
        taken_at=time.time(),
        partial_reasons=_partial_reasons(hidden, len(denied)),
        default_route_interfaces=read_default_route_interfaces(),
        source=source,
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


@dataclass(frozen=True)
class ProcessDetails:
    """What the details view shows about one process, read on demand.

    ``cwd`` is ``None`` when unreadable; ``started`` is seconds since the epoch (psutil's
    create time); ``cmdline`` is complete, not cut for display.
    """

    pid: int
    ppid: int | None
    name: str | None
    user: str | None
    cmdline: tuple[str, ...]
    cwd: str | None
    started: float | None


def process_details(pids: Iterable[int]) -> list[ProcessDetails]:
    """Details of each pid that still exists (``psutil.Process``); gone ones are skipped,
    unreadable fields are ``None``."""
    out = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                out.append(
                    ProcessDetails(
                        pid=pid,
                        ppid=_try(proc.ppid),
                        name=_try(proc.name),
                        user=_try(proc.username),
                        cmdline=tuple(_try(proc.cmdline) or ()),
                        cwd=_try(proc.cwd),
                        started=_try(proc.create_time),
                    )
                )
        except psutil.NoSuchProcess:
            continue
    return out


def established_connections(protocol: str, port: int) -> int | None:
    """How many established TCP connections have ``port`` as their local port (clients of a
    listener on it); ``None`` when it cannot be told (UDP, or the tables are unreadable).
    Source: sock_diag on Linux, else ``psutil.net_connections``."""
    if protocol != "tcp":
        return None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            return linux.count_established(port)
    try:
        conns = psutil.net_connections(kind="tcp")
    except (OSError, psutil.Error):
        return None
    return sum(
        1 for c in conns if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr[1] == port
    )
