"""One probe run of the dashboard: which listeners and targets, where the probes run (a
thread here for small runs, child processes for large ones), progress, cancellation, and
what the run reports back (its status line, the listeners it verified as exposed).

:meth:`ProbeRun.run` is awaited on the app's event loop (in the app's probe worker), and
``arrived`` is called on that loop, never from another thread, so it may touch the app.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from netdash.core.addresses import own_addresses
from netdash.core.assess import Assessment
from netdash.core.lan import probe_targets
from netdash.core.model import Listener, ListenerKey, ProbeResult, Snapshot, Verdict
from netdash.core.services import leader
from netdash.core.text import plural
from netdash.probe.child import probe_in_processes
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.tui.describe import summary

__all__ = ["CHILD_PROCESSES_FROM", "ProbeRun", "probe_in_thread"]

CHILD_PROCESSES_FROM = 64
"""Probe runs of at least this many targets go to child processes (netdash.probe.child);
smaller ones run in a thread here, which answers ~0.25 s sooner (a child's start-up) and
costs the dashboard little."""


def probe_in_thread(
    listeners: Sequence[Listener],
    lan: dict[int, str],
    own: frozenset[Any],
    limits: ProbeLimits,
    deliver: Callable[[ProbeResult], None],
    stop: threading.Event,
) -> list[ProbeResult]:
    """``probe_listeners`` on a fresh event loop in the calling thread; setting ``stop``
    cancels every probe in flight within 0.1 s. ``deliver`` is called in this thread."""

    async def run() -> list[ProbeResult]:
        task = asyncio.ensure_future(probe_listeners(listeners, lan, own, limits, deliver))
        while not task.done():
            if stop.is_set():
                task.cancel()
                break
            await asyncio.wait([task], timeout=0.1)
        try:
            return await task
        except asyncio.CancelledError:
            return []

    return asyncio.run(run())


class ProbeRun:
    """Probing the TCP listeners of ``snapshot`` (or only those in ``only``) via loopback and
    the ``lan`` addresses (one per family).

    ``assessment`` is the view before the run: the verdicts it gives are what
    :meth:`verified` compares against. ``fresh`` holds this run's results by listener key as
    they arrive; ``owners`` the leading pid of each listener when probed (a result belongs
    to the program that answered it).
    """

    def __init__(
        self,
        snapshot: Snapshot,
        only: Sequence[Listener] | None,
        lan: dict[int, str],
        assessment: Assessment,
    ) -> None:
        self.snapshot = snapshot
        self.full = only is None
        self.listeners = [li for li in (only or snapshot.listeners) if li.protocol == "tcp"]
        self.lan = dict(lan)
        self.total = len(
            {(li.key, t) for li in self.listeners for t in probe_targets(li, self.lan)}
        )
        self.done = 0
        self.fresh: dict[ListenerKey, list[ProbeResult]] = {}
        self.owners = {li.key: leader(li) for li in self.listeners}
        self.before = {li.key: assessment.of(li).verdict for li in self.listeners}
        self.started = time.perf_counter()
        self.stop = threading.Event()  # set when the run ends or is cancelled

    @property
    def progress(self) -> str:
        """``probing 12/40…``: results arrived out of targets."""
        return f"probing {self.done}/{self.total}…"

    def add(self, result: ProbeResult) -> list[ProbeResult] | None:
        """Count an arrived result; returns this run's results for its listener, or ``None``
        for a late result of a cancelled run (to be dropped)."""
        if self.stop.is_set():
            return None
        self.done += 1
        mine = self.fresh.setdefault(result.listener, [])
        mine.append(result)
        return mine

    async def run(
        self,
        limits: ProbeLimits,
        arrived: Callable[[ProbeResult], None],
        child_processes_from: int = CHILD_PROCESSES_FROM,
    ) -> list[ProbeResult]:
        """Probe every target; ``arrived`` gets each result on the calling event loop as it
        comes. Runs of at least ``child_processes_from`` targets go to child processes, so
        hundreds of connections neither compete with key presses and drawing for the GIL nor
        share this core; small runs, or when no child can start, run on their own event loop
        in a thread. Cancelling the awaiting task stops the thread's probes within 0.1 s.
        Raises what the probing raised (``OSError`` when a later child failed to start)."""
        loop = asyncio.get_running_loop()

        def deliver(result: ProbeResult) -> None:  # in the probe thread
            loop.call_soon_threadsafe(arrived, result)

        own = own_addresses(self.snapshot.interfaces)
        try:
            if self.total >= child_processes_from:
                try:
                    return await probe_in_processes(self.listeners, self.lan, own, limits, arrived)
                except OSError:
                    if self.done:
                        raise  # a later child failed to start; the first ones' results stand
            return await asyncio.to_thread(
                probe_in_thread, self.listeners, self.lan, own, limits, deliver, self.stop
            )
        finally:
            self.stop.set()  # also when cancelled: the thread stops its probes

    def verified(self, after: Assessment) -> list[Listener]:
        """Listeners this run proved exposed (a LAN probe connected) that were not before,
        leaving out the ones the policy allows or ignores."""
        found = []
        for listener in self.listeners:
            if listener.key not in self.fresh:
                continue
            now = after.of(listener)
            if (
                now.is_finding
                and now.verdict is Verdict.EXPOSED
                and self.before.get(listener.key) is not Verdict.EXPOSED
            ):
                found.append(listener)
        return found

    def verified_notice(self, after: Assessment) -> str | None:
        """``Verified: uvicorn (pid 42) on 0.0.0.0:8000 accepts connections on the LAN
        address``, or ``None`` when the run verified nothing new."""
        verified = self.verified(after)
        if not verified:
            return None
        verb = " accepts" if len(verified) == 1 else " accept"
        return f"Verified: {summary(verified)}{verb} connections on the LAN address"

    def finished(self, probes: int) -> str:
        """The status after the run: what was probed, how many probes, in how many seconds."""
        elapsed = time.perf_counter() - self.started
        ports = sorted({li.port for li in self.listeners})
        if self.full or len(ports) != 1:
            what = plural(len(self.listeners), "listener")
        else:
            what = f"port {ports[0]}"
        return f"probed {what} ({plural(probes, 'probe')}) in {elapsed:.1f} s" + (
            "" if self.lan else "; no LAN address found, loopback only"
        )
