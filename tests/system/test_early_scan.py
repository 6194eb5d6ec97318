"""The owner scan ``python -m netdash list`` forks before its imports
(:mod:`netdash.sources.early_scan`): the same holders as a scan of its own, and a socket
it did not see still found."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from netdash.sources import early_scan, procfd, sock_diag
from tests.support.servers import bound_socket

pytestmark = pytest.mark.netns


def test_the_request_is_sock_diags() -> None:
    import socket

    for family in (socket.AF_INET, socket.AF_INET6):
        for protocol, state in ((socket.IPPROTO_TCP, 10), (socket.IPPROTO_UDP, 7)):
            assert early_scan.request(family, protocol, 1 << state) == sock_diag._request(
                family, protocol, 1 << state, seq=1
            )


def test_listening_inodes_are_the_socket_tables() -> None:
    held = [bound_socket(a) for a in ("127.0.0.1", "::1", "0.0.0.0")]
    try:
        assert sorted(early_scan.listening_inodes()) == sorted(
            r.inode for r in sock_diag.SockDiagSource().read_sockets().records
        )
    finally:
        for s in held:
            s.close()


SCRIPT = """
import json, socket, sys
from netdash.sources import early_scan
early_scan.MIN_SOCKETS = 0  # fork however few sockets there are
early_scan.start(["list", "--json"])
from netdash.sources import procfd, sock_diag
cache = procfd.HolderCache()
seeded = early_scan.seed(cache)
late = socket.socket()  # after the child's scan: it never saw this one
late.bind(("127.0.0.1", 0))
late.listen()
inodes = [r.inode for r in sock_diag.SockDiagSource().read_sockets().records]
held, unreadable = cache.holders(inodes)
fresh, fresh_unreadable = procfd.HolderCache().holders(inodes)
print(json.dumps([seeded, cache.full_scans, held == fresh, unreadable == fresh_unreadable,
                  late.getsockname()[1], {str(k): v for k, v in held.items()}]))
"""


@pytest.mark.parametrize("late", [False, True])
def test_a_seeded_cache_answers_as_a_scan_does(late: bool) -> None:
    held = [bound_socket(a) for a in ("127.0.0.1", "::1")]
    script = SCRIPT if late else SCRIPT.replace("late.listen()", "pass")
    try:
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
    finally:
        for s in held:
            s.close()
    seeded, scans, same, same_unreadable, _, found = json.loads(out)
    assert seeded is True
    assert same and same_unreadable
    # a socket the child did not see: a full scan of the parent's own; else none
    assert scans == (2 if late else 1)
    assert found  # the holders above were found (this process holds them)


def test_a_failed_child_leaves_the_cache_to_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    os.close(w)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(1)
    monkeypatch.setattr(early_scan, "_started", (pid, r))
    cache = procfd.HolderCache()
    assert early_scan.seed(cache) is False
    assert cache.full_scans == 0


def test_few_sockets_are_scanned_without_a_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    held = bound_socket("127.0.0.1")
    try:
        assert early_scan._sockets_in_use() > 0  # counted in this namespace: the file parses
    finally:
        held.close()
    monkeypatch.setattr(early_scan, "MIN_SOCKETS", 1 << 30)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    early_scan.start(["list", "--json"])
    assert early_scan._started is None


def test_the_list_commands_hook_runs_once_at_the_first_read() -> None:
    cache = procfd.HolderCache()
    calls: list[object] = []
    cache.before = calls.append
    cache.holders([])
    cache.holders([])
    assert calls == [cache]
