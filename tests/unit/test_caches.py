"""The caches that keep steady polls cheap, on a /proc of our making and on this process:
socket holders (``procfd.HolderCache``) and process metadata (``ProcessCache``) give the
same answers as reading everything afresh. (Against real sockets: tests/system/test_owner_cache.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from netdash.sources import procfd
from netdash.sources.processes import ProcessCache


class FakeProc:
    """A ``/proc`` of our making: ``pid/stat`` with a start time, ``pid/fd/N`` links."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def process(self, pid: int, ticks: int, inodes: list[int]) -> None:
        fd = self.root / str(pid) / "fd"
        if fd.exists():
            for link in fd.iterdir():
                link.unlink()
        fd.mkdir(parents=True, exist_ok=True)
        stat = f"{pid} (fake) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {ticks} 0 0\n"
        (self.root / str(pid) / "stat").write_text(stat)
        for n, inode in enumerate(inodes):
            os.symlink(f"socket:[{inode}]", fd / str(n + 3))
        os.symlink("/dev/null", fd / "0")

    def exit(self, pid: int) -> None:
        for link in (self.root / str(pid) / "fd").iterdir():
            link.unlink()
        (self.root / str(pid) / "fd").rmdir()
        (self.root / str(pid) / "stat").unlink()
        (self.root / str(pid)).rmdir()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_holder_cache_agrees_with_a_full_scan_through_every_change(tmp_path: Path) -> None:
    fake, clock = FakeProc(tmp_path), Clock()
    cache = procfd.HolderCache(proc=str(tmp_path), max_age=30.0, clock=clock)

    def check(inodes: list[int]) -> dict[int, list[int]]:
        holders, _ = cache.holders(inodes)
        assert holders == procfd.socket_holders(inodes, proc=str(tmp_path))[0]
        return holders

    fake.process(100, ticks=5, inodes=[7, 8])
    fake.process(200, ticks=6, inodes=[99])  # a connection, not a listener
    assert check([7, 8]) == {7: [100], 8: [100]}
    assert cache.full_scans == 1

    assert check([7, 8]) == {7: [100], 8: [100]}
    assert cache.full_scans == 1, "nothing changed: no full scan"

    fake.process(101, ticks=9, inodes=[7])  # a pre-fork worker inherits listener 7
    assert check([7, 8]) == {7: [100, 101], 8: [100]}
    assert cache.full_scans == 1, "a new process is read on its own"

    fake.process(200, ticks=6, inodes=[99, 10])  # an existing process opens listener 10
    assert check([7, 8, 10]) == {7: [100, 101], 8: [100], 10: [200]}
    assert cache.full_scans == 2, "a new listener: any process may hold it"

    fake.exit(101)  # the worker exits
    assert check([7, 8, 10]) == {7: [100], 8: [100], 10: [200]}

    fake.process(100, ticks=50, inodes=[8])  # pid 100 reused by a process holding only 8
    assert check([7, 8, 10]) == {8: [100], 10: [200]}

    assert check([10]) == {10: [200]}  # listeners 7 and 8 closed
    assert cache.full_scans == 2


def test_holder_cache_rereads_everything_after_max_age(tmp_path: Path) -> None:
    """A socket passed to a process that already existed (SCM_RIGHTS) shows up by the next
    full re-read at the latest."""
    fake, clock = FakeProc(tmp_path), Clock()
    cache = procfd.HolderCache(proc=str(tmp_path), max_age=30.0, clock=clock)
    fake.process(100, ticks=5, inodes=[7])
    fake.process(300, ticks=6, inodes=[])
    assert cache.holders([7])[0] == {7: [100]}
    fake.process(300, ticks=6, inodes=[7])
    clock.now = 29.0
    assert cache.holders([7])[0] == {7: [100]}  # within max_age: not read yet
    clock.now = 30.0
    assert cache.holders([7])[0] == {7: [100, 300]}
    assert cache.full_scans == 2


def test_start_ticks_reads_the_process_start_time() -> None:
    ticks = procfd.start_ticks(os.getpid())
    assert ticks is not None
    boot = psutil.boot_time()
    clk = os.sysconf("SC_CLK_TCK")
    assert abs(boot + ticks / clk - psutil.Process().create_time()) < 1.0
    assert procfd.start_ticks(2**22 + 12345) is None  # above pid_max: no such process


def test_process_cache_serves_a_known_process_without_psutil(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = ProcessCache()
    first, reason = cache.get(os.getpid())
    assert first is not None and reason is None

    def no_psutil(pid: int) -> psutil.Process:
        raise AssertionError("psutil consulted for a cached process")

    monkeypatch.setattr(psutil, "Process", no_psutil)
    again, _ = cache.get(os.getpid())
    assert again is first


def test_process_cache_rereads_a_reused_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same pid, another start time: the process is read again, never taken for the old one."""
    cache = ProcessCache()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        first, _ = cache.get(child.pid)
        assert first is not None
        real = procfd.identity(child.pid)
        assert real is not None
        ticks, comm = real
        monkeypatch.setattr(procfd, "identity", lambda pid, proc="/proc": (ticks + 1, comm))
        monkeypatch.setattr(psutil.Process, "create_time", lambda self: 1.0)  # "new" process
        second, _ = cache.get(child.pid)
        assert second is not None and second is not first and second.create_time == 1.0
    finally:
        child.kill()
        child.wait()
