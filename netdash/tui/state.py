"""What the dashboard shows: the filter text and the view toggles (``/``, ``e``, ``u``, ``6``,
``s``, space), and the pure filter that picks the listeners in view.

No Textual here: the view state is a plain dataclass, testable on its own.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
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


class _FilterIndex:
    """What the filter searches in a snapshot's listeners in view: each listener's own text
    (:func:`_own_text`) and each process's (:func:`_process_text`) once, with the positions
    of the listeners it holds. Process texts are kept by object for the snapshot's other
    indexes (another assessment, the UDP toggle)."""

    def __init__(
        self,
        snapshot: object,
        listeners: Sequence[Listener],
        texts: dict[int, tuple[Process, str]] | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.listeners = listeners
        self.texts: dict[int, tuple[Process, str]] = texts if texts is not None else {}
        self.own = [_own_text(li) for li in listeners]
        # id(process) -> (its text, positions of its listeners)
        self.owners: dict[int, tuple[str, list[int]]] = {}
        for n, listener in enumerate(listeners):
            for process in listener.processes:
                entry = self.owners.get(id(process))
                if entry is None:
                    entry = self.owners[id(process)] = (self._text(process), [])
                entry[1].append(n)

    def over(self, listeners: Sequence[Listener]) -> _FilterIndex:
        """The index of ``listeners`` of the same snapshot: this one when they are the same
        objects in the same order (another assessment of the same snapshot), else a new one
        that reuses the process texts."""
        if len(listeners) == len(self.listeners) and all(
            map(operator.is_, listeners, self.listeners)
        ):
            self.listeners = listeners
            return self
        return _FilterIndex(self.snapshot, listeners, self.texts)

    def _text(self, process: Process) -> str:
        cached = self.texts.get(id(process))
        if cached is not None and cached[0] is process:
            return cached[1]
        made = _process_text(process)
        self.texts[id(process)] = (process, made)
        return made

    def search(self, needle: str) -> list[Listener]:
        """The listeners whose own text or a process's text holds ``needle`` (lowercase),
        in order."""
        listeners = self.listeners
        hits = [n for n, text in enumerate(self.own) if needle in text]
        owned = [positions for text, positions in self.owners.values() if needle in text]
        if owned:
            merged = set(hits).union(*owned)
            if len(merged) == len(listeners):
                return list(listeners)
            hits = sorted(merged)
        return list(map(listeners.__getitem__, hits))


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
    # The filter's index of the current snapshot's listeners in view (_index_for).
    _index: _FilterIndex | None = field(default=None, repr=False, compare=False)

    def cycle_sort(self) -> None:
        """The next order of :data:`SORTS`, after the last the first."""
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]

    def sort_by_column(self, column: str) -> None:
        """Sort by a clicked column: port and process by themselves, any other by scope."""
        self.sort = column if column in ("port", "process") else "scope"

    def shown(self, assessment: Assessment) -> list[Listener]:
        """The listeners the toggles and the filter let through, in snapshot order, out of
        ``assessment.shown`` (TCP, and UDP when the assessment was made with ``udp``).
        The filter goes first, so the toggles look only at what it kept."""
        if self.filter_text:
            shown = self._filtered(assessment, self.filter_text.lower())
        else:
            shown = list(assessment.shown)
        if not self.show_ipv6:
            shown = [li for li in shown if not ipv6_only(li)]
        if self.exposed_only:
            shown = [li for li in shown if assessment.of(li).exposed]
        return shown

    def _filtered(self, assessment: Assessment, needle: str) -> list[Listener]:
        """:func:`matches` of every listener of ``assessment.shown``, from an index made once
        per snapshot: each listener's own text searched in one comprehension, each process's
        once (a process holding 1,000 sockets with a 50 KB command line is searched once per
        key, not 1,000 times, and held once, not 1,000 times); then only the matches are
        gathered."""
        index = self._index
        if index is None or index.listeners is not assessment.shown:
            if index is None or index.snapshot is not assessment.snapshot:
                index = _FilterIndex(assessment.snapshot, assessment.shown)
            else:  # same snapshot, another assessment (results, UDP): same listener objects
                index = index.over(assessment.shown)
            self._index = index
        return index.search(needle)

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
