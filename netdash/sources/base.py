"""The seam between netdash and whatever lists this machine's listening sockets.

A *socket source* reads the operating system's socket table and returns plain, immutable
:class:`SocketRecord` values: one per listening socket (TCP in LISTEN, or bound and
unconnected UDP). It knows nothing of scopes, verdicts or policy. ``collect_snapshot``
(:mod:`netdash.sources.snapshot`) tries its sources in order: a source that cannot run here
raises :exc:`SourceUnavailable` and the next one is tried.

The sources beside this file: :mod:`~netdash.sources.sock_diag` (Linux netlink, as ``ss``)
and :mod:`~netdash.sources.psutil_source` (every platform psutil supports). A new platform or
data source is a new file implementing :class:`SocketSource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the type checker sees a Protocol; at run time a plain base class

__all__ = ["SocketRecord", "SocketSource", "SocketTable", "SourceUnavailable"]


class SourceUnavailable(OSError):
    """A socket source cannot run here: wrong platform, or the kernel refused (seccomp, an old
    kernel, no permission). ``collect_snapshot`` then tries the next source; when none is
    left, it propagates (an ``OSError``, as any failure to read the socket table)."""


@dataclass(frozen=True)
class SocketRecord:
    """One listening socket as a source reports it, before its owners are resolved.

    * ``protocol``: ``"tcp"`` or ``"udp"``; ``family``: 4 or 6;
    * ``address``: the bind address as text (IPv4-mapped IPv6 as ``::ffff:a.b.c.d``,
      link-local IPv6 bound to a device with ``%interface``); ``port``: the local port;
    * ``inode``: the socket's inode, 0 when the source does not say (psutil);
    * ``uid``: the owning user id, ``None`` when the source does not say;
    * ``v6only``: IPV6_V6ONLY for IPv6 sockets, ``None`` for IPv4 or when not known;
    * ``bound_device``: the SO_BINDTODEVICE interface name, ``None`` when unbound or unknown;
    * ``pids``: the processes holding the socket as the source sees them (empty: none
      visible), or ``None`` when the source cannot tell, in which case they are looked up by
      ``inode`` in ``/proc/*/fd`` (:mod:`netdash.sources.procfd`).
    """

    protocol: str
    family: int
    address: str
    port: int
    inode: int = 0
    uid: int | None = None
    v6only: bool | None = None
    bound_device: str | None = None
    pids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SocketTable:
    """What one read of a source gives: its ``records``, and ``unread``, how many processes
    the source could not read the sockets of (0 when it sees the whole table, as the kernel's
    system-wide table does; psutil's per-process fallback skips other users' processes
    without root). ``unread`` makes the view incomplete (``Snapshot.partial``)."""

    records: Sequence[SocketRecord]
    unread: int = 0


class SocketSource(Protocol):
    """Something that lists this machine's listening sockets (structural: no need to
    inherit from this class)."""

    name: str
    """Short stable name, shown as ``Snapshot.source``: ``"sock_diag"``, ``"psutil"``."""

    def read_sockets(self) -> SocketTable:
        """Every TCP socket in LISTEN and every bound, unconnected UDP socket, IPv4 and IPv6,
        of the caller's network namespace, in no particular order.

        Raises :exc:`SourceUnavailable` when this source cannot run here (the next one is
        tried), ``OSError`` or ``psutil.Error`` when reading the table fails otherwise.
        """
        ...
