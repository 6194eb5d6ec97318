"""UDP rows and the probe (issue 14, item 4): UDP is never probed, nothing says otherwise,
and the header never sticks on ``probing 0/0…``. Frozen data: no probe runs at all."""

from __future__ import annotations

from dataclasses import replace

from netdash.core.model import Snapshot
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import ListenerTable
from tests.support.fixed import SNAPSHOT, TAKEN_AT
from tests.support.pilot import as_text, key_for, wait_until


def status(app: NetdashApp) -> str:
    return as_text(app.query_one("#status").content)


async def on_udp_row(pilot) -> ListenerTable:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_until(pilot, lambda: app.snapshot is not None)
    table = app.query_one(ListenerTable)
    key = key_for(table, "0.0.0.0", 5353)
    assert key is not None and key.startswith("all-interfaces|udp/")
    table.move_cursor(row=table._order.index(key))
    await pilot.pause()
    return table


async def test_p_in_a_udp_rows_details_and_shift_p_start_no_probe() -> None:
    app = NetdashApp(interval=60, collector=lambda: SNAPSHOT, udp=True, clock=lambda: TAKEN_AT)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_udp_row(pilot)
        verdict = as_text(app.query_one("#verdict").content)
        assert "UDP is not probed" in verdict and "(p)" not in verdict, verdict
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.screen_stack) > 1)
        body = as_text(app.screen.query_one("#details-body").content)
        assert "UDP is not probed" in body and "press p" not in body, body
        await pilot.press("p")
        await pilot.pause(0.5)
        assert "probing" not in status(app), status(app)
        assert app.probe_status is None and not app._probe_running()
        await pilot.press("P")
        await pilot.pause(0.5)
        assert "probing" not in status(app), status(app)
        assert any("not probed" in n.message for n in app._notifications)


async def test_auto_probe_of_a_new_udp_listener_does_not_stick_the_header() -> None:
    # Fixed data: no TCP listener in either snapshot, so nothing of it is ever contacted.
    udp_only = replace(
        SNAPSHOT,
        listeners=tuple(li for li in SNAPSHOT.listeners if li.protocol == "udp"),
        taken_at=TAKEN_AT + 1,
    )
    snapshots: list[Snapshot] = [replace(SNAPSHOT, listeners=())]

    def collect() -> Snapshot:
        return snapshots[-1]

    app = NetdashApp(
        interval=0.2, collector=collect, udp=True, auto_probe=True, clock=lambda: TAKEN_AT
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        snapshots.append(udp_only)
        await wait_until(pilot, lambda: app.snapshot is snapshots[-1])
        await pilot.pause(0.5)
        assert "probing" not in status(app), status(app)
        assert not app._probe_running()


async def test_probed_n_s_ago_advances_without_moving_the_cursor() -> None:
    """Issue 14, item 7: the verdict line's age follows the clock, at most once a second."""
    from netdash.core.services import group_results, leader
    from tests.support.fixed import probe_results

    now = [TAKEN_AT]
    app = NetdashApp(interval=60, collector=lambda: SNAPSHOT, clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        app.results = group_results(probe_results())
        app._probed_owners = {li.key: leader(li) for li in SNAPSHOT.listeners}
        app._redraw()
        await pilot.pause(0.1)
        assert "probed 12 s ago" in as_text(app.query_one("#verdict").content)
        now[0] += 60
        await pilot.pause(1.3)
        assert "probed 72 s ago" in as_text(app.query_one("#verdict").content)
