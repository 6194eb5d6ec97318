"""Unit tests for ``netdash.core.addresses``: pure functions, no sockets, no I/O."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdash.core.addresses import interfaces_reaching, parse_address, scope_of
from netdash.core.lan import (
    choose_lan,
    choose_lan_explained,
    probe_targets,
    resolve_lan,
    validate_lan,
)
from netdash.core.model import Interface, Listener, Process, Scope, Snapshot, Via
from netdash.core.services import leader

LO = Interface("lo", is_up=True, addresses=("127.0.0.1", "::1"), is_loopback=True)
ETH0 = Interface("eth0", is_up=True, addresses=("192.168.1.100", "2001:db8::5", "fe80::1%eth0"))
WLAN0 = Interface("wlan0", is_up=True, addresses=("10.0.0.7",))
DOCKER0 = Interface("docker0", is_up=False, addresses=("172.17.0.1",))
INTERFACES = (LO, ETH0, WLAN0, DOCKER0)


def snapshot(
    interfaces: tuple[Interface, ...] = INTERFACES,
    default_route_interfaces: tuple[str, ...] = (),
) -> Snapshot:
    return Snapshot(
        hostname="h",
        interfaces=interfaces,
        listeners=(),
        taken_at=0.0,
        default_route_interfaces=default_route_interfaces,
    )


def listener(address: str) -> Listener:
    family = ipaddress.ip_address(address).version
    return Listener(protocol="tcp", address=address, port=8000, family=family)


def unmapped(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


# --- scope_of -----------------------------------------------------------------------------------


@given(st.ip_addresses(network="127.0.0.0/8"))
def test_scope_every_127_8_address_is_loopback(ip: ipaddress.IPv4Address) -> None:
    assert scope_of(str(ip)) is Scope.LOOPBACK


@given(st.ip_addresses(network="127.0.0.0/8"))
def test_scope_ipv4_mapped_127_8_is_loopback(ip: ipaddress.IPv4Address) -> None:
    assert scope_of(f"::ffff:{ip}") is Scope.LOOPBACK


@pytest.mark.parametrize("address", ["::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::1%lo"])
def test_scope_ipv6_loopback(address: str) -> None:
    assert scope_of(address) is Scope.LOOPBACK


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "0:0:0:0:0:0:0:0"])
def test_scope_wildcard_is_all_interfaces(address: str) -> None:
    assert scope_of(address) is Scope.ALL_INTERFACES


def test_scope_ipv4_mapped_wildcard_is_all_interfaces() -> None:
    # ``::ffff:0.0.0.0`` is mapped to 0.0.0.0: an AF_INET6 socket bound there accepts IPv4 on
    # every interface (Linux allows this bind), so it is as exposed as 0.0.0.0.
    assert scope_of("::ffff:0.0.0.0") is Scope.ALL_INTERFACES


@pytest.mark.parametrize(
    "address",
    [
        "192.168.1.100",
        "10.0.0.7",
        "8.8.8.8",
        "169.254.1.1",
        "2001:db8::5",
        "fe80::1",
        "fe80::1%eth0",
        "fe80::1%2",
        "::ffff:192.168.1.100",
        # IPv4-compatible (deprecated), NOT IPv4-mapped: not loopback
        "::127.0.0.1",
        "128.0.0.1",
        "126.255.255.255",
    ],
)
def test_scope_specific_addresses(address: str) -> None:
    assert scope_of(address) is Scope.SPECIFIC_INTERFACE


def test_scope_strips_surrounding_whitespace() -> None:
    assert scope_of(" 127.0.0.1\n") is Scope.LOOPBACK


@pytest.mark.parametrize(
    "text",
    [
        "",
        "localhost",
        "not an address",
        "1.2.3",
        "256.0.0.1",
        "127.0.0.1%eth0",
        "fe80::1%",
        "::1::",
        "127.0.0.1:80",
        "[::1]",
        "\uff11\uff12\uff17.0.0.1",  # full-width digits
        "127.0.0.0/8",
    ],
)
def test_scope_invalid_text_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        scope_of(text)


@given(st.ip_addresses())
def test_scope_property_loopback_iff_is_loopback(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    scope = scope_of(str(ip))
    real = unmapped(ip)
    assert (scope is Scope.LOOPBACK) == real.is_loopback
    assert (scope is Scope.ALL_INTERFACES) == real.is_unspecified


@given(
    st.ip_addresses(v=6),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=15),
)
def test_scope_property_zone_does_not_change_scope(ip: ipaddress.IPv6Address, zone: str) -> None:
    assert scope_of(f"{ip}%{zone}") is scope_of(str(ip))


@given(st.text(max_size=60))
def test_scope_property_any_text_gives_scope_or_value_error(text: str) -> None:
    try:
        result = scope_of(text)
    except ValueError:
        return
    assert isinstance(result, Scope)


# --- interfaces_reaching ------------------------------------------------------------------------


def test_reaching_ipv4_wildcard_is_up_interfaces_with_ipv4() -> None:
    assert interfaces_reaching("0.0.0.0", INTERFACES) == ("lo", "eth0", "wlan0")


def test_reaching_ipv4_wildcard_skips_ipv6_only_interface() -> None:
    v6only = Interface("tun0", is_up=True, addresses=("2001:db8:1::1",))
    assert interfaces_reaching("0.0.0.0", (*INTERFACES, v6only)) == ("lo", "eth0", "wlan0")


def test_reaching_ipv6_wildcard_is_every_up_interface_with_any_address() -> None:
    bare = Interface("dummy0", is_up=True, addresses=())
    assert interfaces_reaching("::", (*INTERFACES, bare)) == ("lo", "eth0", "wlan0")


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.1.1", "127.255.255.254", "::1"])
def test_reaching_loopback_only_lo(address: str) -> None:
    assert interfaces_reaching(address, INTERFACES) == ("lo",)


def test_reaching_loopback_decided_by_network_not_by_held_address() -> None:
    # lo only holds 127.0.0.1, but all of 127.0.0.0/8 is routed to it.
    assert "127.0.1.1" not in LO.addresses
    assert interfaces_reaching("127.0.1.1", INTERFACES) == ("lo",)


def test_reaching_loopback_when_lo_down_is_nothing() -> None:
    lo_down = Interface("lo", is_up=False, addresses=LO.addresses, is_loopback=True)
    assert interfaces_reaching("127.0.0.1", (lo_down, ETH0)) == ()


@pytest.mark.parametrize("address", ["192.168.1.100", "2001:db8::5", "::ffff:192.168.1.100"])
def test_reaching_specific_address_only_its_interface(address: str) -> None:
    assert interfaces_reaching(address, INTERFACES) == ("eth0",)


def test_reaching_wlan_address() -> None:
    assert interfaces_reaching("10.0.0.7", INTERFACES) == ("wlan0",)


@pytest.mark.parametrize("address", ["fe80::1%eth0", "fe80::1"])
def test_reaching_link_local_with_or_without_zone(address: str) -> None:
    assert interfaces_reaching(address, INTERFACES) == ("eth0",)


def test_reaching_link_local_with_other_zone_is_nothing() -> None:
    assert interfaces_reaching("fe80::1%wlan0", INTERFACES) == ()


def test_reaching_address_on_down_interface_is_nothing() -> None:
    assert interfaces_reaching("172.17.0.1", INTERFACES) == ()


@pytest.mark.parametrize("address", ["192.168.1.101", "2001:db8::6", "fe80::2%eth0", "8.8.8.8"])
def test_reaching_address_no_interface_holds_is_nothing(address: str) -> None:
    assert interfaces_reaching(address, INTERFACES) == ()


def test_reaching_ignores_unparsable_interface_addresses() -> None:
    odd = Interface("odd0", is_up=True, addresses=("garbage", "192.168.9.9"))
    assert interfaces_reaching("192.168.9.9", (odd,)) == ("odd0",)
    garbage_only = Interface("odd1", is_up=True, addresses=("garbage",))
    assert interfaces_reaching("::", (garbage_only,)) == ()


@given(st.ip_addresses(network="127.0.0.0/8"))
def test_reaching_property_any_127_8_reaches_only_lo(ip: ipaddress.IPv4Address) -> None:
    assert interfaces_reaching(str(ip), INTERFACES) == ("lo",)


# --- choose_lan ---------------------------------------------------------------------------------


def test_choose_lan_prefers_default_route_interface() -> None:
    lan = choose_lan(snapshot(default_route_interfaces=("wlan0",)))
    # wlan0 holds the default route: its IPv4; it has no IPv6, so eth0's global IPv6.
    assert lan == {4: "10.0.0.7", 6: "2001:db8::5"}


def test_choose_lan_without_default_route_takes_first_up_non_loopback() -> None:
    assert choose_lan(snapshot()) == {4: "192.168.1.100", 6: "2001:db8::5"}


def test_choose_lan_default_route_order_matters() -> None:
    lan = choose_lan(snapshot(default_route_interfaces=("wlan0", "eth0")))
    assert lan[4] == "10.0.0.7"
    lan = choose_lan(snapshot(default_route_interfaces=("eth0", "wlan0")))
    assert lan[4] == "192.168.1.100"


def test_choose_lan_unknown_default_route_name_is_ignored() -> None:
    assert choose_lan(snapshot(default_route_interfaces=("ppp0",))) == {
        4: "192.168.1.100",
        6: "2001:db8::5",
    }


def test_choose_lan_skips_down_default_route_interface() -> None:
    lan = choose_lan(snapshot(default_route_interfaces=("docker0",)))
    assert lan[4] == "192.168.1.100"


def test_choose_lan_never_link_local_or_loopback() -> None:
    link_local_only = Interface("eth1", is_up=True, addresses=("169.254.3.4", "fe80::9%eth1"))
    lan = choose_lan(snapshot(interfaces=(LO, link_local_only), default_route_interfaces=("eth1",)))
    assert lan == {}


def test_choose_lan_skips_link_local_before_global_on_same_interface() -> None:
    eth = Interface(
        "eth0", is_up=True, addresses=("169.254.3.4", "10.1.1.1", "fe80::1%eth0", "fd00::1")
    )
    assert choose_lan(snapshot(interfaces=(eth,))) == {4: "10.1.1.1", 6: "fd00::1"}


def test_choose_lan_only_loopback_is_empty() -> None:
    assert choose_lan(snapshot(interfaces=(LO,))) == {}
    assert choose_lan(snapshot(interfaces=(LO,), default_route_interfaces=("lo",))) == {}


def test_choose_lan_no_interfaces_is_empty() -> None:
    assert choose_lan(snapshot(interfaces=())) == {}


def test_choose_lan_ipv4_mapped_interface_address_is_ipv4() -> None:
    eth = Interface("eth0", is_up=True, addresses=("::ffff:192.168.5.5",))
    assert choose_lan(snapshot(interfaces=(eth,))) == {4: "192.168.5.5"}


_interface_strategy = st.builds(
    Interface,
    name=st.sampled_from(["lo", "eth0", "eth1", "wlan0", "docker0"]),
    is_up=st.booleans(),
    addresses=st.lists(st.ip_addresses().map(str), max_size=4).map(tuple),
    is_loopback=st.booleans(),
)


@given(
    st.lists(_interface_strategy, max_size=5).map(tuple),
    st.lists(st.sampled_from(["lo", "eth0", "eth1", "wlan0", "ppp0"]), max_size=2).map(tuple),
)
def test_choose_lan_property_only_usable_addresses_of_up_non_loopback_interfaces(
    interfaces: tuple[Interface, ...], default_route: tuple[str, ...]
) -> None:
    lan = choose_lan(snapshot(interfaces=interfaces, default_route_interfaces=default_route))
    usable = {
        str(unmapped(ipaddress.ip_address(a)))
        for i in interfaces
        if i.is_up and not i.is_loopback
        for a in i.addresses
    }
    assert set(lan) <= {4, 6}
    for family, text in lan.items():
        ip = ipaddress.ip_address(text)
        assert ip.version == family
        assert not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)
        assert text in usable


# --- validate_lan -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.100", {4: "192.168.1.100"}),
        ("10.0.0.7", {4: "10.0.0.7"}),
        ("2001:db8::5", {6: "2001:db8::5"}),
        ("2001:0db8:0:0:0:0:0:5", {6: "2001:db8::5"}),
        (" 192.168.1.100 ", {4: "192.168.1.100"}),
        ("::ffff:192.168.1.100", {4: "192.168.1.100"}),
    ],
)
def test_validate_lan_accepts_own_address(text: str, expected: dict[int, str]) -> None:
    assert validate_lan(text, INTERFACES) == expected


@pytest.mark.parametrize("text", ["banana", "192.168.1", "192.168.1.100/24", "eth0"])
def test_validate_lan_rejects_non_ip(text: str) -> None:
    with pytest.raises(ValueError, match="not an IP address") as info:
        validate_lan(text, INTERFACES)
    assert text in str(info.value)


@pytest.mark.parametrize("text", ["127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1"])
def test_validate_lan_rejects_loopback(text: str) -> None:
    with pytest.raises(ValueError, match="loopback") as info:
        validate_lan(text, INTERFACES)
    assert text in str(info.value)


@pytest.mark.parametrize("text", ["0.0.0.0", "::"])
def test_validate_lan_rejects_wildcard(text: str) -> None:
    with pytest.raises(ValueError, match="wildcard") as info:
        validate_lan(text, INTERFACES)
    assert text in str(info.value)


@pytest.mark.parametrize("text", ["fe80::1", "fe80::1%eth0", "fe80::2"])
def test_validate_lan_rejects_link_local(text: str) -> None:
    with pytest.raises(ValueError, match="link-local") as info:
        validate_lan(text, INTERFACES)
    assert text in str(info.value)


def test_resolve_lan_overrides_one_family_and_keeps_the_other() -> None:
    snapshot = Snapshot("h", INTERFACES, (), 0.0, default_route_interfaces=("eth0",))
    assert resolve_lan(snapshot) == {4: "192.168.1.100", 6: "2001:db8::5"}
    assert resolve_lan(snapshot, ["10.0.0.7"]) == {4: "10.0.0.7", 6: "2001:db8::5"}
    with pytest.raises(ValueError, match="twice"):
        resolve_lan(snapshot, ["10.0.0.7", "192.168.1.100"])


@pytest.mark.parametrize("text", ["192.168.1.101", "8.8.8.8", "2001:db8::6"])
def test_validate_lan_rejects_address_not_on_any_interface(text: str) -> None:
    with pytest.raises(ValueError, match="not an address of this machine") as info:
        validate_lan(text, INTERFACES)
    assert text in str(info.value)


def test_validate_lan_rejects_everything_with_only_lo() -> None:
    with pytest.raises(ValueError, match="not an address of this machine") as info:
        validate_lan("192.168.1.100", (LO,))
    assert "192.168.1.100" in str(info.value)


# --- probe_targets ------------------------------------------------------------------------------

LAN_BOTH = {4: "192.168.1.100", 6: "2001:db8::5"}
LAN_V4 = {4: "192.168.1.100"}


def test_targets_ipv4_wildcard() -> None:
    assert probe_targets(listener("0.0.0.0"), LAN_BOTH) == [
        (Via.LOOPBACK, "127.0.0.1"),
        (Via.LAN, "192.168.1.100"),
    ]


def test_targets_ipv6_wildcard_tries_both_families() -> None:
    assert probe_targets(listener("::"), LAN_BOTH) == [
        (Via.LOOPBACK, "::1"),
        (Via.LOOPBACK, "127.0.0.1"),
        (Via.LAN, "2001:db8::5"),
        (Via.LAN, "192.168.1.100"),
    ]


def test_targets_ipv6_wildcard_without_v6_lan() -> None:
    assert probe_targets(listener("::"), LAN_V4) == [
        (Via.LOOPBACK, "::1"),
        (Via.LOOPBACK, "127.0.0.1"),
        (Via.LAN, "192.168.1.100"),
    ]


def test_targets_ipv4_mapped_wildcard_is_ipv4_only() -> None:
    assert probe_targets(listener("::ffff:0.0.0.0"), LAN_BOTH) == [
        (Via.LOOPBACK, "127.0.0.1"),
        (Via.LAN, "192.168.1.100"),
    ]


def test_targets_loopback_other_than_127_0_0_1_uses_own_address() -> None:
    targets = probe_targets(listener("127.0.1.1"), {})
    assert targets == [(Via.LOOPBACK, "127.0.1.1")]


def test_targets_loopback_listener_also_probed_on_lan_of_its_family() -> None:
    assert probe_targets(listener("127.0.1.1"), LAN_BOTH) == [
        (Via.LOOPBACK, "127.0.1.1"),
        (Via.LAN, "192.168.1.100"),
    ]


def test_targets_ipv6_loopback_without_v6_lan_is_loopback_only() -> None:
    assert probe_targets(listener("::1"), LAN_V4) == [(Via.LOOPBACK, "::1")]


def test_targets_ipv4_mapped_loopback() -> None:
    assert probe_targets(listener("::ffff:127.0.0.1"), {}) == [(Via.LOOPBACK, "127.0.0.1")]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.168.1.100", [(Via.LOOPBACK, "127.0.0.1"), (Via.LAN, "192.168.1.100")]),
        # the bind address itself, on whichever interface holds it, not the chosen LAN address
        ("10.0.0.7", [(Via.LOOPBACK, "127.0.0.1"), (Via.LAN, "10.0.0.7")]),
        ("2001:db8::5", [(Via.LOOPBACK, "::1"), (Via.LAN, "2001:db8::5")]),
        ("fe80::1%eth0", [(Via.LOOPBACK, "::1"), (Via.LAN, "fe80::1%eth0")]),
    ],
)
def test_targets_specific_address(address: str, expected: list[tuple[Via, str]]) -> None:
    assert probe_targets(listener(address), LAN_BOTH) == expected


def test_targets_no_lan_is_loopback_only() -> None:
    assert probe_targets(listener("0.0.0.0"), {}) == [(Via.LOOPBACK, "127.0.0.1")]


@given(st.ip_addresses())
def test_targets_property_loopback_first_and_lan_from_map(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    targets = probe_targets(listener(str(ip)), LAN_BOTH)
    vias = [via for via, _ in targets]
    assert vias[0] is Via.LOOPBACK
    assert vias == sorted(vias, key=lambda v: v is Via.LAN)
    for via, target in targets:
        if via is Via.LOOPBACK:
            assert ipaddress.ip_address(target).is_loopback
        elif scope_of(str(ip)) is Scope.SPECIFIC_INTERFACE:
            assert target == str(parse_address(str(ip)))  # probed at its own bind address
        else:
            assert target in LAN_BOTH.values()


@given(
    st.ip_addresses(),
    st.integers(min_value=1, max_value=65535),
    st.sampled_from(["", "eth0", "wlan0", "v0"]),
)
def test_probe_urls_bracket_ipv6_and_keep_zones(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, zone: str
) -> None:
    import httpx

    from netdash.probe.engine import build_url

    host = str(ip) + (f"%{zone}" if zone and ip.version == 6 else "")
    url = build_url("http", host, port)
    parsed = httpx.URL(url)
    assert parsed.port == port or (port == 80 and parsed.port is None)
    assert parsed.path == "/"
    if ip.version == 6:
        assert url.startswith("http://[")
        assert ipaddress.ip_address(parsed.host) == ipaddress.ip_address(host)
    else:
        assert parsed.host == host


# --- leader ---------------------------------------------------------------------------------


def _slow_leader(listener: Listener) -> int | None:
    """The rule of ``leader`` spelled out, without its one-holder shortcut."""
    pids = set(listener.pids)
    leaders = [p.pid for p in listener.processes if p.pid is not None and p.ppid not in pids]
    return min(leaders) if leaders else (min(pids) if pids else None)


@given(
    st.lists(
        st.builds(
            Process,
            pid=st.none() | st.integers(1, 40),
            ppid=st.none() | st.integers(0, 40),
        ),
        min_size=1,
        max_size=4,
    ).filter(lambda procs: all(p.pid is None or p.pid != p.ppid for p in procs))
)
def test_leader_follows_its_rule_for_any_holders(processes: list[Process]) -> None:
    """A process is never its own parent; with that, one holder is its own leader."""
    listener = Listener("tcp", "0.0.0.0", 8000, 4, processes=tuple(processes))
    assert leader(listener) == _slow_leader(listener)


@pytest.mark.parametrize("bridge", ["docker0", "br-1a2b3c", "veth12ab", "virbr0", "cni0"])
def test_choose_lan_without_default_route_prefers_a_physical_interface(bridge: str) -> None:
    """Issue 14: with no default route, the LAN address fell back to docker0 because it came
    first; a physical or Wi-Fi interface is preferred, and the reason is given."""
    virtual = Interface(bridge, is_up=True, addresses=("172.17.0.1",))
    wifi = Interface("wlp2s0", is_up=True, addresses=("192.168.1.23",))
    lan, why = choose_lan_explained(snapshot(interfaces=(LO, virtual, wifi)))
    assert lan == {4: "192.168.1.23"}
    assert why[4].startswith("wlp2s0 (no default route")
    lan, why = choose_lan_explained(snapshot(interfaces=(LO, virtual)))
    assert lan == {4: "172.17.0.1"}
    assert why[4] == f"{bridge}, a virtual interface: no other holds an address"
    lan, why = choose_lan_explained(
        snapshot(interfaces=(LO, virtual, wifi), default_route_interfaces=(bridge,))
    )
    assert lan == {4: "172.17.0.1"}  # the default route decides when there is one
    assert why[4] == f"{bridge}, the interface of the default route"
