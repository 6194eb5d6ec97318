"""The portable socket source: ``psutil.net_connections()``, on every platform psutil supports.

Where the system-wide table needs root (macOS), each process's own
``psutil.Process.net_connections()`` is read instead: only the caller's processes (or every
one, as root) are seen. psutil gives owners (pids) but no inode, uid, IPV6_V6ONLY or bound
device. psutil sees only the caller's network namespace.
"""

from __future__ import annotations

import socket

import psutil

from netdash.sources.base import SocketRecord, SocketTable

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

__all__ = ["PsutilSource"]

_FAMILIES: dict[int, int] = {int(socket.AF_INET): 4, int(socket.AF_INET6): 6}


def _is_listening(protocol: str, status: str, raddr: object) -> bool:
    if protocol == "tcp":
        return status == psutil.CONN_LISTEN
    return status == psutil.CONN_NONE and not raddr  # bound, unconnected UDP


class PsutilSource:
    """:class:`~netdash.sources.base.SocketSource` over psutil: TCP LISTEN and unconnected
    UDP sockets, one record per (protocol, family, address, port) with every pid seen on it.

    Never raises :exc:`~netdash.sources.base.SourceUnavailable`; a process the per-process
    fallback cannot read (``psutil.AccessDenied``: another user's, without root) is skipped
    and counted in ``SocketTable.unread``; one that exits meanwhile is not counted."""

    name = "psutil"

    def read_sockets(self) -> SocketTable:
        merged: dict[tuple[str, int, str, int], list[int]] = {}
        unread = 0

        def add(
            kind: int, family: int, laddr: Any, raddr: Any, status: str, pid: int | None
        ) -> None:
            version = _FAMILIES.get(int(family))
            protocol = "tcp" if kind == socket.SOCK_STREAM else "udp"
            if version is None or not laddr or not _is_listening(protocol, status, raddr):
                return
            pids = merged.setdefault((protocol, version, laddr[0], laddr[1]), [])
            if pid is not None and pid not in pids:
                pids.append(pid)

        try:
            for conn in psutil.net_connections(kind="inet"):
                add(conn.type, conn.family, conn.laddr, conn.raddr, conn.status, conn.pid)
        except psutil.AccessDenied:
            for proc in psutil.process_iter():
                try:
                    for pconn in proc.net_connections(kind="inet"):
                        add(
                            pconn.type,
                            pconn.family,
                            pconn.laddr,
                            pconn.raddr,
                            pconn.status,
                            proc.pid,
                        )
                except psutil.NoSuchProcess:
                    continue  # exited: it has no sockets left to miss
                except (psutil.Error, OSError):
                    unread += 1
        records = [
            SocketRecord(protocol, family, address, port, pids=tuple(pids))
            for (protocol, family, address, port), pids in merged.items()
        ]
        return SocketTable(records, unread)
