"""`netdash who PORT` and `netdash free [PORT]` against sockets the tests hold themselves."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from netdash.output.labels import program_name
from netdash.sources.freeport import ADDRESSES, COMMON_PORTS, port_state, suggest_ports
from netdash.sources.processes import ProcessCache
from tests.support import netns
from tests.support.cli import run_cli
from tests.support.servers import bound_socket, close_listening, free_port

pytestmark = pytest.mark.netns


@contextlib.contextmanager
def holding(*sockets: socket.socket) -> Iterator[None]:
    try:
        yield
    finally:
        for s in sockets:
            close_listening(s)


def test_who_names_program_pid_addresses_scope_and_verdict(servers) -> None:  # type: ignore[no-untyped-def]
    port = free_port("0.0.0.0")
    wide = bound_socket("0.0.0.0", port)
    narrow = bound_socket("::1", port)
    with holding(wide, narrow):
        result = run_cli("who", str(port))
    assert result.returncode == 0, result.stderr
    process, _ = ProcessCache().get(os.getpid())
    assert process is not None
    me = f"{program_name(process)} (pid {os.getpid()}, user root)"
    assert result.stdout.splitlines() == [
        f"tcp {port}: {me} on 0.0.0.0, all-interfaces, exposed-unverified",
        f"tcp {port}: {me} on ::1, loopback, local-only",
    ]


def test_who_probe_and_json(servers) -> None:  # type: ignore[no-untyped-def]
    uv = servers["uvicorn_any"]
    text = run_cli("who", str(uv.port), "--probe")
    assert text.returncode == 0, text.stderr
    assert "exposed; loopback http 200, LAN http 200, FastAPI (uvicorn)" in text.stdout
    assert f"pid {uv.pid}" in text.stdout
    result = run_cli("who", str(uv.port), "--json")
    doc = json.loads(result.stdout)
    assert doc["port"] == uv.port
    assert [(li["address"], li["verdict"]) for li in doc["listeners"]] == [
        ("0.0.0.0", "exposed-unverified")
    ]
    assert doc["listeners"][0]["processes"][0]["pid"] == uv.pid


def test_who_includes_udp_and_exits_1_when_nothing_listens() -> None:
    port = free_port("127.0.0.1")
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
        udp.bind((netns.LAN_V6, port))
        result = run_cli("who", str(port))
        assert result.returncode == 0
        assert f"udp {port}:" in result.stdout
        assert "specific-interface, exposed-unverified" in result.stdout
    nothing = run_cli("who", str(port))
    assert nothing.returncode == 1
    assert nothing.stdout == f"nothing listens on port {port} (TCP or UDP)\n"
    empty = run_cli("who", str(port), "--json")
    assert empty.returncode == 1
    assert json.loads(empty.stdout)["listeners"] == []


@pytest.mark.parametrize("bad", ["0", "65536", "http"])
def test_who_and_free_reject_bad_ports(bad: str) -> None:
    for command in ("who", "free"):
        result = run_cli(command, bad)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert "port" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "0.0.0.0", "::", netns.LAN_V4])
def test_a_port_held_on_any_address_is_taken(address: str) -> None:
    port = free_port(address)
    held = bound_socket(address, port)
    with holding(held):
        state = port_state(port)
        assert not state.free
        assert state.taken_on  # and the socket really is still ours to hold
        result = run_cli("free", str(port))
    assert result.returncode == 1
    first, *rest = result.stdout.splitlines()
    assert first.startswith(f"{port}/tcp is taken on ")
    holder = "[::]" if address == "::" else (f"[{address}]" if ":" in address else address)
    assert any(line.startswith("  held by ") and f"{holder}:{port}" in line for line in rest)
    suggested = [int(p) for p in rest[-1].removeprefix("free: ").split()]
    assert len(suggested) == 3
    assert all(p > port for p in suggested)
    for p in suggested:
        assert port_state(p).free
    # Released at once: the port is free again as soon as we let go.
    assert port_state(port).free


def test_specific_v6_only_socket_blocks_its_own_address_and_the_dual_wildcard() -> None:
    port = free_port("::1")
    held = bound_socket("::1", port, v6only=True)
    with holding(held):
        states = {a.address: a.state for a in port_state(port).addresses}
    assert states == {"127.0.0.1": "free", "::1": "in-use", "0.0.0.0": "free", "::": "in-use"}


def test_free_port_is_free_everywhere_and_exit_0() -> None:
    port = free_port("0.0.0.0")
    result = run_cli("free", str(port))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{port}/tcp is free on {', '.join(ADDRESSES)}\n"
    # netdash let go: we can bind it on every address ourselves.
    for address in ADDRESSES:
        close_listening(bound_socket(address, port))


def test_free_without_port_prefers_common_dev_ports() -> None:
    blocker = bound_socket("0.0.0.0", COMMON_PORTS[0])
    with holding(blocker):
        result = run_cli("free", "--count", "3")
        assert suggest_ports(1) == [COMMON_PORTS[1]]
    assert result.returncode == 0
    assert result.stdout.split() == [str(p) for p in COMMON_PORTS[1:4]]
    one = run_cli("free")
    assert one.stdout == f"{COMMON_PORTS[0]}\n"


def test_free_checks_udp_with_port_slash_udp_or_the_flag(tmp_path: Path) -> None:
    """Issue 14: `free` checked TCP only and refused --config."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    with contextlib.closing(udp):
        assert not port_state(port, protocol="udp").free
        taken = run_cli("free", f"{port}/udp")
        assert taken.returncode == 1, taken.stderr
        first, *rest = taken.stdout.splitlines()
        assert first == f"{port}/udp is taken on 127.0.0.1, 0.0.0.0, ::"
        assert any(line.startswith("  held by ") and f"127.0.0.1:{port}" in line for line in rest)
        assert run_cli("free", "--udp", str(port)).returncode == 1
        if port_state(port).free:  # nothing holds the TCP port of that number
            assert run_cli("free", str(port)).returncode == 0
    config = tmp_path / "netdash.toml"
    config.write_text("interval = 5\n")
    result = run_cli("free", f"{port}/udp", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{port}/udp is free on ")
    bad = run_cli("free", "8000/sctp")
    assert bad.returncode == 2 and "must be tcp or udp" in bad.stderr
    both = run_cli("free", "8000/tcp", "--udp")
    assert both.returncode == 2 and "different protocols" in both.stderr
    # free uses no setting: a config it is given is accepted, not read.
    assert run_cli("free", "--count", "1", "--config", str(tmp_path / "none.toml")).returncode == 0


def test_list_and_who_mark_an_allowed_exposure_as_the_dashboard_and_check_do() -> None:
    """A fresh user: with allow rules the dashboard said '0 exposed, 4 allowed' and check OK,
    while list and who said 'exposed' with no word of the rule. The verdict stays the fact;
    every output says an allow rule accepts it."""
    port = free_port("0.0.0.0")
    wide = bound_socket("0.0.0.0", port)
    with holding(wide):
        listing = run_cli("list", "--json", NETDASH_ALLOW=str(port))
        who = run_cli("who", str(port), NETDASH_ALLOW=str(port))
        check = run_cli("check", "--json", NETDASH_ALLOW=str(port))
    [mine] = [li for li in json.loads(listing.stdout)["listeners"] if li["port"] == port]
    assert (mine["verdict"], mine["allowed_by"]) == ("exposed-unverified", str(port))
    assert f"exposed-unverified (allowed by rule '{port}')" in who.stdout
    assert [g["port"] for g in json.loads(check.stdout)["allowed"]] == [port]
