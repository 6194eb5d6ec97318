"""``netdash watch``: the dashboard's poll loop without a screen, for a systemd user service
or a login item. Records history (unless ``--no-history``) and notifies the desktop of each
new exposure (:mod:`netdash.history.notify`); probes only with ``--probe`` (each listener
that appears). Logs one line per event worth a person's eye to standard error (the journal,
under systemd). Ends with status 0 on SIGTERM, SIGHUP or ctrl+c.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType

from netdash.cli.common import firewall_reader
from netdash.config import Settings
from netdash.core.assess import Assessment
from netdash.core.history import Seen, alarms, seen_of
from netdash.core.model import Listener, ListenerKey, ProbeResult, Snapshot
from netdash.core.text import clean
from netdash.history.notify import Notifier
from netdash.history.recorder import HistoryRecorder
from netdash.sources.processes import ProcessCache
from netdash.sources.snapshot import collect_snapshot

__all__ = ["run"]


def _log(line: str) -> None:
    with contextlib.suppress(OSError):  # a closed log must not end the watch
        print(f"netdash watch: {line}", file=sys.stderr, flush=True)


def run(settings: Settings) -> int:
    """Poll every ``settings.interval`` seconds until a signal; returns 0 after SIGTERM or
    SIGHUP, 130 after SIGINT (Ctrl-C: interrupted, CONTRACTS.md)."""
    stop = threading.Event()
    interrupted = []

    def stopping(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            interrupted.append(signum)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stopping)
    recorder = None
    if settings.history is not None:
        recorder = HistoryRecorder(settings.history, own_dir=settings.history_own_dir)
        _log(f"recording history in {settings.history}")
    else:
        _log("history off: nothing is written to disk")
    notifier = Notifier(_log)
    cache = ProcessCache()
    firewall = firewall_reader(settings)  # read again only when the ruleset changed
    before: Mapping[ListenerKey, Seen] | None = None
    results: dict[ListenerKey, list[ProbeResult]] = {}
    said_problem = False
    _log(f"polling every {settings.interval:g} s")
    while not stop.is_set():
        try:
            snapshot = collect_snapshot(cache, firewall=firewall)
        except Exception as exc:  # psutil.Error, OSError: said, and the next poll retries
            _log(f"cannot read the socket table: {clean(str(exc), 200)}")
            stop.wait(settings.interval)
            continue
        fresh: dict[ListenerKey, list[ProbeResult]] = {}
        current = {li.key for li in snapshot.listeners}
        results = {k: v for k, v in results.items() if k in current}
        if settings.probe and before is not None:
            new = [li for li in snapshot.listeners if li.key not in before and li.protocol == "tcp"]
            if new:
                fresh = _probe(settings, snapshot, new)
                results.update(fresh)
        assessment = Assessment(snapshot, results or None, settings.policy, udp=settings.udp)
        after = seen_of(assessment)
        if recorder is not None:
            recorder.observe(assessment, fresh or None)
            if recorder.problem is not None and not said_problem:
                said_problem = True
                _log(f"history off from now on: {recorder.problem}")
        by_key = {li.key: li for li in snapshot.listeners}
        if before is None:  # what already is: said once, not notified (it is no news)
            _log(_already(after, settings.udp))
        for seen in alarms(before, after):
            if seen.protocol != "tcp" and not settings.udp:
                continue
            hint = assessment.of(by_key[seen.key]).hint.text
            notifier.tell(seen, hint, time.time())
        before = after
        stop.wait(settings.interval)
    if recorder is not None:
        recorder.close()
    _log("stopped")
    return 130 if interrupted else 0


def _already(seen: Mapping[ListenerKey, Seen], udp: bool) -> str:
    """One log line: the listeners that already have an alarm reason when the watch starts
    (at most 8 named), or that none has."""
    found = [s for s in seen.values() if s.reasons and (udp or s.protocol == "tcp")]
    if not found:
        return "nothing exposed or risky now; telling what changes"
    named = ", ".join(
        f"{clean(s.program or '?', 30)} on {s.address}:{s.port}"
        + (f" ({', '.join(sorted(r.removeprefix('risk:') for r in s.reasons if r != 'exposed'))})"
           if any(r != "exposed" for r in s.reasons) else "")
        for s in found[:8]
    )  # fmt: skip
    more = f" and {len(found) - 8} more" if len(found) > 8 else ""
    noun = "listener is" if len(found) == 1 else "listeners are"
    return f"already {len(found)} {noun} exposed or risky: {named}{more} (not notified)"


def _probe(
    settings: Settings, snapshot: Snapshot, new: Sequence[Listener]
) -> dict[ListenerKey, list[ProbeResult]]:
    """Probe ``new`` via loopback and the LAN address; {} (said in the log) on failure."""
    from netdash.cli.common import probe

    try:
        return probe(snapshot, settings.lan_for(snapshot), settings.timeout, only=new)
    except Exception as exc:  # a probe failure must not end the watch
        _log(f"probe failed: {clean(str(exc), 200)}")
        return {}
