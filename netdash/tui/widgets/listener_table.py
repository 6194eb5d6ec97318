"""The table of listeners, grouped by scope, most exposed first.

A widget on Textual's Line API (a ``ScrollView`` that renders one line at a time): rows are
held as plain strings, and only the lines in view are ever turned into segments. At 20,000
listeners a key in the filter then costs the rows it keeps (a few list and dictionary passes)
plus the lines on screen, where Textual's ``DataTable`` cleared and refilled its per-row
bookkeeping and render caches (bench/RESULTS.md, issue 18).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Collection, Mapping, Sequence
from operator import itemgetter
from typing import ClassVar, NamedTuple

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from netdash.core.assess import Assessment, RowAssessment
from netdash.core.model import Listener, ListenerKey, Scope
from netdash.core.services import ServiceRow, ServiceRows, row_processes
from netdash.output.columns import COLUMNS as DECLARED
from netdash.output.columns import DASHBOARD, fit, view
from netdash.output.labels import process_label

__all__ = ["ListenerTable"]

COLUMNS = (
    *view(DASHBOARD),
    *(c for c in DECLARED.values() if c.merges and set(c.merges) <= set(DASHBOARD)),
)
"""Every column the dashboard may show (:mod:`netdash.output.columns`): its view, then the
stand-ins that replace some of them in a narrow terminal."""

INDEX = {c.key: n for n, c in enumerate(COLUMNS)}
"""A column's position in :data:`COLUMNS` (and in every :class:`Cells`)."""

_MARK = INDEX["mark"]
_ADDRESS = INDEX["address"]

GROUP_STYLE = {
    Scope.ALL_INTERFACES: "bold white on dark_red",
    Scope.SPECIFIC_INTERFACE: "bold black on dark_orange",
    Scope.LOOPBACK: "bold black on green",
}


class Cells(NamedTuple):
    """One row's cells, one entry per column of :data:`COLUMNS`: the plain text (never
    parsed as markup), its Rich style name (``""``: none) and its width in terminal cells
    (the widest line's). Plain strings only: no per-cell objects are held for rows out of
    view."""

    values: tuple[str, ...]
    styles: tuple[str, ...]
    widths: tuple[int, ...]


def _width(value: str) -> int:
    if "\n" in value:
        return max(cell_len(line) for line in value.split("\n"))
    return cell_len(value)


_BLANK = ("",) * len(COLUMNS)
_NO_WIDTHS = (0,) * len(COLUMNS)


class ListenerTable(ScrollView, can_focus=True):
    """One row per service within each scope, under one header row per scope.

    Rows are keyed by :attr:`ServiceRow.key`, so the cursor stays on the same service while
    sockets come and go, and while a filter narrows or widens the view. Cells are plain
    strings drawn as Rich segments, so process names and server headers are never parsed as
    markup.

    The columns shown are those that fit the terminal's width (:func:`netdash.output.columns.fit`:
    low-priority columns are merged or dropped, no cell is ever cut), measured on every row
    of the view (not only those on screen, so that scrolling never changes them): they follow
    every resize and every change of view.

    The first line is the header of column labels; it stays while the rows scroll. Posts
    :class:`RowHighlighted` when the cursor moves to another row, :class:`RowSelected` on
    ``enter`` or a click on the highlighted row, and :class:`HeaderSelected` on a click on a
    column label.
    """

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", show=True),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("j", "cursor_down", "Down", show=False),  # vim; k stays "stop" (the app's)
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        # In a list of rows, home and end mean the first and the last row.
        Binding("home,ctrl+home", "first_row", "First row", show=False),
        Binding("end,ctrl+end", "last_row", "Last row", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "listener-table--header",
        "listener-table--cursor",
        "listener-table--hover",
    }
    """The column labels' line, the cursor's row and the row under the mouse (the same
    looks as Textual's ``DataTable``)."""

    DEFAULT_CSS = """
    ListenerTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .listener-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .listener-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .listener-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .listener-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .listener-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .listener-table--hover {
            background: $block-hover-background;
        }
    }
    """

    NEW_FOR = 5.0
    """Seconds a new row stays highlighted."""
    GONE_FOR = 3.0
    """Seconds a vanished row stays, faded, before it goes."""
    EXTRA = 2
    """Cells a column takes beyond its widest cell (one blank on each side)."""
    SORT_MARK = " ▲"
    """After the header of the column the rows are sorted by (``s``, or a click on it)."""

    class _RowMessage(Message):
        """About one row: ``cursor_row`` (its index) and ``row_key``."""

        def __init__(self, table: ListenerTable, cursor_row: int, row_key: str) -> None:
            super().__init__()
            self.table = table
            self.cursor_row = cursor_row
            self.row_key = row_key

        @property
        def control(self) -> ListenerTable:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved to another row."""

    class RowSelected(_RowMessage):
        """``enter`` on the cursor's row, or a click on it."""

    class HeaderSelected(Message):
        """A click on a column label: ``column`` is its key (of :data:`COLUMNS`)."""

        def __init__(self, table: ListenerTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> ListenerTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._order: list[str] = []  # every row's key, top to bottom (headers, faded rows)
        self._cells: dict[str, Cells] = {}  # every row's cells, by key
        self._fresh: set[str] = set()  # keys of rows drawn highlighted as new
        self._cursor = 0  # the cursor's row, an index into _order
        self._hover: int | None = None  # the row under the mouse, while it moves there
        # Row keys shown before, with their listeners' keys (None before the first show): a
        # row is new only when its service was never shown while its sockets lived, so rows
        # coming back when a filter is cleared are not highlighted as new.
        self._seen: dict[str, tuple[ListenerKey, ...]] | None = None
        self._alive_seen: Collection[ListenerKey] | None = None  # the alive of the last show
        self._born: dict[str, float] = {}  # row key -> time.monotonic() it appeared
        self._gone: dict[str, tuple[float, str, Cells]] = {}  # key -> (until, group, cells)
        self._cells_of: Assessment | None = None  # the assessment _cell_cache was made from
        # row key -> (its listeners, its cells), per assessment
        self._cell_cache: dict[str, tuple[tuple[Listener, ...], Cells]] = {}
        self._styles: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per style set
        # Per column of COLUMNS, the keys of the cached rows whose cell is wider than its
        # label (any text, for an optional column), widest first (_measure); None: to make.
        self._widest: list[list[str]] | None = None
        self._service_rows: ServiceRows | None = None  # of self._cells_of's listeners
        self._ranks_of: Assessment | None = None  # the assessment _rank_cache was made from
        # row key -> (its listeners, its risk rank), per assessment
        self._rank_cache: dict[str, tuple[tuple[Listener, ...], tuple[int, int]]] = {}
        self._by_listener: dict[ListenerKey, str] | None = None  # listener -> row key, lazily
        # The assessment and listeners of the last show() (None after update_results)
        self._shown: tuple[Assessment, Sequence[Listener]] | None = None
        self.sorted_by = "scope"  # the order of the last show(): its column's header is marked
        self._natural = self._headers()  # column key -> widest cell or header
        self._filled: set[str] = set()  # column keys with text in some row
        self.shown_columns: tuple[str, ...] = DASHBOARD
        """The keys of the columns on screen, in order."""
        self._layout: list[tuple[int, int, bool]] = []  # (index, content width, right) shown
        self._table_width = 0
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(256)
        self._parsed: dict[str, Style] = {}  # style name -> parsed
        self._pseudo: object = None
        self.rows_by_key: dict[str, ServiceRow] = {}
        """The service rows in view, by key (scope headers and faded rows are not)."""
        self._place_columns()

    # What the app and tests read --------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows in the table: service rows, scope headers and faded rows."""
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        """The index of the cursor's row (into the table's rows, headers included)."""
        return self._cursor

    @property
    def column_widths(self) -> dict[str, int]:
        """The content width of each column on screen (its widest cell or label), by key."""
        return {COLUMNS[n].key: width for n, width, _ in self._layout}

    @property
    def column_labels(self) -> dict[str, str]:
        """The label of each column on screen, by key (the sorted column's marked)."""
        return {key: self._label(key) for key in self.shown_columns}

    def get_cell(self, row_key: str, column: str) -> Text:
        """The cell of row ``row_key`` in ``column`` as drawn (a new row's reversed), as a
        ``Text`` built from the plain string. Raises ``KeyError`` for an unknown row or
        column."""
        cells = self._cells[row_key]
        n = INDEX[column]
        style = cells.styles[n]
        if n != _MARK and row_key in self._fresh:
            style = f"{style} reverse"
        justify: JustifyMethod | None = "right" if COLUMNS[n].justify == "right" else None
        return Text(cells.values[n], style=style, justify=justify)

    def get_row(self, row_key: str) -> list[Text]:
        """The cells of row ``row_key`` in the columns on screen (:meth:`get_cell`)."""
        return [self.get_cell(row_key, column) for column in self.shown_columns]

    def selected_row(self) -> ServiceRow | None:
        """The service row under the cursor, ``None`` on a scope header or an empty table."""
        key = self._selected_key()
        return None if key is None else self.rows_by_key.get(key)

    def _selected_key(self) -> str | None:
        if not 0 <= self._cursor < len(self._order):
            return None
        return self._order[self._cursor]

    @property
    def fading(self) -> int:
        """How many vanished rows are on screen, faded (the header says so, so that its count
        and the rows agree while they fade)."""
        return len(self._gone)

    def fade_ends_in(self) -> float | None:
        """Seconds until the next faded row is due to go (``None`` when none is fading): the
        app redraws then, instead of waiting for the next poll."""
        if not self._gone:
            return None
        return max(0.0, min(until for until, _, _ in self._gone.values()) - time.monotonic())

    @property
    def animating(self) -> bool:
        """True while a new row is highlighted or a vanished one is fading: the next poll must
        redraw even if nothing else changed."""
        return bool(self._born or self._gone)

    # Cells --------------------------------------------------------------------------------

    def _cells_for(self, row: RowAssessment) -> Cells:
        """The row's cells, from the column declarations (plain strings, no markup)."""
        values = tuple(c.value(row) for c in COLUMNS)
        styles = tuple(c.style(row) for c in COLUMNS)
        styles = self._styles.setdefault(styles, styles)  # a few distinct sets: shared
        return Cells(values, styles, tuple(map(_width, values)))

    def _cache_for(self, assessment: Assessment) -> None:
        """Start fresh caches (cells, service rows) for a new assessment."""
        if assessment is not self._cells_of:
            self._cells_of = assessment
            self._cell_cache = {}
            self._widest = None
            self._service_rows = None

    def _rows_of(
        self, assessment: Assessment, listeners: Sequence[Listener]
    ) -> list[tuple[Scope, list[ServiceRow]]]:
        """:func:`~netdash.core.services.service_rows` of ``listeners``, derived from the
        assessment's grouping (computed once per assessment): a filter reuses row objects."""
        self._cache_for(assessment)
        if self._service_rows is None:
            self._service_rows = ServiceRows(assessment.shown)
        return self._service_rows.of(listeners)

    _NO_RISK = (9, 9)

    def _risky_first(self, assessment: Assessment, members: list[ServiceRow]) -> list[ServiceRow]:
        """``members`` with the rows that have a risk first, loudest first (a tokenless
        Jupyter on 0.0.0.0 tops its scope: the first thing the dashboard shows); the others
        keep their order. Ranks are kept per assessment, like the cells: a filter reuses
        them (20,000 probed rows: 0.5 s the first time, then a dictionary look-up each)."""
        if assessment is not self._ranks_of:
            self._ranks_of = assessment
            self._rank_cache = {}
        ranks = self._rank_cache
        risky = False
        order: dict[str, tuple[int, int]] = {}
        for row in members:
            cached = ranks.get(row.key)
            if cached is not None and (cached[0] is row.listeners or cached[0] == row.listeners):
                rank = cached[1]
            else:
                found = [
                    risk.rank
                    for li in row.listeners
                    for risk in assessment.of(li).risks
                    if risk.allowed_by is None
                ]
                rank = min(found, default=self._NO_RISK)
                ranks[row.key] = (row.listeners, rank)
            order[row.key] = rank
            risky = risky or rank != self._NO_RISK
        if not risky:
            return members
        return sorted(members, key=lambda r: order[r.key])

    def _group_cells(self, scope: Scope, count: int) -> Cells:
        """A scope's header row: its name and count in the address column."""
        style = GROUP_STYLE[scope]
        values = list(_BLANK)
        styles = list(_BLANK)
        values[_MARK], values[_ADDRESS] = "▌", f"{scope.value.upper()} ({count})"
        styles[_MARK] = styles[_ADDRESS] = style
        return Cells(tuple(values), tuple(styles), tuple(map(_width, values)))

    @staticmethod
    def _faded(cells: Cells) -> Cells:
        """A vanished row's cells: ``×`` for its mark, the rest dimmed and struck through."""
        values = list(cells.values)
        values[_MARK] = "×"
        styles = ["dim strike"] * len(values)
        styles[_MARK] = "dim"
        return Cells(tuple(values), tuple(styles), tuple(map(_width, values)))

    # Showing ------------------------------------------------------------------------------

    def show(
        self,
        assessment: Assessment,
        listeners: Sequence[Listener],
        sort: str = "scope",
        alive: Collection[ListenerKey] | None = None,
    ) -> None:
        """Bring the table in line with ``listeners`` (of ``assessment``'s snapshot), each
        row's cells from ``assessment``. ``sort`` is ``"scope"`` (grouped under scope
        headers, most exposed first), ``"port"``
        or ``"process"`` (one flat list). ``alive`` holds the keys of every listener that
        still exists: a row that leaves the view only because of a filter or toggle does not
        fade out as if it had vanished (``None``: every row that leaves fades). Pass the same
        object again while the snapshot is the same: the table then knows that nothing
        vanished without looking.
        An exposed row all of whose listeners the policy acknowledges is marked ``✓``.

        Cells are computed once per assessment and row; the columns are measured on the rows
        in view and fitted to the width; the cursor stays on the same service (or the row
        that took its place), in view; only the lines on screen are drawn again.
        """
        shown = self._shown
        if (
            shown is not None
            and assessment is shown[0]
            and sort == self.sorted_by
            and alive is self._alive_seen
            and not self._born
            and not self._gone
            and len(listeners) == len(shown[1])
            and all(map(operator.is_, listeners, shown[1]))
        ):  # the same view (a key that kept every row): only the width may have changed
            if self._place_columns():
                self._place_cursor(self._selected_key())
                self._redraw()
            return
        self._shown = (assessment, listeners)
        groups = self._rows_of(assessment, listeners)
        resorted = sort != self.sorted_by
        self.sorted_by = sort
        if sort != "scope":
            flat = [row for _, members in groups for row in members]
            if sort == "port":
                flat.sort(key=lambda r: (r.first.port, r.first.protocol))
            else:
                flat.sort(key=lambda r: (process_label(row_processes(r)).lower(), r.first.port))
            groups = [(None, flat)] if flat else []  # type: ignore[list-item]
        elif assessment.probed:
            groups = [(scope, self._risky_first(assessment, members)) for scope, members in groups]
        by_key: dict[str, ServiceRow] = {}
        keys = [[row.key for row in members] for _, members in groups]
        for (_, members), names in zip(groups, keys, strict=True):
            by_key.update(zip(names, members, strict=True))
        previous = self.rows_by_key
        self._remember(by_key, alive)
        ghosts = self._fade(previous, by_key, alive)
        self._alive_seen = alive
        order: list[str] = []
        cells: dict[str, Cells] = {}
        cache = self._cell_cache
        for (scope, members), names in zip(groups, keys, strict=True):
            if scope is not None:
                key = f"scope|{scope.value}"
                order.append(key)
                cells[key] = self._group_cells(scope, len(members))
            for row in members:
                hit = cache.get(row.key)
                if hit is None or (hit[0] is not row.listeners and hit[0] != row.listeners):
                    hit = (row.listeners, self._cells_for(assessment.row(row)))
                    cache[row.key] = hit
                    self._widest = None
                cells[row.key] = hit[1]
            order.extend(names)
            for key in [
                k for k, (group, _) in ghosts.items() if scope is None or group == scope.value
            ]:
                order.append(f"gone|{key}")
                cells[f"gone|{key}"] = ghosts.pop(key)[1]
        for key, (_, faded) in ghosts.items():  # rows of groups that emptied
            order.append(f"gone|{key}")
            cells[f"gone|{key}"] = faded
        selected = self._selected_key()
        fresh = {key for key in self._born if key in by_key}
        same = (
            not resorted and order == self._order and cells == self._cells and fresh == self._fresh
        )
        self.rows_by_key = by_key
        self._by_listener = None
        self._order, self._cells, self._fresh = order, cells, fresh
        self._measure()
        placed = self._place_columns()
        if same and not placed:
            return  # nothing to draw again (a poll while a new row stays highlighted)
        self._place_cursor(selected)
        self._redraw()

    def _measure(self) -> None:
        """Each column's natural width (widest cell or label) and whether any cell of it has
        text, over every row of the view. A large view is measured from each column's rows
        widest first (:attr:`_widest`, made once per assessment): the first of them in view
        gives the width, usually within a few look-ups; a small one row by row."""
        natural = self._headers()
        filled: set[str] = set()
        cells = self._cells
        rows = self.rows_by_key
        measured = [cells[key].widths for key in self._order if key not in rows]
        if len(rows) * 16 < len(self._cell_cache):
            measured += [cells[key].widths for key in rows]
        elif rows:
            for n, (column, ranked) in enumerate(zip(COLUMNS, self._widest_rows(), strict=True)):
                found = next(filter(rows.__contains__, ranked), None)
                if found is not None:
                    filled.add(column.key)
                    natural[column.key] = max(natural[column.key], cells[found].widths[n])
        if measured:
            for n, column in enumerate(COLUMNS):
                most = int(max(map(itemgetter(n), measured)))
                if most:
                    filled.add(column.key)
                    natural[column.key] = max(natural[column.key], most)
        self._natural, self._filled = natural, filled

    def _widest_rows(self) -> list[list[str]]:
        """:attr:`_widest`, made from the cell cache when it is not there."""
        if self._widest is None:
            entries = [(key, cells.widths) for key, (_, cells) in self._cell_cache.items()]
            self._widest = []
            for n, column in enumerate(COLUMNS):
                floor = 0 if column.optional else cell_len(column.header)
                ranked = [(widths[n], key) for key, widths in entries if widths[n] > floor]
                ranked.sort(reverse=True)
                self._widest.append([key for _, key in ranked])
        return self._widest

    def _headers(self) -> dict[str, int]:
        """Each column's label width, the sort mark included where it stands."""
        return {c.key: cell_len(self._label(c.key)) for c in COLUMNS}

    def _label(self, key: str) -> str:
        return DECLARED[key].header + (self.SORT_MARK if key == self.sorted_by else "")

    def _available(self) -> int:
        """The width the columns may take: the screen's (the table spans it), less a
        vertical scrollbar when the rows may not all fit (the table's ``max-height`` is 70 %
        of what the status line and footer leave)."""
        width = self.app.size.width
        if len(self._order) + 1 > 0.7 * (self.app.size.height - 5):
            width -= self.styles.scrollbar_size_vertical
        return width

    def _fit(self) -> tuple[str, ...]:
        empty = [k for k in DASHBOARD if DECLARED[k].optional and k not in self._filled]
        return fit(DASHBOARD, self._natural, self._available(), self.EXTRA, empty)

    def _place_columns(self) -> bool:
        """Fit the columns to the width and lay them out; True when the layout changed."""
        shown = self._fit() if self.is_attached else DASHBOARD
        layout = [
            (INDEX[key], self._natural[key], COLUMNS[INDEX[key]].justify == "right")
            for key in shown
        ]
        if shown == self.shown_columns and layout == self._layout:
            return False
        self.shown_columns = shown
        self._layout = layout
        self._table_width = sum(width + self.EXTRA for _, width, _ in layout)
        return True

    def _redraw(self) -> None:
        """Draw the lines in view again, with the table's current size."""
        self._lines.clear()
        self.virtual_size = Size(self._table_width, len(self._order) + 1)
        self.refresh()

    def update_results(self, changed: Collection[ListenerKey], assessment: Assessment) -> None:
        """Redraw only the rows holding a listener in ``changed`` (probe results arriving):
        no regrouping, no diagram, so a large table stays responsive while probing. A column
        widens for a wider cell (and the columns are fitted again); none narrows until the
        next :meth:`show`."""
        if self._by_listener is None:
            self._by_listener = {
                li.key: key for key, row in self.rows_by_key.items() for li in row.listeners
            }
        keys = {self._by_listener[k] for k in changed if k in self._by_listener}
        if not keys:
            return
        self._shown = None  # the next show() regroups (risky rows first) with every result
        self._cache_for(assessment)
        grew = False
        for key in keys:
            row = self.rows_by_key[key]
            cells = self._cells_for(assessment.row(row))
            self._cell_cache[key] = (row.listeners, cells)
            self._cells[key] = cells
            self._widest = None
            for column, width in zip(COLUMNS, cells.widths, strict=True):
                if width:
                    self._filled.add(column.key)
                if width > self._natural[column.key]:
                    self._natural[column.key] = width
                    grew = True
        if grew:
            self._place_columns()
        self._redraw()

    # Remembering and fading -----------------------------------------------------------------

    def _remember(
        self, rows: Mapping[str, ServiceRow], alive: Collection[ListenerKey] | None
    ) -> None:
        """Note the rows never shown before (highlighted as new), and forget services whose
        sockets are all gone (a return is new again)."""
        now = time.monotonic()
        seen = self._seen
        if seen is not None:
            for key in rows.keys() - seen.keys():
                self._born[key] = now
        for key in [k for k, t in self._born.items() if k not in rows or now - t > self.NEW_FOR]:
            del self._born[key]
        if seen is None or alive is None:
            seen = {}
        elif alive is not self._alive_seen:  # a new snapshot: forget the services that ended
            living = alive if isinstance(alive, (set, frozenset)) else set(alive)
            seen = {
                k: v
                for k, v in seen.items()
                if k in rows or any(listener in living for listener in v)
            }
        for key in rows.keys() - seen.keys():
            seen[key] = tuple(li.key for li in rows[key].listeners)
        self._seen = seen

    def _fade(
        self,
        before: Mapping[str, ServiceRow],
        rows: Mapping[str, ServiceRow],
        alive: Collection[ListenerKey] | None,
    ) -> dict[str, tuple[str, Cells]]:
        """Rows that disappeared in the last few seconds, dimmed and struck through, by key;
        each with the scope group it was in. With the same ``alive`` as the last show (the
        same snapshot), no row that left the view can have vanished: none is looked at."""
        now = time.monotonic()
        if alive is None or alive is not self._alive_seen:
            living = alive if isinstance(alive, (set, frozenset)) else set(alive or ())
            for key in before.keys() - rows.keys():
                if key in self._gone or key not in self._cells:
                    continue
                if alive is not None and any(li.key in living for li in before[key].listeners):
                    continue  # left the view (a filter, a toggle), not the machine
                group = before[key].scope.value
                self._gone[key] = (now + self.GONE_FOR, group, self._faded(self._cells[key]))
        for key in [k for k, (until, _, _) in self._gone.items() if k in rows or until <= now]:
            del self._gone[key]
        return {key: (group, cells) for key, (_, group, cells) in self._gone.items()}

    # The cursor -----------------------------------------------------------------------------

    def _is_row(self, index: int) -> bool:
        """True when ``index`` is a service row (not a scope header, not a faded row)."""
        return 0 <= index < len(self._order) and self._order[index] in self.rows_by_key

    def _place_cursor(self, selected: str | None) -> None:
        """After a show: the cursor on ``selected`` when it is still there, else at the same
        index (off a header), and in view."""
        if not self._order:
            self._cursor = 0
            return
        if selected is not None and selected in self.rows_by_key:
            index = self._order.index(selected)
        else:
            index = min(self._cursor, len(self._order) - 1)
            if not self._is_row(index):
                index = self._step_off(index, +1)
        self._set_cursor(index, layout=True)

    def _step_off(self, index: int, step: int) -> int:
        """The nearest service row from ``index`` in the direction ``step``, else in the
        other direction, else ``index`` itself."""
        for direction in (step, -step):
            n = index
            while 0 <= n < len(self._order):
                if self._is_row(n):
                    return n
                n += direction
        return index

    def move_cursor(self, *, row: int, scroll: bool = True) -> None:
        """Move the cursor to row index ``row`` (clamped); a scope header or faded row there
        passes it on to the next service row in the direction of travel. ``scroll``: bring it
        into view."""
        if not self._order:
            return
        target = max(0, min(row, len(self._order) - 1))
        if not self._is_row(target):
            target = self._step_off(target, -1 if target < self._cursor else +1)
        self._set_cursor(target, scroll=scroll)

    def _set_cursor(self, index: int, scroll: bool = True, layout: bool = False) -> None:
        """Put the cursor on row ``index``: redraw the two lines, post
        :class:`RowHighlighted` when the row changed, scroll it into view (after the next
        layout when the table's size may just have changed)."""
        old = self._cursor
        old_key = self._selected_key()
        self._cursor = index
        if old != index:
            self.refresh_line(old + 1)
            self.refresh_line(index + 1)
        key = self._selected_key()
        if key is not None and (old != index or old_key != key):
            self.post_message(self.RowHighlighted(self, index, key))
        if scroll:
            if layout:
                self.call_after_refresh(self._scroll_to_cursor)
            else:
                self._scroll_to_cursor()

    def _view_rows(self) -> int:
        """How many rows the table shows at once (under its label line)."""
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self, above: int = 0) -> None:
        """Scroll as little as needed to show the cursor's row (and ``above`` rows above
        it: the scope header a move up stepped over)."""
        top = round(self.scroll_y)
        rows = self._view_rows()
        first = max(0, self._cursor - above)
        if first < top:
            self.scroll_to(y=first, animate=False, force=True)
        elif self._cursor >= top + rows:
            self.scroll_to(y=self._cursor - rows + 1, animate=False, force=True)

    def _move(self, step: int) -> None:
        """One service row up (``step`` -1) or down (+1), stepping over headers and faded
        rows; at the top, the header above comes into view."""
        self._set_hover(None)
        n = self._cursor + step
        while 0 <= n < len(self._order) and not self._is_row(n):
            n += step
        if 0 <= n < len(self._order):
            above = self._cursor - n - 1 if step < 0 else 0  # the rows stepped over
            self._set_cursor(n, scroll=False)
            self._scroll_to_cursor(above)
        elif step < 0:
            self.scroll_to(y=0, animate=False, force=True)  # the first scope header

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(+1)

    def action_page_down(self) -> None:
        """One screen of rows down: the rows scroll by a page, the cursor with them."""
        self._page(+1)

    def action_page_up(self) -> None:
        self._page(-1)

    def _page(self, step: int) -> None:
        self._set_hover(None)
        if not self._order:
            return
        rows = self._view_rows()
        self.scroll_to(y=self.scroll_y + step * rows, animate=False, force=True)
        target = max(0, min(self._cursor + step * rows, len(self._order) - 1))
        if not self._is_row(target):
            target = self._step_off(target, step)
        self._set_cursor(target)

    def action_first_row(self) -> None:
        """``home``: the first listener row (a scope header above it is skipped, and shown)."""
        self._set_hover(None)
        if self._order:
            self._set_cursor(self._step_off(0, +1), scroll=False)
            self.scroll_to(x=0, y=0, animate=False, force=True)

    def action_last_row(self) -> None:
        """``end``: the last listener row."""
        self._set_hover(None)
        if self._order:
            self._set_cursor(self._step_off(len(self._order) - 1, -1))
            self.scroll_to(x=0, animate=False)

    def action_select_cursor(self) -> None:
        """``enter``: :class:`RowSelected` for the cursor's row."""
        key = self._selected_key()
        if key is not None:
            self.post_message(self.RowSelected(self, self._cursor, key))

    # The mouse ------------------------------------------------------------------------------

    def _at(self, event: events.MouseEvent) -> tuple[int, int] | None:
        """The (row index, x in the table) under the mouse; row -1 is the label line."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        x = offset.x + round(self.scroll_x)
        if offset.y == 0:
            return -1, x
        return offset.y - 1 + round(self.scroll_y), x

    def _column_at(self, x: int) -> str | None:
        left = 0
        for n, width, _ in self._layout:
            left += width + self.EXTRA
            if x < left:
                return COLUMNS[n].key
        return None

    async def _on_click(self, event: events.Click) -> None:
        """A click on a label sorts by its column; on a row, highlights it; on the highlighted
        row, selects it (its details)."""
        at = self._at(event)
        if at is None:
            return
        index, x = at
        if index == -1:
            column = self._column_at(x)
            if column is not None:
                self.post_message(self.HeaderSelected(self, column))
        elif 0 <= index < len(self._order):
            if index == self._cursor:
                self.action_select_cursor()
            else:
                self.move_cursor(row=index)
        event.stop()

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        at = self._at(event)
        index = at[0] if at is not None else -1
        self._set_hover(index if 0 <= index < len(self._order) else None)

    def _on_leave(self, _: events.Leave) -> None:
        self._set_hover(None)

    def _set_hover(self, index: int | None) -> None:
        if index != self._hover:
            for line in (self._hover, index):
                if line is not None:
                    self.refresh_line(line + 1)
            self._hover = index

    # Drawing --------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pseudo = self.get_pseudo_class_state()  # focus changes the cursor's colours
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the widget: the column labels on the first, then the rows in view."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        index = -1 if y == 0 else y - 1 + scroll_y
        base = self.rich_style
        if index >= len(self._order):
            return Strip.blank(width, base)
        key = (
            index,
            index == self._cursor,
            index == self._hover,
            scroll_x,
            width,
            base,
            self._pseudo,
        )
        line = self._lines.get(key)
        if line is None:
            line = self._render_row(index, base) if index >= 0 else self._render_labels(base)
            line = line.crop_extend(scroll_x, scroll_x + width, base).simplify()
            self._lines[key] = line
        return line

    def _render_labels(self, base: Style) -> Strip:
        """The column labels' line: left-aligned, bold, on the header's background."""
        style = self.get_component_rich_style("listener-table--header")
        segments = []
        for n, width, _ in self._layout:
            label = self._label(COLUMNS[n].key)
            segments.append(Segment(f" {label}{' ' * (width - cell_len(label) + 1)}", style))
        rest = self.size.width - self._table_width
        if rest > 0:
            segments.append(Segment(" " * rest, style))
        return Strip(segments)

    def _render_row(self, index: int, base: Style) -> Strip:
        """One row's line, full width: each cell padded by one blank each side, aligned as
        its column declares; the cursor's or the mouse's row in their component styles (the
        cursor's colour over the cells', as ``DataTable`` draws it)."""
        key = self._order[index]
        cells = self._cells[key]
        row_style = base
        post = Style()
        if index == self._hover:
            row_style += self.get_component_rich_style("listener-table--hover")
        if index == self._cursor:
            cursor = self.get_component_rich_style("listener-table--cursor")
            row_style += cursor
            post = Style.from_color(cursor.color)
        pad = row_style + post
        fresh = key in self._fresh
        get_style = self._text_style
        segments = []
        for n, width, right in self._layout:
            value = cells.values[n]
            used = cells.widths[n]
            if "\n" in value:
                value = value.partition("\n")[0]
                used = cell_len(value)
            name = cells.styles[n]
            if fresh and n != _MARK:
                name = f"{name} reverse"
            style = row_style + get_style(name) + post
            segments.append(Segment(" ", pad))
            if right:  # Rich pads a right-justified text inside it: in its style
                segments.append(Segment(" " * (width - used) + value, style))
                segments.append(Segment(" ", pad))
            else:
                if value:
                    segments.append(Segment(value, style))
                segments.append(Segment(" " * (width - used + 1), pad))
        rest = self.size.width - self._table_width
        if rest > 0:
            segments.append(Segment(" " * rest, row_style))
        return Strip(segments)

    def _text_style(self, name: str) -> Style:
        """A cell's style by name (``bold red``), parsed once."""
        style = self._parsed.get(name)
        if style is None:
            style = self._parsed[name] = self.app.console.get_style(name) if name else Style()
        return style
