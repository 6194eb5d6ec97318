"""The firewall source's cost (issue 13): reading and evaluating a ruleset of 1,000 rules, and
the idle poll with the ruleset unchanged.

Run as root: ``python -m bench.firewall`` (it re-runs itself inside ``unshare -n``, a private
network namespace, where it applies the rulesets with the real ``nft`` and
``iptables-nft-restore``; nothing of this machine's own firewall changes). Prints one line per
figure (medians over ``--repeat`` runs, milliseconds) and ``--json PATH`` writes them.

Figures:

* ``nft -j``, ``iptables-nft-save``, ``ip6tables-nft-save``: each tool alone (process start
  and netlink dump);
* ``read``: :func:`netdash.sources.firewall.read_ruleset` (the tools and the parsing);
* ``evaluate 20 listeners``: :meth:`netdash.core.reach.FirewallView.reach_of` for 20 wide
  listeners over two interfaces, a fresh view (nothing cached);
* ``change``: a rule added, then one :meth:`FirewallReader.view` (generation check + read)
  and the 20 evaluations: what a dashboard poll pays after a change;
* ``idle poll``: :meth:`FirewallReader.poll` with nothing changed (one ``NFT_MSG_GETGEN``
  round trip), and the number of tool runs it made (must be 0).
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from netdash.core.reach import FirewallView, NetInterface
from netdash.sources.firewall import FirewallReader, _run, read_ruleset

MARKER = "NETDASH_BENCH_FIREWALL_NETNS"
IFACES = (
    NetInterface("lo", (ipaddress.ip_interface("127.0.0.1/8"),), is_loopback=True),
    NetInterface(
        "v0",
        (ipaddress.ip_interface("198.18.0.1/24"), ipaddress.ip_interface("2001:db8::1/64")),
    ),
    NetInterface("v9", (ipaddress.ip_interface("10.9.0.1/16"),)),
)
PORTS = [22, 80, 443, 3000, 5000, 5432, 6379, 8000, 8080, 8443, *range(9000, 9010)]


def nft_rules(count: int) -> str:
    """An ``inet`` table with ``count`` rules: per-source drops, port accepts, sets, a
    verdict map and user chains reached by jumps (the shapes of hand-written rulesets)."""
    lines = [
        "table inet bench {",
        "  set blocked { type ipv4_addr; flags interval; elements = { 203.0.113.0/24 } }",
        "  chain svc { tcp dport 9000-9005 accept; return; }",
    ]
    chains = []
    body = ["    type filter hook input priority 0; policy drop;", "    iif lo accept"]
    body.append("    ct state established,related accept")
    body.append("    ip saddr @blocked drop")
    n = 4
    per_chain = 50
    for c in range((count - 10) // per_chain):
        rules = []
        for i in range(per_chain):
            octet = (c * per_chain + i) % 250 + 1
            port = 20000 + c * per_chain + i
            rules.append(f"    ip saddr 100.{c}.{octet}.0/24 tcp dport {port} drop")
        joined = "\n".join(rules)
        chains.append(f"  chain c{c} {{\n{joined}\n  }}")
        body.append(f'    iifname "v{c % 3}" jump c{c}')
        n += 1 + per_chain
    body.append("    tcp dport vmap { 8000 : accept, 8080 : drop, 5432 : jump svc }")
    body.append("    jump svc")
    while n < count:
        body.append(f"    udp dport {30000 + n} accept")
        n += 1
    lines += chains
    joined = "\n".join(body)
    lines.append(f"  chain input {{\n{joined}\n  }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def iptables_rules(count: int) -> str:
    """``iptables-restore`` text with ``count`` rules in user chains (as ufw and Docker write)."""
    out = ["*filter", ":INPUT ACCEPT [0:0]", ":user-input - [0:0]", "-A INPUT -j user-input"]
    for i in range(count - 1):
        source = f"100.64.{i // 250}.{i % 250 + 1}/32"
        out.append(f"-A user-input -s {source} -p tcp --dport {40000 + i} -j DROP")
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _evaluate(view: FirewallView) -> None:
    for port in PORTS:
        view.reach_of("tcp", "0.0.0.0", port)


def measure(repeat: int) -> dict[str, float]:
    """Apply the rulesets here (a private namespace) and measure."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["nft", "-f", "-"], input=nft_rules(500), text=True, check=True)
    subprocess.run(["iptables-nft-restore"], input=iptables_rules(500), text=True, check=True)
    figures: dict[str, float] = {}
    rs = read_ruleset()
    figures["rules"] = rs.rule_count
    tools: tuple[tuple[str, ...], ...] = (
        ("nft", "-j", "list", "ruleset"),
        ("iptables-nft-save",),
        ("ip6tables-nft-save",),
    )
    for tool in tools:
        figures[f"{' '.join(tool)} ms"] = _median_ms(functools.partial(_run, tool), repeat)
    figures["read ms"] = _median_ms(read_ruleset, repeat)
    figures["evaluate 20 listeners ms"] = _median_ms(
        lambda: _evaluate(FirewallView(True, None, rs, IFACES)), repeat
    )
    reader = FirewallReader()
    reader.view(IFACES)
    changes = []
    for i in range(repeat):
        subprocess.run(
            [
                "nft",
                "add",
                "rule",
                "inet",
                "bench",
                "input",
                "tcp",
                "dport",
                str(60000 + i),
                "accept",
            ],
            check=True,
        )
        t = time.perf_counter()
        view = reader.view(IFACES)
        _evaluate(view)
        changes.append((time.perf_counter() - t) * 1000)
    figures["change: read + evaluate 20 listeners ms"] = statistics.median(changes)
    runs: list[Sequence[str]] = []

    def counting(argv: Sequence[str]) -> str:
        runs.append(argv)
        return _run(argv)

    idle = FirewallReader(run=counting)
    idle.poll()
    runs.clear()
    figures["idle poll ms"] = _median_ms(idle.poll, max(repeat, 50))
    figures["idle poll tool runs"] = len(runs)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if os.environ.get(MARKER) != "1":
        if os.geteuid() != 0:
            print("bench.firewall needs root (a private network namespace, nft)", file=sys.stderr)
            return 2
        env = {**os.environ, MARKER: "1"}
        return subprocess.run(
            ["unshare", "-n", sys.executable, "-m", "bench.firewall", *(argv or sys.argv[1:])],
            env=env,
        ).returncode
    figures = measure(args.repeat)
    for name, value in figures.items():
        print(f"{name:45} {value:10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
