"""The netdash terminal dashboard (Textual).

The app only schedules and draws: a thread worker reads a :class:`Snapshot` (psutil blocks),
posts it as a message, and the next poll is armed only after that, so polls never overlap.
Probing runs in an async worker on the app's event loop; results arrive one by one.
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
from netdash.classify import (
    choose_lan,
    is_exposed,
    own_addresses,
    probe_targets,
    resolve_lan,
    scope_of,
)
from netdash.collect import ProcessCache, collect_snapshot
from netdash.model import ListenerKey, ProbeResult, Snapshot
from netdash.probe import ProbeLimits, probe_listeners
from netdash.render import Verdict, group_results, verdict, visible
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
    """

    TITLE = "netdash"
    CSS_PATH = "netdash.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "probe", "Probe"),
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
    ) -> None:
        super().__init__()
        self.udp = udp
        self.interval = interval
        self.lan_override = tuple(lan_override)
        self.collector = collector or _default_collector()
        self.probe_limits = probe_limits or ProbeLimits()
        self.snapshot: Snapshot | None = None
        self.lan: dict[int, str] = {}
        self.results: dict[ListenerKey, list[ProbeResult]] = {}
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
        self.poll_error = None
        self.snapshot = message.snapshot
        self.lan = self._resolve_lan(message.snapshot)
        live = {listener.key for listener in message.snapshot.listeners}
        self.results = {k: v for k, v in self.results.items() if k in live}
        self._redraw()
        self._arm_next_poll()

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
        if snapshot is None:
            return
        shown = visible(snapshot.listeners, self.udp)
        with self.batch_update():
            self.query_one(ListenerTable).show(shown, self.results)
            self.query_one(InterfaceDiagram).show(snapshot, self.results, self.lan, shown)
            self._update_status()

    def _update_status(self) -> None:
        status = self.query_one("#status", Static)
        snapshot = self.snapshot
        line = Text()
        if snapshot is None:
            line.append(f"netdash {__version__} · reading sockets…")
        else:
            listeners = visible(snapshot.listeners, self.udp)
            exposed = sum(1 for li in listeners if is_exposed(scope_of(li.address)))
            verified = sum(
                1
                for li in listeners
                if verdict(li, self.results.get(li.key, ())) is Verdict.VERIFIED
            )
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

    def action_probe(self) -> None:
        if self.snapshot is None:
            self.notify("No snapshot yet; wait for the first poll.", markup=False)
            return
        if any(w.group == "probe" and w.is_running for w in self.workers):
            self.notify("A probe is already running.", markup=False)
            return
        self._probe_worker(self.snapshot)

    @work(group="probe", exit_on_error=False)
    async def _probe_worker(self, snapshot: Snapshot) -> None:
        listeners = [li for li in snapshot.listeners if li.protocol == "tcp"]
        lan = dict(self.lan)
        total = len({(li.key, t) for li in listeners for t in probe_targets(li, lan)})
        done = 0
        start = time.perf_counter()
        fresh: dict[ListenerKey, list[ProbeResult]] = {}

        def arrived(result: ProbeResult) -> None:
            nonlocal done
            done += 1
            fresh.setdefault(result.listener, []).append(result)
            self.results[result.listener] = fresh[result.listener]
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
        live = {listener.key for listener in self.snapshot.listeners} if self.snapshot else set()
        self.results = {k: v for k, v in group_results(results).items() if k in live}
        elapsed = time.perf_counter() - start
        self.probe_status = (
            f"probed {len(listeners)} listeners ({len(results)} probes) in {elapsed:.1f} s"
            + ("" if lan else "; no LAN address found, loopback only")
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
