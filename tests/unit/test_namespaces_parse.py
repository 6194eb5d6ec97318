# ruff: noqa: E501  (kernel tables and command lines verbatim)
"""Parsing /proc/PID/net tables and docker-proxy command lines (untrusted text)."""

from __future__ import annotations

from pathlib import Path

from netdash.core.namespaces import NamespaceListener, NetNamespace
from netdash.sources.docker import proxy_target
from netdash.sources.namespaces import parse_socket_table
from netdash.sources.published import route_interface

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5614254 1 0 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0
   2: 0200000A:0050 0100000A:C350 01 00000000:00000000 00:00000000 00000000     0        0 78 1 0 100 0 0 10 0
   garbage line
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 98 1 0 100 0 0 10 0
"""
UDP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 11 2 0 0
  2: 0200000A:A000 0100000A:0035 01 00000000:00000000 00:00000000 00000000     0        0 12 2 0 0
  3: 0200000A:A001 0100000A:0035 07 00000000:00000000 00:00000000 00000000     0        0 13 2 0 0
"""


def test_tcp_listeners_only_in_listen_state() -> None:
    found = parse_socket_table(TCP, "tcp", 4)
    assert [(li.address, li.port, li.inode) for li in found] == [
        ("0.0.0.0", 80, 5614254),
        ("127.0.0.1", 8080, 77),
    ]


def test_tcp6_addresses() -> None:
    found = parse_socket_table(TCP6, "tcp", 6)
    assert [(li.address, li.port) for li in found] == [("::", 80), ("::1", 53)]


def test_udp_bound_unconnected_only() -> None:
    found = parse_socket_table(UDP, "udp", 4)
    assert [(li.address, li.port) for li in found] == [("0.0.0.0", 53)]


def test_listening_prefers_exact_then_wildcard_dual_stack() -> None:
    wild6 = NamespaceListener("tcp", 6, "::", 80)
    exact = NamespaceListener("tcp", 4, "172.17.0.2", 81)
    ns = NetNamespace(1, addresses=("172.17.0.2",), listeners=(wild6, exact))
    assert ns.listening("tcp", "172.17.0.2", 80) is wild6
    assert ns.listening("tcp", "172.17.0.2", 81) is exact
    assert ns.listening("udp", "172.17.0.2", 80) is None
    assert ns.listening("tcp", "172.17.0.2", 82) is None


def test_proxy_target_takes_only_valid_values() -> None:
    good = "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80"
    assert proxy_target(good.split()) == ("tcp", "172.17.0.2", 80)
    assert proxy_target(["docker-proxy", "--container-ip=fd00::2", "--container-port=443"]) == (
        "tcp",
        "fd00::2",
        443,
    )
    assert (
        proxy_target(
            ["docker-proxy", "-container-ip", "172.17.0.2\x1b[31m", "-container-port", "80"]
        )
        is None
    )
    assert (
        proxy_target(["docker-proxy", "-container-ip", "172.17.0.2", "-container-port", "99999"])
        is None
    )
    assert (
        proxy_target(
            ["docker-proxy", "-proto", "evil", "-container-ip", "1.2.3.4", "-container-port", "1"]
        )
        is None
    )
    assert proxy_target(["docker-proxy"]) is None


ROUTE = """Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0
"""
ROUTE6 = """fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fd000000000000000000000000000099 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 00000001     vc0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 00000001       lo
"""


def test_route_interface_longest_prefix(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "route").write_text(ROUTE)
    (tmp_path / "net" / "ipv6_route").write_text(ROUTE6)
    proc = str(tmp_path)
    assert route_interface("172.17.0.2", proc) == "docker0"
    assert route_interface("192.0.2.9", proc) == "eth0"
    assert route_interface("8.8.8.8", proc) == "eth0"  # the default route
    assert route_interface("fd00::99", proc) == "vc0"
    assert route_interface("fd00::5", proc) == "eth0"
    assert route_interface("2001:db8::1", proc) is None
    assert route_interface("not an address", proc) is None
    assert route_interface("10.0.0.1", str(tmp_path / "missing")) is None
