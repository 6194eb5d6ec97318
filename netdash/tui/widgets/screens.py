"""Modal screens: the details of one row, the kill confirmation, and the key help."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from netdash.core.addresses import IPAddress, parse_address, same_address
from netdash.core.assess import Risk, host_check
from netdash.core.model import ProbeResult, Verdict
from netdash.core.services import ServiceRow
from netdash.core.text import clean
from netdash.output.labels import (
    RISK_STYLE,
    VERDICT_STYLE,
    address_label,
    endpoint,
    risk_label,
    stack_label,
)
from netdash.sources.processes import Peer, ProcessDetails

__all__ = ["DetailsScreen", "HelpScreen", "KillChoice", "KillScreen", "details_renderable"]


def _uptime(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


PEERS_SHOWN = 8
"""Established connections listed one per line in the details; more are counted."""


def _peers_text(peers: Sequence[Peer] | None, local: Collection[IPAddress]) -> Text:
    """``2 established`` and one line per peer: ``198.18.0.2:53122 → 198.18.0.1:8000
    from the network, last data 3 s ago``."""
    if peers is None:
        return Text("unknown")
    text = Text(f"{len(peers)} established")
    for peer in peers[:PEERS_SHOWN]:
        try:
            ip = parse_address(peer.address.split("%", 1)[0])
            outside = not ip.is_loopback and not any(same_address(ip, own) for own in local)
        except ValueError:
            outside = False
        text.append("\n")
        text.append(
            f"{endpoint(peer.address, peer.port)} → {endpoint(peer.local_address, peer.local_port)}"
        )
        if outside:
            text.append("  from the network", style="bold yellow")
        else:
            text.append("  this machine", style="dim")
        if peer.idle_ms is not None:
            text.append(f", last data {_uptime(peer.idle_ms / 1000)} ago", style="dim")
    if len(peers) > PEERS_SHOWN:
        text.append(f"\n… and {len(peers) - PEERS_SHOWN} more", style="dim")
    return text


def details_renderable(
    row: ServiceRow,
    verdict: Verdict,
    sentence: str,
    results: Sequence[ProbeResult],
    processes: Sequence[ProcessDetails] | None,
    peers: Sequence[Peer] | None,
    hint: str | None,
    now: float,
    local: Collection[IPAddress] = (),
    reach: Sequence[str] = (),
    risks: Sequence[Risk] = (),
) -> RenderableType:
    """Everything known about one row, for :class:`DetailsScreen`. ``processes`` is ``None``
    while still being read; ``peers`` are the established connections to its port (``None``
    when unknown), a peer whose address is not in ``local`` (this machine's addresses)
    marked as coming from the network; ``reach`` holds one line per interface of what the
    firewall does to a new connection (:func:`netdash.output.labels.reach_phrase`);
    ``risks`` (loudest first) are listed under the fix, each with its evidence and fix; every
    text from other programs is cleaned and never markup."""
    first = row.first
    parts: list[RenderableType] = []
    title = Text()
    title.append(f"{first.protocol} port {first.port}", style="bold")
    title.append(f"  {address_label(row, results)}")
    parts.append(title)
    parts.append(Text(sentence, style=VERDICT_STYLE[verdict]))
    if hint:
        parts.append(Text(f"fix: {hint}", style="bold"))
    for risk in risks:
        head = Text()
        head.append(f"risk {risk_label(risk)}", style=RISK_STYLE[risk.severity])
        head.append(f"  {risk.sentence}")
        if risk.allowed_by:
            head.append(f"  (allowed by {clean(risk.allowed_by, 60)})", style="cyan")
        parts.append(head)
        parts.append(Text(f"  evidence: {clean(risk.evidence, 200)}", style="dim"))
        parts.append(Text(f"  fix: {risk.fix}"))
    parts.append(Text(""))

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    facts.add_row("scope", row.scope.value)
    project = next((p.project for li in row.listeners for p in li.processes if p.project), None)
    if project is not None:
        facts.add_row(
            "project",
            Text(f"{clean(project.label, 80)}  in {clean(project.root, 300)}"),
        )
    for listener in row.listeners:
        stack = stack_label(listener, results)
        note = f" ({stack})" if stack else ""
        if listener.bound_device:
            note += f", bound to {clean(listener.bound_device, 20)}"
        facts.add_row("socket", Text(f"{endpoint(listener.address, listener.port)}{note}"))
    facts.add_row("connections", _peers_text(peers, local))
    for n, line in enumerate(dict.fromkeys(reach)):
        facts.add_row("firewall" if n == 0 else "", Text(line))
    checked = host_check(results)
    if checked is not None:
        facts.add_row("foreign Host", checked)
    parts.append(facts)
    parts.append(Text(""))

    if processes is None:
        parts.append(Text("reading processes…", style="dim"))
    elif not processes:
        known = sorted({pid for li in row.listeners for pid in li.pids})
        owners = {str(p.user) for li in row.listeners for p in li.processes if p.user}
        who = f" (user {', '.join(sorted(owners))})" if owners else ""
        if known:
            gone = ", ".join(map(str, known))
            parts.append(Text(f"pid {gone}{who} is no longer running", style="yellow"))
        else:
            parts.append(Text(f"owner unknown{who}: run as root to see it", style="yellow"))
    pids = {p.pid for p in processes or ()}
    for proc in processes or ():
        role = "worker of " + str(proc.ppid) if proc.ppid in pids else "process"
        head = Text()
        head.append(f"{role} {proc.pid}", style="bold")
        head.append(f"  {clean(proc.name, 60) or '?'}  user {clean(proc.user, 30) or '?'}")
        if proc.started:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(proc.started))
            head.append(f"  started {started}, up {_uptime(now - proc.started)}", style="dim")
        parts.append(head)
        parts.append(Text("  $ " + clean(" ".join(proc.cmdline), 4000)))
        if proc.cwd:
            parts.append(Text("  in " + clean(proc.cwd, 500), style="dim"))
    parts.append(Text(""))

    probes = Table(title=Text("probes", style="bold"), title_justify="left", box=None)
    for column in ("via", "target", "outcome", "ms", "what", "detail"):
        probes.add_column(column, overflow="fold")
    for r in results:
        said = r.identified or r.server or r.banner or ""
        extra = r.title or r.location or r.certificate or r.detail or ""
        if r.location:
            extra = f"→ {r.location}"
        outcome = r.outcome.value + (f" {r.status}" if r.status is not None else "")
        probes.add_row(
            r.via.value,
            Text(r.target),
            outcome,
            f"{r.elapsed_ms:.0f}",
            Text(clean(said, 60)),
            Text(clean(extra, 200)),
        )
    if results:
        parts.append(probes)
    elif row.first.protocol == "udp":
        parts.append(Text("UDP is not probed (netdash probes TCP only)", style="dim"))
    else:
        parts.append(Text("not probed yet: press p here to probe this row", style="dim"))
    return Group(*parts)


class DetailsScreen(ModalScreen[str | None]):
    """The details of one row. Dismisses with ``"probe"``, ``"kill"`` or ``None``."""

    DEFAULT_CSS = """
    DetailsScreen { align: center middle; }
    DetailsScreen > VerticalScroll {
        width: 92%; height: 88%; border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "close", "Close"),
        Binding("p", "choose('probe')", "Probe this row"),
        Binding("k", "choose('kill')", "Stop process"),
    ]

    def __init__(self, renderable: RenderableType) -> None:
        super().__init__()
        self._renderable = renderable

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._renderable, id="details-body")

    def show(self, renderable: RenderableType) -> None:
        """Replace the content (when process details arrive)."""
        self._renderable = renderable
        bodies = self.query("#details-body")  # absent until composed: compose uses the new one
        if bodies:
            bodies.first(Static).update(renderable)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


KillChoice = str
"""``"TERM"``, ``"KILL"`` or ``"cancel"``."""


class KillScreen(ModalScreen[KillChoice]):
    """Ask before signalling: names the program, pid and port. Cancel has the focus; ``y``
    sends the signal, ``n`` or ``escape`` cancels, ``←`` ``→`` (and tab) move between the
    buttons, ``enter`` presses the focused one. The keys are written on the buttons. Opening
    it clears the toasts on screen."""

    DEFAULT_CSS = """
    KillScreen { align: center middle; }
    KillScreen > Vertical {
        width: 70; height: auto; border: thick $error; background: $surface; padding: 1 2;
    }
    KillScreen Horizontal { height: auto; margin-top: 1; }
    KillScreen Button { margin-right: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel"),
        Binding("y", "send", "Send the signal"),
        Binding("left", "app.focus_previous", "Previous button", show=False),
        Binding("right", "app.focus_next", "Next button", show=False),
    ]

    def __init__(self, question: str, escalate: bool = False) -> None:
        super().__init__()
        self.question = question
        self.escalate = escalate

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), id="kill-question")
            with Horizontal():
                if self.escalate:
                    yield Button("Send SIGKILL (y)", variant="error", id="KILL")
                else:
                    yield Button("Send SIGTERM (y)", variant="error", id="TERM")
                yield Button("Cancel (n, esc)", variant="primary", id="cancel")

    def on_mount(self) -> None:
        # Toasts stack up from the bottom right: at 80x24 a few of them cover the buttons.
        # What they said is older than the question, which names what matters now.
        self.app.clear_notifications()
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")

    def action_cancel(self) -> None:
        self.dismiss("cancel")

    def action_send(self) -> None:
        self.dismiss("KILL" if self.escalate else "TERM")


HELP = """\
netdash lists every listening socket on this machine, grouped by
who can connect.

Marks
  ‼  exposed: accepted a connection on the LAN address, or the
     firewall (read as root) lets new connections in from some
     network
  ×  (a row) stopped a moment ago: it goes in a few seconds
  ⚠  exposed by bind (0.0.0.0, ::, a LAN address), not verified
  ·  local only (loopback)
  ⁶  IPv6 loopback only: 127.0.0.1 is refused, [::1] answers
  ⊘  shielded: bound beyond loopback, the firewall blocks it from
     every network
  ✓  exposed, but allowed by your config
  *  (diagram) a wildcard listener, reachable through every
     interface
  ✔ ✗ (diagram) answered / did not answer a probe through that
      interface
  ⊘ ? (diagram) the firewall blocks it there / its answer there
      is unknown
  ✔ ✗ – (LO LAN, a narrow table) answered / did not answer / not
        probed, via loopback then via the LAN address

RISK (after a probe): what someone who reaches it can do, and
from where
  critical  runs code or is root  high    reads or writes data
  medium    a dev server, a debugger, a cross-origin socket
  LAN       through the LAN address
  web       any web page you open (DNS rebinding)
  local     programs on this machine
  enter shows the evidence and the fix.

Keys
  p      probe every listener     P      probe this row
  enter  details of the row       k      stop its process (asks)
  o      open in the browser      c      copy its URL
  /      filter as you type (enter keeps it, escape clears it)
  e      exposed only             u      UDP listeners
  6      IPv6-only listeners      s      sort: scope, port, process
  N      other network namespaces and published ports
         (containers, ip netns)
  space  pause / resume           r      refresh now
  h      history: recent events   ctrl+p command palette
  q      quit

A probe from this machine proves a listener accepts connections
on that address; it does not cross a firewall. Run as root,
netdash reads the firewall (nftables, iptables) and says per
interface whether a new connection from that network gets in,
naming the rule."""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 96%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(HELP))

    def action_close(self) -> None:
        self.dismiss(None)
