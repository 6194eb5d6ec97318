"""The dashboard's poll thread: one daemon thread reads a snapshot every ``interval`` seconds
for the app's lifetime and posts it as a message (:mod:`netdash.tui.messages`).

It never touches a widget. A snapshot equal to the last one (but for its time) is not sent
unless the app says it needs every poll (results to re-check, rows fading, an error to
clear): an idle poll then costs the app's thread nothing, where a Textual worker per poll
cost it a timer, a worker and four messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from textual.message import Message

from netdash.core.model import Snapshot
from netdash.sources.processes import ProcessCache
from netdash.sources.snapshot import collect_snapshot
from netdash.tui.messages import PollFailed, SnapshotReady

__all__ = ["Collector", "Poller", "default_collector"]

Collector = Callable[[], Snapshot]
"""Returns a fresh snapshot; called in the poll thread."""


def default_collector() -> Collector:
    """``collect_snapshot`` with one :class:`ProcessCache` kept across polls."""
    cache = ProcessCache()
    return lambda: collect_snapshot(cache)


class Poller:
    """Polls ``collect`` in one daemon thread and hands each result to ``post`` (the app's
    ``post_message``, which is thread-safe).

    ``interval`` is seconds between the end of one poll and the start of the next.
    ``paused`` and ``needs_every_poll`` are asked from the poll thread (plain attribute reads
    in the app; a stale answer costs one poll at most).
    """

    def __init__(
        self,
        collect: Collector,
        interval: float,
        post: Callable[[Message], object],
        paused: Callable[[], bool],
        needs_every_poll: Callable[[], bool],
    ) -> None:
        self.collect = collect
        self.interval = interval
        self._post = post
        self._paused = paused
        self._needs_every_poll = needs_every_poll
        self._wake = threading.Event()  # refresh, resume, stop
        self._once = False  # poll even while paused (r)
        self._started = False
        self._stopping = False

    def poll_now(self) -> None:
        """Poll now, also once while paused (the first poll, ``r``, resuming, after stopping
        a process). Starts the thread on first use; called from the app's thread."""
        self._once = True
        self._wake.set()
        if not self._started:
            self._started = True
            # A plain daemon thread, not a Textual worker: Textual waits for its workers before
            # unmounting, and this one may be asleep for the whole interval.
            threading.Thread(target=self._loop, name="netdash-poll", daemon=True).start()

    def stop(self) -> None:
        """End the thread now rather than after its interval (it finishes a poll in flight
        and posts nothing more once it sees the flag)."""
        self._stopping = True
        self._wake.set()

    def _loop(self) -> None:
        """Collect, post, then wait ``interval`` seconds (forever while paused) or until
        woken, until :meth:`stop`."""
        last: Snapshot | None = None
        failed = False
        while not self._stopping:
            self._wake.clear()
            paused = self._paused()
            if not paused or self._once:
                self._once = False
                try:
                    snapshot = self.collect()
                except Exception as exc:  # psutil.Error, OSError, a vanished interface, a bug
                    failed = True
                    self._post(PollFailed(f"{type(exc).__name__}: {exc}"))
                else:
                    changed = last is None or replace(last, taken_at=0.0) != replace(
                        snapshot, taken_at=0.0
                    )
                    if changed or failed or self._needs_every_poll():
                        self._post(SnapshotReady(snapshot, changed))
                    last, failed = snapshot, False
            self._wake.wait(None if self._paused() else self.interval)
