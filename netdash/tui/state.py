"""What the dashboard shows: the filter text and the view toggles (``/``, ``e``, ``u``, ``6``,
``s``, space), and the pure filter that picks the listeners in view.

No Textual here: the view state is a plain dataclass, testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from netdash.core.assess import Assessment
from netdash.core.model import Listener

__all__ = ["SORTS", "ViewState", "matches"]

SORTS = ("scope", "port", "process")
"""The table's orders, in the order ``s`` cycles through them."""


def matches(listener: Listener, text: str) -> bool:
    """The filter: ``text`` found (case-insensitive) in the port, bind address, a process
    name or command line, the pid or the user."""
    needle = text.lower()
    haystack = [str(listener.port), listener.address]
    for p in listener.processes:
        haystack += [p.name or "", " ".join(p.cmdline), str(p.pid or ""), p.user or ""]
    return any(needle in item.lower() for item in haystack)


@dataclass
class ViewState:
    """The dashboard's view: ``filter_text`` (stripped; empty shows all), ``exposed_only``
    (``e``), ``udp`` (``u``: UDP listeners in view, which also changes the counts),
    ``show_ipv6`` (``6``), ``sort`` (one of :data:`SORTS`; ``s``) and ``paused`` (space:
    no polling but on request)."""

    filter_text: str = ""
    exposed_only: bool = False
    udp: bool = False
    show_ipv6: bool = True
    sort: str = "scope"
    paused: bool = False

    def cycle_sort(self) -> None:
        """The next order of :data:`SORTS`, after the last the first."""
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]

    def sort_by_column(self, column: str) -> None:
        """Sort by a clicked column: port and process by themselves, any other by scope."""
        self.sort = column if column in ("port", "process") else "scope"

    def shown(self, assessment: Assessment) -> list[Listener]:
        """The listeners the toggles and the filter let through, in snapshot order, out of
        ``assessment.shown`` (TCP, and UDP when the assessment was made with ``udp``)."""
        shown = list(assessment.shown)
        if not self.show_ipv6:
            shown = [li for li in shown if li.family == 4]
        if self.exposed_only:
            shown = [li for li in shown if assessment.of(li).exposed]
        if self.filter_text:
            shown = [li for li in shown if matches(li, self.filter_text)]
        return shown

    def describe(self) -> str:
        """The narrowed views in words for the status line (``filter '80' · exposed only``);
        empty for the default view."""
        views = [
            f"filter {self.filter_text!r}" if self.filter_text else "",
            "exposed only" if self.exposed_only else "",
            "IPv6 hidden" if not self.show_ipv6 else "",
            f"sorted by {self.sort}" if self.sort != "scope" else "",
        ]
        return " · ".join(v for v in views if v)
