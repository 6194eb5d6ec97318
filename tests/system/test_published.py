"""A hand-written DNAT (issue 13 item 3, the kernel-oracle's hand-written DNAT cells): no socket
on the host at all, yet netdash lists the published port, its target and the process
listening there, ``check`` fails on it, and a forward-chain drop of the target makes it
blocked. Podman and Kubernetes NodePorts cannot run here; they publish with DNAT rules of the
same kind, which netdash reads generically.

Three namespaces of our own: the "host" (tests/support/nsbox.py, forwarding on, rules applied
with the real ``nft`` there and gone with it), a phone on its LAN ``v0`` (tests/support/
phone.py), and a "container" joined to the host by its own veth (10.99.0.0/24) with a TCP
listener on 0.0.0.0:8000. The phone's connection is the truth; netdash must agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import nsbox
from tests.support.ci import require
from tests.support.phone import Phone
from tests.system.test_json_schema import validator

pytestmark = pytest.mark.netns

HOST_V4 = "198.18.0.1"
TARGET = "10.99.0.2"
DNAT = """
table ip lab_nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "v0" tcp dport 9000 dnat to 10.99.0.2:8000
        iifname "v0" udp dport 9001 dnat to 10.99.0.2:8001
    }
}
"""
FORWARD_DROP = """
table ip lab_filter {
    chain forward {
        type filter hook forward priority filter; policy accept;
        ip daddr 10.99.0.2 drop
    }
}
"""
FORWARD_UNKNOWN = """
table ip lab_filter {
    chain forward {
        type filter hook forward priority filter; policy accept;
        ip daddr 10.99.0.2 meta mark 0x00000007 drop
    }
}
"""


@dataclass
class Lab:
    host: nsbox.Box
    container: nsbox.Box
    server: subprocess.Popen[bytes]
    phone: Phone

    def nft(self, ruleset: str) -> None:
        subprocess.run(
            [*self.host.prefix(mount=False), "nft", "-f", "-"],
            input=ruleset,
            text=True,
            check=True,
            capture_output=True,
        )

    def netdash(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.host.prefix(mount=False), sys.executable, "-m", "netdash", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "NETDASH_CONFIG": "/dev/null",
                "DOCKER_HOST": "unix:///nonexistent.sock",
            },
        )

    def published(self) -> list[dict[str, Any]]:
        result = self.netdash("list", "--json")
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        validator("netdash-list.schema.json").validate(document)
        assert not [li for li in document["listeners"] if li["port"] in (8000, 9000)]
        entries: list[dict[str, Any]] = document["published"]
        return entries

    def phone_reaches(self) -> bool:
        return self.phone.reach([("tcp", HOST_V4, 9000)])[0]


@pytest.fixture
def lab() -> Iterator[Lab]:
    require(nsbox.missing() is None, f"needs extra namespaces: {nsbox.missing()}")
    require(shutil.which("nft") is not None, "nft is not installed (apt-get install nftables)")
    with nsbox.box(forward=True) as host, nsbox.box() as container:
        nsbox.veth(host, "v0", [f"{HOST_V4}/24", "2001:db8::1/64"], host, "v1", [])
        nsbox.veth(host, "vc0", ["10.99.0.1/24"], container, "eth0", [f"{TARGET}/24"])
        container.ip("route", "add", "default", "via", "10.99.0.1")
        server = nsbox.listen(container, 8000)
        nsbox.echo_udp(container, 8001)
        phone = Phone(host=host.pid)
        try:
            yield Lab(host, container, server, phone)
        finally:
            phone.close()


def test_hand_written_dnat_is_listed_with_target_and_process(lab: Lab) -> None:
    assert lab.published() == []  # no DNAT yet: nothing published
    lab.nft(DNAT)
    assert lab.phone_reaches()  # the kernel: open, with no socket on the host
    entry, udp = lab.published()
    assert (entry["interface"], entry["protocol"], entry["port"]) == ("v0", "tcp", 9000)
    assert (entry["target_address"], entry["target_port"]) == (TARGET, 8000)
    assert entry["outcome"] == "open"
    assert entry["host_sockets"] == []
    assert [p["pid"] for p in entry["target_listener"]["processes"]] == [lab.server.pid]
    assert entry["target_listener"]["address"] == "0.0.0.0"
    assert entry["container"] is None
    # UDP: the echo server behind the DNAT answers the phone; netdash says open.
    assert lab.phone.reach([("udp", HOST_V4, 9001)]) == [True]
    assert (udp["protocol"], udp["port"], udp["target_port"], udp["outcome"]) == (
        "udp",
        9001,
        8001,
        "open",
    )
    assert udp["target_listener"]["protocol"] == "udp"
    check = lab.netdash("check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "published: v0:9000/tcp → 10.99.0.2:8000" in check.stdout
    assert f"(pid {lab.server.pid})" in check.stdout
    assert "FAIL: 2 published ports are open" in check.stdout
    # who 9000: nothing on the host, and where the port leads.
    who = lab.netdash("who", "9000")
    assert who.returncode == 0, who.stdout + who.stderr
    assert "nothing listens on port 9000 (TCP or UDP)" in who.stdout
    assert f"published: v0:9000/tcp → 10.99.0.2:8000 (python (pid {lab.server.pid}))" in who.stdout
    who_json = json.loads(lab.netdash("who", "9000", "--json").stdout)
    validator("netdash-list.schema.json").validate(who_json)
    assert [p["port"] for p in who_json["published"]] == [9000]
    # The other namespace's listener is the one a published port leads to.
    document = json.loads(lab.netdash("list", "--json", "--namespaces").stdout)
    inode = os.stat(f"/proc/{lab.container.pid}/ns/net").st_ino
    [namespace] = [ns for ns in document["namespaces"] if ns["inode"] == inode]
    [listener] = [li for li in namespace["listeners"] if li["port"] == 8000]
    assert listener["exposure"] == "published"


def test_forward_drop_of_the_target_blocks_it(lab: Lab) -> None:
    lab.nft(DNAT)
    lab.nft(FORWARD_DROP)
    assert not lab.phone_reaches()  # the kernel: dropped
    [entry] = [e for e in lab.published() if e["protocol"] == "tcp"]
    assert entry["outcome"] == "blocked"
    assert "drop" in entry["rule"] and "10.99.0.2" in entry["rule"]
    check = lab.netdash("check")
    assert check.returncode == 0, check.stdout + check.stderr  # blocked: not a finding


def test_a_forward_rule_netdash_cannot_evaluate_gives_unknown(lab: Lab) -> None:
    lab.nft(DNAT)
    lab.nft(FORWARD_UNKNOWN)
    assert lab.phone_reaches()  # the kernel: the mark is 0, nothing drops it
    [entry] = [e for e in lab.published() if e["protocol"] == "tcp"]
    assert entry["outcome"] == "unknown", entry  # never a wrong "blocked"
    assert "mark" in (entry["rule"] or ""), entry["rule"]


def test_a_host_that_does_not_forward_blocks_it(lab: Lab) -> None:
    lab.nft(DNAT)
    lab.host.run("sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward", mount=False)
    assert not lab.phone_reaches()  # the kernel: not routed, dropped
    [entry] = [e for e in lab.published() if e["protocol"] == "tcp"]
    assert entry["outcome"] == "blocked"
    assert "net.ipv4.ip_forward is 0" in entry["rule"]


def test_a_dnat_in_a_native_table_named_ip_nat(lab: Lab) -> None:
    """iptables-nft-save prints a made-up, empty view of any table named ``ip nat``: a native
    one's chains must still come from ``nft -j`` (the DNAT was lost before)."""
    lab.nft(DNAT.replace("lab_nat", "nat"))
    assert lab.phone_reaches()
    assert [e["port"] for e in lab.published() if e["protocol"] == "tcp"] == [9000]
