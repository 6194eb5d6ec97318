"""netdash agrees with `ss -tulnpH` on a matrix of real sockets in the test namespace.

Every binding shape of issue 3: loopback beyond 127.0.0.1, ::1, IPv4-mapped, 0.0.0.0, :: with
and without IPV6_V6ONLY, the LAN addresses, a link-local address with a zone, an address no
interface holds, UDP bound and connected, one socket held by a pre-fork family, SO_REUSEPORT
siblings in two processes, and a socket owned by another user.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from netdash.core.addresses import scope_of
from netdash.core.model import Scope
from netdash.sources.snapshot import collect_snapshot
from tests.support import netns
from tests.support.ss import ss_listeners

pytestmark = pytest.mark.netns

LINK_LOCAL = "fe80::dead"
SPECS = [
    ["tcp|127.0.0.1|0|", "tcp|127.0.1.1|0|", "tcp|::1|0|", "tcp|::ffff:127.0.0.1|0|"],
    ["tcp|0.0.0.0|0|", "tcp|::|0|v6only", "tcp|::|0|dual"],
    [f"tcp|{netns.LAN_V4}|0|", f"tcp|{netns.LAN_V6}|0|", f"tcp|{LINK_LOCAL}%v0|0|"],
    ["tcp|203.0.113.9|0|freebind"],
    ["udp|0.0.0.0|0|", "udp|::1|0|", "udp|127.0.0.1|0|connect=127.0.0.1:9"],
    ["tcp|0.0.0.0|0|fork=3"],
    ["tcp|0.0.0.0|7450|reuseport"],
    ["tcp|0.0.0.0|7450|reuseport"],
    ["tcp|127.0.0.1|0|user=nobody"],
]


@pytest.fixture(scope="module")
def holders() -> Iterator[list[tuple[int, list[int]]]]:
    subprocess.run(
        ["ip", "-6", "addr", "add", f"{LINK_LOCAL}/64", "dev", "v0", "nodad"], check=True
    )
    started: list[subprocess.Popen[str]] = []
    ready: list[tuple[int, list[int]]] = []
    try:
        for specs in SPECS:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.holder", *specs],
                stdout=subprocess.PIPE,
                text=True,
            )
            started.append(proc)
            assert proc.stdout is not None
            line = proc.stdout.readline().split()
            assert line and line[0] == "ready", f"holder failed for {specs}"
            ready.append((int(line[1]), [int(p) for p in line[2:]]))
        yield ready
    finally:
        for proc in started:
            proc.terminate()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
        subprocess.run(["ip", "-6", "addr", "del", f"{LINK_LOCAL}/64", "dev", "v0"], check=False)


def netdash_listeners() -> set[tuple[str, str, int, frozenset[int], bool | None]]:
    snapshot = collect_snapshot()
    return {
        (li.protocol, li.address, li.port, frozenset(li.pids), li.dual_stack)
        for li in snapshot.listeners
    }


def test_listener_set_equals_ss(holders: list[tuple[int, list[int]]]) -> None:
    ours, theirs = netdash_listeners(), ss_listeners()
    assert ours == theirs
    # The matrix really holds what it claims (so the equality is not vacuous):
    protocols = {entry[0] for entry in ours}
    assert protocols == {"tcp", "udp"}
    assert any(len(entry[3]) == 4 for entry in ours)  # pre-fork: parent + 3 children
    assert sum(1 for entry in ours if entry[2] == 7450) == 2  # SO_REUSEPORT siblings
    assert {entry[4] for entry in ours if entry[1] == "::"} == {True, False}
    assert any(entry[1] == f"{LINK_LOCAL}%v0" for entry in ours)


def test_connected_udp_is_not_a_listener(holders: list[tuple[int, list[int]]]) -> None:
    _udp_pid, udp_ports = holders[4]
    connected_port = udp_ports[2]
    assert not any(li.port == connected_port for li in collect_snapshot().listeners)


def test_scopes_and_owners_of_the_matrix(holders: list[tuple[int, list[int]]]) -> None:
    snapshot = collect_snapshot()
    by = {(li.protocol, li.address, li.port, li.inode): li for li in snapshot.listeners}

    def only(address: str, port: int, protocol: str = "tcp"):  # type: ignore[no-untyped-def]
        matches = [li for k, li in by.items() if k[:3] == (protocol, address, port)]
        assert len(matches) == 1, (address, port, matches)
        return matches[0]

    _lo_pid, lo_ports = holders[0]
    assert scope_of(only("127.0.1.1", lo_ports[1]).address) is Scope.LOOPBACK
    assert scope_of(only("::ffff:127.0.0.1", lo_ports[3]).address) is Scope.LOOPBACK
    _any_pid, any_ports = holders[1]
    assert only("::", any_ports[1]).dual_stack is False
    assert only("::", any_ports[2]).dual_stack is True
    _lan_pid, lan_ports = holders[2]
    assert scope_of(only(f"{LINK_LOCAL}%v0", lan_ports[2]).address) is Scope.SPECIFIC_INTERFACE
    fork_pid, fork_ports = holders[5]
    prefork = only("0.0.0.0", fork_ports[0])
    assert prefork.processes[0].pid == fork_pid  # parent first
    assert all(p.ppid == fork_pid for p in prefork.processes[1:])
    _nobody_pid, nobody_ports = holders[8]
    owned = only("127.0.0.1", nobody_ports[0])
    assert owned.processes[0].user == "nobody"
