"""A bare Textual app for the idle benchmark: a 200-row DataTable, a header line and a footer,
and nothing running. Its CPU use is what Textual itself costs while idle (its input thread
wakes ten times a second to check for exit), measured beside netdash and htop."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Static


class Floor(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("a bare Textual app: nothing runs")
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*"ABCDEFG")
        for i in range(200):
            table.add_row(*(f"{c}{i}" for c in "ABCDEFG"))


if __name__ == "__main__":
    Floor().run()
