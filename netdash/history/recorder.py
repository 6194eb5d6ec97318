"""Feeding the history database from assessments, for the dashboard and ``netdash watch``.

:class:`HistoryRecorder` opens the store on first use and records what changed; a store that
cannot be used (corrupt, locked beyond the timeout, a read-only directory, a full disk) turns
it off: :attr:`HistoryRecorder.problem` says why, once, and every later call does nothing.
History never stops what feeds it.

:class:`RecorderThread` does the same work in one daemon thread, so the dashboard's thread
never waits for the disk or for another writer's turn.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netdash.core.history import Event, Seen, probe_events, seen_of
from netdash.core.model import ListenerKey, ProbeResult, Snapshot
from netdash.core.policy import Policy
from netdash.history.store import HistoryError, HistoryStore

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from netdash.core.assess import Assessment

__all__ = ["HistoryRecorder", "RecorderThread"]


class HistoryRecorder:
    """Records into the database at ``path`` (``own_dir``: netdash's default directory,
    kept 0700). ``clock`` gives epoch seconds. Not thread-safe: one thread uses it."""

    def __init__(
        self, path: Path, own_dir: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.own_dir = own_dir
        self.clock = clock
        self.problem: str | None = None
        self._store: HistoryStore | None = None
        self._last: Mapping[ListenerKey, Seen] | None = None

    def _open(self) -> HistoryStore | None:
        if self.problem is not None:
            return None
        if self._store is None:
            try:
                self._store = HistoryStore(self.path, own_dir=self.own_dir)
            except HistoryError as exc:
                self.problem = str(exc)
        return self._store

    def _fail(self, exc: HistoryError) -> list[Event]:
        self.problem = str(exc)
        if self._store is not None:
            self._store.close()
            self._store = None
        return []

    def observe(
        self,
        assessment: Assessment,
        results: Mapping[ListenerKey, Sequence[ProbeResult]] | None = None,
    ) -> list[Event]:
        """Record the listeners of ``assessment`` (only when they differ from the last call's:
        an idle poll touches no disk) and, with ``results``, one ``probe`` event per listener
        probed. Returns the events written ([] when history is off or failed)."""
        seen = seen_of(assessment)
        if not results and self._last is not None and seen == self._last:
            return []
        store = self._open()
        if store is None:
            return []
        at = self.clock()
        extra = probe_events(seen, results, at) if results else []
        try:
            events = store.record(seen, at, probed=(results or {}).keys(), extra=extra)
        except HistoryError as exc:
            return self._fail(exc)
        self._last = seen
        return events

    def recent(self, limit: int = 200) -> list[Event]:
        """The newest ``limit`` events, newest first ([] when history is off or failed)."""
        store = self._open()
        if store is None:
            return []
        try:
            return store.events(limit=limit)
        except HistoryError as exc:
            return self._fail(exc)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@dataclass(frozen=True)
class _Observation:
    """One queued :meth:`RecorderThread.submit`."""

    snapshot: Snapshot
    results: Mapping[ListenerKey, Sequence[ProbeResult]] | None
    policy: Policy
    probed: frozenset[ListenerKey]


class RecorderThread:
    """A :class:`HistoryRecorder` in its own daemon thread. :meth:`submit` queues one
    observation (the snapshot, the probe results to assess it with, the policy, and the
    results of a probe run just ended, if any); after each, ``done(recent, problem)`` is
    called in that thread with the newest events and the recorder's problem (``None``: fine).
    """

    def __init__(
        self,
        recorder: HistoryRecorder,
        done: Callable[[list[Event], str | None], object],
        recent: int = 50,
    ) -> None:
        self.recorder = recorder
        self._done = done
        self._recent = recent
        self._queue: queue.Queue[_Observation | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(
        self,
        snapshot: Snapshot,
        results: Mapping[ListenerKey, Sequence[ProbeResult]] | None,
        policy: Policy,
        probed: Iterable[ListenerKey] = (),
    ) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="netdash-history", daemon=True)
            self._thread.start()
        self._queue.put(_Observation(snapshot, results, policy, frozenset(probed)))

    def stop(self) -> None:
        """Ends the thread after what is queued (not waited for: a daemon thread)."""
        if self._thread is not None:
            self._queue.put(None)

    def _loop(self) -> None:
        from netdash.core.assess import Assessment

        while True:
            item = self._queue.get()
            if item is None:
                self.recorder.close()
                return
            assessment = Assessment(item.snapshot, item.results, item.policy)
            mine = {k: v for k, v in (item.results or {}).items() if k in item.probed}
            try:
                self.recorder.observe(assessment, mine or None)
                recent = self.recorder.recent(self._recent)
            except Exception as exc:  # a bug here must not end the thread silently
                self.recorder.problem = f"{type(exc).__name__}: {exc}"
                recent = []
            self._done(recent, self.recorder.problem)
