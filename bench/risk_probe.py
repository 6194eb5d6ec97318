"""What the risk checks cost the probe (issue 16): the probe benchmark's 1,000 listeners
(``bench.scenario.build_probe_targets``: 800 HTTP on 0.0.0.0, 100 HTTP on loopback, 100 that
accept and never answer) probed with the risk checks off and on, interleaved, in this process
(``probe_listeners``, one core) and in child processes (``probe_in_processes``, what the TUI
and ``--probe`` do). Figures: wall time of the run, this process's CPU time (children's CPU
for the child runs), both per target, and the median per-target ``elapsed_ms``.

As root (a private network namespace of its own; nothing outside it is contacted)::

    python -m bench.risk_probe [REPEAT]

prints one JSON object; bench/RESULTS.md keeps the figures of record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import resource
import statistics
import sys
import time
from typing import Any

from tests.support import netns


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(repeat: int) -> dict[str, Any]:
    from bench import scenario
    from netdash.core.addresses import own_addresses
    from netdash.core.lan import choose_lan
    from netdash.probe.child import probe_in_processes
    from netdash.probe.engine import ProbeLimits, probe_listeners
    from netdash.sources.snapshot import collect_snapshot

    figures: dict[str, dict[str, list[float]]] = {}
    with scenario.build_probe_targets():
        snapshot = collect_snapshot()
        lan = choose_lan(snapshot)
        assert set(lan.values()) <= {netns.LAN_V4, netns.LAN_V6}, lan
        own = own_addresses(snapshot.interfaces)
        targets = 0
        for _ in range(repeat):
            for checks in (False, True):
                limits = ProbeLimits(risk_checks=checks)
                name = "on" if checks else "off"
                entry = figures.setdefault(name, {})
                cpu, start = time.process_time(), time.perf_counter()
                results = asyncio.run(probe_listeners(snapshot.listeners, lan, own, limits))
                wall = time.perf_counter() - start
                used = time.process_time() - cpu
                targets = len(results)
                entry.setdefault("wall_s", []).append(wall)
                entry.setdefault("cpu_ms_per_target", []).append(used * 1000 / targets)
                entry.setdefault("wall_ms_per_target", []).append(wall * 1000 / targets)
                entry.setdefault("elapsed_ms_median", []).append(
                    statistics.median(r.elapsed_ms for r in results)
                )
                entry.setdefault("facts", []).append(sum(len(r.risks) for r in results))
                child_cpu, start = _children_cpu(), time.perf_counter()
                in_children = asyncio.run(probe_in_processes(snapshot.listeners, lan, own, limits))
                wall = time.perf_counter() - start
                used = _children_cpu() - child_cpu
                assert len(in_children) == targets
                entry.setdefault("processes_wall_s", []).append(wall)
                entry.setdefault("processes_cpu_ms_per_target", []).append(used * 1000 / targets)
    out: dict[str, Any] = {"targets": targets, "repeat": repeat, "cpus": os.cpu_count()}
    for name, entry in figures.items():
        out[name] = {key: round(statistics.median(values), 3) for key, values in entry.items()}
        out[name]["walls"] = [round(w, 2) for w in entry["wall_s"]]
    out["limits"] = dataclasses.asdict(ProbeLimits())
    return out


if __name__ == "__main__":
    reason = netns.enter()
    if reason:
        sys.exit(f"cannot enter a private network namespace: {reason}")
    from bench.scenario import tune_namespace

    tune_namespace()
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=1))
