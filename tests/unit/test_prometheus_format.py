"""`--format prometheus` on fixed data: label escaping, one series per address and port."""

from __future__ import annotations

from netdash.core.assess import Assessment
from netdash.core.model import Interface, Listener, Process, Snapshot
from netdash.output.prom import listing_metrics
from tests.support import netns
from tests.support.prometheus import parse


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
    metrics = parse(listing_metrics(Assessment(snapshot)))
    [sample] = metrics["netdash_listener_info"]
    assert sample.value == 2
    assert sample.labels["program"] == 'we"ird\\na\\x0ame\\x1b[31m'
    assert metrics["netdash_exposed_listeners"][0].value == 2
