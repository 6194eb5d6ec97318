"""A first firewall read's tools started early (:meth:`FirewallReader.prestart`): the same
ruleset as a read of its own, a fresh read when the ruleset changed meanwhile, and no tool
left running either way."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from netdash.sources import firewall
from netdash.sources.firewall import FirewallReader

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft"),
]


@pytest.fixture(autouse=True)
def _table() -> Iterator[None]:
    nft = (
        "table inet prestart {\n"
        "  chain input { type filter hook input priority 0; tcp dport 7 drop; }\n"
        "}\n"
    )
    subprocess.run(["nft", "-f", "-"], input=nft, check=True, text=True)
    yield
    subprocess.run(["nft", "flush", "ruleset"], check=True)


def _tables(reader: FirewallReader) -> list[str]:
    """The nftables tables one poll read (iptables-legacy's, which other tests of this
    namespace may leave behind, aside)."""
    state = reader.poll()
    assert state.read and state.ruleset is not None, state.reason
    return sorted(t.label for t in state.ruleset.tables if t.backend == "nft")


def test_the_started_tools_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    alone = FirewallReader().poll().ruleset
    reader = FirewallReader()
    reader.prestart()
    assert reader._started is not None
    procs = reader._started[3]
    calls = []
    monkeypatch.setattr(firewall, "_run_all", lambda argvs: calls.append(argvs) or [])
    state = reader.poll()
    assert state.ruleset is not None and alone is not None
    assert state.ruleset.tables == alone.tables and state.ruleset.sources == alone.sources
    assert sorted(t.label for t in state.ruleset.tables if t.backend == "nft") == ["inet prestart"]
    assert calls == []  # the poll ran no tool of its own
    assert all(p.returncode == 0 for p in procs)
    reader.prestart()  # after the first poll: nothing started
    assert reader._started is None


def test_a_change_after_the_start_is_read_afresh() -> None:
    reader = FirewallReader()
    reader.prestart()
    assert reader._started is not None
    procs = reader._started[3]
    subprocess.run(["nft", "add", "table", "ip", "later"], check=True)
    assert _tables(reader) == ["inet prestart", "ip later"]
    assert all(p.returncode is not None for p in procs)  # stopped and reaped


def test_tools_started_for_a_poll_that_does_not_read_are_stopped() -> None:
    reader = FirewallReader()
    reader.prestart()
    assert reader._started is not None
    procs = reader._started[3]

    def refused() -> int:
        raise PermissionError(1, "Operation not permitted")

    reader.generation = refused
    assert reader.poll().read is False
    assert all(p.returncode is not None for p in procs)
