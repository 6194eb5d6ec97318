"""The dashboard's history panel (key ``h``): the newest recorded events, one line each,
newest first. The lines are made by :func:`history_text` (pure: tests read it); program
names and users are other programs' text, cleaned and never parsed as markup."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from netdash.core.history import Event
from netdash.core.text import clean

__all__ = ["HistoryPanel", "history_text"]

_STYLE = {"exposed": "bold red", "exposed-unverified": "yellow", "local-only": "green"}


def _endpoint(e: Event, narrow: bool) -> str:
    where = f"[{e.address}]" if ":" in e.address else e.address
    if narrow and e.protocol == "tcp":
        return f"{where}:{e.port}"
    return f"{e.protocol} {where}:{e.port}"


NARROW = 100
"""Under this many cells a line leaves out the pid and ``tcp`` (80 columns fit one line)."""


def history_text(
    events: Sequence[Event] | None, path: str | None, problem: str | None, width: int
) -> Text:
    """The panel's text: a title line, then one line per event (``HH:MM:SS event program
    pid endpoint verdict``, a verdict change as ``before → after``), cut to ``width``
    cells (under :data:`NARROW`: minutes, no pid, no ``tcp``). ``path`` ``None``: history is
    off; ``problem``: why it stopped; ``events`` ``None``: not read yet."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if path is None:
        out.append("History is off (--no-history): nothing is recorded. h closes.", "bold")
        return out
    out.append(f"History · newest first · {clean(path, max(20, width - 40))} · h closes", "bold")
    if problem is not None:
        out.append(f"\nHistory unavailable: {clean(problem, 300)}", "yellow")
    if events is None:
        out.append("\nreading…")
        return out
    if not events and problem is None:
        out.append("\nNo events yet: listeners that appear, go, or change verdict are listed here.")
    narrow = width < NARROW
    for e in events:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(time.strftime("%H:%M" if narrow else "%H:%M:%S", time.localtime(e.at)) + " ")
        line.append(f"{e.kind:<11} ")
        if narrow:
            line.append(f"{clean(e.program or 'unknown', 12):<12} {_endpoint(e, True):<17} ")
        else:
            pid = str(e.pid) if e.pid is not None else "?"
            program = clean(e.program or "unknown", 20)
            line.append(f"{program:<16} {pid:>7} {_endpoint(e, False):<24} ")
        if e.previous:
            line.append(e.previous, _STYLE.get(e.previous, ""))
            line.append(" → ")
        line.append(e.verdict, _STYLE.get(e.verdict, ""))
        if e.detail:
            line.append(f"  {clean(e.detail, 120)}", "dim")
        line.truncate(width, overflow="ellipsis")
        out.append("\n")
        out.append_text(line)
    return out


class HistoryPanel(Static):
    """Shows :func:`history_text`; hidden until ``h``."""

    _shown: tuple[Sequence[Event] | None, str | None, str | None] = (None, None, None)

    def show(self, events: Sequence[Event] | None, path: str | None, problem: str | None) -> None:
        self._shown = (events, path, problem)
        self.update(history_text(events, path, problem, self.content_size.width or 78))

    def on_resize(self) -> None:
        self.show(*self._shown)
