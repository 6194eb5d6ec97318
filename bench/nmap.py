"""netdash's probe beside nmap's service scan, same ports, same window (issue 18).

Run by ``bench.run`` (``--nmap``) inside the bench's network namespace while
``bench.scenario.build_probe_targets`` holds 1,000 listeners (100 silent on ``0.0.0.0``,
100 HTTP on ``127.0.0.1``, 800 HTTP on ``0.0.0.0``)::

    python -m bench.nmap REPEAT LAN_ADDRESS

Each repeat times, in turn (the order alternating): ``netdash list --probe --json`` (every
listener via loopback and the LAN address: 2,000 targets) and ``nmap -sT -sV
--version-light -Pn -n`` on the same ports of ``127.0.0.1`` and the LAN address (2,000
targets too). Only the namespace's own addresses are scanned. Prints one JSON object:
per tool the median wall seconds, CPU seconds (the tool and its children, from
``RUSAGE_CHILDREN``) and how many targets it identified: for netdash a result whose outcome
names a protocol (``http``, ``tls``, ``banner``, ...), for nmap an open port with a named
service (not ``unknown`` or ``tcpwrapped``). "Identified" follows issue 18: the same service
named, or a more specific one.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any

NAMED = {"http", "tls", "banner"}
"""netdash outcomes that name what answered (not ``not-http``, ``reset``, ``silent``,
``refused`` or an error)."""


def _timed(argv: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def netdash_identified(doc: dict[str, Any]) -> tuple[int, int]:
    """(targets probed, targets identified) in ``netdash list --probe --json``'s output."""
    probed = identified = 0
    for listener in doc.get("listeners", []):
        for result in listener.get("probes", []) or []:
            probed += 1
            if result.get("outcome") in NAMED:
                identified += 1
    return probed, identified


def nmap_identified(xml: str) -> tuple[int, int]:
    """(ports reported, ports open with a named service) in nmap's XML output."""
    root = ET.fromstring(xml)
    reported = named = 0
    for port in root.iter("port"):
        reported += 1
        state = port.find("state")
        service = port.find("service")
        if state is None or state.get("state") != "open" or service is None:
            continue
        if service.get("name") not in (None, "unknown", "tcpwrapped"):
            named += 1
    return reported, named


def measure(repeat: int, lan: str, ports: list[int]) -> dict[str, Any]:
    listing = ",".join(str(p) for p in sorted(set(ports)))
    netdash = [sys.executable, "-m", "netdash", "list", "--probe", "--json"]
    nmap = ["nmap", "-sT", "-sV", "--version-light", "-Pn", "-n", "-oX", "-", "-p", listing]
    nmap += ["127.0.0.1", lan]
    runs: dict[str, list[tuple[float, float]]] = {"netdash": [], "nmap": []}
    counts: dict[str, tuple[int, int]] = {}
    for i in range(repeat):
        order = ["netdash", "nmap"] if i % 2 == 0 else ["nmap", "netdash"]
        for tool in order:
            wall, cpu, out = _timed(netdash if tool == "netdash" else nmap)
            runs[tool].append((wall, cpu))
            if tool == "netdash":
                counts[tool] = netdash_identified(json.loads(out))
            else:
                counts[tool] = nmap_identified(out)
    figures: dict[str, Any] = {}
    for tool, found in runs.items():
        targets, identified = counts[tool]
        figures[tool] = {
            "wall_s": statistics.median(w for w, _ in found),
            "cpu_s": statistics.median(c for _, c in found),
            "targets": targets,
            "identified": identified,
        }
    figures["ratio_wall"] = figures["netdash"]["wall_s"] / figures["nmap"]["wall_s"]
    figures["netdash"]["cpu_ms_per_target"] = (
        1000 * figures["netdash"]["cpu_s"] / max(figures["netdash"]["targets"], 1)
    )
    return figures


if __name__ == "__main__":
    ports = [int(p) for p in sys.stdin.read().split()]
    print(json.dumps(measure(int(sys.argv[1]), sys.argv[2], ports)))
