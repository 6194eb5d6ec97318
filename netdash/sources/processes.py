"""The processes that own listeners: metadata cached between polls, and details on demand.

Sources: ``psutil.Process`` (name, username, cmdline, ppid, create_time, cwd, and from the
cwd the git project, :mod:`netdash.sources.project`); on Linux a
cached process is re-identified by its start time and name in ``/proc/[pid]/stat``
(:func:`netdash.sources.procfd.identity`), and established connections are counted by
sock_diag netlink, else ``psutil.net_connections``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psutil

from netdash.core.model import Process
from netdash.core.text import Untrusted, untrusted
from netdash.sources import procfd, sock_diag
from netdash.sources.project import find_project

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

__all__ = [
    "Peer",
    "ProcessCache",
    "ProcessDetails",
    "established_peers",
    "process_details",
]

Peer = sock_diag.Peer

_LINUX = sys.platform.startswith("linux")


class ProcessCache:
    """State kept between polls; safe to share between threads.

    Process metadata keyed by ``(pid, create_time)``: a process's name, user and command
    line are read once; later polls only read its start time to check the pid still names
    the same process, and on Linux its ``comm`` too (both from ``/proc/[pid]/stat``, without
    psutil: :func:`~netdash.sources.procfd.identity`), so a process that execs another
    program or renames itself is read again. Entries
    for processes not seen in a poll are dropped by :meth:`retain`.

    ``holders`` remembers which processes hold which listening sockets on Linux
    (:class:`netdash.sources.procfd.HolderCache`), so ``/proc/*/fd`` is not read in full at
    every poll.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_pid: dict[int, Process] = {}
        self._identity: dict[int, tuple[int, bytes]] = {}  # Linux: pid -> identity when read
        self.holders = procfd.HolderCache()
        self.built: object | None = None
        """The last poll's listeners with what they were built from (for
        :func:`netdash.sources.snapshot.collect_snapshot` only)."""

    def get(self, pid: int) -> tuple[Process | None, str | None]:
        """The process with this pid, or ``(None, reason)`` when it exited mid-poll.

        A process that exists but cannot be read (``psutil.AccessDenied``) is returned with
        unknown fields and a reason, so its socket stays listed.
        """
        ident = procfd.identity(pid) if _LINUX else None
        if ident is not None:
            with self._lock:
                cached = self._by_pid.get(pid)
                if cached is not None and self._identity.get(pid) == ident:
                    return cached, None  # same pid, start and name: the same program
        try:
            proc = psutil.Process(pid)
            create_time = proc.create_time()
        except psutil.NoSuchProcess:
            return None, "exited"
        except psutil.AccessDenied:
            return Process(pid=pid), "permission"
        with self._lock:
            cached = self._by_pid.get(pid)
        if cached is not None and cached.create_time == create_time and ident is None:
            return cached, None  # elsewhere than Linux: a rename is not seen
        reason: str | None = None
        try:
            with proc.oneshot():
                name = _try(proc.name)
                user = _try(proc.username)
                cmdline = _try(proc.cmdline) or []
                ppid = _try(proc.ppid)
                cwd = _try(proc.cwd)
        except psutil.NoSuchProcess:
            return None, "exited"
        if name is None:
            reason = "permission"
        process = Process(
            pid=pid,
            name=untrusted(name),
            user=untrusted(user),
            cmdline=tuple(Untrusted(arg) for arg in cmdline),
            create_time=create_time,
            ppid=ppid,
            project=find_project(cwd),
        )
        with self._lock:
            self._by_pid[pid] = process
            if ident is not None:
                self._identity[pid] = ident
            else:
                self._identity.pop(pid, None)
        return process, reason

    def retain(self, pids: Iterable[int]) -> None:
        """Forget every cached process whose pid is not in ``pids``."""
        keep = set(pids)
        with self._lock:
            for pid in list(self._by_pid):
                if pid not in keep:
                    del self._by_pid[pid]
                    self._identity.pop(pid, None)


def _try(call: Callable[[], T]) -> T | None:
    """``call()``, or ``None`` when psutil denies access; NoSuchProcess propagates."""
    try:
        return call()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return None


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


def established_peers(protocol: str, port: int) -> list[Peer] | None:
    """The established TCP connections to local ``port`` (:class:`Peer`: local address, peer
    address and port, idle time), most recently active first; ``None`` when it cannot be
    told (UDP, or the tables are unreadable). Source: sock_diag with ``tcp_info`` on Linux,
    else ``psutil.net_connections`` (no idle time)."""
    if protocol != "tcp":
        return None
    if _LINUX:
        with contextlib.suppress(OSError):
            return sock_diag.established_peers(port)
    try:
        conns = psutil.net_connections(kind="tcp")
    except (OSError, psutil.Error):
        return None
    return [
        Peer(c.laddr[0], c.laddr[1], c.raddr[0], c.raddr[1])
        for c in conns
        if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.raddr and c.laddr[1] == port
    ]
