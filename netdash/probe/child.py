"""Probing in child processes.

A probe run over hundreds of listeners is CPU work in Python (httpx, asyncio); in the
dashboard's process it would compete with drawing and key presses for the GIL and one core.
:func:`probe_in_processes` runs
:func:`netdash.probe.engine.probe_listeners` in one or more children (``python -m
netdash.probe.child``, this same interpreter and netdash) and streams their results back.

The children inherit this process's network namespace and environment; they probe exactly the
targets :func:`netdash.core.lan.probe_targets` gives, with the same safety rules (own
addresses only, ``GET /`` only, no redirects, no proxies). A child stops when its stdin
closes, so it never outlives the run: cancelling the run, quitting, or the parent dying all
end it.

Wire format (private between parent and child of one netdash version): the parent writes one
JSON line ``{"listeners": [[protocol, address, port, family, dual_stack], ...], "lan":
{"4": address, ...}, "own": [address, ...], "limits": {ProbeLimits fields}}`` and keeps stdin
open; the child writes one JSON line per :class:`~netdash.core.model.ProbeResult` as it arrives
(its ``risks`` as a list of :class:`~netdash.core.model.RiskFact` objects).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import os
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from netdash.core.addresses import IPAddress
from netdash.core.lan import LanAddresses
from netdash.core.model import Listener, Outcome, ProbeResult, RiskFact, Via
from netdash.core.text import Untrusted, clean, untrusted
from netdash.probe.engine import ProbeLimits, probe_jobs, uncontacted

__all__ = ["default_processes", "probe_in_processes", "result_from_wire", "result_to_wire"]

TARGETS_PER_PROCESS = 300
"""Below this many targets per child, one more child costs more (its ~0.2 s start) than it
saves."""

_LINE_LIMIT = 8 * 1024 * 1024  # bytes; one result line (a title is at most 64 KiB, escaped)


def result_to_wire(result: ProbeResult) -> str:
    """One result as a JSON line (no newline); outside text is written whole."""
    return json.dumps(
        dataclasses.asdict(result), ensure_ascii=False, separators=(",", ":"), default=_raw
    )


def _raw(value: object) -> str:
    if isinstance(value, Untrusted):
        return value.raw
    raise TypeError(f"{type(value).__name__} is not a result field")


_OUTSIDE_FIELDS = ("server", "title", "location", "banner", "certificate")
"""The :class:`ProbeResult` fields holding a peer's own text (:class:`Untrusted`)."""


def result_from_wire(line: str | bytes) -> ProbeResult:
    """The inverse of :func:`result_to_wire`; raises ``ValueError``/``KeyError``/``TypeError``
    on a malformed line."""
    data = json.loads(line)
    protocol, address, port = data["listener"]
    data["listener"] = (str(protocol), str(address), int(port))
    data["via"] = Via(data["via"])
    data["outcome"] = Outcome(data["outcome"])
    for field in _OUTSIDE_FIELDS:
        data[field] = untrusted(data.get(field))
    risks = []
    for fact in data.get("risks", ()):
        fact["answer"] = Untrusted(str(fact.get("answer", "")))
        risks.append(RiskFact(**fact))
    data["risks"] = tuple(risks)
    return ProbeResult(**data)


def default_processes(targets: int) -> int:
    """How many children to spread ``targets`` over: one per :data:`TARGETS_PER_PROCESS`
    targets, at most one per CPU (``os.cpu_count()``) and at most 4."""
    cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4, -(-targets // TARGETS_PER_PROCESS)))


class _Child:
    """One running child and the targets it owes results for."""

    def __init__(self, process: asyncio.subprocess.Process, jobs: set[tuple[Any, ...]]) -> None:
        self.process = process
        self.pending = jobs

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()


async def probe_in_processes(
    listeners: Iterable[Listener],
    lan: LanAddresses,
    own: Collection[IPAddress],
    limits: ProbeLimits | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
    processes: int | None = None,
) -> list[ProbeResult]:
    """:func:`netdash.probe.engine.probe_listeners` over ``processes`` child processes (default
    :func:`default_processes`), which share ``limits.concurrency`` between them (at most one
    child per unit of it): their sum is never more, so the cap on connections at once holds
    for the run as a whole. Each child also lowers its share to fit its own open-file limit
    (:func:`netdash.probe.engine.descriptor_budget`).

    ``on_result`` is called in the caller's event loop with each result as it arrives.
    Returns every result, in target order per listener, like ``probe_listeners``. A child that
    dies before it answered for a target yields an ``error`` result for that target (its exit
    status and last stderr line as the detail); nothing is raised for that. Raises ``OSError``
    when no child can be started (then the caller may probe in-process). Cancelling the
    awaiting task kills every child at once.
    """
    limits = limits or ProbeLimits()
    jobs = probe_jobs(listeners, lan)
    if not jobs:
        return []
    order = {(li.key, via.value, target): i for i, (li, via, target) in enumerate(jobs)}
    unique = list({li.key: li for li, _, _ in jobs}.values())
    count = processes or default_processes(len(jobs))
    count = max(1, min(count, len(unique), limits.concurrency))
    shares: list[list[Listener]] = [[] for _ in range(count)]
    for i, listener in enumerate(unique):
        shares[i % count].append(listener)
    share_of = {li.key: n for n, share in enumerate(shares) for li in share}
    owed: list[set[tuple[Any, ...]]] = [set() for _ in shares]
    for job in order:
        owed[share_of[job[0]]].add(job)
    base, extra = divmod(limits.concurrency, count)  # shares that add up to the cap exactly
    share_limits = [
        dataclasses.replace(limits, concurrency=base + (1 if n < extra else 0))
        for n in range(count)
    ]
    request_common = {
        "lan": {str(family): address for family, address in lan.items()},
        "own": sorted(str(ip) for ip in own),
    }
    children: list[_Child] = []
    found: dict[tuple[Any, ...], ProbeResult] = {}
    try:
        for share, jobs_of_share, share_limit in zip(shares, owed, share_limits, strict=True):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "netdash.probe.child",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=_LINE_LIMIT,
            )
            children.append(_Child(process, jobs_of_share))
            request = dict(
                request_common,
                limits=dataclasses.asdict(share_limit),
                listeners=[
                    [li.protocol, li.address, li.port, li.family, li.dual_stack] for li in share
                ],
            )
            assert process.stdin is not None
            process.stdin.write(json.dumps(request).encode() + b"\n")  # stdin stays open

        async def read(child: _Child) -> None:
            assert child.process.stdout is not None and child.process.stderr is not None
            stderr = asyncio.ensure_future(child.process.stderr.read())
            try:
                while line := await child.process.stdout.readline():
                    try:
                        result = result_from_wire(line)
                    except (ValueError, KeyError, TypeError):
                        continue  # not ours (a stray print); never trusted as a result
                    job = (result.listener, result.via.value, result.target)
                    if job not in child.pending:
                        continue
                    child.pending.discard(job)
                    found[job] = result
                    if on_result is not None:
                        on_result(result)
                code = await child.process.wait()
                if child.pending:  # it died before answering for these
                    why = (await stderr).decode("utf-8", "replace").strip().splitlines()
                    detail = f"probe process exited with status {code}" + (
                        f": {clean(why[-1], 200)}" if why else ""
                    )
                    for job in sorted(child.pending, key=order.__getitem__):
                        result = _failed(job, detail)
                        found[job] = result
                        if on_result is not None:
                            on_result(result)
                    child.pending.clear()
            finally:
                stderr.cancel()

        await asyncio.gather(*(read(child) for child in children))
    finally:
        for child in children:
            if child.process.stdin is not None:
                child.process.stdin.close()
        await asyncio.gather(*(child.stop() for child in children), return_exceptions=True)
    return [found[job] for job in order if job in found]


def _failed(job: tuple[Any, ...], detail: str) -> ProbeResult:
    key, via, target = job
    return uncontacted(key, Via(via), target, Outcome.ERROR, detail)


# The child ---------------------------------------------------------------------------------


async def _child(request: dict[str, Any]) -> None:
    from netdash.probe.engine import probe_listeners

    listeners = [
        Listener(protocol=str(p), address=str(a), port=int(port), family=int(f), dual_stack=d)
        for p, a, port, f, d in request["listeners"]
    ]
    lan = {int(family): str(address) for family, address in request["lan"].items()}
    own: Sequence[IPAddress] = [ipaddress.ip_address(a) for a in request["own"]]
    limits = ProbeLimits(**request["limits"])
    out = sys.stdout

    def deliver(result: ProbeResult) -> None:
        out.write(result_to_wire(result) + "\n")
        out.flush()

    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(probe_listeners(listeners, lan, frozenset(own), limits, deliver))

    def parent_gone() -> None:  # stdin readable: EOF (the parent closed it or died)
        if not os.read(0, 4096):
            task.cancel()

    loop.add_reader(0, parent_gone)
    try:
        await task
    finally:
        loop.remove_reader(0)


NICE = 5
"""How much a child lowers its CPU priority (``os.nice``): on a busy machine the dashboard's
drawing and key presses come before probe work."""


def main() -> int:
    """Entry point of a child: read the request line from stdin, write result lines."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICE)
    try:
        request = json.loads(sys.stdin.buffer.readline())
    except ValueError as exc:
        print(f"netdash.probe.child: bad request: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_child(request))
    except (asyncio.CancelledError, BrokenPipeError, KeyboardInterrupt):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
