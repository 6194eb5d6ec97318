"""``netdash list`` and ``check`` with the firewall read (issue 13), against rulesets applied
with the real ``nft`` in the test namespace: a wide listener the firewall drops is
``shielded`` and names the rule; ``check`` passes on it and fails on it with
``--ignore-firewall``; without root the firewall is not read, said in one line."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ci import require
from tests.support.cli import run_cli
from tests.support.servers import free_port

READ = {"NETDASH_IGNORE_FIREWALL": "0"}


@contextlib.contextmanager
def holding_under(port: int, table: str, rules: str) -> Iterator[None]:
    """A holder process listening on 0.0.0.0:``port`` while the nft ``rules`` (which create
    ``inet TABLE``, named by ``table``) are applied; both removed afterwards."""
    require(shutil.which("nft") is not None, "nft is not installed")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.holder", f"tcp|0.0.0.0|{port}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("ready")
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], check=False)
        proc.terminate()
        proc.wait(5)
        proc.stdout.close()


@pytest.fixture
def held() -> Iterator[int]:
    """A TCP listener on 0.0.0.0 (a holder process), and an nft ruleset dropping every new
    TCP connection from every interface but loopback (other tests' servers may listen in the
    namespace too: all of them are shielded); removed afterwards."""
    port = free_port("0.0.0.0")
    rules = (
        "table inet guard {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
        '  iifname != "lo" tcp dport != 9 drop comment "lan guard"\n }\n}\n'
    )
    with holding_under(port, "guard", rules):
        yield port


def test_list_json_names_the_rule_that_shields_a_wide_listener(held: int) -> None:
    result = run_cli("list", "--json", **READ)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 3 and doc["firewall"]["read"] is True
    (mine,) = [li for li in doc["listeners"] if li["port"] == held]
    assert mine["verdict"] == "shielded"
    (v0,) = [r for r in mine["reach"] if r["interface"] == "v0"]
    assert v0["outcome"] == "blocked" and v0["ruleset"] == "nft"
    assert v0["rule"]["table"] == "inet guard" and v0["rule"]["chain"] == "input"
    assert 'comment "lan guard"' in v0["rule"]["text"]


def test_check_passes_on_shielded_and_fails_with_ignore_firewall(held: int) -> None:
    shielded = run_cli("check", **READ)
    assert shielded.returncode == 0, shielded.stdout + shielded.stderr
    assert f"0.0.0.0:{held}" in shielded.stdout
    assert "the firewall drops it on v0" in shielded.stdout
    bind_only = run_cli("check", "--ignore-firewall", **READ)
    assert bind_only.returncode == 1, bind_only.stdout
    assert f"0.0.0.0:{held}" in bind_only.stdout


def test_without_root_the_firewall_is_not_read(held: int) -> None:
    require(shutil.which("setpriv") is not None, "setpriv is not installed")
    ignored = run_cli("list", "--json", "--ignore-firewall", **READ)
    assert json.loads(ignored.stdout)["firewall"]["ignored"] is True
    done = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "netdash",
            "list",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={
            "PATH": "/usr/sbin:/usr/bin:/bin",
            "NETDASH_CONFIG": "/dev/null",
            "PYTHONPATH": _pythonpath(),
        },
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["firewall"] == {
        "read": False,
        "ignored": False,
        "reason": "firewall not read: run with sudo to see what reaches each port",
        "tools": [],
        "rules": 0,
    }
    (mine,) = [li for li in doc["listeners"] if li["port"] == held]
    assert mine["verdict"] == "exposed-unverified" and mine["reach"] == []


def _pythonpath() -> str:
    import netdash

    return str(Path(netdash.__file__).resolve().parent.parent)


def test_a_drop_of_the_local_subnet_only_is_no_shield() -> None:
    """Break-it pass: 'ip saddr 198.18.0.0/24 drop' made the listener shielded and check OK,
    while a client routed in from another network (203.0.113.5 behind 198.18.0.2) connected.
    A source beyond the interface's network is evaluated too: the listener is exposed."""
    port = free_port("0.0.0.0")
    rules = (
        "table inet subnet {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
        f"  ip saddr 198.18.0.0/24 tcp dport {port} drop\n }}\n}}\n"
    )
    with holding_under(port, "subnet", rules):
        doc = json.loads(run_cli("list", "--json", **READ).stdout)
        check = run_cli("check", **READ)
    (mine,) = [li for li in doc["listeners"] if li["port"] == port]
    assert mine["verdict"] == "exposed"
    (v0,) = [r for r in mine["reach"] if r["interface"] == "v0"]
    assert v0["outcome"] == "blocked"  # from the LAN itself
    assert [x["outcome"] for x in v0["exceptions"]] == ["open"]  # routed from elsewhere
    assert "routed from other networks" in v0["exceptions"][0]["source"]
    assert check.returncode == 1


def test_a_drop_of_one_destination_address_is_no_shield_on_a_weak_host() -> None:
    """Break-it pass: 'ip daddr 198.18.0.1 drop' made a 0.0.0.0 listener shielded while a
    phone on v0 connected to 10.9.9.9, the address of a bridge with no carrier (Linux
    accepts a packet for any of its addresses on any interface): it is exposed."""
    port = free_port("0.0.0.0")
    rules = (
        "table inet weakhost {\n chain input {\n"
        "  type filter hook input priority 0; policy accept;\n"
        f"  ip daddr 198.18.0.1 tcp dport {port} drop\n }}\n}}\n"
    )
    subprocess.run(["ip", "link", "add", "nd9", "type", "veth", "peer", "name", "nd9p"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.9.9.9/24", "dev", "nd9"], check=True)
        subprocess.run(["ip", "link", "set", "nd9", "up"], check=True)  # peer down: no carrier
        with holding_under(port, "weakhost", rules):
            doc = json.loads(run_cli("list", "--json", **READ).stdout)
    finally:
        subprocess.run(["ip", "link", "delete", "nd9"], check=False)
    (mine,) = [li for li in doc["listeners"] if li["port"] == port]
    assert mine["verdict"] == "exposed"
    (v0,) = [r for r in mine["reach"] if r["interface"] == "v0"]
    assert v0["outcome"] == "open" and v0["address"] == "10.9.9.9"
    assert not [r for r in mine["reach"] if r["interface"] == "nd9"]  # nothing arrives there
