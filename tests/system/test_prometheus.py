"""`--format prometheus`: what node_exporter's textfile collector reads, parsed by
prometheus_client's own parser, against real listeners."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cli import run_cli
from tests.support.prometheus import one, parse

pytestmark = pytest.mark.netns


def test_list_metrics_carry_scope_port_program_and_verdict(servers: Any) -> None:
    result = run_cli("list", "--format", "prometheus", "--probe", "--timeout", "0.5")
    assert result.returncode == 0, result.stderr
    metrics = parse(result.stdout)
    listeners = metrics["netdash_listener_info"]
    uv = servers["uvicorn_any"]
    labels = next(s.labels for s in listeners if s.labels["port"] == str(uv.port))
    assert labels == {
        "protocol": "tcp",
        "address": "0.0.0.0",
        "port": str(uv.port),
        "family": "4",
        "scope": "all-interfaces",
        "verdict": "exposed",
        "program": "uvicorn",
    }
    lo = next(s.labels for s in listeners if s.labels["port"] == str(servers["http_lo4"].port))
    assert (lo["scope"], lo["verdict"]) == ("loopback", "local-only")
    by_verdict = {s.labels["verdict"]: s.value for s in metrics["netdash_listeners"]}
    assert set(by_verdict) == {
        "exposed",
        "exposed-unverified",
        "shielded",
        "local-only",
        "ipv6-loopback-only",
    }
    assert sum(by_verdict.values()) == sum(s.value for s in listeners)
    exposed = [s for s in listeners if s.labels["verdict"] in ("exposed", "exposed-unverified")]
    assert metrics["netdash_exposed_listeners"][0].value == sum(s.value for s in exposed) > 0
    assert metrics["netdash_probed"][0].value == 1
    assert metrics["netdash_snapshot_timestamp_seconds"][0].value > 1.7e9


def test_check_metrics_count_findings_and_label_allowed(servers: Any) -> None:
    uv = servers["uvicorn_any"]
    result = run_cli("check", "--format", "prometheus", "--allow", str(uv.port))
    assert result.returncode == 1  # other exposures remain
    metrics = parse(result.stdout)
    listeners = metrics["netdash_listener_info"]
    assert one(listeners, port=str(uv.port), allowed="true") == 1
    exposed_not_allowed = sum(
        s.value
        for s in listeners
        if s.labels["allowed"] == "false"
        and s.labels["verdict"] in ("exposed", "exposed-unverified")
    )
    assert metrics["netdash_check_findings"][0].value == exposed_not_allowed > 0
    assert metrics["netdash_check_allowed"][0].value == 1
    assert metrics["netdash_probed"][0].value == 0
