"""The table of listeners, grouped by scope, most exposed first."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row, RowKey

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

Cells = dict[str, Text]
"""A row's cells by column key, for every column of :data:`COLUMNS`."""

GROUP_STYLE = {
    Scope.ALL_INTERFACES: "bold white on dark_red",
    Scope.SPECIFIC_INTERFACE: "bold black on dark_orange",
    Scope.LOOPBACK: "bold black on green",
}


class ListenerTable(DataTable[Text]):
    """One row per service within each scope, under one header row per scope.

    Rows are keyed by :attr:`ServiceRow.key`, so the cursor stays on the same service while
    sockets come and go. Cells are ``rich.text.Text`` built from cleaned strings, so process
    names and server headers are never parsed as markup.

    The columns shown are those that fit the terminal's width (:func:`netdash.output.columns.fit`:
    low-priority columns are merged or dropped, no cell is ever cut), measured on the rows
    in view: they follow every resize and every change of view.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", show=True),
        # DataTable's home/end scroll sideways; in a list of rows they mean first and last.
        Binding("home", "first_row", "First row", show=False),
        Binding("end", "last_row", "Last row", show=False),
        Binding("j", "cursor_down", "Down", show=False),  # vim; k stays "stop" (the app's)
    ]
    NEW_FOR = 5.0
    """Seconds a new row stays highlighted."""
    GONE_FOR = 3.0
    """Seconds a vanished row stays, faded, before it goes."""
    EXTRA = 2
    """Cells a column takes beyond its widest cell (DataTable's cell padding, both sides)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._order: list[str] = []
        self._rebuilding = False
        # Row keys shown before, with their listeners (None before the first show): a row is
        # new only when its service was never shown while its sockets lived, so rows coming
        # back when a filter is cleared are not highlighted as new.
        self._seen: dict[str, frozenset[ListenerKey]] | None = None
        self._born: dict[str, float] = {}  # row key -> time.monotonic() it appeared
        self._last_cells: dict[str, tuple[str, Cells]] = {}
        self._row_listeners: dict[str, frozenset[ListenerKey]] = {}
        self._gone: dict[str, tuple[float, str, Cells]] = {}  # key -> (until, group, cells)
        self._rows: dict[str, Cells] = {}  # every row on screen, in order, by key
        self.sorted_by = "scope"  # the order of the last show(): its column's header is marked
        self._natural = self._headers()  # column key -> widest cell or header
        self._filled: set[str] = set()  # column keys with text in some row
        self._cells_of: Assessment | None = None  # the assessment _cell_cache was made from
        # row key -> (its listeners, cells, cell widths, listener keys), per assessment
        self._cell_cache: dict[
            str, tuple[tuple[Listener, ...], Cells, dict[str, int], frozenset[ListenerKey]]
        ] = {}
        self._service_rows: ServiceRows | None = None  # of self._cells_of's listeners
        self._row_widths: dict[str, dict[str, int]] = {}  # live row key -> its cells' widths
        self._ranks_of: Assessment | None = None  # the assessment _rank_cache was made from
        # row key -> (its listeners, its risk rank), per assessment
        self._rank_cache: dict[str, tuple[tuple[Listener, ...], tuple[int, int]]] = {}
        self.shown_columns: tuple[str, ...] = DASHBOARD
        """The keys of the columns on screen, in order."""
        self.rows_by_key: dict[str, ServiceRow] = {}
        for column in view(self.shown_columns):
            self.add_column(column.header, key=column.key)

    def _cached(
        self, assessment: Assessment, row: ServiceRow
    ) -> tuple[tuple[Listener, ...], Cells, dict[str, int], frozenset[ListenerKey]]:
        """:meth:`_cells` of ``row``, computed once per assessment: a filter or a toggle
        (the same assessment, other rows in view) reuses the cells of every row it keeps.
        A row is the same when its listeners are (a filter can keep part of a service)."""
        self._cache_for(assessment)
        cached = self._cell_cache.get(row.key)
        if cached is not None and (cached[0] is row.listeners or cached[0] == row.listeners):
            return cached
        cells = self._cells(assessment.row(row))
        keys = frozenset(li.key for li in row.listeners)
        entry = (row.listeners, cells, self._measure(cells), keys)
        self._cell_cache[row.key] = entry
        return entry

    def _cache_for(self, assessment: Assessment) -> None:
        """Start fresh caches (cells, widths, service rows) for a new assessment."""
        if assessment is not self._cells_of:
            self._cells_of = assessment
            self._cell_cache = {}
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

    def _measure(self, cells: Cells) -> dict[str, int]:
        """Each cell's width (empty cells: none), measured once per cell set."""
        return {key: self._width(cell) for key, cell in cells.items() if cell.plain}

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

    @staticmethod
    def _cells(row: RowAssessment) -> Cells:
        """The row's cells, from the column declarations; every cell a ``Text`` (no markup)."""
        return {
            c.key: Text(
                c.value(row),
                style=c.style(row),
                justify="right" if c.justify == "right" else None,
            )
            for c in COLUMNS
        }

    SORT_MARK = " ▲"
    """After the header of the column the rows are sorted by (``s``, or a click on it)."""

    def _headers(self) -> dict[str, int]:
        """Each column's header width, the sort mark included where it stands."""
        mark = len(self.SORT_MARK)
        return {
            c.key: Text(c.header).cell_len + (mark if c.key == self.sorted_by else 0)
            for c in COLUMNS
        }

    @staticmethod
    def _width(cell: Text) -> int:
        if "\n" in cell.plain:
            return max(line.cell_len for line in cell.split("\n"))
        return cell.cell_len

    def _available(self) -> int:
        """The width the columns may take: the screen's (the table spans it), less a
        vertical scrollbar when the rows may not all fit (the table's ``max-height`` is 70 %
        of what the status line and footer leave)."""
        width = self.app.size.width
        if len(self._rows) + 1 > 0.7 * (self.app.size.height - 5):
            width -= self.styles.scrollbar_size_vertical
        return width

    def _fit(self) -> tuple[str, ...]:
        empty = [k for k in DASHBOARD if DECLARED[k].optional and k not in self._filled]
        return fit(DASHBOARD, self._natural, self._available(), self.EXTRA, empty)

    def _grow(self, key: str, cell: Text) -> bool:
        """Widen a column's natural width for ``cell``; True when it grew."""
        width = self._width(cell)
        if cell.plain:
            self._filled.add(key)
        if width > self._natural.get(key, 0):
            self._natural[key] = width
            return True
        return False

    def update_results(self, changed: Collection[ListenerKey], assessment: Assessment) -> None:
        """Redraw only the rows holding a listener in ``changed`` (probe results arriving):
        no regrouping, no diagram, so a large table stays responsive while probing. When a
        wider cell no longer lets the columns fit, they are fitted again."""
        grew = False
        updates: list[tuple[str, Cells]] = []
        for key, row in self.rows_by_key.items():
            if key not in self._rows or not any(li.key in changed for li in row.listeners):
                continue
            cells = self._cells(assessment.row(row))
            self._rows[key] = cells
            self._row_widths[key] = self._measure(cells)
            grew = any([self._grow(k, cell) for k, cell in cells.items()]) or grew
            updates.append((key, cells))
        if grew and self._fit() != self.shown_columns:
            self._layout()
            return
        for key, cells in updates:
            for column in self.shown_columns:
                self._set_cell(key, column, cells[column])

    def _set_cell(self, key: str, column: str, cell: Text) -> None:
        """Update one cell if it changed, widening its column only when the cell is wider.

        Textual's ``update_cell(update_width=True)`` re-measures every cell of the column when
        the new cell is narrower (costly on large tables while results arrive; measured in
        bench/RESULTS.md). A column keeps its width until the table is next rebuilt."""
        if self.get_cell(key, column) == cell:
            return
        wider = "\n" in cell.plain or cell.cell_len > self.columns[ColumnKey(column)].content_width
        self.update_cell(key, column, cell, update_width=wider)

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
        fade out as if it had vanished (``None``: every row that leaves fades).
        An exposed row all of whose listeners the policy acknowledges is marked ``✓``.

        When the set of rows and the columns that fit are unchanged, only changed cells are
        updated. Otherwise the table is rebuilt in scope order, its columns fitted to the
        width and measured on these rows, and the cursor is put back on the same service
        (or the row that took its place) with the scroll position kept.
        """
        rows: dict[str, Cells] = {}
        by_key: dict[str, ServiceRow] = {}
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
        for _, members in groups:
            by_key.update((row.key, row) for row in members)
        self._remember(by_key, alive)
        ghosts = self._fade(by_key, alive)
        live_cells: dict[str, tuple[str, Cells]] = {}
        widths: dict[str, dict[str, int]] = {}
        for scope, members in groups:
            if scope is not None:
                rows[f"scope|{scope.value}"] = self._group_cells(scope, len(members))
            for row in members:
                _, cells, widths[row.key], self._row_listeners[row.key] = self._cached(
                    assessment, row
                )
                live_cells[row.key] = (row.scope.value, cells)
                rows[row.key] = self._fresh(row.key, cells)
            for key in [
                k for k, (group, _) in ghosts.items() if scope is None or group == scope.value
            ]:
                rows[f"gone|{key}"] = ghosts.pop(key)[1]
        rows.update((f"gone|{key}", cells) for key, (_, cells) in ghosts.items())  # emptied groups
        self._last_cells = live_cells
        self._row_widths = widths
        self._row_listeners = {k: v for k, v in self._row_listeners.items() if k in live_cells}
        self.rows_by_key = by_key
        same_rows = list(rows) == self._order and not resorted
        previous = self._rows
        # Rows whose cells are the very objects already shown (the cell cache: a filter or a
        # toggle that kept them) need no measuring and no update: at 20,000 rows a key in the
        # filter then costs the rows it changed, not every cell of the table.
        changed = {key: cells for key, cells in rows.items() if previous.get(key) is not cells}
        self._keep_unchanged(changed)
        self._rows = rows
        if same_rows:
            for cells in changed.values():
                for key, cell in cells.items():
                    self._grow(key, cell)
            if self._fit() == self.shown_columns:
                blank = Text("")
                for key, cells in changed.items():
                    for column in self.shown_columns:
                        self._set_cell(key, column, cells.get(column, blank))
                return
        self._layout()

    def _keep_unchanged(self, rows: Mapping[str, Cells]) -> None:
        """Where a new cell equals the one already shown, keep the shown object: the table,
        :attr:`_rows` and the fade's memory then share one ``Text`` per cell instead of
        holding a second, equal set after every redraw (~2 MB per redraw at 4,000 rows)."""
        for key, cells in rows.items():
            before = self._rows.get(key)
            if before is None:
                continue
            for column, cell in cells.items():
                old = before.get(column)
                if old is not None and old is not cell and old == cell:
                    cells[column] = old

    def _layout(self) -> None:
        """Rebuild the table from :attr:`_rows`: columns measured on them and fitted to the
        width, the cursor kept on the same row and the scroll position kept."""
        natural = self._headers()
        filled: set[str] = set()
        measured = self._row_widths
        for row_key, cells in self._rows.items():
            widths = measured.get(row_key)
            if widths is None:  # a scope header, a faded row: not in the cell cache
                widths = self._measure(cells)
            for key, width in widths.items():
                if width > natural.get(key, 0):
                    natural[key] = width
            filled.update(widths)
        self._natural, self._filled = natural, filled
        self.shown_columns = self._fit()
        selected = self._selected_key()
        cursor_row, scroll_y = self.cursor_row, self.scroll_y
        order = list(self._rows)
        self._rebuilding = True
        try:
            self.clear(columns=True)
            for column in view(self.shown_columns):
                mark = self.SORT_MARK if column.key == self.sorted_by else ""
                self.add_column(column.header + mark, key=column.key)
            blank = Text("")
            self._add_rows(
                [
                    (key, [cells.get(c, blank) for c in self.shown_columns])
                    for key, cells in self._rows.items()
                ]
            )
            self._order = order
        finally:
            self._rebuilding = False
        if selected in order:
            self.move_cursor(row=order.index(selected), animate=False, scroll=False)
        elif order:
            self.move_cursor(row=min(cursor_row, len(order) - 1), animate=False, scroll=False)
            self._off_header(+1)
        self.scroll_to(y=scroll_y, animate=False, immediate=True)

    def action_first_row(self) -> None:
        """``home``: the first listener row (a scope header above it is skipped)."""
        if self._order:
            self.move_cursor(row=0, animate=False)
            self.scroll_to(x=0, y=0, animate=False)

    def action_last_row(self) -> None:
        """``end``: the last listener row."""
        if self._order:
            self.move_cursor(row=len(self._order) - 1, animate=False)
            self.scroll_to(x=0, animate=False)

    def _off_header(self, step: int) -> None:
        """Move the cursor off a scope header row or a faded one, in the direction of travel
        if possible."""
        row = self.cursor_row
        if not 0 <= row < len(self._order) or self._order[row] in self.rows_by_key:
            return
        for candidate in (row + step, row - step):
            if 0 <= candidate < len(self._order) and self._order[candidate] in self.rows_by_key:
                self.move_cursor(row=candidate, animate=False)
                return

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        """Whatever moved the cursor (arrows, PgUp, Home, a click), never leave it on a scope
        header row: step on in the direction it was moving."""
        super().watch_cursor_coordinate(old, new)
        if not self._rebuilding:
            self._off_header(-1 if new.row < old.row else +1)

    def _add_rows(self, rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
        """``add_row`` for many one-line rows at once, into an emptied table. DataTable's
        ``add_row`` re-sets the cursor (a reactive) and re-orders the columns for every row:
        about 90 µs a row, 1.8 s for 20,000. Here its bookkeeping is done once for all (Textual
        8's ``_row_locations``, ``_data``, ``rows`` and ``_new_rows``, as ``add_row`` fills
        them); without those attributes (another Textual), ``add_row`` one by one."""
        if self.row_count or not all(
            hasattr(self, name) for name in ("_row_locations", "_data", "_new_rows", "rows")
        ):
            for key, cells in rows:
                self.add_row(*cells, key=key)
            return
        columns = [column.key for column in self.ordered_columns]
        for index, (key, cells) in enumerate(rows):
            row_key = RowKey(key)
            self._row_locations[row_key] = index
            self._data[row_key] = dict(zip(columns, cells, strict=True))
            self.rows[row_key] = Row(row_key, 1, None, False)
            self._new_rows.add(row_key)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if rows and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += 1
        self.check_idle()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Textual's own pass measures every cell of every new row through the console
        (about 0.25 ms a cell: 2.6 s for 10,000 rows at 8 columns). Every cell here is a
        one-line ``Text`` already measured by :meth:`_grow` (``cell_len``, the same
        figure), so columns take those widths and only the virtual size is set."""
        if any(self.rows[key].auto_height for key in new_rows if key in self.rows):
            super()._update_dimensions(new_rows)  # not used here; kept correct if it ever is
            return
        for key, column in self.columns.items():
            width = self._natural.get(str(key.value))
            if width is not None:
                column.content_width = max(column.content_width, width)
        data_width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            data_width + self._row_label_column_width, self._total_row_height + header
        )

    async def _on_idle(self, event: events.Idle) -> None:
        """Work around stale lines in Textual 8's DataTable: lines drawn between ``add_row``
        and the idle pass that measures column widths stay cached with the old widths (its
        line caches are cleared there only for auto-height rows): when a width changed, the
        caches are cleared and the table redrawn."""
        widths = [column.content_width for column in self.columns.values()]
        await super()._on_idle(event)
        if widths != [column.content_width for column in self.columns.values()]:
            self._clear_caches()
            self.refresh()

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

    def _fresh(self, key: str, cells: Cells) -> Cells:
        """Cells of a row that appeared in the last few seconds, drawn reversed."""
        born = self._born.get(key)
        if born is None or time.monotonic() - born > self.NEW_FOR:
            return cells
        return {
            k: cell.copy()
            if k == "mark"
            else Text(cell.plain, style=f"{cell.style} reverse", justify=cell.justify)
            for k, cell in cells.items()
        }

    def _fade(
        self, rows: Mapping[str, ServiceRow], alive: Collection[ListenerKey] | None
    ) -> dict[str, tuple[str, Cells]]:
        """Rows that disappeared in the last few seconds, dimmed and struck through, by key;
        each with the scope group it was in."""
        now = time.monotonic()
        living = alive if isinstance(alive, (set, frozenset)) else set(alive or ())
        for key, (group, cells) in self._last_cells.items():
            if key in rows or key in self._gone:
                continue
            if alive is not None and not self._row_listeners.get(key, frozenset()).isdisjoint(
                living
            ):
                continue  # left the view (a filter, a toggle), not the machine
            faded = {
                k: Text("×", style="dim")
                if k == "mark"
                else Text(cell.plain, style="dim strike", justify=cell.justify)
                for k, cell in cells.items()
            }
            self._gone[key] = (now + self.GONE_FOR, group, faded)
        for key in list(self._gone):
            if key in rows or self._gone[key][0] <= now:
                del self._gone[key]
        return {key: (group, cells) for key, (_, group, cells) in self._gone.items()}

    def _remember(
        self, rows: Mapping[str, ServiceRow], alive: Collection[ListenerKey] | None
    ) -> None:
        now = time.monotonic()
        seen = self._seen
        if seen is not None:
            for key in rows:
                if key not in seen:
                    self._born[key] = now
        for key in list(self._born):
            if key not in rows or now - self._born[key] > self.NEW_FOR:
                del self._born[key]
        if seen is None or alive is None:
            seen = {}
        else:  # forget services whose sockets are all gone: a return is new again
            living = alive if isinstance(alive, (set, frozenset)) else set(alive)
            seen = {k: v for k, v in seen.items() if k in rows or not v.isdisjoint(living)}
        for key, row in rows.items():
            if key not in seen:
                seen[key] = frozenset(li.key for li in row.listeners)
        self._seen = seen

    def _group_cells(self, scope: Scope, count: int) -> Cells:
        """A scope's header row: its name and count in the address column."""
        style = GROUP_STYLE[scope]
        return {
            "mark": Text("▌", style=style),
            "address": Text(f"{scope.value.upper()} ({count})", style=style),
        }

    def _selected_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def selected_row(self) -> ServiceRow | None:
        """The service row under the cursor, ``None`` on a scope header or an empty table."""
        key = self._selected_key()
        return None if key is None else self.rows_by_key.get(key)
