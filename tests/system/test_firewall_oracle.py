"""The kernel is the oracle: netdash's reach verdict for the LAN interface must equal what a
"phone" on that LAN gets (issue 13).

Real rulesets are applied with the real tools (nft, iptables-nft, iptables-legacy, ufw in a
mount-namespace sandbox) inside the test network namespace; the phone (tests/support/phone.py)
sits in a second namespace on the far side of the veth and connects to listeners on 0.0.0.0,
::, the LAN address and 127.0.0.1, over TCP and UDP (to echo servers). netdash reads the
ruleset with :func:`netdash.sources.firewall.read_ruleset` and evaluates it with
:func:`netdash.core.reach.reach` for the phone's address (its exception by source prefix, when
one covers it). A cell agrees when the phone connected and netdash says ``open``, or the phone
did not and netdash says ``blocked`` or ``not-bound-there``. A ruleset netdash cannot evaluate
must give ``unknown`` for the cells it decides.

``NETDASH_ORACLE_MATRIX=PATH`` writes the matrix there (and prints it with ``-s``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from netdash.core.reach import BLOCKED, NOT_BOUND_THERE, OPEN, UNKNOWN, NetInterface, reach
from netdash.sources.firewall import read_ruleset
from tests.support import ufw as ufw_support
from tests.support.ci import require
from tests.support.netns import LAN_INTERFACE, LAN_V4, LAN_V6
from tests.support.phone import PHONE_V4, PHONE_V6, Phone

PORTS = {"0.0.0.0": 8000, "::": 8001, LAN_V4: 8002, "127.0.0.1": 8003}
NETWORKS = {4: f"{LAN_V4}/24", 6: f"{LAN_V6}/64"}
MATRIX: list[tuple[str, str, str, str, str, str]] = []


@dataclass
class Listeners:
    """TCP listeners and UDP echo servers on each bind address of :data:`PORTS`."""

    sockets: list[socket.socket]
    stop: threading.Event

    def close(self) -> None:
        self.stop.set()
        for s in self.sockets:
            s.close()


def _listeners() -> Listeners:
    socks: list[socket.socket] = []
    udp: list[socket.socket] = []
    for address, port in PORTS.items():
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind((address, port))
            if kind == socket.SOCK_STREAM:
                s.listen(64)
            else:
                udp.append(s)
            socks.append(s)
    stop = threading.Event()

    def echo() -> None:
        import select

        while not stop.is_set():
            try:
                ready, _, _ = select.select(udp, [], [], 0.2)
            except (OSError, ValueError):
                return
            for s in ready:
                try:
                    data, peer = s.recvfrom(64)
                    s.sendto(data, peer)
                except OSError:
                    pass

    threading.Thread(target=echo, daemon=True).start()
    return Listeners(socks, stop)


def _sh(*commands: str) -> None:
    for c in commands:
        subprocess.run(c, shell=True, check=True, capture_output=True, text=True)


def _flush() -> None:
    _sh("nft flush ruleset")
    if shutil.which("iptables-legacy") and Path("/proc/net/ip_tables_names").read_text().strip():
        for tool in ("iptables-legacy", "ip6tables-legacy"):
            for table in ("filter", "nat"):
                subprocess.run(
                    f"{tool} -t {table} -F; {tool} -t {table} -X",
                    shell=True,
                    check=False,
                    capture_output=True,
                )
            subprocess.run(f"{tool} -P INPUT ACCEPT", shell=True, check=False, capture_output=True)


def _nft(text: str) -> Callable[[], None]:
    # nft wants a newline (or ";") after a chain's closing brace
    text = re.sub(r"\}\s+(?=\}|chain)", "}\n", text)

    def apply() -> None:
        subprocess.run(["nft", "-f", "-"], input=text, check=True, capture_output=True, text=True)

    return apply


def _cmds(*commands: str) -> Callable[[], None]:
    return lambda: _sh(*commands)


RULESETS: dict[str, Callable[[], None]] = {
    "none": lambda: None,
    "nft policy drop, allow 8000": _nft(
        "table inet t { chain input { type filter hook input priority 0; policy drop;"
        " iif lo accept; tcp dport 8000 accept; udp dport 8000 accept; } }"
    ),
    "nft drop iifname v0": _nft(
        'table inet t { chain input { type filter hook input priority 0; iifname "v0" drop; } }'
    ),
    "nft drop saddr, phone inside": _nft(
        "table inet t { chain input { type filter hook input priority 0;"
        " ip saddr 198.18.0.0/30 drop; ip6 saddr 2001:db8::/126 drop; } }"
    ),
    "nft drop saddr, phone outside": _nft(
        "table inet t { chain input { type filter hook input priority 0;"
        " ip saddr 198.18.0.4/30 drop; ip6 saddr 2001:db8::4/126 drop; } }"
    ),
    "nft ct established,related then drop": _nft(
        "table inet t { chain input { type filter hook input priority 0;"
        " ct state established,related accept; iif lo accept; drop; } }"
    ),
    "nft reject 8000 and 8002": _nft(
        "table inet t { chain input { type filter hook input priority 0;"
        " tcp dport { 8000, 8002 } reject; udp dport { 8000, 8002 } reject; } }"
    ),
    "nft verdict map": _nft(
        "table inet t { chain input { type filter hook input priority 0; policy drop;"
        " iif lo accept; tcp dport vmap { 8000 : accept, 8001 : accept, 8002 : drop };"
        " udp dport vmap { 8001 : accept }; } }"
    ),
    "nft jump into a chain that returns": _nft(
        "table inet t { chain uc { tcp dport 8000 return; udp dport 8000 return; accept; }"
        " chain input { type filter hook input priority 0; policy drop; iif lo accept; jump uc; } }"
    ),
    "iptables-nft": _cmds(
        "iptables-nft -P INPUT DROP",
        "iptables-nft -A INPUT -i lo -j ACCEPT",
        "iptables-nft -A INPUT -p tcp --dport 8001 -j ACCEPT",
        "iptables-nft -A INPUT -p udp -m multiport --dports 8001,8002 -j ACCEPT",
        "ip6tables-nft -A INPUT -p tcp --dport 8001 -j REJECT",
    ),
    "iptables-legacy": _cmds(
        "iptables-legacy -A INPUT -s 198.18.0.2/32 -p tcp --dport 8000 -j DROP",
        "iptables-legacy -A INPUT -p tcp -m multiport --dports 8001,8002 -j REJECT",
        "iptables-legacy -A INPUT -p udp --dport 8000:8001 -j DROP",
        "ip6tables-legacy -A INPUT -p tcp --dport 8001 -j DROP",
    ),
    "unevaluable rule (meta mark)": _nft(
        "table inet t { chain input { type filter hook input priority 0;"
        " meta mark 0 tcp dport 8000 drop; } }"
    ),
    "unevaluable reverse-path filter": _nft(
        "table inet t { chain pre { type filter hook prerouting priority -150;"
        " fib saddr . iif oif missing drop; } }"
    ),
}
UFW_STEPS = {
    "ufw default deny incoming": [("--force", "enable"), ("default", "deny", "incoming")],
    "ufw allow 8000/tcp": [("allow", "8000/tcp")],
    f"ufw insert 1 deny from {PHONE_V4}": [("insert", "1", "deny", "from", PHONE_V4)],
}
UNEVALUABLE = {
    "unevaluable rule (meta mark)": {("tcp", "0.0.0.0", LAN_V4)},
    # every cell a listener answers: the rp filter would drop a spoofed source only
    "unevaluable reverse-path filter": {
        (proto, bind, target)
        for proto in ("tcp", "udp")
        for bind, target in (
            ("0.0.0.0", LAN_V4),
            ("::", LAN_V4),
            ("::", LAN_V6),
            (LAN_V4, LAN_V4),
        )
    },
}


@pytest.fixture(scope="module")
def lab() -> Iterator[Phone]:
    require(os.geteuid() == 0, "the oracle needs root (network namespaces, nft)")
    for tool in ("nft", "nsenter", "unshare", "iptables-nft", "iptables-legacy"):
        require(shutil.which(tool) is not None, f"{tool} is not installed")
    listeners = _listeners()
    phone = Phone()
    try:
        yield phone
    finally:
        phone.close()
        listeners.close()
        _flush()
        _write_matrix()


def _targets() -> list[tuple[str, str, str]]:
    """(protocol, bind address, target address the phone uses)."""
    out = []
    for proto in ("tcp", "udp"):
        for bind in PORTS:
            out.append((proto, bind, LAN_V4))
            if bind == "::":
                out.append((proto, bind, LAN_V6))
    return out


def _netdash(proto: str, bind: str, target: str) -> tuple[str, str]:
    rs = read_ruleset()
    net = NETWORKS[6 if ":" in target else 4]
    iface = NetInterface(LAN_INTERFACE, (ipaddress.ip_interface(f"{target}/{net.split('/')[1]}"),))
    (r,) = reach(rs, proto, bind, PORTS[bind], [iface], dual_stack=True)
    phone = ipaddress.ip_address(PHONE_V6 if ":" in target else PHONE_V4)
    covering = [e for e in r.exceptions if phone in ipaddress.ip_network(e.source)]
    if covering:
        best = max(covering, key=lambda e: ipaddress.ip_network(e.source).prefixlen)
        return best.decision.outcome, best.decision.reason
    reason = r.decision.reason if r.decision is not None else ""
    return r.outcome, reason


def _check(phone: Phone, name: str) -> None:
    targets = _targets()
    kernel = phone.reach([(p, t, PORTS[b]) for p, b, t in targets])
    wrong = []
    unknown_expected = UNEVALUABLE.get(name, set())
    for (proto, bind, target), connected in zip(targets, kernel, strict=True):
        outcome, reason = _netdash(proto, bind, target)
        if (proto, bind, target) in unknown_expected:
            agree = outcome == UNKNOWN
            cell = "unknown (as it must)" if agree else f"WRONG: {outcome}"
        else:
            agree = (outcome == OPEN) == connected and outcome in (OPEN, BLOCKED, NOT_BOUND_THERE)
            cell = "agree" if agree else "DISAGREE"
        kernel_word = "connected" if connected else "no"
        MATRIX.append((name, f"{proto} {bind}", target, kernel_word, outcome, cell))
        if not agree:
            wrong.append(
                f"{proto} {bind}:{PORTS[bind]} via {target}: kernel {kernel_word}, "
                f"netdash {outcome} ({reason})"
            )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", list(RULESETS))
def test_oracle(lab: Phone, name: str) -> None:
    _flush()
    RULESETS[name]()
    try:
        _check(lab, name)
    finally:
        _flush()


def test_oracle_ufw(lab: Phone) -> None:
    require(ufw_support.available() is None, f"ufw cannot run: {ufw_support.available()}")
    _flush()
    sandbox = ufw_support.UfwSandbox()
    try:
        for name, steps in UFW_STEPS.items():
            for args in steps:
                sandbox.run(*args)
            _check(lab, name)
    finally:
        sandbox.close()
        _flush()


def _write_matrix() -> None:
    path = os.environ.get("NETDASH_ORACLE_MATRIX")
    if not path or not MATRIX:
        return
    agree = sum(1 for row in MATRIX if row[5] in ("agree", "unknown (as it must)"))
    widths = [max(len(r[i]) for r in MATRIX) for i in range(6)]
    head = ("ruleset", "listener", "phone to", "kernel", "netdash", "cell")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in MATRIX]
    lines.append(f"{agree}/{len(MATRIX)} cells agree")
    text = "\n".join(lines) + "\n"
    Path(path).write_text(text)
    print("\n" + text)
