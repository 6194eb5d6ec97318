"""The dashboard records history and shows it under ``h``: real sockets in the test
namespace, a real SQLite file, Pilot driving the keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdash.history.recorder import HistoryRecorder
from netdash.history.store import HistoryStore
from netdash.probe.engine import ProbeLimits
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import HistoryPanel
from tests.support.pilot import as_text, wait_until
from tests.support.servers import bound_socket, close_listening, serve_in_thread

pytestmark = pytest.mark.netns

FAST = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1)


def panel_text(app: NetdashApp) -> str:
    return as_text(app.query_one(HistoryPanel).render())


async def test_h_shows_appeared_gone_and_a_probe_turning_a_verdict(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    app = NetdashApp(interval=30, probe_limits=FAST, history=HistoryRecorder(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app._history_events is not None)
        sock = bound_socket("0.0.0.0", 1300)
        serve_in_thread(sock)
        await pilot.press("r")
        await pilot.press("h")
        panel = app.query_one(HistoryPanel)
        assert panel.display and not app.query_one("#diagram-box").display
        await wait_until(pilot, lambda: "0.0.0.0:1300" in panel_text(app))
        assert "appeared" in panel_text(app)
        await pilot.press("p")  # probe all: the LAN probe connects
        await wait_until(pilot, lambda: "exposed-unverified → exposed" in panel_text(app))
        close_listening(sock)
        await pilot.press("r")
        await wait_until(pilot, lambda: "disappeared" in panel_text(app))
        await pilot.press("h")
        assert not panel.display and app.query_one("#diagram-box").display
    kinds = {(e.kind, e.port) for e in HistoryStore(path, create=False).events(port=1300)}
    assert {("appeared", 1300), ("verdict", 1300), ("probe", 1300), ("disappeared", 1300)} <= kinds


async def test_a_corrupt_database_is_said_once_and_the_dashboard_carries_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    app = NetdashApp(interval=30, history=HistoryRecorder(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app._history_problem is not None)
        sock = bound_socket("127.0.0.1", 1301)
        await pilot.press("r")
        await wait_until(pilot, lambda: any(li.port == 1301 for li in app.snapshot.listeners))
        await pilot.press("h")
        assert "History unavailable" in panel_text(app) and "corrupt" in panel_text(app)
        warnings = [n for n in app._notifications if "History off" in n.message]
        assert len(warnings) == 1
        sock.close()
    assert path.read_bytes() == b"garbage" * 1000  # left as it was


async def test_history_off_says_so_and_palette_lists_it() -> None:
    app = NetdashApp(interval=30)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("h")
        assert "History is off" in panel_text(app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "History" in titles


def test_panel_lines_fit_80_columns_and_show_text_literally() -> None:
    from netdash.core.history import Event
    from netdash.tui.widgets.history_panel import history_text

    events = [
        Event(1.0, "disappeared", "tcp", "0.0.0.0", 8000, "all-interfaces", "exposed", None,
              "[bold]evil\x1b[2J", 123456, "ada"),
        Event(2.0, "verdict", "tcp", "::", 5173, "all-interfaces", "exposed",
              "exposed-unverified", "node", 7),
    ]  # fmt: skip
    for width in (78, 198):
        text = history_text(events, "/x/history.sqlite3", None, width)
        lines = text.plain.splitlines()
        assert len(lines) == 3 and all(len(line) <= width for line in lines), lines
    wide = history_text(events, "/x", None, 198).plain
    assert "[bold]evil\\x1b[2J" in wide and "\x1b" not in wide
    assert "exposed-unverified → exposed" in history_text(events, "/x", None, 78).plain
    assert "123456" in history_text(events, "/x", None, 198).plain  # the pid, when it fits
