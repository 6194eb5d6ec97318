"""The host diagram: one column per up interface, with the listeners reachable through it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from netdash.core.addresses import listener_reach, scope_of
from netdash.core.model import Interface, Listener, ListenerKey, ProbeResult, Scope, Snapshot, Via
from netdash.core.text import clean
from netdash.output.labels import probe_label

__all__ = ["InterfaceDiagram", "build_compact_diagram", "build_diagram"]

COLUMN_WIDTH = 29
"""Preferred width of one interface column, in cells."""

MAX_LINES = 60
"""Listeners listed at most under one interface in the box diagram; the rest are counted
(the table lists them all). Keeps the diagram's work bounded at 20,000 listeners."""

MAX_PORTS = 120
"""Ports listed at most on one interface's line of the compact diagram (more never fit)."""


class _Packed:
    """One line of the box diagram that never cuts a number: ``first`` (a mark, a port, a
    process name), then ``atoms`` (an address, a scope tag, a probe answer), each kept whole.
    At the width it is given, what does not fit goes on a continuation line indented by
    ``indent`` cells; only the process name at the end of ``first`` is shortened (to
    ``shrink`` cells at least, with an ellipsis). Only an atom wider than a whole line is
    cut (then with an ellipsis)."""

    def __init__(self, first: Text, atoms: Sequence[Text], indent: int, shrink: int = 0) -> None:
        self.first = first
        self.atoms = [a for a in atoms if a.plain]
        self.indent = indent
        self.shrink = shrink

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        whole = self.first.cell_len + sum(1 + a.cell_len for a in self.atoms)
        least = max([self.first.cell_len - self.shrink, *(a.cell_len for a in self.atoms)])
        return Measurement(min(least, whole), whole)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width)
        line = self.first.copy()
        if line.cell_len > width and self.shrink:
            line.truncate(max(line.cell_len - self.shrink, width), overflow="ellipsis")
        lines = [line]
        for atom in self.atoms:
            if lines[-1].cell_len + 1 + atom.cell_len <= width:
                lines[-1].append(" ")
                lines[-1].append_text(atom)
            else:
                lines.append(Text(" " * min(self.indent, max(0, width - atom.cell_len))))
                lines[-1].append_text(atom)
        for text in lines:
            text.no_wrap = True
            text.overflow = "ellipsis"
            yield text


class _Columns:
    """The interfaces' panels side by side, as many to a row as the width gives each
    ``COLUMN_WIDTH - 2`` cells (at least one): a narrow terminal gets more rows, not a
    diagram cut at its right edge."""

    def __init__(self, panels: Sequence[Panel]) -> None:
        self.panels = list(panels)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        least = COLUMN_WIDTH - 2
        per_row = max(1, min(len(self.panels), (options.max_width + 1) // (least + 1)))
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in range(per_row):
            grid.add_column(ratio=1, min_width=least)
        for start in range(0, len(self.panels), per_row):
            row: list[RenderableType] = list(self.panels[start : start + per_row])
            row += [Text("")] * (per_row - len(row))
            grid.add_row(*row)
        yield grid


def _interface_via(interface: Interface, lan: Mapping[int, str]) -> Via | None:
    if interface.is_loopback:
        return Via.LOOPBACK
    if any(a.split("%")[0] in lan.values() for a in interface.addresses):
        return Via.LAN
    return None


def _mark(results: Sequence[ProbeResult], via: Via | None) -> Text:
    """``✔`` answered a probe through this interface, ``✗`` did not, blank when not probed."""
    mine = [r for r in results if r.via is via] if via is not None else []
    mark = Text()
    if not mine:
        mark.append("  ")
    elif any(r.outcome.accepted for r in mine):
        mark.append("✔ ", style="bold red" if via is Via.LAN else "green")
    else:
        mark.append("✗ ", style="dim")
    return mark


def firewall_mark(snapshot: Snapshot, listener: Listener, interface: Interface) -> str:
    """``⊘`` when the firewall blocks a new connection to ``listener`` from ``interface``'s
    network, ``?`` when its answer is unknown, ``""`` when it lets it in, was not read, or
    ``interface`` is loopback (:class:`netdash.core.reach.FirewallView`, cached per
    listener)."""
    view = snapshot.firewall
    if view is None or not view.read or interface.is_loopback:
        return ""
    if scope_of(listener.address) is Scope.LOOPBACK:
        return ""
    entries = view.reach_of(
        listener.protocol,
        listener.address,
        listener.port,
        listener.dual_stack,
        listener.bound_device,
    )
    for e in entries:
        if e.interface == interface.name:
            if e.outcome == "blocked" and not any(
                x.decision.outcome != "blocked" for x in e.exceptions
            ):
                return "⊘"
            if e.outcome == "unknown":
                return "?"
    return ""


def _listener_line(
    listener: Listener, results: Sequence[ProbeResult], via: Via | None, fw: str = ""
) -> _Packed:
    scope = scope_of(listener.address)
    line = _mark(results, via)
    port = str(listener.port) if listener.protocol == "tcp" else f"{listener.port}u"
    if fw:
        line.append(f"{port:>5}", style="bold")
        line.append(fw, style="bold blue" if fw == "⊘" else "yellow")
        line.append(" ")
    else:
        line.append(f"{port:>5} ", style="bold")
    indent = line.cell_len
    names = [p.name for p in listener.processes if p.name]
    name = clean(names[0], 12) if names else "unknown"
    line.append(name)
    atoms: list[Text] = []
    if scope is Scope.ALL_INTERFACES:
        atoms.append(Text(f"all·v{listener.family}", style="black on yellow"))
    elif scope is Scope.SPECIFIC_INTERFACE:
        atoms.append(Text(listener.address, style="dim"))
    if via is not None:
        label = probe_label(results, via)
        if label:
            atoms.append(Text(f" {label}", style="dim"))
    return _Packed(line, atoms, indent, shrink=max(0, cell_len(name) - 4))


def _column(
    interface: Interface,
    listeners: Sequence[Listener],
    results: Mapping[ListenerKey, Sequence[ProbeResult]],
    lan: Mapping[int, str],
    snapshot: Snapshot | None = None,
) -> Panel:
    via = _interface_via(interface, lan)
    body: list[RenderableType] = []
    shown = [a for a in interface.addresses if "%" not in a] or list(interface.addresses)
    addresses = [
        Text(clean(address, 40), style="bold cyan" if address in lan.values() else "cyan")
        for address in shown
    ]
    if len(shown) < len(interface.addresses):
        addresses.append(Text("+link-local", style="dim"))
    if shown:
        body.append(_Packed(addresses[0], addresses[1:], 0))
    else:
        body.append(Text("no address", style="dim"))
    if listeners:
        for listener in listeners[:MAX_LINES]:
            fw = firewall_mark(snapshot, listener, interface) if snapshot is not None else ""
            body.append(_listener_line(listener, results.get(listener.key, ()), via, fw))
        if len(listeners) > MAX_LINES:
            more = len(listeners) - MAX_LINES
            body.append(Text(f"… and {more:,} more (the table lists them all)", style="dim"))
    else:
        body.append(Text("no listeners", style="dim"))
    who = "only this machine" if interface.is_loopback else "devices on this network"
    title = Text(clean(interface.name, 20), style="bold")
    if via is Via.LAN:
        title.append(" (LAN)", style="bold cyan")
    return Panel(
        Group(*body),
        title=title,
        title_align="left",
        subtitle=Text(who, style="green" if interface.is_loopback else "yellow"),
        subtitle_align="left",
        box=box.ROUNDED,
        border_style="green" if interface.is_loopback else "yellow",
        padding=(0, 1),
    )


def build_diagram(
    snapshot: Snapshot,
    results: Mapping[ListenerKey, Sequence[ProbeResult]],
    lan: Mapping[int, str],
    listeners: Sequence[Listener] | None = None,
) -> RenderableType:
    """The diagram as a Rich renderable: a host box holding one column per up interface.

    A wildcard listener appears under every interface it reaches, marked ``all·v4``/``all·v6``;
    a listener bound to one address appears only under the interface holding it. Listeners
    bound to an address no interface holds are listed below the columns. ``listeners``
    defaults to all of the snapshot's (UDP ones are marked ``u`` after the port).
    """
    up, per_interface, orphans = _per_interface(
        snapshot, snapshot.listeners if listeners is None else listeners
    )
    panels = [_column(i, per_interface[i.name], results, lan, snapshot) for i in up]
    parts: list[RenderableType] = (
        [_Columns(panels)] if up else [Text("no interface is up", style="dim")]
    )
    if orphans:
        text = Text("bound to an address no interface holds: ", style="yellow")
        text.append(", ".join(f"{o.address}:{o.port}" for o in orphans))
        parts.append(text)
    down = [i.name for i in snapshot.interfaces if not i.is_up]
    if down:
        parts.append(Text("down: " + ", ".join(clean(n, 20) for n in down), style="dim"))
    return Panel(
        Group(*parts),
        title=Text(f" {clean(snapshot.hostname, 40)} ", style="bold"),
        title_align="left",
        box=box.HEAVY,
        padding=(0, 0),
    )


def _per_interface(
    snapshot: Snapshot, listeners: Sequence[Listener]
) -> tuple[list[Interface], dict[str, list[Listener]], list[Listener]]:
    up = [i for i in snapshot.interfaces if i.is_up]
    per_interface: dict[str, list[Listener]] = {i.name: [] for i in up}
    orphans: list[Listener] = []
    # What reaches a listener depends on its address, dual-stack state and bound device only:
    # computed once per kind (at 20,000 listeners, a few hundred kinds).
    reach: dict[tuple[str, bool | None, str | None], tuple[str, ...]] = {}
    for listener in listeners:
        kind = (listener.address, listener.dual_stack, listener.bound_device)
        names = reach.get(kind)
        if names is None:
            names = reach[kind] = listener_reach(listener, snapshot.interfaces)
        for name in names:
            per_interface.setdefault(name, []).append(listener)
        if not names:
            orphans.append(listener)
    return up, per_interface, orphans


def build_compact_diagram(
    snapshot: Snapshot,
    results: Mapping[ListenerKey, Sequence[ProbeResult]],
    lan: Mapping[int, str],
    listeners: Sequence[Listener],
) -> RenderableType:
    """The diagram for small terminals: one line per up interface, its ports after it
    (``*`` marks a wildcard listener, ``✔`` one that answered through it, ``⊘`` one the
    firewall blocks from that network, ``?`` one whose firewall answer is unknown)."""
    up, per_interface, orphans = _per_interface(snapshot, listeners)
    lines: list[Text] = []
    for interface in up:
        via = _interface_via(interface, lan)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(clean(interface.name, 12), style="bold")
        if via is Via.LAN:
            line.append(" (LAN)", style="bold cyan")
        who = "only this machine" if interface.is_loopback else "this network"
        line.append(f" → {who}: ", style="green" if interface.is_loopback else "yellow")
        by_port: dict[tuple[int, str], list[Listener]] = {}
        for listener in per_interface[interface.name]:
            by_port.setdefault((listener.port, listener.protocol), []).append(listener)
        ports = sorted(by_port)
        for n, (port, protocol) in enumerate(ports[:MAX_PORTS]):
            group = by_port[port, protocol]
            if n:
                line.append(" ")
            wild = any(scope_of(li.address) is Scope.ALL_INTERFACES for li in group)
            marks = {_mark(results.get(li.key, ()), via).plain.strip() for li in group}
            mark = "✔" if "✔" in marks else ("✗" if "✗" in marks else "")
            fws = {firewall_mark(snapshot, li, interface) for li in group}
            fw = "⊘" if fws == {"⊘"} else ("?" if "?" in fws else "")
            label = f"{port}{'u' if protocol == 'udp' else ''}{'*' if wild else ''}{mark}{fw}"
            style = "bold red" if mark == "✔" and via is Via.LAN else ("yellow" if wild else "")
            if fw == "⊘" and mark != "✔":
                style = "blue"
            line.append(label, style=style)
        if len(ports) > MAX_PORTS:
            line.append(f" +{len(ports) - MAX_PORTS:,} more", style="dim")
        if not ports:
            line.append("no listeners", style="dim")
        lines.append(line)
    if orphans:
        lines.append(Text("no interface: " + ", ".join(f"{o.address}:{o.port}" for o in orphans)))
    return Group(*lines) if lines else Text("no interface is up", style="dim")


class InterfaceDiagram(Widget):
    """Shows :func:`build_diagram`; its width grows with the number of interfaces so that
    columns stay readable and the parent container scrolls horizontally.

    The diagram is rendered once per content and width and kept as lines (Textual's line
    API), so a relayout of the screen does not render the Rich panel again (the cost is in
    bench/RESULTS.md)."""

    _signature: object = None

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.content: RenderableType = Text("")
        self._lines: tuple[int, list[Strip]] | None = None  # (width, rendered lines)

    def show(
        self,
        snapshot: Snapshot,
        results: Mapping[ListenerKey, Sequence[ProbeResult]],
        lan: Mapping[int, str],
        listeners: Sequence[Listener] | None = None,
        compact: bool = False,
    ) -> None:
        """Draw the diagram; ``compact`` (small terminals) gives one line per interface.
        Nothing is redrawn when nothing it shows changed (a poll of an idle machine)."""
        shown_listeners = tuple(snapshot.listeners if listeners is None else listeners)
        signature = (
            replace(snapshot, taken_at=0.0),
            shown_listeners,
            tuple(
                (key, tuple((r.via, r.target, r.outcome, r.status) for r in found))
                for key, found in sorted(results.items())
            ),
            tuple(sorted(lan.items())),
            compact,
        )
        if signature == self._signature:
            return
        self._signature = signature
        if compact:
            self.styles.min_width = 1
            shown = snapshot.listeners if listeners is None else listeners
            self._set_content(build_compact_diagram(snapshot, results, lan, shown))
            return
        width = COLUMN_WIDTH + 2  # one interface's column; more go on more rows
        if self.styles.min_width is None or self.styles.min_width.value != width:
            self.styles.min_width = width
        self._set_content(build_diagram(snapshot, results, lan, listeners))

    def _set_content(self, content: RenderableType) -> None:
        before = self._lines
        self.content = content
        self._lines = None
        # A relayout only when the height changes (or before the first render).
        width = before[0] if before else 0
        same_height = before is not None and len(self._render_lines(width)) == len(before[1])
        self.refresh(layout=not same_height)

    def _render_lines(self, width: int) -> list[Strip]:
        """The content rendered at ``width`` cells, cached until the content, width or style
        changes."""
        if self._lines is None or self._lines[0] != width:
            console = self.app.console
            options = console.options.update(width=max(1, width), height=None, highlight=False)
            style = self.rich_style
            lines = console.render_lines(self.content, options, style=style, pad=True)
            self._lines = (width, [Strip(line, width) for line in lines])
        return self._lines[1]

    def notify_style_update(self) -> None:
        self._lines = None  # a theme change: render again with the new base style
        super().notify_style_update()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._render_lines(width))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self._render_lines(width)
        if 0 <= y < len(lines):
            return lines[y]
        return Strip.blank(width, self.rich_style)
