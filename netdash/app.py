"""The netdash terminal dashboard (Textual).

The app only schedules and draws: a thread worker reads a :class:`Snapshot` (psutil blocks),
posts it as a message, and the next poll is armed only after that, so polls never overlap.
Probing runs in an async worker on the app's event loop; results arrive one by one. A new
probe run cancels the one in flight, and quitting cancels every probe at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, ScrollableContainer
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Static

from netdash import __version__
from netdash.classify import choose_lan, own_addresses, probe_targets, resolve_lan
from netdash.collect import ProcessCache, collect_snapshot
from netdash.model import Listener, ListenerKey, ProbeResult, Snapshot
from netdash.probe import ProbeLimits, probe_listeners
from netdash.render import (
    VERDICT_STYLE,
    Verdict,
    ipv4_loopback_ports,
    row_results,
    verdict,
    verdict_sentence,
    visible,
)
from netdash.text import clean
from netdash.widgets import InterfaceDiagram, ListenerTable

__all__ = ["NetdashApp"]

Collector = Callable[[], Snapshot]


@dataclass
class SnapshotReady(Message):
    """A poll finished; posted from the poll thread."""

    snapshot: Snapshot


@dataclass
class PollFailed(Message):
    """A poll raised; the reason is shown and the next poll is armed as usual."""

    reason: str


def _default_collector() -> Collector:
    cache = ProcessCache()
    return lambda: collect_snapshot(cache)


class NetdashApp(App[None]):
    """Live view of this machine's listeners by scope, with an interface diagram and probes.

    ``interval`` is seconds between the end of one poll and the start of the next.
    ``lan_override`` holds the ``--lan`` addresses, at most one per family (checked against
    the interfaces at every poll).
    ``collector`` returns a fresh snapshot (default: ``collect_snapshot``); tests pass fixed
    data for deterministic screenshots. ``udp`` starts with UDP listeners shown (``u``).
    ``auto_probe`` probes every listener that appears after the first poll. ``clock`` gives
    the time for result ages (seconds since the epoch; tests freeze it).
    """

    TITLE = "netdash"
    CSS_PATH = "netdash.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "probe", "Probe all"),
        Binding("r", "refresh", "Refresh"),
        Binding("u", "toggle_udp", "UDP"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        interval: float = 2.0,
        lan_override: Sequence[str] = (),
        collector: Collector | None = None,
        probe_limits: ProbeLimits | None = None,
        udp: bool = False,
        auto_probe: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.udp = udp
        self.auto_probe = auto_probe
        self.interval = interval
        self.lan_override = tuple(lan_override)
        self.collector = collector or _default_collector()
        self.probe_limits = probe_limits or ProbeLimits()
        self.snapshot: Snapshot | None = None
        self.lan: dict[int, str] = {}
        self.results: dict[ListenerKey, list[ProbeResult]] = {}
        self._probed_owners: dict[ListenerKey, frozenset[int]] = {}
        self.poll_error: str | None = None
        self.lan_problem: str | None = None
        self.probe_status: str | None = None
        self._polling = False
        self._next_poll: Timer | None = None
        self._redraw_pending = False

    def compose(self) -> ComposeResult:
        yield Static("netdash: reading sockets…", id="status", markup=False)
        with Container(id="main"):
            yield ListenerTable(id="listeners")
            yield Static("", id="verdict", markup=False)
            with ScrollableContainer(id="diagram-box"):
                yield InterfaceDiagram(id="diagram")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ListenerTable).focus()
        self._start_poll()

    # Polling -----------------------------------------------------------------------------

    def _start_poll(self) -> None:
        if self._polling:
            return
        if self._next_poll is not None:
            self._next_poll.stop()
            self._next_poll = None
        self._polling = True
        self._poll_worker()

    @work(thread=True, group="poll", exit_on_error=False)
    def _poll_worker(self) -> None:
        try:
            snapshot = self.collector()
        except Exception as exc:  # psutil.Error, OSError, a vanished interface...
            self.post_message(PollFailed(f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(SnapshotReady(snapshot))

    def _arm_next_poll(self) -> None:
        self._polling = False
        self._next_poll = self.set_timer(self.interval, self._start_poll)

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        previous = self.snapshot
        self.poll_error = None
        self.snapshot = message.snapshot
        self.lan = self._resolve_lan(message.snapshot)
        owners = {li.key: frozenset(li.pids) for li in message.snapshot.listeners}
        # A result belongs to the processes that answered it: gone or new owner, gone result.
        self.results = {
            k: v
            for k, v in self.results.items()
            if k in owners and owners[k] == self._probed_owners.get(k)
        }
        self._redraw()
        self._arm_next_poll()
        if self.auto_probe and previous is not None:
            known = {li.key for li in previous.listeners}
            new = [li for li in message.snapshot.listeners if li.key not in known]
            if new and not self._probe_running():
                self._probe_worker(message.snapshot, new)

    def on_poll_failed(self, message: PollFailed) -> None:
        self.poll_error = message.reason
        self._update_status()
        self._arm_next_poll()

    def _resolve_lan(self, snapshot: Snapshot) -> dict[int, str]:
        self.lan_problem = None
        try:
            return resolve_lan(snapshot, self.lan_override)
        except ValueError as exc:  # the --lan address went away since start-up
            self.lan_problem = str(exc)
            return choose_lan(snapshot)

    # Drawing -----------------------------------------------------------------------------

    def _redraw(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not self.query(ListenerTable):
            return
        shown = visible(snapshot.listeners, self.udp)
        v4_ports = ipv4_loopback_ports(snapshot.listeners)
        with self.batch_update():
            self.query_one(ListenerTable).show(shown, self.results, v4_ports)
            self.query_one(InterfaceDiagram).show(snapshot, self.results, self.lan, shown)
            self._update_status()
            self._update_verdict()

    def on_data_table_row_highlighted(self) -> None:
        self._update_verdict()

    def on_data_table_row_selected(self) -> None:
        """``enter`` on a row (the table's own select binding) probes that row."""
        self.action_probe_selected()

    def _update_verdict(self) -> None:
        """The verdict line under the table, for the highlighted row."""
        tables = self.query(ListenerTable)
        if not tables:
            return  # shutting down: the screen is already gone
        line = Text()
        row = tables.first().selected_row()
        if row is not None and self.snapshot is not None:
            mine = row_results(row, self.results)
            v4_ports = ipv4_loopback_ports(self.snapshot.listeners)
            v, sentence = verdict_sentence(row, mine, v4_ports)
            line.append(f"{row.first.port} ", style="bold")
            line.append(sentence, style=VERDICT_STYLE[v])
            ages = [r.probed_at for r in mine if r.probed_at]
            if ages:
                line.append(f" · probed {_age(self.clock() - min(ages))} ago", style="dim")
        self.query_one("#verdict", Static).update(line)

    def _update_status(self) -> None:
        if not self.query("#status"):
            return  # shutting down
        status = self.query_one("#status", Static)
        snapshot = self.snapshot
        line = Text()
        if snapshot is None:
            line.append(f"netdash {__version__} · reading sockets…")
        else:
            listeners = visible(snapshot.listeners, self.udp)
            verdicts = [verdict(li, self.results.get(li.key, ())) for li in listeners]
            verified = verdicts.count(Verdict.EXPOSED)
            exposed = verified + verdicts.count(Verdict.EXPOSED_UNVERIFIED)
            line.append(clean(snapshot.hostname, 30), style="bold")
            line.append(" · LAN ")
            line.append(", ".join(self.lan.values()) or "none", style="bold cyan")
            noun = "TCP+UDP listeners" if self.udp else "listeners"
            line.append(f" · {len(listeners)} {noun}, ")
            line.append(f"{exposed} exposed", style="bold yellow" if exposed else "green")
            if verified:
                line.append(", ")
                line.append(f"{verified} verified", style="bold red")
        notes: list[tuple[str, str]] = []
        if snapshot is not None:
            polled = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
            notes.append((f"polled {polled}, every {self.interval:g} s", "dim"))
        if self.probe_status:
            notes.append((self.probe_status, "cyan"))
        if snapshot is not None:
            notes += [(f"partial view: {r}", "yellow") for r in snapshot.partial_reasons]
        if self.lan_problem:
            notes.append((self.lan_problem, "yellow"))
        if self.poll_error:
            notes.append((f"poll failed: {clean(self.poll_error, 120)} (retrying)", "red"))
        for n, (note, style) in enumerate(notes):
            line.append("\n" if n == 0 else " · ")
            line.append(note, style=style)
        status.update(line)
        status.set_class(bool(snapshot and snapshot.partial), "-partial")

    # Probing -----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._start_poll()

    def action_toggle_udp(self) -> None:
        self.udp = not self.udp
        self.notify("UDP listeners shown" if self.udp else "UDP listeners hidden", markup=False)
        self._redraw()

    def _probe_running(self) -> bool:
        return any(w.group == "probe" and w.is_running for w in self.workers)

    def action_probe(self) -> None:
        """Probe every TCP listener; a run in flight is cancelled and replaced."""
        if self.snapshot is None:
            self.notify("No snapshot yet; wait for the first poll.", markup=False)
            return
        self._probe_worker(self.snapshot, None)

    def action_probe_selected(self) -> None:
        """Probe just the listeners of the highlighted row."""
        row = self.query_one(ListenerTable).selected_row()
        if self.snapshot is None or row is None:
            return
        if row.first.protocol != "tcp":
            self.notify("UDP listeners are not probed (netdash speaks HTTP).", markup=False)
            return
        self._probe_worker(self.snapshot, list(row.listeners))

    @work(group="probe", exclusive=True, exit_on_error=False)
    async def _probe_worker(self, snapshot: Snapshot, only: list[Listener] | None) -> None:
        listeners = [li for li in (only or snapshot.listeners) if li.protocol == "tcp"]
        lan = dict(self.lan)
        total = len({(li.key, t) for li in listeners for t in probe_targets(li, lan)})
        done = 0
        start = time.perf_counter()
        fresh: dict[ListenerKey, list[ProbeResult]] = {}
        owners = {li.key: frozenset(li.pids) for li in listeners}

        def arrived(result: ProbeResult) -> None:
            nonlocal done
            done += 1
            fresh.setdefault(result.listener, []).append(result)
            self.results[result.listener] = fresh[result.listener]
            self._probed_owners[result.listener] = owners[result.listener]
            self.probe_status = f"probing {done}/{total}…"
            self._schedule_redraw()

        self.probe_status = f"probing 0/{total}…"
        self._update_status()
        try:
            results = await probe_listeners(
                listeners, lan, own_addresses(snapshot.interfaces), self.probe_limits, arrived
            )
        except Exception as exc:  # never let a probe failure end the app
            self.probe_status = f"probe failed: {clean(str(exc), 120)}"
            self._update_status()
            return
        if only is None:  # a full run replaces every result, including vanished listeners'
            self.results = {k: v for k, v in self.results.items() if k in fresh}
        elapsed = time.perf_counter() - start
        what = f"{len(listeners)} listeners" if only is None else f"port {listeners[0].port}"
        self.probe_status = f"probed {what} ({len(results)} probes) in {elapsed:.1f} s" + (
            "" if lan else "; no LAN address found, loopback only"
        )
        self._redraw()

    def _schedule_redraw(self) -> None:
        """Redraw soon, at most ten times a second however fast results arrive."""
        if not self._redraw_pending:
            self._redraw_pending = True
            self.set_timer(0.1, self._flush_redraw)

    def _flush_redraw(self) -> None:
        self._redraw_pending = False
        self._redraw()

    def probed(self) -> Sequence[ProbeResult]:
        """Every probe result currently shown (for tests and scripts)."""
        return [r for results in self.results.values() for r in results]


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, int(seconds))} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"
