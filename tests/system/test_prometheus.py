"""`--format prometheus`: what node_exporter's textfile collector reads, parsed by
prometheus_client's own parser, against real listeners."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from netdash.core.model import Interface, Listener, Process, Snapshot
from netdash.output.prom import listing_metrics
from tests.support import netns
from tests.support.cli import run_cli

pytestmark = pytest.mark.netns


def parse(text: str) -> dict[str, list[Sample]]:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for family in families.values():
        assert family.type == "gauge", family.name
        assert family.documentation
    return {name: list(f.samples) for name, f in families.items()}


def one(samples: list[Sample], **labels: str) -> float:
    found = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (labels, samples)
    return found[0]


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
    assert set(by_verdict) == {"exposed", "exposed-unverified", "local-only", "ipv6-loopback-only"}
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


def test_label_values_are_escaped_and_reuseport_sockets_are_one_series() -> None:
    nasty = Process(pid=1, name='we"ird\\na\nme\x1b[31m')
    snapshot = Snapshot(
        hostname="h",
        interfaces=(Interface("v0", True, (netns.LAN_V4,)),),
        listeners=(
            Listener("tcp", "0.0.0.0", 80, 4, (nasty,), inode=1),
            Listener("tcp", "0.0.0.0", 80, 4, (nasty,), inode=2),
        ),
        taken_at=1.5,
    )
    metrics = parse(listing_metrics(snapshot, None))
    [sample] = metrics["netdash_listener_info"]
    assert sample.value == 2
    assert sample.labels["program"] == 'we"ird\\na\\x0ame\\x1b[31m'
    assert metrics["netdash_exposed_listeners"][0].value == 2
