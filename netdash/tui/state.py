"""What the dashboard shows: the filter text and the view toggles (``/``, ``e``, ``u``, ``6``,
``s``, space), and the pure filter that picks the listeners in view.

No Textual here: the view state is a plain dataclass, testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netdash.core.addresses import parse_address
from netdash.core.assess import Assessment
from netdash.core.model import Listener

__all__ = ["SORTS", "ViewState", "ipv6_only", "matches"]

SORTS = ("scope", "port", "process")
"""The table's orders, in the order ``s`` cycles through them."""


def haystack(listener: Listener) -> str:
    """What the filter searches, lowercased, fields joined by a NUL (which no needle typed
    in the filter contains, so no match spans two fields): the port, bind address, and each
    process's name, command line, pid and user."""
    fields = [str(listener.port), listener.address]
    for p in listener.processes:
        fields += [p.name or "", " ".join(p.cmdline), str(p.pid or ""), p.user or ""]
    return "\0".join(fields).lower()


def matches(listener: Listener, text: str) -> bool:
    """The filter: ``text`` found (case-insensitive) in the port, bind address, a process
    name or command line, the pid or the user."""
    return text.lower() in haystack(listener)


def ipv6_only(listener: Listener) -> bool:
    """True when ``listener`` accepts IPv6 connections only: an IPv6 bind address that is not
    an IPv4-mapped one (``::ffff:10.0.0.1``, RFC 4291 §2.5.5.2), and for the wildcard ``::``
    only when the socket set IPV6_V6ONLY (``dual_stack`` is ``False``). A ``::`` listener
    whose dual-stack state is unknown counts as reachable over IPv4, Linux's default
    (``net.ipv6.bindv6only=0``). What ``6`` hides: never an IPv4-reachable listener."""
    if listener.family != 6:
        return False
    address = listener.address.split("%", 1)[0]
    try:
        if parse_address(address).version == 4:
            return False
    except ValueError:
        return True
    if address == "::":
        return listener.dual_stack is False
    return True


@dataclass
class ViewState:
    """The dashboard's view: ``filter_text`` (stripped; empty shows all), ``exposed_only``
    (``e``), ``udp`` (``u``: UDP listeners in view, which also changes the counts),
    ``show_ipv6`` (``6``: when off, listeners that accept IPv6 only are hidden; a dual-stack
    ``::`` stays, since it accepts IPv4 too), ``sort`` (one of :data:`SORTS`; ``s``) and
    ``paused`` (space: no polling but on request)."""

    filter_text: str = ""
    exposed_only: bool = False
    udp: bool = False
    show_ipv6: bool = True
    sort: str = "scope"
    paused: bool = False
    _haystacks: dict[int, tuple[Listener, str]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _haystacks_of: object = field(default=None, repr=False, compare=False)

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
            shown = [li for li in shown if not ipv6_only(li)]
        if self.exposed_only:
            shown = [li for li in shown if assessment.of(li).exposed]
        if self.filter_text:
            if self._haystacks_of is not assessment.snapshot:  # a new poll: a fresh cache
                self._haystacks_of = assessment.snapshot
                self._haystacks.clear()
            needle = self.filter_text.lower()
            shown = [li for li in shown if needle in self._haystack(li)]
        return shown

    def _haystack(self, listener: Listener) -> str:
        """:func:`haystack`, computed once per listener of the current snapshot: a key typed
        in the filter at 20,000 listeners then costs one substring search per listener."""
        cached = self._haystacks.get(id(listener))
        if cached is not None and cached[0] is listener:
            return cached[1]
        text = haystack(listener)
        self._haystacks[id(listener)] = (listener, text)
        return text

    def hidden_ipv6(self, assessment: Assessment) -> int:
        """How many of ``assessment.shown`` the ``6`` toggle hides now (0 when it is off)."""
        if self.show_ipv6:
            return 0
        return sum(1 for li in assessment.shown if ipv6_only(li))

    def describe(self, hidden_ipv6: int | None = None) -> str:
        """The narrowed views in words for the status line (``filter '80' · exposed only ·
        2 IPv6-only hidden``); empty for the default view. ``hidden_ipv6`` is the count
        :meth:`hidden_ipv6` gave, so the header says what the counts include but the table
        does not show."""
        if self.show_ipv6:
            ipv6 = ""
        elif hidden_ipv6 is None:
            ipv6 = "IPv6-only hidden"
        else:
            ipv6 = f"{hidden_ipv6} IPv6-only hidden"
        views = [
            f"filter {self.filter_text!r}" if self.filter_text else "",
            "exposed only" if self.exposed_only else "",
            ipv6,
            f"sorted by {self.sort}" if self.sort != "scope" else "",
        ]
        return " · ".join(v for v in views if v)
