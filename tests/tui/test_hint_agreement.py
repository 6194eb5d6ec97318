"""The details screen and ``netdash check`` give the same fix hint for every row, UDP included
(both read it from the one assessment; the details screen once suggested ``--allow 5353`` for
a UDP row where ``check`` said ``--allow 5353/udp``)."""

from __future__ import annotations

from netdash.core.assess import Assessment
from netdash.output.text import check_text
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import ListenerTable
from netdash.tui.widgets.screens import DetailsScreen
from tests.support.fixed import SNAPSHOT, TAKEN_AT
from tests.support.pilot import as_text, wait_until


def _fix_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip().startswith("fix: ")}


async def test_details_and_check_give_the_same_hint_for_every_row() -> None:
    expected = _fix_lines(check_text(Assessment(SNAPSHOT, udp=True)))
    assert any("--allow 5353/udp" in line for line in expected), expected
    app = NetdashApp(interval=30, collector=lambda: SNAPSHOT, udp=True, clock=lambda: TAKEN_AT)
    seen: dict[str, set[str]] = {}
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        table = app.query_one(ListenerTable)
        for key, row in list(table.rows_by_key.items()):
            table.move_cursor(row=table._order.index(key))
            await pilot.pause()
            app.action_details()
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DetailsScreen)
                    and bool(app.screen.query("#details-body"))
                ),
            )
            body = as_text(app.screen.query_one("#details-body").content, width=400)
            seen[key] = _fix_lines(body)
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, DetailsScreen))
            assessed = app.assessment.row(row)
            if assessed.exposed:
                assert seen[key] == {f"fix: {assessed.hint.text}"}, (key, body)
                assert seen[key] <= expected, (key, seen[key], expected)
            else:
                assert seen[key] == set(), (key, body)
    udp = [k for k, row in table.rows_by_key.items() if row.first.protocol == "udp"]
    assert udp and all("5353/udp" in " ".join(seen[k]) for k in udp), seen
