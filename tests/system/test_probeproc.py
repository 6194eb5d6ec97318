"""Probing in child processes (netdash.probe.child) against the session's real servers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from netdash.core.addresses import own_addresses
from netdash.core.model import Listener, Outcome, ProbeResult, Via
from netdash.probe.child import (
    probe_in_processes,
    result_to_wire,
)
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.sources.interfaces import read_interfaces
from tests.support import netns

LAN = {4: netns.LAN_V4, 6: netns.LAN_V6}
FAST = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1)


def session_listeners(servers) -> list[Listener]:  # type: ignore[no-untyped-def]
    found = []
    for server in servers.values():
        family = 6 if ":" in server.address else 4
        dual = True if server.address == "::" else None
        found.append(Listener("tcp", server.address, server.port, family, dual_stack=dual))
    return found


def essence(results: list[ProbeResult]) -> set[tuple[object, ...]]:
    return {
        (r.listener, r.via, r.target, r.outcome, r.status, r.identified, r.banner) for r in results
    }


def children_of(pid: int) -> set[int]:
    """Pids of this process's probe children (not the session's servers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"netdash.probe.child" in cmdline:
                found.add(int(entry.name))
    return found


@pytest.mark.netns
@pytest.mark.parametrize("processes", [1, 3])
async def test_children_find_what_the_in_process_probe_finds(servers, processes: int) -> None:  # type: ignore[no-untyped-def]
    listeners = session_listeners(servers)
    own = own_addresses(read_interfaces())
    here = await probe_listeners(listeners, LAN, own, FAST)
    streamed: list[ProbeResult] = []
    there = await probe_in_processes(listeners, LAN, own, FAST, streamed.append, processes)
    assert essence(there) == essence(here)
    assert [(r.listener, r.via, r.target) for r in there] == [
        (r.listener, r.via, r.target) for r in here
    ]  # the same order: target order per listener
    assert sorted(map(result_to_wire, streamed)) == sorted(map(result_to_wire, there))
    outcomes = {r.outcome for r in there}
    assert {Outcome.HTTP, Outcome.BANNER, Outcome.SILENT, Outcome.REFUSED} <= outcomes
    assert not children_of(os.getpid())  # every child has exited


@pytest.mark.netns
async def test_cancelling_kills_every_child_at_once(servers) -> None:  # type: ignore[no-untyped-def]
    slow = ProbeLimits(connect_timeout=5, read_timeout=5, deadline=10, greeting_wait=0.1)
    silent = servers["silent"]
    listeners = [Listener("tcp", silent.address, silent.port, 4)]
    task = asyncio.ensure_future(
        probe_in_processes(listeners, LAN, own_addresses(read_interfaces()), slow)
    )
    for _ in range(200):
        await asyncio.sleep(0.02)
        if children_of(os.getpid()):
            break
    assert children_of(os.getpid())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not children_of(os.getpid())


@pytest.mark.netns
async def test_a_child_that_dies_leaves_error_results_not_an_exception(servers) -> None:  # type: ignore[no-untyped-def]
    slow = ProbeLimits(connect_timeout=5, read_timeout=5, deadline=10, greeting_wait=0.1)
    silent = servers["silent"]
    listeners = [Listener("tcp", silent.address, silent.port, 4)]
    streamed: list[ProbeResult] = []

    async def kill_children() -> None:
        while not (pids := children_of(os.getpid())):
            await asyncio.sleep(0.02)
        # Past start-up: the child has streamed the refused LAN probe and waits on the
        # silent loopback one (a fixed delay raced the child's imports on a loaded machine).
        for _ in range(250):
            if streamed:
                break
            await asyncio.sleep(0.02)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

    killer = asyncio.ensure_future(kill_children())
    results = await probe_in_processes(
        listeners, LAN, own_addresses(read_interfaces()), slow, streamed.append
    )
    await killer
    assert sorted(map(result_to_wire, results)) == sorted(map(result_to_wire, streamed))
    # The LAN probe of a loopback listener was refused before the kill and stands; the
    # loopback one (a silent peer, 5 s read timeout) was cut short.
    assert [(r.via, r.outcome) for r in results] == [
        (Via.LOOPBACK, Outcome.ERROR),
        (Via.LAN, Outcome.REFUSED),
    ]
    assert results[0].detail == f"probe process exited with status {-signal.SIGKILL}"


async def test_no_child_can_start_raises_oserror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with pytest.raises(OSError):
        await probe_in_processes(
            [Listener("tcp", "127.0.0.1", 9, 4)], {}, own_addresses(read_interfaces()), FAST
        )


async def test_nothing_to_probe_starts_nothing() -> None:
    udp = Listener("udp", "127.0.0.1", 53, 4)
    assert await probe_in_processes([udp], LAN, own_addresses(read_interfaces()), FAST) == []
