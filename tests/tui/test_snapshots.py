"""SVG snapshot tests of the main screen on frozen data (pytest-textual-snapshot).

Update after an intended UI change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs in tests/tui/__snapshots__/.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from netdash.core.model import Snapshot
from netdash.core.services import group_results, leader
from netdash.tui.app import NetdashApp
from tests.support.fixed import SNAPSHOT, TAKEN_AT, probe_results


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def make_app(udp: bool = False) -> NetdashApp:
    return NetdashApp(interval=2, collector=lambda: SNAPSHOT, udp=udp, clock=lambda: TAKEN_AT)


async def first_poll(pilot) -> None:  # type: ignore[no-untyped-def]
    while pilot.app.snapshot is None:
        await pilot.pause(0.02)


async def probed(pilot) -> None:  # type: ignore[no-untyped-def]
    await first_poll(pilot)
    app = pilot.app
    app.results = group_results(probe_results())
    app.probe_status = "probed 9 listeners (20 probes) in 1.2 s"
    app._probed_owners = {li.key: leader(li) for li in SNAPSHOT.listeners}
    app._redraw()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
def test_main_screen(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(), terminal_size=size, run_before=first_poll)


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
def test_main_screen_after_probe(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(), terminal_size=size, run_before=probed)


def test_main_screen_with_udp(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(udp=True), terminal_size=(100, 30), run_before=probed)


EMPTY = Snapshot(
    hostname="devbox",
    interfaces=SNAPSHOT.interfaces,
    listeners=(),
    taken_at=SNAPSHOT.taken_at,
    default_route_interfaces=("wlan0",),
)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_empty_machine(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = NetdashApp(interval=2, collector=lambda: EMPTY, clock=lambda: TAKEN_AT)
    assert snap_compare(app, terminal_size=size, run_before=first_poll)


async def _filtered(pilot) -> None:  # type: ignore[no-untyped-def]
    await probed(pilot)
    await pilot.press("slash", "g", "u", "n")


async def _kill_confirmation(pilot) -> None:  # type: ignore[no-untyped-def]
    await probed(pilot)
    await pilot.press("k")  # the highlighted row: sshd on port 22 (pid 800, not ours)
    await pilot.pause(0.2)


async def _details(pilot) -> None:  # type: ignore[no-untyped-def]
    await probed(pilot)
    await pilot.press("down", "enter")  # uvicorn on 0.0.0.0:8000
    await pilot.pause(0.3)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.3)


@pytest.fixture
def unreadable_fd_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The frozen processes do not run on this machine, so ``k`` would find that none holds
    its socket now. Seen as a user who may not read root's ``/proc/PID/fd`` (sshd here), the
    hold check answers "cannot tell" and the confirmation is asked, as on a real desktop."""
    monkeypatch.setattr("netdash.tui.process_control.holds", lambda pid, inodes: None)


@pytest.mark.usefixtures("unreadable_fd_tables")
@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
@pytest.mark.parametrize(
    "state", [_filtered, _kill_confirmation, _details], ids=["filtered", "kill", "details"]
)
def test_states(snap_compare, size: tuple[int, int], state) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(), terminal_size=size, run_before=state)
