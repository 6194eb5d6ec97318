"""The netdash terminal dashboard (Textual): composes the screen, binds the keys and routes.

The work lives beside it: :mod:`~netdash.tui.poller` reads snapshots in its own thread and
posts them (:mod:`~netdash.tui.messages`); :mod:`~netdash.tui.probe_runner` runs a probe in
the app's probe worker, results arriving one by one (a new run cancels the one in flight,
quitting cancels every probe); :mod:`~netdash.tui.process_control` stops a row's process;
:mod:`~netdash.tui.state` holds the filter and the toggles. Every verdict comes from one
:class:`~netdash.core.assess.Assessment` (:attr:`NetdashApp.assessment`).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container, ScrollableContainer
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from netdash.core.addresses import own_addresses
from netdash.core.assess import Assessment
from netdash.core.history import Event
from netdash.core.lan import choose_lan, choose_lan_explained, resolve_lan
from netdash.core.model import Listener, ListenerKey, ProbeResult, Process, Scope, Snapshot
from netdash.core.policy import AllowRule, Policy
from netdash.core.services import ServiceRow, leader, row_processes
from netdash.core.text import clean
from netdash.history.recorder import HistoryRecorder, RecorderThread
from netdash.output.labels import reach_phrase, verdict_sentence
from netdash.probe.engine import ProbeLimits
from netdash.sources.processes import Peer, ProcessDetails, established_peers, process_details
from netdash.tui import probe_runner
from netdash.tui.describe import summary, url_for
from netdash.tui.desktop import clipboard_note, open_in_browser
from netdash.tui.driver import driver_class as quiet_driver_class
from netdash.tui.lines import status_line, verdict_line
from netdash.tui.messages import HistoryRecorded, PollFailed, SnapshotReady
from netdash.tui.poller import Collector, Poller, default_collector
from netdash.tui.probe_runner import ProbeRun
from netdash.tui.process_control import escalation_question, signal_and_wait, stop_request
from netdash.tui.shutdown import ExitOnSignals
from netdash.tui.state import ViewState
from netdash.tui.widgets import HistoryPanel, InterfaceDiagram, ListenerTable, NamespacesPanel
from netdash.tui.widgets.screens import DetailsScreen, HelpScreen, KillScreen, details_renderable

__all__ = ["NetdashApp"]


class NetdashApp(App[None]):
    """Live view of this machine's listeners by scope, with an interface diagram and probes.

    ``interval`` is seconds between the end of one poll and the start of the next.
    ``lan_override`` holds the ``--lan`` addresses, at most one per family (checked against
    the interfaces at every poll).
    ``collector`` returns a fresh snapshot (default: ``collect_snapshot``); tests pass fixed
    data for deterministic screenshots. ``udp`` starts with UDP listeners shown (``u``).
    ``auto_probe`` probes every listener at the first poll, then each one that appears
    (those that appear during a run are probed when it ends). ``clock`` gives
    the time for result ages (seconds since the epoch; tests freeze it). ``bell`` rings the
    terminal bell on a new exposure. ``browser`` opens a URL through the desktop and returns
    ``None``, or the reason it could not (:func:`netdash.tui.desktop.open_in_browser`; the
    boundary tests replace). ``allow`` rules (``netdash.core.policy``, from the config file)
    acknowledge exposures: they raise no warning. ``ignore_interfaces`` are left out of the
    diagram. ``history`` records what changes (:mod:`netdash.history`; ``None``: history
    is off) in its own thread; ``h`` shows the newest events.
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
        Binding("N", "toggle_namespaces", "Namespaces", show=False),
        Binding("s", "cycle_sort", "Sort", show=False),
        Binding("space", "pause", "Pause", show=False, priority=True),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("h", "toggle_history", "History", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("escape", "close_filter", "Clear filter", show=False, priority=True),
    ]

    CHILD_PROCESSES_FROM = probe_runner.CHILD_PROCESSES_FROM
    """Probe runs of at least this many targets go to child processes (tests lower it)."""

    SHUTDOWN_GRACE = 2.0
    """Seconds SIGTERM, SIGHUP or SIGINT leave the app to shut down before the process ends
    regardless (:class:`~netdash.tui.shutdown.ExitOnSignals`)."""

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
        browser: Callable[[str], str | None] = open_in_browser,
        allow: Sequence[AllowRule] = (),
        ignore_interfaces: Sequence[str] = (),
        history: HistoryRecorder | None = None,
    ) -> None:
        super().__init__(driver_class=quiet_driver_class())
        self._history = RecorderThread(history, self._history_recorded) if history else None
        self._history_events: list[Event] | None = None
        self._history_problem: str | None = None
        self.policy = Policy.of(allow, ignore_interfaces)
        self.ignore_interfaces = self.policy.ignore_interfaces
        self.clock = clock
        self.bell_on_exposure = bell
        self.browser = browser
        self.view = ViewState(udp=udp)
        self.auto_probe = auto_probe
        self.lan_override = tuple(lan_override)
        self.probe_limits = probe_limits or ProbeLimits()
        self.poller = Poller(
            collector or default_collector(),
            interval,
            self.post_message,
            paused=lambda: self.view.paused,
            needs_every_poll=self._needs_every_poll,
        )
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
        self._signals = ExitOnSignals(self.exit, self.SHUTDOWN_GRACE)
        self._lines_shown: dict[str, Text] = {}  # widget id -> the text it shows
        self._changed_at: float | None = None  # when the listeners last changed (epoch s)
        self._table: ListenerTable | None = None
        self._alive: tuple[Snapshot, frozenset[ListenerKey]] | None = None  # _alive_keys
        self._redraw_pending = False
        self._fade_timer: Timer | None = None
        self._auto_pending: list[Listener] = []  # new while a run was in flight (--auto-probe)
        self._changed_results: set[ListenerKey] = set()
        self.crash: BaseException | None = None
        """The unhandled error that ended the app, if one did (its exit code is then 2)."""

    def compose(self) -> ComposeResult:
        yield Static("netdash: reading sockets…", id="status", markup=False)
        yield Input(placeholder="filter: port, address, process or command line", id="filter")
        with Container(id="main"):
            yield ListenerTable(id="listeners")
            yield Static("", id="verdict", markup=False)
            with ScrollableContainer(id="diagram-box"):
                yield InterfaceDiagram(id="diagram")
            yield HistoryPanel("", id="history")
        yield NamespacesPanel(lambda: self.snapshot, id="namespaces")
        yield Footer()

    def on_mount(self) -> None:
        self._table = self.query_one(ListenerTable)
        self._table.focus()
        self._signals.install()
        self.poller.poll_now()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Once a second, the verdict line again (its ``probed N s ago``); nothing is
        repainted unless its text changed."""
        if self.snapshot is not None and self.results:
            self._update_verdict()

    def _handle_exception(self, error: Exception) -> None:
        """Remember an unhandled error for the command line's exit code; Textual then
        restores the terminal and prints it."""
        self.crash = error
        super()._handle_exception(error)

    def on_unmount(self) -> None:
        self.poller.stop()
        if self._history is not None:
            self._history.stop()
        self._signals.remove()

    # Snapshots and results -----------------------------------------------------------------

    def _needs_every_poll(self) -> bool:
        """Asked from the poll thread: plain attribute reads; a stale answer costs a poll."""
        table = self._table
        animating = table is not None and table.animating
        return bool(self.results) or animating or self.poll_error is not None

    def _shutting_down(self) -> bool:
        """True once the dashboard's widgets are going (the app is exiting): a poll or a probe
        result that arrives then is dropped, not drawn into removed widgets."""
        table = self._table
        return self._exit or table is None or not table.is_attached

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if self._shutting_down():
            return
        previous = self.snapshot
        had_error = self.poll_error is not None
        self.poll_error = None
        self.snapshot = message.snapshot
        same = previous is not None and not message.changed
        animating = self._table is not None and self._table.animating
        if same and not self.results and not had_error and not animating:
            return  # idle: nothing is redrawn; the header's "unchanged since" stays true
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
        if not same and self._history is not None:  # listeners changed: record (a thread)
            self._history.submit(message.snapshot, self._results or None, self.policy)
        if unchanged:
            self._update_status()  # no table or diagram work; usually no repaint at all
        else:
            self._redraw()
        if previous is not None:
            known = {li.key for li in previous.listeners}
            new = [li for li in message.snapshot.listeners if li.key not in known]
            exposures = [
                li
                for li in new
                if (self.view.udp or li.protocol == "tcp") and self.assessment.of(li).is_finding
            ]
            if exposures:  # announced once, with the bell if asked; allowed ones stay quiet
                self._warn("New exposure: " + summary(exposures))
            if self.auto_probe and new:
                if self._probe_running():  # probed when the run in flight ends
                    self._auto_pending.extend(new)
                else:
                    self._probe(new, asked=False)
        elif self.auto_probe:  # the first snapshot: every listener that exists at start
            self._probe(message.snapshot.listeners, asked=False)

    def on_poll_failed(self, message: PollFailed) -> None:
        if self._shutting_down():
            return
        self.poll_error = message.reason
        self._update_status()

    def _resolve_lan(self, snapshot: Snapshot) -> dict[int, str]:
        self.lan_problem = None
        try:
            lan = resolve_lan(snapshot, self.lan_override)
        except ValueError as exc:  # the --lan address went away since start-up
            self.lan_problem = str(exc)
            lan = choose_lan(snapshot)
        self._explain_lan(snapshot, lan)
        return lan

    def _explain_lan(self, snapshot: Snapshot, lan: dict[int, str]) -> None:
        """The header's tooltip: which LAN address is probed per family, and why that one
        (the default route's interface, a physical one before bridges, or ``--lan``)."""
        detected, why = choose_lan_explained(snapshot)
        parts = []
        for family, address in lan.items():
            reason = why[family] if detected.get(family) == address else "given with --lan"
            parts.append(f"IPv{family} {address}: {reason}")
        text = "LAN address probed: " + ("; ".join(parts) if parts else "none found")
        if self.query("#status"):
            self.query_one("#status").tooltip = text

    @property
    def assessment(self) -> Assessment:
        """The assessment of the current snapshot, results, policy and UDP toggle, made
        again only when one of them changed (every view reads it; none re-derives a verdict).
        Raises ``RuntimeError`` before the first snapshot."""
        snapshot = self.snapshot
        if snapshot is None:
            raise RuntimeError("no snapshot yet")
        key = (id(snapshot), self._results_version, self.view.udp)
        if self._assessment is None or self._assessment_key != key:
            results = self._results if self._results else None
            self._assessment = Assessment(snapshot, results, self.policy, udp=self.view.udp)
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

    def probed(self) -> Sequence[ProbeResult]:
        """Every probe result currently shown (for tests and scripts)."""
        return [r for results in self.results.values() for r in results]

    def _warn(self, message: str) -> None:
        self.notify(message, severity="warning", timeout=8, markup=False)
        if self.bell_on_exposure:
            self.bell()

    # Drawing -------------------------------------------------------------------------------

    def _redraw(self) -> None:
        """Table, diagram, status and verdict line from the current snapshot and view."""
        snapshot = self.snapshot
        if snapshot is None or not self.query(ListenerTable):
            return
        assessment = self.assessment
        shown = self.view.shown(assessment)
        compact = self.size.height < 30
        self.query_one("#diagram-box").set_class(compact, "-compact")
        with self.batch_update():
            alive = self._alive_keys(snapshot)
            table = self.query_one(ListenerTable)
            table.show(assessment, shown, sort=self.view.sort, alive=alive)
            self._schedule_fade_end(table.fade_ends_in())
            if self.ignore_interfaces:
                kept = tuple(i for i in snapshot.interfaces if i.name not in self.ignore_interfaces)
                snapshot = replace(snapshot, interfaces=kept)
            self.query_one(InterfaceDiagram).show(
                snapshot, self.results, self.lan, shown, compact=compact
            )
            self._update_status()
            self._update_verdict()
        self.call_after_refresh(self._place_toasts)

    def _alive_keys(self, snapshot: Snapshot) -> frozenset[ListenerKey]:
        """The keys of ``snapshot``'s listeners, made once per snapshot: the table knows by
        the very same object that no row vanished since its last redraw (a key in the filter
        at 20,000 listeners then looks at no row that left the view)."""
        if self._alive is None or self._alive[0] is not snapshot:
            self._alive = (snapshot, frozenset(li.key for li in snapshot.listeners))
        return self._alive[1]

    def _place_toasts(self) -> None:
        """Put the toast rack below the verdict line (over the diagram) when at least four
        lines are free there, else on the side with more room (above it, under the status
        line), and no taller than that room, so that toasts never cover the verdict line or
        the status line. Run after each layout."""
        try:
            rack = self.screen.query_one("#textual-toastrack")  # Screen's own toast rack
            verdict = self.screen.query_one("#verdict").region
            status = self.screen.query_one("#status").region
        except NoMatches:
            return  # a modal screen, or shutting down
        top = status.bottom
        above = verdict.y - top
        below = self.screen.size.height - 1 - verdict.bottom  # the footer's line
        styles = rack.styles
        if below >= min(above, 4):  # over the diagram when it has room: the table stays whole
            styles.dock, styles.align_vertical = "bottom", "bottom"
            styles.margin = (0, 0, 1, 0)
            styles.max_height = max(below, 1)
        else:
            styles.dock, styles.align_vertical = "top", "top"
            styles.margin = (top, 0, 0, 0)
            styles.max_height = max(above, 1)

    def _schedule_fade_end(self, delay: float | None) -> None:
        """Redraw when the next faded row is due to go, so that it leaves the table (and the
        header's ``just stopped``) on time rather than at the next poll."""
        if self._fade_timer is not None:
            self._fade_timer.stop()
            self._fade_timer = None
        if delay is not None:
            self._fade_timer = self.set_timer(delay + 0.05, self._redraw)

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
        if self.snapshot is None or self._shutting_down():
            return
        self.query_one(ListenerTable).update_results(changed, self.assessment)
        self._update_status()
        self._update_verdict()

    def _update_status(self) -> None:
        if not self.query("#status"):
            return  # shutting down
        status = self.query_one("#status", Static)
        line = status_line(
            self.assessment if self.snapshot is not None else None,
            self.lan,
            self.view,
            changed_at=self._changed_at,
            interval=self.poller.interval,
            probe_status=self.probe_status,
            lan_problem=self.lan_problem,
            poll_error=self.poll_error,
            fading=self._table.fading if self._table is not None else 0,
        )
        self._set_line(status, line)
        status.set_class(bool(self.snapshot and self.snapshot.partial), "-partial")

    def _update_verdict(self) -> None:
        """The verdict line under the table, for the highlighted row."""
        tables = self.query(ListenerTable)
        if not tables:
            return  # shutting down: the screen is already gone
        row = tables.first().selected_row()
        assessed = self.assessment.row(row) if row is not None and self.snapshot else None
        self._set_line(self.query_one("#verdict", Static), verdict_line(assessed, self.clock()))

    def _set_line(self, widget: Static, line: Text) -> None:
        """``widget.update(line)`` when the text changed, with a relayout only when its
        length changed (it may wrap to another height). An idle poll then repaints nothing,
        and a relayout (~0.1 s of the whole screen at 1,000 listeners) comes only when a
        line may change height."""
        key = widget.id or ""
        before = self._lines_shown.get(key)
        if before is not None and before == line:
            return
        widget.update(line, layout=before is None or len(before.plain) != len(line.plain))
        self._lines_shown[key] = line

    def on_listener_table_row_highlighted(self) -> None:
        self._update_verdict()

    def on_listener_table_row_selected(self) -> None:
        """``enter`` on a row (the table's own select binding) opens its details."""
        self.action_details()

    def on_listener_table_header_selected(self, event: ListenerTable.HeaderSelected) -> None:
        """A click on a column header sorts by it (address sorts by scope)."""
        self.view.sort_by_column(event.column)
        self._redraw()

    def on_resize(self) -> None:
        """Redraw for the new size once Textual has taken it: this handler runs before the
        app's own, while :attr:`size` still gives the old size (the diagram's form and the
        table's columns would then follow one resize behind)."""
        self.call_later(self._redraw)

    # Views ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.view.filter_text = event.value.strip()
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
            return bool(field.display or self.view.filter_text)
        return True

    def action_close_filter(self) -> None:
        self._close_filter(keep=False)

    def _close_filter(self, keep: bool) -> None:
        field = self.query_one("#filter", Input)
        if not keep:
            field.value = ""
            self.view.filter_text = ""
        field.display = bool(self.view.filter_text)
        self.query_one(ListenerTable).focus()
        self._redraw()

    def action_toggle_exposed(self) -> None:
        self.view.exposed_only = not self.view.exposed_only
        self._redraw()

    def action_toggle_udp(self) -> None:
        self.view.udp = not self.view.udp
        self.notify(
            "UDP listeners shown" if self.view.udp else "UDP listeners hidden", markup=False
        )
        self._redraw()

    def action_toggle_ipv6(self) -> None:
        self.view.show_ipv6 = not self.view.show_ipv6
        self.notify(
            "IPv6-only listeners shown"
            if self.view.show_ipv6
            else "IPv6-only listeners hidden (dual-stack :: stays: it accepts IPv4)",
            markup=False,
        )
        self._redraw()

    def action_toggle_namespaces(self) -> None:
        shown = self.query_one(NamespacesPanel).toggle()
        self.notify(
            "Other network namespaces shown" if shown else "Other network namespaces hidden",
            markup=False,
        )

    def action_cycle_sort(self) -> None:
        self.view.cycle_sort()
        self._redraw()

    def action_pause(self) -> None:
        self.view.paused = not self.view.paused
        if not self.view.paused:
            self.poller.poll_now()
        self._update_status()

    def action_refresh(self) -> None:
        self.poller.poll_now()

    # History -------------------------------------------------------------------------------

    def _history_recorded(self, recent: list[Event], problem: str | None) -> None:
        """Called in the history thread: hand over to the app's thread."""
        self.post_message(HistoryRecorded(recent, problem))

    def on_history_recorded(self, message: HistoryRecorded) -> None:
        if message.problem is not None and self._history_problem is None:
            self.notify(
                f"History off: {message.problem}", severity="warning", timeout=12, markup=False
            )
        self._history_problem = message.problem
        self._history_events = message.recent
        self._show_history()

    def _show_history(self) -> None:
        panel = self.query_one(HistoryPanel)
        if panel.display:
            path = str(self._history.recorder.path) if self._history is not None else None
            panel.show(self._history_events, path, self._history_problem)

    def action_toggle_history(self) -> None:
        """``h``: the history panel in the diagram's place, or the diagram back."""
        panel = self.query_one(HistoryPanel)
        panel.display = not panel.display
        self.query_one("#diagram-box").display = not panel.display
        self._show_history()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the dashboard, with its key, plus Textual's own entries (theme,
        quit, keys), whose screenshot entry is replaced by one that says where it wrote."""
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command
        for title, help_text, action in (
            ("Probe all listeners", "Probe via loopback and LAN (p)", self.action_probe),
            (
                "Probe this row",
                "Probe the highlighted row's listeners (P)",
                self.action_probe_selected,
            ),
            (
                "Details of this row",
                "Command line, user, connections, probes (enter)",
                self.action_details,
            ),
            ("Stop this row's process", "Asks first, then SIGTERM (k)", self.action_kill),
            ("Open in the browser", "The row's URL, through the desktop (o)", self.action_open),
            ("Copy the URL", "The row's URL to the clipboard (c)", self.action_copy),
            ("Filter", "Filter rows as you type (/)", self.action_filter),
            ("Refresh now", "Read the socket table now (r)", self.action_refresh),
            ("Show exposed only", "Toggle the exposed-only view (e)", self.action_toggle_exposed),
            ("Show UDP listeners", "Toggle UDP listeners (u)", self.action_toggle_udp),
            ("Show IPv6-only listeners", "Toggle IPv6-only listeners (6)", self.action_toggle_ipv6),
            (
                "Show other network namespaces",
                "Containers' and ip netns listeners, published ports (N)",
                self.action_toggle_namespaces,
            ),
            ("Sort", "Cycle sort: scope, port, process (s)", self.action_cycle_sort),
            ("Pause or resume", "Stop or restart polling (space)", self.action_pause),
            (
                "History",
                "Recent listener events: appeared, gone, verdict changes (h)",
                self.action_toggle_history,
            ),
            ("Keys and marks", "What every key and mark means (?)", self.action_help),
            (
                "Screenshot",
                "Save an SVG of the screen in the current directory",
                self.action_save_screenshot,
            ),
        ):
            yield SystemCommand(title, help_text, action)

    def action_save_screenshot(self) -> None:
        """Write the screen as SVG to the current directory and say where (or why not)."""
        try:
            path = self.save_screenshot(path=os.getcwd())
        except OSError as exc:
            self.notify(
                f"Screenshot not saved: {exc.strerror or exc}", severity="error", markup=False
            )
            return
        self.notify(f"Screenshot saved: {path}", markup=False)

    # Probing -------------------------------------------------------------------------------

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
        if row is not None:
            self._probe(row.listeners)

    def _probe(self, listeners: Sequence[Listener], asked: bool = True) -> None:
        """Probe the TCP ones of ``listeners``. UDP is never probed: when nothing is left,
        no run starts, and a probe the user ``asked`` for says why."""
        tcp = [li for li in listeners if li.protocol == "tcp"]
        if self.snapshot is None or not tcp:
            if asked and self.snapshot is not None:
                self.notify("UDP listeners are not probed (netdash probes TCP only).", markup=False)
            return
        self._probe_worker(self.snapshot, tcp)

    @work(group="probe", exclusive=True, exit_on_error=False)
    async def _probe_worker(self, snapshot: Snapshot, only: list[Listener] | None) -> None:
        """One :class:`ProbeRun`: each result is shown as it arrives (its rows redrawn at
        most twice a second), then the whole view once the run ends."""
        run = ProbeRun(snapshot, only, self.lan, self.assessment)

        def arrived(result: ProbeResult) -> None:  # on this event loop
            mine = run.add(result)
            if mine is None:
                return  # a late result of a cancelled run
            self.results[result.listener] = mine
            self._results_changed()
            self._probed_owners[result.listener] = run.owners[result.listener]
            self.probe_status = run.progress
            self._changed_results.add(result.listener)
            self._schedule_redraw()

        self.probe_status = run.progress
        self._update_status()
        try:
            results = await run.run(self.probe_limits, arrived, self.CHILD_PROCESSES_FROM)
            if run.full:  # a full run replaces every result, including vanished listeners'
                self.results = {k: v for k, v in self.results.items() if k in run.fresh}
            if self._history is not None:  # the run's outcome per listener
                probed = {r.listener for r in results}
                self._history.submit(snapshot, dict(self._results), self.policy, probed)
            notice = run.verified_notice(self.assessment)
            if notice:
                self._warn(notice)
            self.probe_status = run.finished(len(results))
        except Exception as exc:  # never let a probe failure end the app or stick the header
            self.probe_status = f"probe failed: {clean(str(exc), 120)}"
        self._redraw()
        if self._auto_pending:
            self.call_later(self._probe_pending)

    def _probe_pending(self) -> None:
        """Probe the listeners that appeared during a run (``--auto-probe``) and still exist."""
        pending, self._auto_pending = self._auto_pending, []
        current = {li.key for li in self.snapshot.listeners} if self.snapshot else set()
        still = [li for li in pending if li.key in current and li.key not in self.results]
        if still and not self._probe_running():
            self._probe(still, asked=False)
        elif still:
            self._auto_pending = still

    # Acting on a row -----------------------------------------------------------------------

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
        v, sentence = verdict_sentence(assessed)
        # The same hint as `netdash check` gives for the row's (first) listener.
        hint = clean(assessed.hint.text, 400) if row.scope is not Scope.LOOPBACK else None

        local = own_addresses(self.snapshot.interfaces)

        def render(procs: Sequence[ProcessDetails] | None, peers: Sequence[Peer] | None) -> Any:
            return details_renderable(
                row,
                v,
                sentence,
                assessed.results,
                procs,
                peers,
                hint,
                self.clock(),
                local,
                reach=[reach_phrase(e) for m in assessed.members for e in m.firewall],
                risks=assessed.risks,
            )

        screen = DetailsScreen(render(None, None))

        def closed(choice: str | None) -> None:
            if choice == "probe":
                self._probe(row.listeners)
            elif choice == "kill":
                self.action_kill()

        self.push_screen(screen, closed)
        self._details_worker(screen, row, render)

    @work(thread=True, group="details", exclusive=True, exit_on_error=False)
    def _details_worker(
        self,
        screen: DetailsScreen,
        row: ServiceRow,
        render: Callable[[Sequence[ProcessDetails] | None, Sequence[Peer] | None], Any],
    ) -> None:
        """Reads the row's processes and connections in a thread; the screen is updated
        through ``call_from_thread``."""
        pids = [p.pid for p in row_processes(row) if p.pid is not None]
        try:
            procs = process_details(pids)
            peers = established_peers(row.first.protocol, row.first.port)
        except Exception as exc:  # what another program did must not leave "reading…" forever
            self.call_from_thread(
                self.notify, f"Could not read process details: {exc}", severity="error"
            )
            procs, peers = [], None
        self.call_from_thread(screen.show, render(procs, peers))

    def _selected_url(self) -> str | None:
        row = self._selected()
        if row is None or self.snapshot is None:
            return None
        return url_for(row, self.assessment.row(row).results)

    def action_open(self) -> None:
        url = self._selected_url()
        if url is not None:
            problem = self.browser(url)
            if problem is None:
                self.notify(f"Opened in the browser: {url}", markup=False)
            else:
                self.notify(
                    f"Not opened: {problem}. The URL: {url}",
                    severity="warning",
                    timeout=12,
                    markup=False,
                )

    def action_copy(self) -> None:
        url = self._selected_url()
        if url is not None:
            self.copy_to_clipboard(url)
            note, likely = clipboard_note(url)
            self.notify(
                note, severity="information" if likely else "warning", timeout=8, markup=False
            )

    def action_kill(self) -> None:
        row = self._selected()
        if row is None:
            return
        request = stop_request(row)
        if isinstance(request, str):
            self.notify(request, severity="error", markup=False)
            return

        def answered(choice: str | None) -> None:
            if choice == "TERM":
                self._signal_worker(request.target, signal.SIGTERM, request.port, request.inodes)

        self.push_screen(KillScreen(request.question), answered)

    @work(group="kill", exit_on_error=False)
    async def _signal_worker(
        self, target: Process, signum: int, port: int, inodes: frozenset[int] = frozenset()
    ) -> None:
        """Signal, wait up to 2 s, then report, poll, or offer SIGKILL after SIGTERM."""
        ended = await signal_and_wait(target, signum, inodes=inodes)
        if isinstance(ended, str):
            self.notify(ended, severity="error", markup=False)
        elif ended:
            self.notify(f"Stopped pid {target.pid} (port {port}).", markup=False)
            self.poller.poll_now()
        elif signum == signal.SIGKILL:
            self.notify(f"pid {target.pid} is still there after SIGKILL.", severity="error")
        else:

            def answered(choice: str | None) -> None:
                if choice == "KILL":
                    self._signal_worker(target, signal.SIGKILL, port)

            question = escalation_question(target)
            self.push_screen(KillScreen(question, escalate=True), answered)
