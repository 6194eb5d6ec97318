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


def _endpoint(e: Event) -> str:
    where = f"[{e.address}]" if ":" in e.address else e.address
    return f"{e.protocol} {where}:{e.port}"


def history_text(
    events: Sequence[Event] | None, path: str | None, problem: str | None, width: int
) -> Text:
    """The panel's text: a title line, then one line per event (``HH:MM:SS event program
    pid endpoint verdict``, a verdict change as ``before → after``), cut to ``width``
    cells. ``path`` ``None``: history is off; ``problem``: why it stopped; ``events``
    ``None``: not read yet."""
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
    for e in events:
        out.append("\n")
        out.append(time.strftime("%H:%M:%S", time.localtime(e.at)) + " ")
        out.append(f"{e.kind:<11} ")
        program = clean(e.program or "unknown", 20)
        pid = str(e.pid) if e.pid is not None else "?"
        out.append(f"{program:<16} {pid:>7} {_endpoint(e):<24} ")
        if e.previous:
            out.append(e.previous, _STYLE.get(e.previous, ""))
            out.append(" → ")
        out.append(e.verdict, _STYLE.get(e.verdict, ""))
        if e.detail:
            out.append(f"  {clean(e.detail, 120)}", "dim")
    return out


class HistoryPanel(Static):
    """Shows :func:`history_text`; hidden until ``h``."""

    def show(self, events: Sequence[Event] | None, path: str | None, problem: str | None) -> None:
        self.update(history_text(events, path, problem, self.size.width or 80))
