"""What the dashboard shows: the filter text and the view toggles (``/``, ``e``, ``u``, ``6``,
``s``, space), and the pure filter that picks the listeners in view.

No Textual here: the view state is a plain dataclass, testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netdash.core.addresses import parse_address
from netdash.core.assess import Assessment
from netdash.core.model import Listener, Process

__all__ = ["SORTS", "ViewState", "ipv6_only", "matches"]

SORTS = ("scope", "port", "process")
"""The table's orders, in the order ``s`` cycles through them."""


def haystack(listener: Listener) -> str:
    """What the filter searches, lowercased, fields joined by a NUL (which no needle typed
    in the filter contains, so no match spans two fields): the port, bind address, and each
    process's name, command line, pid and user."""
    return "\0".join([_own_text(listener), *(_process_text(p) for p in listener.processes)])


def _own_text(listener: Listener) -> str:
    """The listener's own part of :func:`haystack`: port and bind address, lowercased."""
    return f"{listener.port}\0{listener.address}".lower()


def _process_text(process: Process) -> str:
    """A process's part of :func:`haystack`: name, command line, pid and user, lowercased."""
    name = process.name.raw if process.name else ""
    user = process.user.raw if process.user else ""
    fields = [name, " ".join(a.raw for a in process.cmdline), str(process.pid or "")]
    return "\0".join([*fields, user]).lower()


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
    # The filter's texts of the current snapshot, by id(): each listener's own and each
    # process's once (a process holding 1,000 sockets with a 50 KB command line is searched
    # once per key, not 1,000 times, and held once, not 1,000 times).
    _texts: dict[int, tuple[object, str]] = field(default_factory=dict, repr=False, compare=False)
    _texts_of: object = field(default=None, repr=False, compare=False)

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
            shown = self._filtered(assessment, shown, self.filter_text.lower())
        return shown

    def _filtered(
        self, assessment: Assessment, listeners: list[Listener], needle: str
    ) -> list[Listener]:
        """:func:`matches` of each listener, with the texts computed once per snapshot and
        each process searched once per needle."""
        if self._texts_of is not assessment.snapshot:  # a new poll: a fresh cache
            self._texts_of = assessment.snapshot
            self._texts.clear()
        texts = self._texts
        found: dict[int, bool] = {}  # id(process) -> the needle is in its text

        def text(item: Listener | Process) -> str:
            cached = texts.get(id(item))
            if cached is not None and cached[0] is item:
                return cached[1]
            made = _own_text(item) if isinstance(item, Listener) else _process_text(item)
            texts[id(item)] = (item, made)
            return made

        def hit(listener: Listener) -> bool:
            if needle in text(listener):
                return True
            for process in listener.processes:
                key = id(process)
                if key not in found:
                    found[key] = needle in text(process)
                if found[key]:
                    return True
            return False

        return [li for li in listeners if hit(li)]

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
