"""The details screen's established peers (issue 14): each peer with address, port and the
kernel's idle time; a peer from outside this machine is marked."""

from __future__ import annotations

import ipaddress

from rich.console import Console

from netdash.sources.processes import Peer
from netdash.tui.widgets.screens import PEERS_SHOWN, _peers_text

LOCAL = (ipaddress.ip_address("198.18.0.1"), ipaddress.ip_address("2001:db8::1"))


def plain(text: object) -> str:
    console = Console(width=200, record=True)
    console.print(text)
    return console.export_text()


def test_a_peer_from_the_network_is_marked_and_this_machine_is_not() -> None:
    peers = [
        Peer("198.18.0.1", 8000, "198.18.0.2", 53122, idle_ms=3000),
        Peer("::ffff:198.18.0.1", 8000, "::ffff:198.18.0.1", 40000, idle_ms=120_000),
        Peer("127.0.0.1", 8000, "127.0.0.1", 40001),
    ]
    lines = plain(_peers_text(peers, LOCAL)).splitlines()
    assert lines[0] == "3 established"
    assert lines[1] == "198.18.0.2:53122 → 198.18.0.1:8000  from the network, last data 3 s ago"
    assert "this machine, last data 2 min 0 s ago" in lines[2]
    assert lines[3] == "127.0.0.1:40001 → 127.0.0.1:8000  this machine"


def test_many_peers_are_counted_not_listed() -> None:
    peers = [Peer("127.0.0.1", 80, "127.0.0.1", 1000 + n) for n in range(PEERS_SHOWN + 5)]
    text = plain(_peers_text(peers, LOCAL))
    assert text.splitlines()[-1] == "… and 5 more"
    assert plain(_peers_text(None, LOCAL)).strip() == "unknown"
