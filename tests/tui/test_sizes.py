"""The dashboard at every size: numbers never cut, columns fitted to the current width and
view (issue 14, item 1), the diagram's form following each resize (item 3). Frozen data."""

from __future__ import annotations

import re

import pytest

from netdash.core.services import group_results, leader
from netdash.output.columns import COLUMNS
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import ListenerTable
from tests.support.fixed import SNAPSHOT, TAKEN_AT, probe_results
from tests.support.pilot import table_lines, wait_until


def make_app() -> NetdashApp:
    return NetdashApp(interval=2, collector=lambda: SNAPSHOT, clock=lambda: TAKEN_AT)


async def probe(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_until(pilot, lambda: app.snapshot is not None)
    app.results = group_results(probe_results())
    app._probed_owners = {li.key: leader(li) for li in SNAPSHOT.listeners}
    app._redraw()
    await pilot.pause(0.2)


def shown(table: ListenerTable) -> tuple[str, ...]:
    return table.shown_columns


def assert_numbers_whole(app: NetdashApp) -> None:
    """Every row on screen shows its port and pid exactly, as whole words; the table needs
    no horizontal scrolling (so nothing is clipped at the right edge)."""
    table = app.query_one(ListenerTable)
    lines = table_lines(app, table)
    assessment = app.assessment
    checked = 0
    for key, row in table.rows_by_key.items():
        if key not in lines:
            continue
        assessed = assessment.row(row)
        for column in ("port", "pid"):
            value = COLUMNS[column].value(assessed)
            assert re.search(rf"(?<!\S){re.escape(value)}(?!\S)", lines[key]), (value, lines[key])
        checked += 1
    assert checked >= 5
    assert "port" in shown(table) and "pid" in shown(table), shown(table)
    assert table.virtual_size.width <= table.scrollable_content_region.width


def natural(table: ListenerTable, column: str) -> int:
    cells = [table.get_cell(key, column) for key in table._order]
    return max([len(COLUMNS[column].header), *(cell.cell_len for cell in cells)])


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (200, 60)])
async def test_numbers_are_never_cut_after_probing_and_toggling_udp(size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await probe(pilot)
        assert_numbers_whole(app)
        table = app.query_one(ListenerTable)
        if size[0] >= 200:
            assert shown(table) == ("mark", "address", "port", "process",
                                           "loopback", "lan", "pid", "what")  # fmt: skip
        if size[0] == 80:
            assert "reach" in shown(table)  # LOOPBACK and LAN merged into marks
            assert "loopback" not in shown(table) and "lan" not in shown(table)
        await pilot.press("u")
        await pilot.pause(0.2)
        assert any("/udp" in line for line in table_lines(app, table).values())
        assert_numbers_whole(app)
        await pilot.press("u")
        await pilot.pause(0.2)
        assert_numbers_whole(app)
        # widths follow the current view: the UDP row's "5353/udp" widened PORT only while shown
        assert table.column_widths["port"] == natural(table, "port") == len("PORT")


async def test_columns_follow_a_resize_both_ways() -> None:
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await probe(pilot)
        table = app.query_one(ListenerTable)
        assert "what" in shown(table)
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert "what" not in shown(table)
        assert_numbers_whole(app)
        await pilot.resize_terminal(200, 60)
        await pilot.pause(0.2)
        assert "what" in shown(table) and "loopback" in shown(table)
        assert_numbers_whole(app)


async def test_the_diagram_form_follows_each_resize_at_once() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        box = app.query_one("#diagram-box")
        assert box.has_class("-compact")
        for size, compact in (((120, 40), False), ((80, 24), True), ((200, 60), False)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            assert box.has_class("-compact") is compact, size


async def test_the_mouse_highlights_selects_and_sorts() -> None:
    """A click on a row highlights it, a second click opens its details; a click on a column
    label sorts by that column (as Textual's DataTable did before the table drew only the
    rows in view, issue 18)."""
    from netdash.tui.widgets.screens import DetailsScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        table = app.query_one(ListenerTable)
        target = [n for n, key in enumerate(table._order) if key in table.rows_by_key][1]
        await pilot.click(ListenerTable, offset=(6, target + 1))
        assert table.cursor_row == target
        await pilot.click(ListenerTable, offset=(6, target + 1))
        await pilot.pause(0.2)
        assert isinstance(app.screen, DetailsScreen)
        await pilot.press("escape")
        await pilot.pause(0.1)
        before = table.shown_columns[: table.shown_columns.index("port")]
        x = sum(table.column_widths[key] + ListenerTable.EXTRA for key in before)
        await pilot.click(ListenerTable, offset=(x + 2, 0))  # on the PORT label
        assert app.view.sort == "port"
        assert table.column_labels["port"].endswith(" ▲")
