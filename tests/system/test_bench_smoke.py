"""The benchmark's small scenario, for correctness only (no timing is asserted here): every
socket the scenario builds is seen by netdash, with its owner, in first and steady polls."""

from __future__ import annotations

import pytest

from bench import run, scenario
from netdash.sources.processes import ProcessCache
from netdash.sources.snapshot import collect_snapshot
from netdash.sources.sock_diag import count_established

pytestmark = pytest.mark.netns


def test_small_scenario_is_seen_whole_in_first_and_steady_polls() -> None:
    scale = scenario.SCALES["small"]
    with scenario.build(scale) as built:
        cache = ProcessCache()
        for _ in range(3):  # the first poll reads everything, later ones use the caches
            snapshot = collect_snapshot(cache)
            ours = [li for li in snapshot.listeners if li.port in set(built.ports)]
            assert len(ours) == scale.listeners
            assert {li.protocol for li in ours} == {"tcp", "udp"}
            assert {li.family for li in ours} == {4, 6}
            owners = {p.pid for li in ours for p in li.processes}
            assert owners <= set(built.pids) and None not in owners
        server_port = built.ports[-1]  # the connection server's listener comes last
        assert count_established(server_port) == scale.connections
        figures = run.in_process(repeat=1)
        assert figures["listeners"] >= scale.listeners
