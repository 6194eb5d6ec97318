"""Probe throughput of whichever netdash is importable: every TCP listener probed via loopback
and the LAN address (1 s connect and read timeouts), once in this process
(``probe_listeners``) and once in child processes (``probe_in_processes``, what the TUI does):
wall time of each, and CPU per target (this process's ``process_time`` for the in-process run,
the children's ``RUSAGE_CHILDREN`` for the other), after one run that warms the imports up
(its CPU per target is reported as ``cpu_ms_per_target_cold``). Beside them, in the same
window, the reference floor of "httpx staying the HTTP client": one ``httpx.AsyncClient``
sending a bare ``GET /`` to every target that answered HTTP (same peers, a new connection
each, 256 at once), CPU per request.

``bench.run`` calls :func:`measure` in-process; with ``--baseline`` it runs this file as a
script once per tree and repeat, interleaved, with that tree's ``PYTHONPATH``, so both trees
are timed alike whatever their module layout (see ``bench/layout.py``)::

    PYTHONPATH=TREE python bench/probe_tree.py REPEAT ALLOWED_LAN_ADDRESS...

prints the figures as one JSON object. Only the listeners of this (private) network
namespace are probed; the LAN addresses chosen must be among the allowed ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import statistics
import sys
import time
from collections.abc import Collection
from typing import Any

if __package__:
    from bench import layout
else:  # run as a script: bench/ is sys.path[0], the measured tree is on PYTHONPATH
    import layout  # type: ignore[no-redef,import-not-found]


def measure(repeat: int, allowed_lan: Collection[str]) -> dict[str, Any]:
    collect_snapshot = layout.find("collect_snapshot")
    choose_lan = layout.find("choose_lan")
    own_addresses = layout.find("own_addresses")
    probe_limits = layout.find("ProbeLimits")
    probe_listeners = layout.find("probe_listeners")
    probe_in_processes = layout.find("probe_in_processes")
    default_processes = layout.find("default_processes")

    snapshot = collect_snapshot()
    lan = choose_lan(snapshot)
    own = own_addresses(snapshot.interfaces)
    assert set(lan.values()) <= set(allowed_lan), lan  # never beyond the namespace
    limits = probe_limits(connect_timeout=1.0, read_timeout=1.0)
    walls: list[float] = []
    child_walls: list[float] = []
    cpu_ms: list[float] = []  # this process's CPU per target, in-process runs
    child_cpu_ms: list[float] = []  # the child processes' CPU per target
    httpx_ms: list[float] = []  # a bare httpx GET / per HTTP target, CPU per request
    outcomes: dict[str, int] = {}
    results: list[Any] = []
    # A first run, untimed as CPU per target: it imports httpx, httpcore, h11 and the probe
    # (~0.07 ms a target over 2,000, a start-up cost, which `netdash list --probe`'s row
    # counts); its figure is kept as "cold".
    cold = time.process_time()
    warm = asyncio.run(probe_listeners(snapshot.listeners, lan, own, limits))
    cold_ms = (time.process_time() - cold) * 1000 / max(len(warm), 1)
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        results = asyncio.run(probe_listeners(snapshot.listeners, lan, own, limits))
        walls.append(time.perf_counter() - start)
        cpu_ms.append((time.process_time() - cpu) * 1000 / max(len(results), 1))
        outcomes = {}
        for r in results:
            key = f"{r.via.value}:{r.outcome.value}"
            outcomes[key] = outcomes.get(key, 0) + 1
        start, cpu = time.perf_counter(), _children_cpu()
        in_children = asyncio.run(probe_in_processes(snapshot.listeners, lan, own, limits))
        child_walls.append(time.perf_counter() - start)
        child_cpu_ms.append((_children_cpu() - cpu) * 1000 / max(len(in_children), 1))
        assert len(in_children) == len(results)
        urls = [r.url for r in results if r.outcome.value == "http"]
        cpu = time.process_time()
        asyncio.run(_httpx_alone(urls))
        httpx_ms.append((time.process_time() - cpu) * 1000 / max(len(urls), 1))
    tcp = sum(1 for li in snapshot.listeners if li.protocol == "tcp")
    return {
        "listeners": tcp,
        "targets": len(results),
        "wall": statistics.median(walls),
        "wall_processes": statistics.median(child_walls),
        "processes": default_processes(len(results)),
        "outcomes": outcomes,
        "walls": walls,
        "walls_processes": child_walls,
        "cpu_ms_per_target": statistics.median(cpu_ms),
        "cpu_ms_per_target_processes": statistics.median(child_cpu_ms),
        "cpu_ms_per_target_all": cpu_ms,
        "cpu_ms_per_target_cold": cold_ms,
        "httpx_alone_cpu_ms_per_request_all": httpx_ms,
        "httpx_alone_cpu_ms_per_request": statistics.median(httpx_ms),
        "httpx_alone_requests": len(urls),
    }


async def _httpx_alone(urls: list[str]) -> None:
    """``GET /`` to each URL with one plain ``httpx.AsyncClient`` (no keep-alive across
    targets: every origin differs), 256 requests at once; errors are ignored."""
    import httpx

    gate = asyncio.Semaphore(256)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=0)

    async def one(client: httpx.AsyncClient, url: str) -> None:
        async with gate:
            with contextlib.suppress(httpx.HTTPError):
                await client.get(url)

    async with httpx.AsyncClient(limits=limits, timeout=1.0, trust_env=False) as client:
        await asyncio.gather(*(one(client, url) for url in urls))


def _children_cpu() -> float:
    """CPU seconds of this process's waited-for children (the probe's child processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), sys.argv[2:])))
