"""The caches that keep steady polls cheap: socket holders (``procfd.HolderCache``) and process
metadata (``ProcessCache``) must give the same answers as reading everything afresh."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from netdash.sources import procfd
from netdash.sources.processes import ProcessCache
from netdash.sources.snapshot import collect_snapshot
from tests.support.servers import bound_socket


@pytest.mark.netns
def test_steady_polls_see_new_listeners_and_new_holders() -> None:
    """With one cache, as the dashboard polls: a new listener and a new process holding an
    existing one appear at the next poll; a closed one disappears."""
    cache = ProcessCache()
    a = bound_socket("127.0.0.1")
    port_a = a.getsockname()[1]

    def holders_of(port: int) -> list[list[int | None]]:
        snap = collect_snapshot(cache)
        return [[p.pid for p in li.processes] for li in snap.listeners if li.port == port]

    try:
        assert holders_of(port_a) == [[os.getpid()]]
        b = bound_socket("::1")
        port_b = b.getsockname()[1]
        assert holders_of(port_b) == [[os.getpid()]]
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(a.fileno(),)
        )
        try:
            deadline = time.monotonic() + 3
            while len(seen := holders_of(port_a)[0]) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sorted(p for p in seen if p) == sorted([os.getpid(), child.pid])
        finally:
            child.kill()
            child.wait()
        assert holders_of(port_a) == [[os.getpid()]]
        b.close()
        assert holders_of(port_b) == []
    finally:
        a.close()
    assert holders_of(port_a) == []


def test_a_process_that_lets_go_of_the_socket_is_dropped_at_the_next_poll() -> None:
    """A fork child holds its parent's sockets only until it execs or closes them; a process
    first seen holding is read again at the next poll, not kept until the next full scan."""
    import socket as socket_module
    import subprocess as sp
    import sys as system
    import time as clock

    from netdash.sources.procfd import HolderCache

    server = socket_module.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    fd = server.fileno()
    code = f"import os, time; time.sleep(0.5); os.close({fd}); time.sleep(30)"
    child = sp.Popen([system.executable, "-c", code], pass_fds=(fd,))
    try:
        inode = os.fstat(fd).st_ino
        clock.sleep(0.2)  # the child is running and holds its inherited copy
        cache = HolderCache(max_age=3600)
        first = cache.holders([inode])[0].get(inode, [])
        assert child.pid in first  # seen holding: re-read at the next poll
        clock.sleep(1.0)  # the child has closed its copy by now
        second = cache.holders([inode])[0].get(inode, [])
        assert child.pid not in second, (first, second)
        assert os.getpid() in second
        assert cache.full_scans == 1  # found without a full rescan
    finally:
        child.kill()
        child.wait()
        server.close()


@pytest.mark.netns
def test_a_holder_that_execs_another_program_is_named_anew_at_the_next_poll() -> None:
    """A process that binds a listener and then execs another program keeping it (socket
    activation, Server::Starter, a wrapper's ``exec``) keeps its pid and start time: the
    cache showed the first program's name and command line until the process exited. Its
    ``comm`` changed, so it is read again."""
    sleep = shutil.which("sleep")
    assert sleep is not None
    code = (
        "import os, socket, sys\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); s.set_inheritable(True)\n"
        "print(s.getsockname()[1], flush=True)\n"
        "sys.stdin.readline()\n"
        f"os.execv({sleep!r}, ['sleep', '60'])\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    cache = ProcessCache()

    def owner(port: int) -> tuple[str, str]:
        snap = collect_snapshot(cache)
        (process,) = [p for li in snap.listeners if li.port == port for p in li.processes]
        return str(process.name), " ".join(map(str, process.cmdline))

    try:
        port = int(child.stdout.readline())
        name, cmdline = owner(port)
        assert "python" in name and "-c" in cmdline
        child.stdin.write("\n")
        child.stdin.flush()
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child.pid}/comm").read_text().strip() != "sleep":
            assert time.monotonic() < deadline, "the child did not exec"
            time.sleep(0.02)
        assert owner(port) == ("sleep", "sleep 60")
    finally:
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()


HELPER_SCRIPT = """
import json, os, socket, subprocess, sys
from netdash.sources import procfd

os.sched_getaffinity = lambda pid: {0, 1}  # two CPUs, even on a one-CPU runner
procfd.PARALLEL_MIN_FDS = 0  # a helper however few files are open
forks = []
real_fork = os.fork
def counting_fork():
    forks.append(1)
    return real_fork()
os.fork = counting_fork

a, b = socket.socketpair()  # AF_UNIX: its fd links read socket:[inode] like any socket
inodes = [os.fstat(a.fileno()).st_ino, os.fstat(b.fileno()).st_ino]
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(a.fileno(),)
)
try:
    targets = procfd._link_targets(inodes)
    pids = sorted(procfd._pids("/proc"))
    ours = {os.getpid(): sorted(inodes), child.pid: [inodes[0]]}
    found = {"helped": procfd._heaviest_first(pids, "/proc") is not None}

    def read(label):
        got = procfd.read_processes(pids, targets)
        assert sorted(pid for pid, _, _ in got) == pids, label  # every pid, once
        found[label] = {
            str(pid): [ticks == procfd.start_ticks(pid), sorted(held or ())]
            for pid, ticks, held in got
            if pid in ours
        }

    read("helper")
    real_helper = procfd._helper
    def dying(queue, *args):  # takes every pid from the queue, then dies
        os.read(queue, 1 << 20)
        os._exit(3)
    procfd._helper = dying
    read("failed helper")
    procfd._helper = real_helper
    procfd._parse_helper = lambda data: None  # output that does not parse
    read("bad output")
    def no_fork():
        raise OSError("no fork here")
    os.fork = no_fork
    read("no fork")
    found["forks"] = len(forks)
    found["expected"] = {str(pid): [True, held] for pid, held in ours.items()}
    print(json.dumps(found))
finally:
    child.kill()
    child.wait()
"""


def test_a_forked_helper_reads_what_one_process_reads() -> None:
    """The CLI's full scan shares the fd reading with a forked child (two CPUs, one thread):
    same answer, whether the helper works, dies, writes nonsense or cannot be forked."""
    result = subprocess.run(
        [sys.executable, "-c", HELPER_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["helped"] is True
    assert found["forks"] == 3  # helper, failed helper, bad output; none for "no fork"
    for label in ("helper", "failed helper", "bad output", "no fork"):
        assert found[label] == found["expected"], label


def test_no_helper_is_forked_while_threads_run() -> None:
    """Forking a threaded process is unsafe: the dashboard polls in a worker thread."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        pids = sorted(procfd._pids("/proc"))
        assert procfd._heaviest_first(pids, "/proc") is None
    finally:
        stop.set()
        thread.join()


@pytest.mark.netns
def test_an_unchanged_socket_table_gives_the_same_listeners_again() -> None:
    """An idle poll (the same netlink dump, the same owners) reuses the last poll's parsed
    records and listener objects (issue 18: the idle dashboard's cost), and a change still
    makes a new one."""
    cache = ProcessCache()
    sock = bound_socket("127.0.0.1")
    port = sock.getsockname()[1]
    try:
        first = collect_snapshot(cache)
        second = collect_snapshot(cache)
        assert second.listeners == first.listeners
        assert all(a is b for a, b in zip(first.listeners, second.listeners, strict=True))
        other = bound_socket("127.0.0.1")
        try:
            third = collect_snapshot(cache)
            assert len(third.listeners) == len(first.listeners) + 1
            mine = [li for li in third.listeners if li.port == port]
            assert mine and mine[0] in first.listeners
        finally:
            other.close()
    finally:
        sock.close()


_FORK_THEN_CLOSE = """
import os, socket, sys, time
s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen()
r, w = os.pipe()
child = os.fork()
if child == 0:  # the child keeps the socket and serves
    os.close(r); os.write(w, b"x"); time.sleep(60); os._exit(0)
os.read(r, 1)
print(s.getsockname()[1], child, flush=True)
sys.stdin.readline()  # the test says when
s.close()  # the parent lets go of its copy, and stays
print("closed", flush=True)
time.sleep(60)
"""


@pytest.mark.netns
def test_a_parent_closing_its_copy_after_a_fork_is_no_holder_and_k_asks_the_child() -> None:
    """A pre-fork launcher binds, forks, and closes its copy: within a poll or two it is no
    longer a holder (its count of open files changed, so it is read again; before, it stayed
    listed until the next full scan, 30 s), and a stop request (``k``) names the child even
    from a table a poll behind. Found by the break-it pass: ``k`` stopped the parent, the
    server kept running."""
    from netdash.core.services import service_rows
    from netdash.tui.process_control import send_signal, stop_request

    parent = subprocess.Popen(
        [sys.executable, "-c", _FORK_THEN_CLOSE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdin is not None and parent.stdout is not None
    try:
        port, forked = map(int, parent.stdout.readline().split())
        cache = ProcessCache()

        def mine() -> tuple[int, ...]:
            (listener,) = [li for li in collect_snapshot(cache).listeners if li.port == port]
            return listener.pids

        deadline = time.monotonic() + 10
        while len(mine()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        before = collect_snapshot(cache)
        (stale,) = [li for li in before.listeners if li.port == port]
        assert parent.pid in stale.pids and len(stale.pids) == 2
        child = next(pid for pid in stale.pids if pid != parent.pid)
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "closed"
        # From the table a poll behind (both listed), k asks about the one holding it now.
        [(_, [row])] = service_rows([stale])
        request = stop_request(row)
        assert not isinstance(request, str), request
        assert request.target.pid == child
        # Were the parent picked from the stale table, the signal itself would refuse.
        (old,) = [p for p in stale.processes if p.pid == parent.pid]
        refused = send_signal(old, 0, request.inodes)
        assert refused is not None and "no longer holds the socket" in refused
        deadline = time.monotonic() + 5
        while parent.pid in mine() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert mine() == (child,)
        assert time.monotonic() < deadline  # within a few polls, not the 30 s full scan
    finally:
        parent.kill()
        parent.wait()
        parent.stdin.close()
        parent.stdout.close()
        with contextlib.suppress(NameError, ProcessLookupError):
            os.kill(forked, signal.SIGKILL)
            _wait_gone(forked)  # its listener closed before the next test reads the table


def _wait_gone(pid: int, timeout: float = 5.0) -> None:
    """Until ``pid`` has exited (gone, or a zombie: its files are closed by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return
        if stat[stat.rindex(b")") + 2 :].startswith(b"Z"):
            return
        time.sleep(0.01)
