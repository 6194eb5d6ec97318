"""collect_snapshot against sockets this test process binds itself (inside the netns)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from netdash.core.model import Listener, Snapshot
from netdash.sources.interfaces import read_default_route_interfaces
from netdash.sources.processes import ProcessCache
from netdash.sources.snapshot import collect_snapshot
from tests.support import netns
from tests.support.servers import bound_socket

pytestmark = pytest.mark.netns


def find(snapshot: Snapshot, address: str, port: int) -> Listener:
    matches = [li for li in snapshot.listeners if li.address == address and li.port == port]
    assert len(matches) == 1, (address, port, snapshot.listeners)
    return matches[0]


@pytest.fixture
def sockets() -> Iterator[dict[str, socket.socket]]:
    opened = {
        "lo4": bound_socket("127.0.0.1"),
        "lo_debian": bound_socket("127.0.1.1"),
        "lo6": bound_socket("::1"),
        "any4": bound_socket("0.0.0.0"),
        "any6_v6only": bound_socket("::", v6only=True),
        "lan4": bound_socket(netns.LAN_V4),
        "lan6": bound_socket(netns.LAN_V6),
    }
    yield opened
    for s in opened.values():
        s.close()


def port(s: socket.socket) -> int:
    return int(s.getsockname()[1])


def test_every_bound_socket_is_a_listener_owned_by_us(sockets: dict[str, socket.socket]) -> None:
    snapshot = collect_snapshot()
    me = os.getpid()
    for name, s in sockets.items():
        address = s.getsockname()[0]
        listener = find(snapshot, address, port(s))
        assert listener.protocol == "tcp"
        assert listener.family == (6 if s.family == socket.AF_INET6 else 4), name
        assert [p.pid for p in listener.processes] == [me], name
        proc = listener.processes[0]
        assert proc.name == psutil.Process().name()
        assert proc.cmdline and "pytest" in " ".join(a.raw for a in proc.cmdline)
        assert proc.user == psutil.Process().username()
    assert not snapshot.partial  # root sees every owner


def test_sockets_in_other_states_are_not_listeners() -> None:
    server = bound_socket("127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port(server)))
    accepted, _ = server.accept()
    try:
        snapshot = collect_snapshot()
        ports = {li.port for li in snapshot.listeners}
        assert port(server) in ports
        assert client.getsockname()[1] not in ports  # ESTABLISHED, not LISTEN
    finally:
        for s in (client, accepted, server):
            s.close()


def test_closed_listener_disappears() -> None:
    s = bound_socket("127.0.0.1")
    p = port(s)
    assert any(li.port == p for li in collect_snapshot().listeners)
    s.close()
    assert not any(li.port == p for li in collect_snapshot().listeners)


def test_interfaces_of_the_namespace() -> None:
    snapshot = collect_snapshot()
    names = [i.name for i in snapshot.interfaces]
    assert names[0] == "lo"
    lo = snapshot.interfaces[0]
    assert lo.is_loopback and lo.is_up
    assert "127.0.0.1" in lo.addresses and "::1" in lo.addresses
    v0 = next(i for i in snapshot.interfaces if i.name == netns.LAN_INTERFACE)
    assert v0.is_up and not v0.is_loopback
    assert v0.addresses[:2] == (netns.LAN_V4, netns.LAN_V6)
    assert snapshot.default_route_interfaces == ()  # the namespace has no default route


def test_default_route_is_read_from_the_routing_table() -> None:
    subprocess.run(["ip", "route", "add", "default", "dev", "v0"], check=True)
    try:
        assert read_default_route_interfaces() == ("v0",)
        assert collect_snapshot().default_route_interfaces == ("v0",)
    finally:
        subprocess.run(["ip", "route", "del", "default", "dev", "v0"], check=True)


def test_socket_shared_by_parent_and_child_is_one_listener() -> None:
    s = bound_socket("127.0.0.1")
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(s.fileno(),)
    )
    try:
        deadline = time.monotonic() + 3
        while True:
            listener = find(collect_snapshot(), "127.0.0.1", port(s))
            if len(listener.processes) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert sorted(p.pid for p in listener.processes) == sorted([os.getpid(), child.pid])
    finally:
        child.kill()
        child.wait()
        s.close()


def test_process_cache_keys_by_pid_and_create_time() -> None:
    cache = ProcessCache()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        first, reason = cache.get(child.pid)
        assert reason is None and first is not None
        again, _ = cache.get(child.pid)
        assert again is first  # served from the cache
    finally:
        child.kill()
        child.wait()
    gone, reason = cache.get(child.pid)
    assert gone is None and reason == "exited"


def test_unreadable_owner_is_listed_as_unknown_and_view_is_partial() -> None:
    """A socket held by another user's process, seen by a non-root collector: the child
    loads netdash as root, drops to user nobody, then collects."""
    s = bound_socket("127.0.0.1")
    code = (
        "import json, os\n"
        "from netdash.sources.snapshot import collect_snapshot\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "sn = collect_snapshot()\n"
        f"li = [x for x in sn.listeners if x.port == {port(s)}]\n"
        "print(json.dumps({'pids': [p.pid for x in li for p in x.processes],\n"
        "  'names': [p.name for x in li for p in x.processes],\n"
        "  'partial': list(sn.partial_reasons)}))\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
        )
    finally:
        s.close()
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["pids"] == [None]  # listed, not dropped
    assert seen["names"] == [None]
    assert seen["partial"] and "run as root" in seen["partial"][0]


def test_psutil_fallback_when_netlink_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where sock_diag is unavailable, psutil's table is used; where that needs root too
    (macOS), each process's own table. We cannot run macOS: make both refuse here."""
    from netdash.sources import sock_diag

    def refuse_netlink(*_args: object, **_kwargs: object) -> tuple[bytes, ...]:
        raise PermissionError("netlink refused (simulated)")

    def refuse_system_wide(kind: str = "inet") -> list[object]:
        raise psutil.AccessDenied()

    s = bound_socket("127.0.0.1")
    try:
        monkeypatch.setattr(sock_diag, "_dump_chunks", refuse_netlink)
        snapshot = collect_snapshot()
        assert snapshot.source == "psutil"
        assert [li.pids for li in snapshot.listeners if li.port == port(s)] == [(os.getpid(),)]
        monkeypatch.setattr(psutil, "net_connections", refuse_system_wide)
        snapshot = collect_snapshot()
        assert snapshot.source == "psutil"
        assert [li.pids for li in snapshot.listeners if li.port == port(s)] == [(os.getpid(),)]
    finally:
        s.close()


def test_sock_diag_is_the_source_on_linux() -> None:
    assert collect_snapshot().source == "sock_diag"


def test_an_unchanged_dump_is_not_parsed_again_and_any_change_is() -> None:
    """An idle poll (issue 18): the same sock_diag bytes give the very same table, and the same
    table, holders and owners the very same listeners; a new socket, a closed one and a new
    holder of an old one each give new ones."""
    from netdash.sources.sock_diag import SockDiagSource

    source = SockDiagSource()
    cache = ProcessCache()
    first = source.read_sockets()
    assert source.read_sockets() is first
    before = collect_snapshot(cache, sources=(source,))
    assert collect_snapshot(cache, sources=(source,)).listeners is before.listeners
    s = bound_socket("0.0.0.0")
    try:
        port = s.getsockname()[1]
        table = source.read_sockets()
        assert table is not first and any(r.port == port for r in table.records)
        opened = collect_snapshot(cache, sources=(source,))
        assert any(li.port == port for li in opened.listeners)
        # A child inherits the socket: the same dump, a new holder.
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)"], pass_fds=(s.fileno(),)
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                shared = collect_snapshot(cache, sources=(source,))
                (mine,) = [li for li in shared.listeners if li.port == port]
                if child.pid in mine.pids or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert source.read_sockets() is table  # nothing changed in the kernel's table
            assert sorted(mine.pids) == sorted([os.getpid(), child.pid])
        finally:
            child.kill()
            child.wait()
    finally:
        s.close()
    closed = collect_snapshot(cache, sources=(source,))
    assert not any(li.port == port for li in closed.listeners)
