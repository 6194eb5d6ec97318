"""The netdash terminal dashboard (Textual).

The app only schedules and draws: a thread worker reads a :class:`Snapshot` (psutil blocks),
posts it as a message, and the next poll is armed only after that, so polls never overlap.
Probing runs in an async worker on the app's event loop; results arrive one by one. A new
probe run cancels the one in flight, and quitting cancels every probe at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
import webbrowser
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import psutil
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container, ScrollableContainer
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from netdash import __version__
from netdash.core.addresses import own_addresses, scope_of
from netdash.core.assess import Assessment
from netdash.core.lan import choose_lan, probe_targets, resolve_lan
from netdash.core.model import (
    Listener,
    ListenerKey,
    Outcome,
    ProbeResult,
    Process,
    Scope,
    Snapshot,
    Verdict,
    Via,
)
from netdash.core.policy import AllowRule, Policy
from netdash.core.services import ServiceRow, leader, row_processes, visible
from netdash.core.text import clean
from netdash.output.labels import VERDICT_STYLE, verdict_sentence
from netdash.probe.child import probe_in_processes
from netdash.probe.engine import ProbeLimits, build_url, probe_listeners
from netdash.sources.processes import (
    ProcessCache,
    ProcessDetails,
    established_connections,
    process_details,
)
from netdash.sources.snapshot import collect_snapshot
from netdash.tui.widgets import InterfaceDiagram, ListenerTable
from netdash.tui.widgets.screens import DetailsScreen, HelpScreen, KillScreen, details_renderable

__all__ = ["NetdashApp"]

Collector = Callable[[], Snapshot]


@dataclass
class SnapshotReady(Message):
    """A poll finished; posted from the poll thread. ``changed``: the snapshot differs from
    the previous one (its time aside), as the poll thread found when deciding to send it."""

    snapshot: Snapshot
    changed: bool = True


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
    the time for result ages (seconds since the epoch; tests freeze it). ``bell`` rings the
    terminal bell on a new exposure. ``browser`` opens a URL (``webbrowser.open``; the
    boundary tests replace). ``allow`` rules (``netdash.core.policy``, from the config file)
    acknowledge exposures: they raise no warning. ``ignore_interfaces`` are left out of the
    diagram.
    """

    TITLE = "netdash"
    CSS_PATH = "netdash.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "probe", "Probe all"),
        Binding("P", "probe_selected", "Probe row", show=False),
        Binding("k", "kill", "Stop"),
        Binding("o", "open", "Open", show=False),
        Binding("c", "copy", "Copy URL", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("e", "toggle_exposed", "Exposed only", show=False),
        Binding("u", "toggle_udp", "UDP", show=False),
        Binding("6", "toggle_ipv6", "IPv6", show=False),
        Binding("s", "cycle_sort", "Sort", show=False),
        Binding("space", "pause", "Pause", show=False, priority=True),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("escape", "close_filter", "Clear filter", show=False, priority=True),
    ]
    SORTS = ("scope", "port", "process")

    CHILD_PROCESSES_FROM = 64
    """Probe runs of at least this many targets go to child processes (netdash.probe.child);
    smaller ones run in a thread here, which answers ~0.25 s sooner (a child's start-up)
    and costs the dashboard little."""

    def __init__(
        self,
        interval: float = 2.0,
        lan_override: Sequence[str] = (),
        collector: Collector | None = None,
        probe_limits: ProbeLimits | None = None,
        udp: bool = False,
        auto_probe: bool = False,
        clock: Callable[[], float] = time.time,
        bell: bool = False,
        browser: Callable[[str], object] = webbrowser.open,
        allow: Sequence[AllowRule] = (),
        ignore_interfaces: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.policy = Policy.of(allow, ignore_interfaces)
        self.ignore_interfaces = self.policy.ignore_interfaces
        self.clock = clock
        self.bell_on_exposure = bell
        self.browser = browser
        self.filter_text = ""
        self.exposed_only = False
        self.show_ipv6 = True
        self.sort = "scope"
        self.paused = False
        self._signals: list[int] = []
        self._lines_shown: dict[str, Text] = {}  # widget id -> the text it shows
        self._changed_at: float | None = None  # when the listeners last changed (epoch s)
        self.udp = udp
        self.auto_probe = auto_probe
        self.interval = interval
        self.lan_override = tuple(lan_override)
        self.collector = collector or _default_collector()
        self.probe_limits = probe_limits or ProbeLimits()
        self.snapshot: Snapshot | None = None
        self.lan: dict[int, str] = {}
        self._results: dict[ListenerKey, list[ProbeResult]] = {}
        self._results_version = 0
        self._assessment: Assessment | None = None
        self._assessment_key: tuple[int, int, bool] | None = None
        self._probed_owners: dict[ListenerKey, int | None] = {}  # leader pid when probed
        self.poll_error: str | None = None
        self.lan_problem: str | None = None
        self.probe_status: str | None = None
        self._poll_now = threading.Event()  # wakes the poll thread: refresh, resume, quit
        self._table: ListenerTable | None = None
        self._poll_once = False  # poll even while paused (r)
        self._polling = False  # the poll thread is running
        self._stopping = False
        self._redraw_pending = False
        self._changed_results: set[ListenerKey] = set()

    def compose(self) -> ComposeResult:
        yield Static("netdash: reading sockets…", id="status", markup=False)
        yield Input(placeholder="filter: port, address, process or command line", id="filter")
        with Container(id="main"):
            yield ListenerTable(id="listeners")
            yield Static("", id="verdict", markup=False)
            with ScrollableContainer(id="diagram-box"):
                yield InterfaceDiagram(id="diagram")
        yield Footer()

    def on_mount(self) -> None:
        self._table = self.query_one(ListenerTable)
        self._table.focus()
        self._handle_signals()
        self._start_poll()

    SHUTDOWN_GRACE = 2.0
    """Seconds a signal leaves the app to shut down before the process ends regardless."""

    def _handle_signals(self) -> None:
        """SIGTERM, SIGHUP and SIGINT end the app the normal way, so Textual restores the
        terminal (alternate screen, mouse tracking) before the process exits."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._exit_on_signal, signum)
                self._signals.append(signum)

    def _exit_on_signal(self, signum: int) -> None:
        """Exit as ``q`` does, with a watchdog: when the terminal has gone away (a closed
        window, a dropped ssh session: SIGHUP), Textual's output thread can have died on the
        dead terminal and its shutdown then blocks forever writing to it (seen as netdash
        processes left behind by tmux ``kill-window`` right after start; the same dead-queue
        hang as Textualize/textual#6692). After :attr:`SHUTDOWN_GRACE` seconds the process
        ends with status 128 + the signal number; probe children see their stdin close and
        stop."""
        watchdog = threading.Timer(self.SHUTDOWN_GRACE, os._exit, args=(128 + signum,))
        watchdog.daemon = True
        watchdog.start()
        self.exit()

    def on_unmount(self) -> None:
        self._stopping = True
        self._poll_now.set()  # the poll thread ends now rather than after its interval
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        self._signals.clear()

    # Polling -----------------------------------------------------------------------------

    def _start_poll(self) -> None:
        """Poll now (the first poll, ``r``, resuming, after stopping a process), also once
        while paused."""
        self._poll_once = True
        self._poll_now.set()
        if not self._polling:
            self._polling = True
            # A plain daemon thread, not a Textual worker: Textual waits for its workers before
            # unmounting, and this one may be asleep for the whole interval.
            threading.Thread(target=self._poll_loop, name="netdash-poll", daemon=True).start()

    def _poll_loop(self) -> None:
        """One thread polls for the app's lifetime: collect, then wait ``interval`` seconds
        (or until woken). A snapshot equal to the last one (but for its time) is not sent to
        the app unless the app needs every poll (results to re-check, rows fading, an error
        to clear): an idle poll then costs the dashboard's thread nothing, where a worker per
        poll cost it a timer, a worker and four messages, about 1 % of a core at 1 s."""
        last: Snapshot | None = None
        failed = False
        while not self._stopping:
            self._poll_now.clear()
            if not self.paused or self._poll_once:
                self._poll_once = False
                try:
                    snapshot = self.collector()
                except Exception as exc:  # psutil.Error, OSError, a vanished interface, a bug
                    failed = True
                    self.post_message(PollFailed(f"{type(exc).__name__}: {exc}"))
                else:
                    changed = last is None or replace(last, taken_at=0.0) != replace(
                        snapshot, taken_at=0.0
                    )
                    if changed or failed or self._needs_every_poll():
                        self.post_message(SnapshotReady(snapshot, changed))
                    last, failed = snapshot, False
            self._poll_now.wait(None if self.paused else self.interval)

    def _needs_every_poll(self) -> bool:
        """Asked from the poll thread: plain attribute reads; a stale answer costs a poll."""
        table = self._table
        animating = table is not None and table.animating
        return bool(self.results) or animating or self.poll_error is not None

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        previous = self.snapshot
        had_error = self.poll_error is not None
        self.poll_error = None
        self.snapshot = message.snapshot
        same = previous is not None and not message.changed
        animating = self.query_one(ListenerTable).animating
        if same and not self.results and not had_error and not animating:
            # An idle machine: nothing differs from the last poll, so nothing is redrawn and
            # the header, which says since when nothing changed, stays as it is.
            return
        if not same:
            self._changed_at = message.snapshot.taken_at
            self.lan = self._resolve_lan(message.snapshot)
        owners = {li.key: leader(li) for li in message.snapshot.listeners}
        # A result belongs to the program that answered it (its leading process): a new owner
        # of the port drops it; workers coming and going do not.
        kept = {
            k: v
            for k, v in self.results.items()
            if k in owners and owners[k] == self._probed_owners.get(k)
        }
        unchanged = same and kept.keys() == self.results.keys() and not animating
        self.results = kept
        if unchanged:
            self._update_status()  # no table or diagram work; usually no repaint at all
        else:
            self._redraw()
        if previous is not None:
            self._announce_new_exposures(previous, message.snapshot)
        if self.auto_probe and previous is not None:
            known = {li.key for li in previous.listeners}
            new = [li for li in message.snapshot.listeners if li.key not in known]
            if new and not self._probe_running():
                self._probe_worker(message.snapshot, new)

    def on_poll_failed(self, message: PollFailed) -> None:
        self.poll_error = message.reason
        self._update_status()

    def _resolve_lan(self, snapshot: Snapshot) -> dict[int, str]:
        self.lan_problem = None
        try:
            return resolve_lan(snapshot, self.lan_override)
        except ValueError as exc:  # the --lan address went away since start-up
            self.lan_problem = str(exc)
            return choose_lan(snapshot)

    def _announce_new_exposures(self, before: Snapshot, after: Snapshot) -> None:
        """Listeners that appear beyond loopback are announced once (one notification per
        poll), with the bell if asked; exposures the config allows stay quiet."""
        known = {li.key for li in before.listeners}
        new = [
            listener
            for listener in after.listeners
            if listener.key not in known
            and (self.udp or listener.protocol == "tcp")
            and self.assessment.of(listener).is_finding
        ]
        if new:
            self._warn("New exposure: " + _summary(new))

    @property
    def assessment(self) -> Assessment:
        """The assessment of the current snapshot, results, policy and UDP toggle, made
        again only when one of them changed (every view reads it; none re-derives a verdict).
        Raises ``RuntimeError`` before the first snapshot."""
        snapshot = self.snapshot
        if snapshot is None:
            raise RuntimeError("no snapshot yet")
        key = (id(snapshot), self._results_version, self.udp)
        if self._assessment is None or self._assessment_key != key:
            results = self._results if self._results else None
            self._assessment = Assessment(snapshot, results, self.policy, udp=self.udp)
            self._assessment_key = key
        return self._assessment

    @property
    def results(self) -> dict[ListenerKey, list[ProbeResult]]:
        """Probe results by listener key (assign a new dict, or call
        :meth:`_results_changed` after changing it in place)."""
        return self._results

    @results.setter
    def results(self, value: dict[ListenerKey, list[ProbeResult]]) -> None:
        self._results = value
        self._results_changed()

    def _results_changed(self) -> None:
        self._results_version += 1

    def _warn(self, message: str) -> None:
        self.notify(message, severity="warning", timeout=8, markup=False)
        if self.bell_on_exposure:
            self.bell()

    # Drawing -----------------------------------------------------------------------------

    def _redraw(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not self.query(ListenerTable):
            return
        shown = self._shown(snapshot)
        compact = self.size.height < 30
        self.query_one("#diagram-box").set_class(compact, "-compact")
        with self.batch_update():
            alive = {li.key for li in snapshot.listeners}
            self.query_one(ListenerTable).show(self.assessment, shown, sort=self.sort, alive=alive)
            if self.ignore_interfaces:
                kept = tuple(i for i in snapshot.interfaces if i.name not in self.ignore_interfaces)
                snapshot = replace(snapshot, interfaces=kept)
            self.query_one(InterfaceDiagram).show(
                snapshot, self.results, self.lan, shown, compact=compact
            )
            self._update_status()
            self._update_verdict()

    def on_data_table_row_highlighted(self) -> None:
        self._update_verdict()

    def on_data_table_row_selected(self) -> None:
        """``enter`` on a row (the table's own select binding) opens its details."""
        self.action_details()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a column header sorts by it (address sorts by scope)."""
        column = str(event.column_key.value)
        self.sort = {"port": "port", "process": "process"}.get(column, "scope")
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _shown(self, snapshot: Snapshot) -> list[Listener]:
        """The listeners the toggles and the filter let through."""
        shown = visible(snapshot.listeners, self.udp)
        if not self.show_ipv6:
            shown = [li for li in shown if li.family == 4]
        if self.exposed_only:
            assessment = self.assessment
            shown = [li for li in shown if assessment.of(li).exposed]
        if self.filter_text:
            shown = [li for li in shown if matches(li, self.filter_text)]
        return shown

    def _update_verdict(self) -> None:
        """The verdict line under the table, for the highlighted row."""
        tables = self.query(ListenerTable)
        if not tables:
            return  # shutting down: the screen is already gone
        line = Text()
        row = tables.first().selected_row()
        if row is not None and self.snapshot is not None:
            assessed = self.assessment.row(row)
            mine = assessed.results
            v, sentence = verdict_sentence(assessed)
            line.append(f"{row.first.port} ", style="bold")
            line.append(sentence, style=VERDICT_STYLE[v])
            why = assessed.lead.acknowledged if assessed.exposed else None
            if why:
                line.append(f" · acknowledged: {why}", style="cyan")
            ages = [r.probed_at for r in mine if r.probed_at]
            if ages:
                line.append(f" · probed {_age(self.clock() - min(ages))} ago", style="dim")
        self._set_line(self.query_one("#verdict", Static), line)

    def _set_line(self, widget: Static, line: Text) -> None:
        """``widget.update(line)`` when the text changed, with a relayout only when its
        length changed (it may wrap to another height). An idle poll then repaints nothing
        (a repaint costs Textual ~1 % of a core per second), and a relayout, ~0.1 s of the
        whole screen at 1,000 listeners, comes only when a line may change height."""
        key = widget.id or ""
        before = self._lines_shown.get(key)
        if before is not None and before == line:
            return
        widget.update(line, layout=before is None or len(before.plain) != len(line.plain))
        self._lines_shown[key] = line

    def _update_status(self) -> None:
        if not self.query("#status"):
            return  # shutting down
        status = self.query_one("#status", Static)
        snapshot = self.snapshot
        line = Text()
        if snapshot is None:
            line.append(f"netdash {__version__} · reading sockets…")
        else:
            assessment = self.assessment
            listeners = assessment.shown
            exposed = len(assessment.findings)
            verified = assessment.verified
            allowed = len(assessment.exposures) - exposed
            line.append(clean(snapshot.hostname, 30), style="bold")
            line.append(" · LAN ")
            line.append(", ".join(self.lan.values()) or "none", style="bold cyan")
            noun = "TCP+UDP listeners" if self.udp else "listeners"
            line.append(f" · {len(listeners)} {noun}, ")
            line.append(f"{exposed} exposed", style="bold yellow" if exposed else "green")
            if verified:
                line.append(", ")
                line.append(f"{verified} verified", style="bold red")
            if allowed:
                line.append(f", {allowed} allowed", style="cyan")
        notes: list[tuple[str, str]] = []
        if self.paused:
            notes.append(("PAUSED (space resumes)", "bold reverse"))
        if snapshot is not None:
            since = time.strftime("%H:%M:%S", time.localtime(self._changed_at or 0))
            notes.append((f"unchanged since {since}, polling every {self.interval:g} s", "dim"))
        views = [
            f"filter {self.filter_text!r}" if self.filter_text else "",
            "exposed only" if self.exposed_only else "",
            "IPv6 hidden" if not self.show_ipv6 else "",
            f"sorted by {self.sort}" if self.sort != "scope" else "",
        ]
        if any(views):
            notes.append((" · ".join(v for v in views if v), "magenta"))
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
        self._set_line(status, line)
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
        owners = {li.key: leader(li) for li in listeners}
        assessment = self.assessment
        before = {li.key: assessment.of(li).verdict for li in listeners}

        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def deliver(result: ProbeResult) -> None:  # in the probe thread
            loop.call_soon_threadsafe(arrived, result)

        def arrived(result: ProbeResult) -> None:
            nonlocal done
            if stop.is_set():
                return  # a late result of a cancelled run
            done += 1
            fresh.setdefault(result.listener, []).append(result)
            self.results[result.listener] = fresh[result.listener]
            self._results_changed()
            self._probed_owners[result.listener] = owners[result.listener]
            self.probe_status = f"probing {done}/{total}…"
            self._changed_results.add(result.listener)
            self._schedule_redraw()

        self.probe_status = f"probing 0/{total}…"
        self._update_status()
        own = own_addresses(snapshot.interfaces)
        # Large runs go to child processes (netdash.probe.child), so hundreds of connections
        # neither compete with key presses and drawing for the GIL nor share this core;
        # results stream back one by one. Small runs, or when no child can start, run on
        # their own event loop in a thread here.
        try:
            results = None
            if total >= self.CHILD_PROCESSES_FROM:
                try:
                    results = await probe_in_processes(
                        listeners, lan, own, self.probe_limits, arrived
                    )
                except OSError:
                    if done:
                        raise  # a later child failed to start; the first ones' results stand
            if results is None:
                results = await asyncio.to_thread(
                    _probe_in_thread, listeners, lan, own, self.probe_limits, deliver, stop
                )
        except Exception as exc:  # never let a probe failure end the app
            self.probe_status = f"probe failed: {clean(str(exc), 120)}"
            self._update_status()
            return
        finally:
            stop.set()  # also when this worker is cancelled: the thread stops its probes
        if only is None:  # a full run replaces every result, including vanished listeners'
            self.results = {k: v for k, v in self.results.items() if k in fresh}
        after = self.assessment
        verified = [
            listener
            for listener in listeners
            if listener.key in fresh
            and after.of(listener).is_finding
            and after.of(listener).verdict is Verdict.EXPOSED
            and before.get(listener.key) is not Verdict.EXPOSED
        ]
        if verified:
            self._warn(
                "Verified: "
                + _summary(verified)
                + (" accepts" if len(verified) == 1 else " accept")
                + " connections on the LAN address"
            )
        elapsed = time.perf_counter() - start
        what = f"{len(listeners)} listeners" if only is None else f"port {listeners[0].port}"
        self.probe_status = f"probed {what} ({len(results)} probes) in {elapsed:.1f} s" + (
            "" if lan else "; no LAN address found, loopback only"
        )
        self._redraw()

    # Views ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """enter keeps the filter and returns to the table."""
        self._close_filter(keep=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``escape`` clears the filter only on the main screen and only when there is one;
        otherwise the key goes on (to close a details or confirmation screen)."""
        if action == "close_filter":
            if len(self.screen_stack) > 1 or not self.query("#filter"):
                return False
            field = self.query_one("#filter", Input)
            return bool(field.display or self.filter_text)
        return True

    def action_close_filter(self) -> None:
        self._close_filter(keep=False)

    def _close_filter(self, keep: bool) -> None:
        field = self.query_one("#filter", Input)
        if not keep:
            field.value = ""
            self.filter_text = ""
        field.display = bool(self.filter_text)
        self.query_one(ListenerTable).focus()
        self._redraw()

    def action_toggle_exposed(self) -> None:
        self.exposed_only = not self.exposed_only
        self._redraw()

    def action_toggle_ipv6(self) -> None:
        self.show_ipv6 = not self.show_ipv6
        self._redraw()

    def action_cycle_sort(self) -> None:
        self.sort = self.SORTS[(self.SORTS.index(self.sort) + 1) % len(self.SORTS)]
        self._redraw()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self._start_poll()
        self._update_status()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in (
            ("Probe all listeners", "Probe via loopback and LAN (p)", self.action_probe),
            ("Show exposed only", "Toggle the exposed-only view (e)", self.action_toggle_exposed),
            ("Show UDP listeners", "Toggle UDP listeners (u)", self.action_toggle_udp),
            ("Show IPv6 listeners", "Toggle IPv6 listeners (6)", self.action_toggle_ipv6),
            ("Sort", "Cycle sort: scope, port, process (s)", self.action_cycle_sort),
            ("Pause or resume", "Stop or restart polling (space)", self.action_pause),
            ("Keys and marks", "What every key and mark means (?)", self.action_help),
        ):
            yield SystemCommand(title, help_text, action)

    # Acting on a row ---------------------------------------------------------------------------

    def _selected(self) -> ServiceRow | None:
        row = self.query_one(ListenerTable).selected_row()
        if row is None:
            self.notify("Select a listener first.", markup=False)
        return row

    def action_details(self) -> None:
        row = self._selected()
        if row is None or self.snapshot is None:
            return
        assessed = self.assessment.row(row)
        results = assessed.results
        v, sentence = verdict_sentence(assessed)
        # The same hint as `netdash check` gives for the row's (first) listener.
        hint = assessed.hint.text if row.scope is not Scope.LOOPBACK else None

        def render(procs: Sequence[ProcessDetails] | None, conns: int | None) -> Any:
            return details_renderable(row, v, sentence, results, procs, conns, hint, self.clock())

        screen = DetailsScreen(render(None, None))

        def closed(choice: str | None) -> None:
            if choice == "probe":
                if self.snapshot is not None:
                    self._probe_worker(self.snapshot, list(row.listeners))
            elif choice == "kill":
                self.action_kill()

        self.push_screen(screen, closed)
        self._details_worker(screen, row, render)

    @work(thread=True, group="details", exclusive=True, exit_on_error=False)
    def _details_worker(
        self,
        screen: DetailsScreen,
        row: ServiceRow,
        render: Callable[[Sequence[ProcessDetails] | None, int | None], Any],
    ) -> None:
        pids = [p.pid for p in row_processes(row) if p.pid is not None]
        try:
            procs = process_details(pids)
            conns = established_connections(row.first.protocol, row.first.port)
        except Exception as exc:  # what another program did must not leave "reading…" forever
            self.call_from_thread(
                self.notify, f"Could not read process details: {exc}", severity="error"
            )
            procs, conns = [], None
        self.call_from_thread(screen.show, render(procs, conns))

    def _selected_url(self) -> str | None:
        row = self._selected()
        if row is None or self.snapshot is None:
            return None
        return url_for(row, self.assessment.row(row).results)

    def action_open(self) -> None:
        url = self._selected_url()
        if url is not None:
            self.browser(url)
            self.notify(f"Opening {url}", markup=False)

    def action_copy(self) -> None:
        url = self._selected_url()
        if url is not None:
            self.copy_to_clipboard(url)
            self.notify(f"Copied {url}", markup=False)

    def action_kill(self) -> None:
        row = self._selected()
        if row is None:
            return
        target = next((p for p in row_processes(row) if p.pid is not None), None)
        if target is None or target.pid is None:
            self.notify(
                "The owner of this socket is unknown; run netdash as root to stop it.",
                severity="error",
                markup=False,
            )
            return
        name = clean(target.name, 40) or "?"
        workers = len([p for p in row_processes(row) if p.pid is not None]) - 1
        family = f" and its {workers} worker{'s' if workers > 1 else ''}" if workers else ""
        question = (
            f"Stop {name} (pid {target.pid}){family}, listening on port {row.first.port}?\n"
            "netdash sends SIGTERM; if it is still running after 2 s it offers SIGKILL."
        )

        def answered(choice: str | None) -> None:
            if choice == "TERM":
                self._signal_worker(target, signal.SIGTERM, row.first.port)

        self.push_screen(KillScreen(question), answered)

    @work(group="kill", exit_on_error=False)
    async def _signal_worker(self, target: Process, signum: int, port: int) -> None:
        assert target.pid is not None
        problem = send_signal(target, signum)
        if problem:
            self.notify(problem, severity="error", markup=False)
            return
        for _ in range(20):
            await asyncio.sleep(0.1)
            if not _alive(target):
                self.notify(f"Stopped pid {target.pid} (port {port}).", markup=False)
                self._start_poll()
                return
        if signum == signal.SIGKILL:
            self.notify(f"pid {target.pid} is still there after SIGKILL.", severity="error")
            return

        def answered(choice: str | None) -> None:
            if choice == "KILL":
                self._signal_worker(target, signal.SIGKILL, port)

        question = f"pid {target.pid} is still running 2 s after SIGTERM. Send SIGKILL?"
        self.push_screen(KillScreen(question, escalate=True), answered)

    def _schedule_redraw(self) -> None:
        """Redraw soon, at most twice a second however fast results arrive."""
        if not self._redraw_pending:
            self._redraw_pending = True
            self.set_timer(0.5, self._flush_redraw)

    def _flush_redraw(self) -> None:
        """While probing, only the rows whose results arrived are redrawn (and the header);
        the full redraw, diagram included, comes when the run ends."""
        self._redraw_pending = False
        changed, self._changed_results = self._changed_results, set()
        if self.snapshot is None or not self.query(ListenerTable):
            return
        self.query_one(ListenerTable).update_results(changed, self.assessment)
        self._update_status()
        self._update_verdict()

    def probed(self) -> Sequence[ProbeResult]:
        """Every probe result currently shown (for tests and scripts)."""
        return [r for results in self.results.values() for r in results]


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, int(seconds))} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"


def _probe_in_thread(
    listeners: Sequence[Listener],
    lan: dict[int, str],
    own: frozenset[Any],
    limits: ProbeLimits,
    deliver: Callable[[ProbeResult], None],
    stop: threading.Event,
) -> list[ProbeResult]:
    """``probe_listeners`` on a fresh event loop in the calling thread; setting ``stop``
    cancels every probe in flight within 0.1 s."""

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


def matches(listener: Listener, text: str) -> bool:
    """The filter: ``text`` found (case-insensitive) in the port, bind address, a process
    name or command line, the pid or the user."""
    needle = text.lower()
    haystack = [str(listener.port), listener.address]
    for p in listener.processes:
        haystack += [p.name or "", " ".join(p.cmdline), str(p.pid or ""), p.user or ""]
    return any(needle in item.lower() for item in haystack)


def _who(listener: Listener) -> str:
    named = next((p for p in listener.processes if p.name), None)
    if named is None:
        return "an unknown process"
    return f"{clean(named.name, 40)} (pid {named.pid})"


def _summary(listeners: Sequence[Listener], most: int = 3) -> str:
    """``uvicorn (pid 42) on 0.0.0.0:8000``, or several of those and ``+N more``."""
    parts = [f"{_who(li)} on {_endpoint(li)}" for li in listeners[:most]]
    if len(listeners) > most:
        parts.append(f"+{len(listeners) - most} more")
    return "; ".join(parts)


def _endpoint(listener: Listener) -> str:
    address = f"[{listener.address}]" if ":" in listener.address else listener.address
    suffix = "/udp" if listener.protocol == "udp" else ""
    return f"{address}:{listener.port}{suffix}"


def url_for(row: ServiceRow, results: Sequence[ProbeResult]) -> str:
    """The URL to open for a row: one a probe found answering via loopback (https for a TLS
    port), else ``http://localhost:PORT/`` (or the bind address, for a listener that does
    not answer on loopback)."""
    for result in results:
        if result.via is Via.LOOPBACK and result.outcome in (Outcome.HTTP, Outcome.TLS):
            if result.outcome is Outcome.TLS:
                return result.url.replace("http://", "https://", 1)
            return result.url
    first = row.first
    if scope_of(first.address) is Scope.SPECIFIC_INTERFACE:
        return build_url("http", first.address, first.port)
    return f"http://localhost:{first.port}/"


def send_signal(target: Process, signum: int) -> str | None:
    """Signal ``target`` if its pid still names the same process (create time); returns a
    message for the user when it did not happen, ``None`` on success."""
    assert target.pid is not None
    try:
        proc = psutil.Process(target.pid)
        if target.create_time is not None and proc.create_time() != target.create_time:
            return f"pid {target.pid} now belongs to another process; nothing was signalled."
        proc.send_signal(signum)
    except psutil.NoSuchProcess:
        return f"pid {target.pid} has already exited."
    except psutil.AccessDenied:
        return (
            f"Not allowed to signal pid {target.pid} ({clean(target.user, 30) or 'another user'}"
            "'s process); run netdash as that user or root."
        )
    return None


def _alive(target: Process) -> bool:
    assert target.pid is not None
    try:
        proc = psutil.Process(target.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return target.create_time is None or proc.create_time() == target.create_time
    except psutil.NoSuchProcess:
        return False
