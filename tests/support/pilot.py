"""Helpers for driving the dashboard with Textual's Pilot: a row's text, a row's key, waiting."""

from __future__ import annotations

import io
import time

from rich.console import Console

from netdash.tui.widgets import ListenerTable


def as_text(renderable: object, width: int = 200) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def row_text(table: ListenerTable, key: str) -> list[str]:
    return [cell.plain for cell in table.get_row(key)]


def key_for(table: ListenerTable, address: str, port: int) -> str | None:
    """The row key of the service row holding the listener on (address, port)."""
    for key, row in table.rows_by_key.items():
        if any(li.address == address and li.port == port for li in row.listeners):
            return key
    return None


async def wait_until(pilot, condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def screen_lines(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The app's screen as plain text lines, as a terminal would show it."""
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        record=True,
        color_system=None,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def table_lines(app, table: ListenerTable) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The screen line of every table row in view, by row key."""
    lines = screen_lines(app)
    top = table.region.y + 1 - round(table.scroll_y)  # under the header row
    bottom = table.region.y + table.region.height
    if table.show_horizontal_scrollbar:
        bottom -= table.scrollbar_size_horizontal
    return {
        key: lines[top + n]
        for n, key in enumerate(table._order)
        if table.region.y < top + n < bottom
    }
