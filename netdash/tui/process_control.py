"""Stopping the process behind a row: what to ask, sending the signal only to the same
process (pid and create time), and waiting for it to end before offering SIGKILL.

No Textual here; the app asks the questions and reports the outcome.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

import psutil

from netdash.core.model import Process
from netdash.core.services import ServiceRow, row_processes
from netdash.core.text import clean
from netdash.sources.procfd import holds

__all__ = [
    "GRACE",
    "StopRequest",
    "alive",
    "escalation_question",
    "refusal",
    "send_signal",
    "stop_request",
]

_LINUX = sys.platform.startswith("linux")

PF_KTHREAD = 0x00200000
"""``/proc/PID/stat`` flag of a kernel thread (include/linux/sched.h)."""

GRACE = 2.0
"""Seconds a signalled process has to end before the outcome says it is still running."""


@dataclass(frozen=True)
class StopRequest:
    """Stopping a row: ``target`` (its first process with a pid that holds the row's
    socket now, the leader), the ``port`` it listens on, the ``question`` to confirm, and
    the row's socket ``inodes`` (the target must still hold one when the signal goes)."""

    target: Process
    port: int
    question: str
    inodes: frozenset[int] = frozenset()


def _is_kernel_thread(pid: int, proc: str = "/proc") -> bool:
    """Linux: the PF_KTHREAD flag (field 9 of ``/proc/PID/stat``); ``False`` elsewhere or
    when it cannot be read."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as stream:
            stat = stream.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        return bool(int(fields[6]) & PF_KTHREAD)
    except (OSError, ValueError, IndexError):
        return False


def _ancestors() -> set[int]:
    """netdash's parent, its parent, and so on: the shell and terminal it runs in."""
    found: set[int] = set()
    try:
        proc: psutil.Process | None = psutil.Process(os.getppid())
        while proc is not None and proc.pid not in found and proc.pid > 1:
            found.add(proc.pid)
            proc = proc.parent()
    except psutil.Error:
        pass
    return found


def refusal(pid: int) -> str | None:
    """Why netdash will not stop ``pid``, or ``None``: pid 1 (the init system, or a
    container's main process), netdash itself, the shell and terminal it runs in (its
    ancestors), and kernel threads (PF_KTHREAD), which a signal cannot stop anyway."""
    if pid == 1:
        return (
            "pid 1 is the init system (or this container's main process); netdash will not stop it."
        )
    if pid == os.getpid():
        return "That is netdash itself; press q to quit."
    if pid in _ancestors():
        return f"pid {pid} is the shell or terminal netdash runs in; netdash will not stop it."
    if _is_kernel_thread(pid):
        return f"pid {pid} is a kernel thread; it cannot be stopped with a signal."
    return None


def _unknown_start(pid: int) -> str:
    return (
        f"netdash could not read when pid {pid} started, so it cannot make sure a signal "
        "reaches that process and no later one with the same pid; nothing was signalled."
    )


def stop_request(row: ServiceRow) -> StopRequest | str:
    """What stopping ``row`` means, or why it cannot be stopped (its owner is unknown, its
    start time could not be read, or :func:`refusal` refuses it)."""
    with_pid = [p for p in row_processes(row) if p.pid is not None]
    if not with_pid:
        return "The owner of this socket is unknown; run netdash as root to stop it."
    inodes = frozenset(li.inode for li in row.listeners if li.inode)
    if inodes and _LINUX:
        # The table may be a poll behind (a parent that closed its copy after a fork):
        # only a process holding the socket now is asked about.
        holding = [p for p in with_pid if p.pid is not None and holds(p.pid, inodes) is not False]
        if not holding:
            return "No process holds this socket any more; the table catches up at the next poll."
        with_pid = holding
    target = with_pid[0]
    assert target.pid is not None
    refused = refusal(target.pid)
    if refused is not None:
        return refused
    if target.create_time is None:
        return _unknown_start(target.pid)
    name = clean(target.name, 40) or "?"
    workers = len(with_pid) - 1
    family = f" and its {workers} worker{'s' if workers > 1 else ''}" if workers else ""
    question = (
        f"Stop {name} (pid {target.pid}){family}, listening on port {row.first.port}?\n"
        "netdash sends SIGTERM; if it is still running after 2 s it offers SIGKILL."
    )
    return StopRequest(target, row.first.port, question, inodes)


def escalation_question(target: Process) -> str:
    """The question after SIGTERM did not end ``target`` within :data:`GRACE`."""
    return f"pid {target.pid} is still running 2 s after SIGTERM. Send SIGKILL?"


def send_signal(target: Process, signum: int, inodes: frozenset[int] = frozenset()) -> str | None:
    """Signal ``target`` if its pid still names the same process: the create time
    (``psutil.Process.create_time()``, seconds since the epoch) read now must equal
    ``target.create_time``, and without one nothing is sent; when ``inodes`` are given, it
    must also still hold one of those sockets (Linux, its fd links read now). Returns a
    message for the user when nothing was signalled, ``None`` on success."""
    assert target.pid is not None
    refused = refusal(target.pid)
    if refused is not None:
        return refused
    if target.create_time is None:
        return _unknown_start(target.pid)
    try:
        proc = psutil.Process(target.pid)
        if proc.create_time() != target.create_time:
            return f"pid {target.pid} now belongs to another process; nothing was signalled."
        if inodes and _LINUX and holds(target.pid, inodes) is False:
            return f"pid {target.pid} no longer holds the socket; nothing was signalled."
        proc.send_signal(signum)
    except psutil.NoSuchProcess:
        return f"pid {target.pid} has already exited."
    except psutil.AccessDenied:
        return (
            f"Not allowed to signal pid {target.pid} ({clean(target.user, 30) or 'another user'}"
            "'s process); run netdash as that user or root."
        )
    return None


def alive(target: Process) -> bool:
    """Whether ``target`` still runs: its pid exists, is no zombie and, when its create time
    is known, names the same process."""
    assert target.pid is not None
    try:
        proc = psutil.Process(target.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return target.create_time is None or proc.create_time() == target.create_time
    except psutil.NoSuchProcess:
        return False


async def signal_and_wait(
    target: Process, signum: int, step: float = 0.1, inodes: frozenset[int] = frozenset()
) -> str | bool:
    """Send ``signum`` to ``target`` (:func:`send_signal`, with ``inodes``) and check every
    ``step`` seconds, for :data:`GRACE` seconds, whether it ended. Returns the reason when
    nothing was signalled, else whether the process ended."""
    problem = send_signal(target, signum, inodes)
    if problem:
        return problem
    for _ in range(round(GRACE / step)):
        await asyncio.sleep(step)
        if not alive(target):
            return True
    return False
