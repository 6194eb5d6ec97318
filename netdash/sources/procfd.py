"""Owners of sockets from ``/proc/[pid]/fd`` (Linux): which processes hold which socket inodes.

Each open file of a process is a symbolic link in ``/proc/[pid]/fd``; a socket's reads
``socket:[inode]`` (``proc(5)``). The socket sources give inodes (sock_diag); this module
finds the processes that hold them, as ``ss -p`` does. :class:`HolderCache` keeps the answer
between polls so ``/proc`` is not read in full every time; :func:`read_processes` shares a
full read with a forked helper when this process is single-threaded.

Processes that exit during a read are skipped; processes whose fd table cannot be read
(another user's, without root) are counted as unreadable. Nothing here raises for either.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import threading
import time
from collections.abc import Callable, Collection, Iterable

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import NoReturn

__all__ = [
    "PARALLEL_MIN_FDS",
    "HolderCache",
    "identity",
    "read_processes",
    "socket_holders",
    "start_ticks",
]


def socket_holders(
    inodes: Collection[int], proc: str = "/proc"
) -> tuple[dict[int, list[int]], int]:
    """Which processes hold each of ``inodes``, from the ``socket:[inode]`` links in
    ``/proc/[pid]/fd``. Returns ``({inode: [pid, ...]}, unreadable)`` where ``unreadable``
    counts processes whose fd table could not be read (other users' without root).

    Pids are sorted; processes that exit during the scan are skipped silently.
    """
    targets = _link_targets(inodes)
    holders: dict[int, list[int]] = {}
    unreadable = 0
    for pid in sorted(_pids(proc)):
        held = _held_by(pid, targets, proc)
        if held is None:
            unreadable += 1
        for inode in held or ():
            holders.setdefault(inode, []).append(pid)
    return holders, unreadable


def _link_targets(inodes: Iterable[int]) -> dict[str, int]:
    """``{"socket:[inode]": inode}``: an fd link is matched as text, without parsing it."""
    return {f"socket:[{inode}]": inode for inode in inodes}


def _pids(proc: str) -> set[int]:
    try:
        with os.scandir(proc) as entries:
            return {int(e.name) for e in entries if e.name.isdigit()}
    except OSError:
        return set()


def _held_by(pid: int, targets: dict[str, int], proc: str) -> frozenset[int] | None:
    """The inodes among ``targets`` that ``pid`` holds: empty when it exited, ``None`` when
    its fd table cannot be read (``PermissionError``)."""
    try:
        fd_dir = os.open(f"{proc}/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY)
    except PermissionError:
        return None
    except OSError:
        return frozenset()  # exited
    held: set[int] = set()
    try:
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            return None
        except OSError:
            return frozenset()
        readlink = os.readlink
        for fd in fds:
            try:
                # Relative to the open directory: one path component per link, not four.
                inode = targets.get(readlink(fd, dir_fd=fd_dir))
            except OSError:
                continue
            if inode is not None:
                held.add(inode)
    finally:
        os.close(fd_dir)
    return frozenset(held)


def identity(pid: int, proc: str = "/proc") -> tuple[int, bytes] | None:
    """``(start ticks, comm)`` from ``/proc/[pid]/stat`` (fields 22 and 2, ``proc(5)``): the
    start time identifies the process, and its name (``comm``, at most 15 bytes) changes when
    it execs another program or renames itself (``prctl(PR_SET_NAME)``). ``None`` when the
    process is gone or unreadable."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
        end = data.rindex(b")")
        return int(data[end + 2 :].split()[19]), data[data.index(b"(") + 1 : end]
    except (OSError, ValueError, IndexError):
        return None


def start_ticks(pid: int, proc: str = "/proc") -> int | None:
    """The process's start time in clock ticks since boot (``/proc/[pid]/stat`` field 22,
    ``proc(5)``), which with the pid identifies it (psutil's create time is derived from it).
    ``None`` when the process is gone or unreadable."""
    found = identity(pid, proc)
    return None if found is None else found[0]


class HolderCache:
    """:func:`socket_holders` that does not repeat work between polls; safe to share
    between threads.

    Reading every ``/proc/[pid]/fd`` link costs time in proportion to every open file on
    the machine (established connections included), while the answer rarely changes. So:

    * the whole of ``/proc`` is scanned when ``inodes`` holds one not seen before (a new
      listener: any process may hold it), and at least every ``max_age`` seconds, so a socket
      passed to an existing process (``SCM_RIGHTS``, ``dup``) is found in that time at worst;
    * between full scans, only processes that appeared since the last poll are read (a
      pre-fork server's new worker inherits the socket), and a holder whose start time changed
      or that is gone (a pid reused, a worker that exited) is read again or dropped;
    * a process seen holding a socket for the first time is read again at the next poll: a
      fork child holds its parent's sockets only until it execs (or closes them), and must not
      stay listed as a holder until the next full scan;
    * listeners that went away are simply forgotten.

    Memory is bounded by the number of processes holding a wanted socket plus the pids present.
    """

    def __init__(
        self,
        proc: str = "/proc",
        max_age: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.proc = proc
        self.max_age = max_age
        self.clock = clock
        self.full_scans = 0  # how many times every process was read (for tests and benchmarks)
        self._lock = threading.Lock()
        self._wanted: frozenset[int] = frozenset()
        self._held: dict[int, tuple[int | None, frozenset[int]]] = {}  # pid -> (ticks, inodes)
        self._unreadable: set[int] = set()
        self._seen: set[int] = set()
        self._scanned_at: float | None = None
        self._new_holders: set[int] = set()  # first seen holding at the last poll: re-check
        self._fds: dict[int, int] = {}  # holder pid -> its open files when last read
        self.before: Callable[[HolderCache], object] | None = None
        """Called once, with this cache, at the start of the next :meth:`holders` (the list
        command's :func:`netdash.sources.early_scan.seed`: it waits for the forked scan only
        once the socket table is read)."""

    def holders(self, inodes: Collection[int]) -> tuple[dict[int, list[int]], int]:
        """As :func:`socket_holders`: ``({inode: [pid, ...]}, unreadable)``."""
        if self.before is not None:
            hook, self.before = self.before, None
            hook(self)
        wanted = frozenset(inodes)
        with self._lock:
            now = self.clock()
            pids = _pids(self.proc)
            before = set(self._held)
            stale = self._scanned_at is None or now - self._scanned_at >= self.max_age
            if stale or not wanted <= self._wanted:
                self._held.clear()
                self._fds.clear()
                self._unreadable.clear()
                self._read(pids, _link_targets(wanted))
                self._scanned_at = now
                self.full_scans += 1
            else:
                again = {
                    pid
                    for pid, (ticks, _) in self._held.items()
                    if pid not in pids
                    or pid in self._new_holders
                    or start_ticks(pid, self.proc) != ticks
                    or _fd_count(pid, self.proc) != self._fds.get(pid)
                }
                for pid in again:
                    del self._held[pid]
                    self._fds.pop(pid, None)
                self._unreadable &= pids
                self._read((pids - self._seen) | (again & pids), _link_targets(wanted))
            self._wanted = wanted
            self._seen = pids
            self._new_holders = set(self._held) - before
            holders: dict[int, list[int]] = {}
            for pid in sorted(self._held):
                ticks, held = self._held[pid]
                if not held <= wanted:  # some of its listeners closed: forget them
                    held &= wanted
                    if held:
                        self._held[pid] = (ticks, held)
                    else:
                        del self._held[pid]
                        self._fds.pop(pid, None)
                for inode in held:
                    holders.setdefault(inode, []).append(pid)
            return holders, len(self._unreadable)  # pids ascending, as appended

    def seed(
        self, wanted: frozenset[int], reads: Iterable[_Read], pids: Iterable[int], at: float
    ) -> None:
        """Take a full scan made elsewhere (:mod:`netdash.sources.early_scan`) as this
        cache's own: ``reads`` (:func:`read_processes`) of every pid of ``pids`` for the
        sockets ``wanted``, started at ``at`` (this cache's clock). The next
        :meth:`holders` then reads only what changed since, as after its own full scan."""
        with self._lock:
            self._held.clear()
            self._unreadable.clear()
            self._fds.clear()
            for pid, ticks, held in reads:
                if held is None:
                    self._unreadable.add(pid)
                elif held:
                    self._held[pid] = (ticks, held)
                    self._fds[pid] = _fd_count(pid, self.proc)
            self._wanted = wanted
            self._seen = set(pids)
            self._scanned_at = at
            self._new_holders = set()
            self.full_scans += 1

    def _read(self, pids: Iterable[int], targets: dict[str, int]) -> None:
        for pid, ticks, held in read_processes(pids, targets, self.proc):
            self._fds.pop(pid, None)
            if held is None:
                self._unreadable.add(pid)
            elif held:
                self._held[pid] = (ticks, held)
                # Read again whenever this count changes: a holder that closed its copy of a
                # socket (a parent after fork) is not one until the next full scan otherwise.
                self._fds[pid] = _fd_count(pid, self.proc)


def _fd_count(pid: int, proc: str = "/proc") -> int:
    """How many files ``pid`` has open: the size Linux gives ``/proc/PID/fd`` (6.2 and
    later; 0 before, so nothing is read again for it); -1 when it cannot be read."""
    try:
        return os.stat(f"{proc}/{pid}/fd").st_size
    except OSError:
        return -1


def holds(pid: int, inodes: Iterable[int], proc: str = "/proc") -> bool | None:
    """Whether ``pid`` holds one of the sockets ``inodes`` now (its fd links read again);
    ``None`` when its fd table cannot be read (another user's process)."""
    held = _held_by(pid, _link_targets(inodes), proc)
    return None if held is None else bool(held)


_Read = tuple[int, int | None, frozenset[int] | None]
"""``(pid, start ticks, held)``: what :func:`read_processes` found about one process."""

PARALLEL_MIN_FDS = 2000
"""Open files (over every process to read) from which :func:`read_processes` forks a helper
to share the reading: below this, the fork (about 1 ms) costs what it saves."""

_PID = struct.Struct("=I")  # one pid in the work queue (pid_max is at most 2**22)


def read_processes(
    pids: Iterable[int], targets: dict[str, int], proc: str = "/proc"
) -> list[_Read]:
    """``(pid, start ticks, held)`` for each pid, in no particular order: its start time
    (:func:`start_ticks`, read before its fds, so a later pid reuse shows as a change) and
    which of ``targets`` (``{"socket:[inode]": inode}``) it holds, ``None`` when its fds
    cannot be read.

    Reading fd links (``getdents`` and ``readlink`` on ``/proc/[pid]/fd``) is kernel work
    that threads cannot share (each ``readlink`` waits to take the GIL back). So when this
    process has a single thread (forking a threaded one is unsafe: in practice this is the
    CLI), more than one CPU is ours, and the processes hold at least
    :data:`PARALLEL_MIN_FDS` open files, a forked helper reads alongside this process: both
    take the next pid, heaviest first, from one queue (a pipe). A helper that cannot be
    forked, dies or writes what does not parse leaves its pids to this process: the answer
    is the same. (Timings: bench/RESULTS.md.)
    """
    pids = list(pids)
    order = _heaviest_first(pids, proc)
    if order is None:
        return [_read_one(pid, targets, proc) for pid in pids]
    return _read_with_helper(order, targets, proc)


def _read_one(pid: int, targets: dict[str, int], proc: str) -> _Read:
    ticks = start_ticks(pid, proc)
    return pid, ticks, _held_by(pid, targets, proc)


def _single_threaded() -> bool:
    """True when this process has one thread (``/proc/self/stat`` field 20, ``proc(5)``),
    counting any that a C extension started."""
    try:
        with open("/proc/self/stat", "rb") as f:
            data = f.read()
        return int(data[data.rindex(b")") + 2 :].split()[17]) == 1
    except (OSError, ValueError, IndexError):
        return False


def _heaviest_first(pids: list[int], proc: str) -> list[int] | None:
    """``pids`` by open files, most first, or ``None`` when no helper should be forked (see
    :func:`read_processes`). Since Linux 6.2 the size of ``/proc/[pid]/fd`` is its number of
    open files; before, it is 0, and no helper is used."""
    if len(pids) < 2 or not hasattr(os, "fork") or not hasattr(os, "sched_getaffinity"):
        return None
    if len(os.sched_getaffinity(0)) < 2 or not _single_threaded():
        return None
    weighed: list[tuple[int, int]] = []
    for pid in pids:
        try:
            weighed.append((os.stat(f"{proc}/{pid}/fd").st_size, pid))
        except OSError:
            weighed.append((0, pid))
    if sum(w for w, _ in weighed) < PARALLEL_MIN_FDS:
        return None
    return [pid for _, pid in sorted(weighed, reverse=True)]


def _enqueue(queue: int, pids: list[int]) -> int:
    """Write as many of ``pids`` to the pipe ``queue`` as it takes without blocking; returns
    how many. Writes of at most PIPE_BUF (4096 bytes on Linux) are all or nothing
    (``pipe(7)``), so no pid is ever cut in two."""
    os.set_blocking(queue, False)
    per_write = 4096 // _PID.size
    sent = 0
    while sent < len(pids):
        chunk = pids[sent : sent + per_write]
        try:
            os.write(queue, b"".join(_PID.pack(pid) for pid in chunk))
        except BlockingIOError:
            break
        sent += len(chunk)
    return sent


def _read_with_helper(order: list[int], targets: dict[str, int], proc: str) -> list[_Read]:
    """Read ``order`` here and in a forked helper at once, each taking the next pid from a
    shared queue; whatever the helper does not report is read here."""
    try:
        queue_r, queue_w = os.pipe()
    except OSError:
        return [_read_one(pid, targets, proc) for pid in order]
    queued = _enqueue(queue_w, order)  # the rest (a pipe too small for all) are read here
    os.close(queue_w)  # the queue ends when drained: both readers see end of file
    try:
        out_r, out_w = os.pipe()
    except OSError:
        os.close(queue_r)
        return [_read_one(pid, targets, proc) for pid in order]
    try:
        child = os.fork()
    except OSError:
        for fd in (queue_r, out_r, out_w):
            os.close(fd)
        return [_read_one(pid, targets, proc) for pid in order]
    if child == 0:  # pragma: no cover - the helper (coverage does not follow a fork)
        _helper(queue_r, out_r, out_w, targets, proc)
    os.close(out_w)
    found: dict[int, _Read] = {}
    chunks: list[bytes] = []
    status = -1
    try:
        while token := os.read(queue_r, _PID.size):
            pid = _PID.unpack(token)[0]
            found[pid] = _read_one(pid, targets, proc)
        for pid in order[queued:]:
            found[pid] = _read_one(pid, targets, proc)
        while chunk := os.read(out_r, 1 << 16):
            chunks.append(chunk)
        status = os.waitpid(child, 0)[1]
    finally:
        os.close(queue_r)
        os.close(out_r)
        if status == -1:  # interrupted: do not leave the helper behind
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
    helped = (_parse_helper(b"".join(chunks)) if status == 0 else None) or []
    for read in helped:
        found.setdefault(read[0], read)
    for pid in order:
        if pid not in found:  # taken by a helper that did not report it
            found[pid] = _read_one(pid, targets, proc)
    return [found[pid] for pid in order]


def _helper(queue: int, out_r: int, out: int, targets: dict[str, int], proc: str) -> NoReturn:
    """The forked helper: read pids from ``queue`` until it is empty, write one line per pid
    to ``out`` (``pid ticks inode,inode``; ``-`` for unknown ticks, ``?`` for unreadable
    fds), and exit at once (no exit handlers; the parent's buffered output is not flushed
    twice)."""
    status = 1
    try:
        os.close(out_r)
        reads = []
        while token := os.read(queue, _PID.size):
            reads.append(_read_one(_PID.unpack(token)[0], targets, proc))
        write_reads(out, reads)
        status = 0
    finally:
        os._exit(status)


def write_reads(
    out: int, reads: Iterable[tuple[int, int | None, frozenset[int] | None]], head: str = ""
) -> None:
    """Write ``head`` then one line per read, ``PID TICKS INODES`` (``-`` for unknown
    ticks, ``?`` for an unreadable fd table; what :func:`_parse_helper` reads), to the file
    descriptor ``out``, all of it (a forked child's answer to its parent)."""
    lines = [head]
    for pid, ticks, held in reads:
        inodes = "?" if held is None else ",".join(map(str, held))
        lines.append(f"{pid} {'-' if ticks is None else ticks} {inodes}\n")
    view = memoryview("".join(lines).encode())
    while view:
        view = view[os.write(out, view) :]


def _parse_helper(data: bytes) -> list[_Read] | None:
    """The helper's lines back as :data:`_Read`; ``None`` if anything does not parse."""
    out: list[_Read] = []
    try:
        for line in data.decode("ascii").splitlines():
            pid, ticks, inodes = line.split(" ")
            held = None if inodes == "?" else frozenset(int(i) for i in inodes.split(",") if i)
            out.append((int(pid), None if ticks == "-" else int(ticks), held))
    except ValueError:
        return None
    return out
