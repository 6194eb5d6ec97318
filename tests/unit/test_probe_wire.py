"""Probing in child processes, the pure parts: how many children, and the wire format."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from netdash.core.model import Outcome, ProbeResult, Via
from netdash.probe.child import (
    default_processes,
    result_from_wire,
    result_to_wire,
)


def test_default_processes_grows_with_targets_up_to_the_cpus() -> None:
    cpus = os.cpu_count() or 1
    assert default_processes(1) == 1
    assert default_processes(300) == 1
    assert default_processes(10_000) == min(cpus, 4)


texts = st.none() | st.text(max_size=50)


@given(
    st.builds(
        ProbeResult,
        listener=st.tuples(st.sampled_from(["tcp"]), st.text(max_size=40), st.integers(0, 65535)),
        via=st.sampled_from(list(Via)),
        target=st.text(max_size=40),
        url=st.text(max_size=60),
        outcome=st.sampled_from(list(Outcome)),
        elapsed_ms=st.floats(0, 1e6),
        status=st.none() | st.integers(100, 999),
        server=texts,
        title=texts,
        detail=texts,
        location=texts,
        banner=texts,
        certificate=texts,
        self_signed=st.none() | st.booleans(),
        identified=texts,
        evidence=texts,
        docs=texts,
        probed_at=st.floats(0, 2e9),
    )
)
def test_wire_format_round_trips_any_result(result: ProbeResult) -> None:
    line = result_to_wire(result)
    assert "\n" not in line  # one result per line, whatever the text holds
    assert result_from_wire(line) == result
    assert result_from_wire(line.encode()) == result
