"""The source seam (netdash.sources.base): a new socket source plugs into collect_snapshot.

These are boundary tests with a fake source; the real sources are tested against the kernel
in test_collect.py, test_ss_agreement.py and test_owner_cache.py.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from netdash.sources import sock_diag
from netdash.sources.base import SocketRecord, SocketSource, SocketTable, SourceUnavailable
from netdash.sources.processes import ProcessCache
from netdash.sources.snapshot import DEFAULT_SOURCES, collect_snapshot


class Unavailable:
    name = "nowhere"

    def __init__(self) -> None:
        self.calls = 0

    def read_sockets(self) -> SocketTable:
        self.calls += 1
        raise SourceUnavailable("not on this machine")


class Fake:
    name = "fake"

    def __init__(self, records: Sequence[SocketRecord], unread: int = 0) -> None:
        self.records = records
        self.unread = unread

    def read_sockets(self) -> SocketTable:
        return SocketTable(self.records, self.unread)


def test_the_next_source_is_used_when_the_first_is_unavailable() -> None:
    me = os.getpid()
    first = Unavailable()
    records = [
        SocketRecord("tcp", 4, "127.0.0.1", 8080, pids=(me,)),
        SocketRecord("udp", 6, "::", 5353, v6only=False, pids=(me,)),
        SocketRecord("tcp", 4, "0.0.0.0", 22, uid=0, pids=()),  # owner not visible
    ]
    sources: list[SocketSource] = [first, Fake(records)]
    snapshot = collect_snapshot(ProcessCache(), sources)
    assert first.calls == 1
    assert snapshot.source == "fake"
    assert [(li.protocol, li.address, li.port) for li in snapshot.listeners] == [
        ("tcp", "0.0.0.0", 22),
        ("tcp", "127.0.0.1", 8080),
        ("udp", "::", 5353),
    ]
    hidden, web, mdns = snapshot.listeners
    assert web.pids == (me,) and web.processes[0].name is not None
    assert mdns.dual_stack is True  # from the record's IPV6_V6ONLY
    assert hidden.pids == () and hidden.processes[0].pid is None
    assert hidden.processes[0].user == "root"  # from the record's uid
    assert len(snapshot.partial_reasons) == 1 and "unknown" in snapshot.partial_reasons[0]


def test_no_source_available_raises_source_unavailable_an_oserror() -> None:
    with pytest.raises(SourceUnavailable) as raised:
        collect_snapshot(ProcessCache(), [Unavailable(), Unavailable()])
    assert isinstance(raised.value, OSError)  # callers that catch OSError still do


def test_sock_diag_refused_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> tuple[bytes, ...]:
        raise PermissionError("netlink refused (simulated)")

    monkeypatch.setattr(sock_diag, "_dump_chunks", refuse)
    with pytest.raises(SourceUnavailable):
        sock_diag.SockDiagSource().read_sockets()


def test_the_default_order_is_netlink_then_psutil() -> None:
    assert [s.name for s in DEFAULT_SOURCES] == ["sock_diag", "psutil"]


def test_processes_a_source_could_not_read_make_the_view_partial() -> None:
    """psutil's per-process fallback (macOS without root) skips other users' processes: their
    listeners are missing, so the view must say it is incomplete, never pass for whole."""
    me = os.getpid()
    source = Fake([SocketRecord("tcp", 4, "127.0.0.1", 8080, pids=(me,))], unread=3)
    snapshot = collect_snapshot(sources=[source])
    assert snapshot.partial
    assert any("3 processes' sockets could not be read" in r for r in snapshot.partial_reasons)
    assert not collect_snapshot(sources=[Fake(source.records)]).partial
