"""What reading beyond netdash's own network namespace costs (issue 13 part B).

    sudo python -m bench.beyond [--namespaces 50] [--listeners 20] [--repeat 7] [--docker 3]

* ``namespaces``: ``read_namespaces()`` (``/proc/*/ns/net``, then four socket tables, the
  addresses and an fd scan per namespace) with N extra namespaces of L TCP listeners each,
  built with ``unshare -n`` (tests/support/nsbox.py): first call (cold process cache) and
  median of steady calls, milliseconds.
* ``docker``: a private ``dockerd`` (tests/support/dockerd.py) from launch until its API
  answers, both ``--userland-proxy`` modes, seconds (median of ``--docker`` starts).
* ``holding``: the same read when only the namespace behind one published target is
  wanted (what ``list``/``check`` do without ``--namespaces``), milliseconds.
* ``published``: :func:`netdash.core.published.publish` joining 1,000 DNAT paths with the
  namespaces above (the join alone), milliseconds.
* ``dnat``: ``--dnat`` Docker-style published ports loaded with the real
  ``iptables-nft-restore`` into this private namespace; reading the ruleset back
  (``read_ruleset``: nft -j and iptables-nft-save) and evaluating every DNAT path through
  FORWARD (:func:`netdash.sources.published.read_forwardings`), medians, milliseconds.

Needs root (namespaces); runs from the host or inside ``../shared/netns-run``. Prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netdash.core.published import Forwarding, publish
from netdash.sources.namespaces import read_namespaces
from netdash.sources.processes import ProcessCache
from tests.support import dockerd, nsbox

LISTENERS = (
    "import socket, sys, time\n"
    "held = []\n"
    "for i in range(int(sys.argv[1])):\n"
    "    s = socket.socket(); s.bind(('0.0.0.0', 20000 + i)); s.listen(); held.append(s)\n"
    "print('ready', flush=True)\n"
    "time.sleep(3600)\n"
)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def namespaces_figures(count: int, listeners: int, repeat: int) -> dict[str, Any]:
    import subprocess
    import sys

    with contextlib.ExitStack() as stack:
        for i in range(count):
            box = stack.enter_context(nsbox.box())
            nsbox.veth(None, f"bx{i}", [], box, "eth0", [f"10.{100 + i // 250}.{i % 250}.2/24"])
            child = box.spawn(
                sys.executable, "-c", LISTENERS, str(listeners), stdout=subprocess.PIPE
            )
            assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        cache = ProcessCache()
        started = time.perf_counter()
        first = read_namespaces(cache=cache)
        cold = time.perf_counter() - started
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            found = read_namespaces(cache=cache)
            times.append(time.perf_counter() - started)
        seen = sum(len(ns.listeners) for ns in found)
        started = time.perf_counter()
        forwardings = [
            Forwarding(
                interface="v0",
                protocol="tcp",
                port=30000 + n,
                target_address=f"10.{100 + (n % count) // 250}.{(n % count) % 250}.2",
                target_port=20000 + n % max(listeners, 1),
                dnat_rule=f"nat PREROUTING: tcp dport {30000 + n} dnat to …",
                outcome="open",
            )
            for n in range(1000)
        ]
        published = publish(forwardings, found, ())
        join = time.perf_counter() - started
        one_target = [f for f in forwardings if f.target_address == forwardings[0].target_address]
        started = time.perf_counter()
        read_namespaces(cache=cache, holding={forwardings[0].target_address})
        targeted = time.perf_counter() - started
        resolved = sum(1 for p in published if p.listener is not None)
    return {
        "namespaces_built": count,
        "listeners_each": listeners,
        "namespaces_seen": len(first),
        "listeners_seen": seen,
        "read_namespaces_cold_ms": _ms(cold),
        "read_namespaces_steady_median_ms": _ms(statistics.median(times)),
        "publish_1000_dnat_ms": _ms(join),
        "read_namespaces_holding_one_target_ms": _ms(targeted),
        "dnat_paths_to_that_target": len(one_target),
        "publish_1000_resolved": resolved,
    }


def docker_like_rules(count: int) -> str:
    """``iptables-save`` text of ``count`` published ports as Docker writes them: a DNAT per
    port in ``nat DOCKER`` and an accept per target in ``filter DOCKER``."""
    dnat = []
    accept = []
    for n in range(count):
        target = f"172.{17 + n // 60000}.{(n // 250) % 240}.{n % 250 + 2}"
        dnat.append(
            f"-A DOCKER ! -i docker0 -p tcp -m tcp --dport {30000 + n} "
            f"-j DNAT --to-destination {target}:80"
        )
        accept.append(
            f"-A DOCKER -d {target}/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT"
        )
    return "\n".join(
        [
            "*filter",
            ":INPUT ACCEPT [0:0]",
            ":FORWARD DROP [0:0]",
            ":OUTPUT ACCEPT [0:0]",
            ":DOCKER - [0:0]",
            ":DOCKER-USER - [0:0]",
            "-A FORWARD -j DOCKER-USER",
            "-A FORWARD -o docker0 -j DOCKER",
            *accept,
            "-A DOCKER-USER -j RETURN",
            "COMMIT",
            "*nat",
            ":PREROUTING ACCEPT [0:0]",
            ":INPUT ACCEPT [0:0]",
            ":OUTPUT ACCEPT [0:0]",
            ":POSTROUTING ACCEPT [0:0]",
            ":DOCKER - [0:0]",
            "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
            *dnat,
            "COMMIT",
            "",
        ]
    )


def dnat_figures(count: int, repeat: int) -> dict[str, Any]:
    """:func:`dnat_inside` in a fresh network namespace of its own (``unshare -n``): the rules
    it loads die with it."""
    import subprocess
    import sys

    with nsbox.box() as inside:
        out = inside.run(
            sys.executable, "-m", "bench.beyond", "--inside", str(count), "--repeat", str(repeat),
            mount=False, timeout=600,
        )  # fmt: skip
        del subprocess
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def dnat_inside(count: int, repeat: int) -> dict[str, Any]:
    """Load ``count`` Docker-style published ports with the real ``iptables-nft-restore`` in
    the caller's network namespace (a private one: :func:`dnat_figures`), then time reading
    the ruleset back and evaluating every DNAT path through FORWARD."""
    import subprocess

    from netdash.sources.firewall import read_ruleset
    from netdash.sources.published import read_forwardings

    subprocess.run(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=True)
    subprocess.run(["ip", "addr", "add", "198.18.0.1/24", "dev", "v0"], check=True)
    subprocess.run(["ip", "link", "set", "v1", "up"], check=True)
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("1\n")  # as Docker sets it (this namespace's own sysctl)
    subprocess.run(["ip", "link", "set", "v0", "up"], check=True)
    subprocess.run(["ip", "link", "add", "docker0", "type", "bridge"], check=False)
    subprocess.run(["ip", "addr", "add", "172.16.0.1/12", "dev", "docker0"], check=False)
    subprocess.run(["ip", "link", "set", "docker0", "up"], check=True)
    subprocess.run(["iptables-nft-restore"], input=docker_like_rules(count), text=True, check=True)
    reads, evaluations = [], []
    found: tuple[Any, ...] = ()
    for _ in range(repeat):
        started = time.perf_counter()
        ruleset = read_ruleset()
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = read_forwardings(ruleset)
        evaluations.append(time.perf_counter() - started)
    return {
        "dnat_rules": count,
        "read_ruleset_median_ms": _ms(statistics.median(reads)),
        "evaluate_forwardings_median_ms": _ms(statistics.median(evaluations)),
        "forwardings": len(found),
        "forwardings_open": sum(1 for f in found if f.outcome == "open"),
    }


def docker_figures(starts: int) -> dict[str, Any]:
    if dockerd.missing():
        return {"docker": f"not run: {dockerd.missing()}"}
    out: dict[str, Any] = {}
    for proxy in (True, False):
        times = []
        for _ in range(starts):
            with (
                tempfile.TemporaryDirectory(prefix="ndb") as tmp,
                nsbox.box(mount=True) as host,
                dockerd.PrivateDocker(host, Path(tmp), userland_proxy=proxy) as engine,
            ):
                times.append(engine.start_seconds)
                out["storage"] = engine.storage
        out[f"dockerd_start_userland_proxy_{str(proxy).lower()}_median_s"] = round(
            statistics.median(times), 3
        )
        out[f"dockerd_start_userland_proxy_{str(proxy).lower()}_all_s"] = [
            round(t, 3) for t in times
        ]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.beyond", description=__doc__)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--docker", type=int, default=3, help="dockerd starts per mode (0: none)")
    parser.add_argument("--dnat", type=int, default=1000, help="published ports (0: none)")
    parser.add_argument("--inside", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:  # the DNAT measurement, in its own namespace (dnat_figures)
        print(json.dumps(dnat_inside(args.inside, args.repeat)))
        return 0
    reason = nsbox.missing()
    if reason:
        parser.error(reason)
    figures = namespaces_figures(args.namespaces, args.listeners, args.repeat)
    if args.dnat:
        figures.update(dnat_figures(args.dnat, args.repeat))
    if args.docker:
        figures.update(docker_figures(args.docker))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
