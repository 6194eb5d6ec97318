"""Every action of the daily-driver TUI, with Pilot, on real sockets and real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netdash.probe.engine import ProbeLimits
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import ListenerTable
from netdash.tui.widgets.screens import DetailsScreen, HelpScreen, KillScreen
from tests.support.pilot import as_text, key_for, wait_until
from tests.support.servers import bound_socket, start_http_server, wait_listening

pytestmark = pytest.mark.netns

FAST = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1)


def row_ports(table: ListenerTable) -> set[int]:
    return {row.first.port for row in table.rows_by_key.values()}


async def started(pilot, app: NetdashApp) -> ListenerTable:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: app.snapshot is not None)
    return app.query_one(ListenerTable)


async def test_filter_toggles_and_sort() -> None:
    exposed = bound_socket("0.0.0.0", 1200)
    local = bound_socket("127.0.0.1", 1201)
    v6 = bound_socket("::1", 1202)
    app = NetdashApp(interval=30)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await started(pilot, app)
        assert {1200, 1201, 1202} <= row_ports(table)

        await pilot.press("slash")
        for ch in "1201":
            await pilot.press(ch)
        assert row_ports(table) == {1201}
        assert not any(k.startswith("gone|") for k in table._order)  # hidden, not vanished
        await pilot.press("enter")  # keeps the filter, back to the table
        assert app.focused is table and row_ports(table) == {1201}
        assert "filter '1201'" in as_text(app.query_one("#status").content)
        await pilot.press("escape")  # clears it
        assert {1200, 1201, 1202} <= row_ports(table)
        await pilot.press("slash", "1", "2", "0", "0", "escape")  # escape while typing
        assert app.focused is table and {1200, 1201, 1202} <= row_ports(table)

        await pilot.press("e")
        assert 1200 in row_ports(table) and not {1201, 1202} & row_ports(table)
        await pilot.press("e", "6")
        assert 1202 not in row_ports(table) and 1201 in row_ports(table)
        await pilot.press("6")

        await pilot.press("s")  # by port: flat, no scope headers
        assert app.view.sort == "port"
        assert not any(k.startswith("scope|") for k in table._order)
        ports = [table.rows_by_key[k].first.port for k in table._order]
        assert ports == sorted(ports)
        await pilot.press("s", "s")
        assert app.view.sort == "scope" and table._order[0].startswith("scope|")
    for s in (exposed, local, v6):
        s.close()


async def test_details_show_command_line_user_and_connections() -> None:
    server = start_http_server("0.0.0.0")
    clients: list[socket.socket] = []
    try:
        app = NetdashApp(interval=30)
        async with app.run_test(size=(120, 40)) as pilot:
            table = await started(pilot, app)
            key = key_for(table, "0.0.0.0", server.port)
            assert key is not None
            table.move_cursor(row=table._order.index(key))
            await pilot.press("enter")
            assert isinstance(app.screen, DetailsScreen)

            def body() -> str:
                return as_text(app.screen.query_one("#details-body").content)

            await wait_until(pilot, lambda: "reading processes" not in body())
            assert "0 established" in body(), body()
            await pilot.press("escape")
            # Two real clients, over loopback and over the LAN address (both this machine).
            for target in ("127.0.0.1", "198.18.0.1"):
                clients.append(socket.create_connection((target, server.port), timeout=2))
            ports = {c.getsockname()[1] for c in clients}
            await pilot.press("enter")

            await wait_until(pilot, lambda: "reading processes" not in body())
            body_text = body()
            assert f"process {server.pid}" in body_text, body_text
            assert "http.server" in body_text and "--bind 0.0.0.0" in body_text, body_text
            assert "2 established" in body_text, body_text
            for port in ports:  # each peer, with its address, port and idle time
                assert any(
                    f":{port} → " in line and "this machine, last data" in line
                    for line in body_text.splitlines()
                ), body_text
            await pilot.press("escape")
            assert not isinstance(app.screen, DetailsScreen)
    finally:
        for client in clients:
            client.close()
        server.stop()


async def test_kill_asks_then_stops_a_real_process_and_cancel_does_not() -> None:
    server = start_http_server("0.0.0.0")
    try:
        app = NetdashApp(interval=30)
        async with app.run_test(size=(120, 40)) as pilot:
            table = await started(pilot, app)
            key = key_for(table, "0.0.0.0", server.port)
            assert key is not None
            table.move_cursor(row=table._order.index(key))

            await pilot.press("k")
            assert isinstance(app.screen, KillScreen)
            question = as_text(app.screen.query_one("#kill-question").content)
            assert f"pid {server.pid}" in question and f"port {server.port}" in question
            await pilot.press("escape")  # cancel
            await pilot.pause(0.3)
            assert server.process is not None and server.process.poll() is None

            await pilot.press("k")
            assert isinstance(app.screen, KillScreen)
            await pilot.click("#TERM")
            await wait_until(pilot, lambda: server.process.poll() is not None)
            assert server.process.returncode == -15  # SIGTERM
    finally:
        server.stop()


async def test_toasts_do_not_cover_the_stop_dialog_at_80x24() -> None:
    """At 80x24 a stack of toasts (copied URLs, probe notes) covered the dialog's buttons."""
    from textual.widgets import Button

    server = start_http_server("0.0.0.0")
    try:
        app = NetdashApp(interval=30)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            table = await started(pilot, app)
            key = key_for(table, "0.0.0.0", server.port)
            assert key is not None
            table.move_cursor(row=table._order.index(key))
            for n in range(5):
                app.notify(f"note {n}: a toast of some length, as the copy key writes", timeout=30)
            await pilot.pause(0.2)
            assert len(app.screen.query("Toast")) == 5
            await pilot.press("k")
            screen = app.screen
            assert isinstance(screen, KillScreen)
            await pilot.pause(0.3)
            buttons = [b.region for b in screen.query(Button)]
            toasts = [t.region for t in screen.query("Toast")]
            assert buttons and all(b.area for b in buttons)
            covered = [(b, t) for b in buttons for t in toasts if b.overlaps(t)]
            assert not covered, covered
            await pilot.press("n")
    finally:
        server.stop()


async def test_stop_dialog_keys_y_n_arrows_and_enter_on_cancel() -> None:
    """Issue 14: the stop dialog had no y/n and arrows did not move between its buttons."""
    from textual.widgets import Button

    server = start_http_server("0.0.0.0")
    try:
        app = NetdashApp(interval=30)
        async with app.run_test(size=(120, 40)) as pilot:
            table = await started(pilot, app)
            key = key_for(table, "0.0.0.0", server.port)
            assert key is not None
            table.move_cursor(row=table._order.index(key))
            await pilot.press("k")
            screen = app.screen
            assert isinstance(screen, KillScreen)
            labels = [str(b.label) for b in screen.query(Button)]
            assert labels == ["Send SIGTERM (y)", "Cancel (n, esc)"]
            assert app.focused is not None and app.focused.id == "cancel"
            await pilot.press("left")
            assert app.focused is not None and app.focused.id == "TERM"
            await pilot.press("right")
            assert app.focused is not None and app.focused.id == "cancel"
            await pilot.press("enter")  # the default: cancel
            await pilot.pause(0.3)
            assert not isinstance(app.screen, KillScreen)
            await pilot.press("k", "n")
            await pilot.pause(0.3)
            assert not isinstance(app.screen, KillScreen)
            assert server.process is not None and server.process.poll() is None
            await pilot.press("k", "y")
            await wait_until(pilot, lambda: server.process.poll() is not None)
            assert server.process.returncode == -15  # SIGTERM
    finally:
        server.stop()


async def test_home_end_and_j_move_between_rows() -> None:
    """Issue 14: Home/End scrolled sideways instead of going to the first and last row."""
    socks = [bound_socket("127.0.0.1") for _ in range(3)]
    try:
        app = NetdashApp(interval=30)
        async with app.run_test(size=(80, 24)) as pilot:
            table = await started(pilot, app)
            rows = [k for k in table._order if k in table.rows_by_key]
            await pilot.press("end")
            assert table._order[table.cursor_row] == rows[-1]
            assert table.scroll_x == 0
            await pilot.press("home")
            assert table._order[table.cursor_row] == rows[0]
            await pilot.press("j")
            assert table._order[table.cursor_row] == rows[1]
    finally:
        for sock in socks:
            sock.close()


async def test_kill_refuses_a_reused_pid() -> None:
    """The pid's create time must match: a different process with that pid is not signalled."""
    from netdash.core.model import Process
    from netdash.tui.process_control import send_signal

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        stale = Process(pid=child.pid, name="python", create_time=1.0)  # not its create time
        assert "another process" in (send_signal(stale, 15) or "")
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


async def test_open_and_copy_use_the_url_probing_found() -> None:
    server = start_http_server("::1")
    opened: list[str] = []
    copied: list[str] = []
    try:
        app = NetdashApp(interval=30, browser=opened.append, probe_limits=FAST)
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        async with app.run_test(size=(120, 40)) as pilot:
            table = await started(pilot, app)
            key = key_for(table, "::1", server.port)
            assert key is not None
            table.move_cursor(row=table._order.index(key))
            await pilot.press("o")
            assert opened == [f"http://localhost:{server.port}/"]
            await pilot.press("P")
            await wait_until(pilot, lambda: ") in " in (app.probe_status or ""))
            await pilot.press("c")
            assert copied == [f"http://[::1]:{server.port}/"]  # what answered: IPv6 only
    finally:
        server.stop()


async def test_new_exposure_is_announced_with_bell_and_pause_stops_polling() -> None:
    bells: list[int] = []
    app = NetdashApp(interval=0.3, bell=True)
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        sock = bound_socket("0.0.0.0")
        port = sock.getsockname()[1]
        await wait_until(
            pilot,
            lambda: any(f":{port}" in str(n.message) for n in app._notifications),
        )
        note = next(n for n in app._notifications if f":{port}" in str(n.message))
        assert note.severity == "warning" and "New exposure" in str(note.message)
        assert bells

        await pilot.press("space")
        assert "PAUSED" in as_text(app.query_one("#status").content)
        taken = app.snapshot.taken_at if app.snapshot else 0
        await pilot.pause(1.0)
        assert app.snapshot is not None and app.snapshot.taken_at == taken
        # r polls once even while paused; polling stays paused.
        other = bound_socket("127.0.0.1")
        other_port = other.getsockname()[1]
        await pilot.press("r")
        table = app.query_one(ListenerTable)
        await wait_until(pilot, lambda: key_for(table, "127.0.0.1", other_port) is not None)
        assert "PAUSED" in as_text(app.query_one("#status").content)
        taken = app.snapshot.taken_at
        other.close()
        await pilot.pause(1.0)
        assert app.snapshot.taken_at == taken  # the close was not seen: still paused
        await pilot.press("space")
        await wait_until(pilot, lambda: key_for(table, "127.0.0.1", other_port) is None)
        sock.close()


async def test_help_and_new_rows_are_highlighted() -> None:
    app = NetdashApp(interval=0.3)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await started(pilot, app)
        sock = bound_socket("127.0.0.1")
        port = sock.getsockname()[1]
        await wait_until(pilot, lambda: key_for(table, "127.0.0.1", port) is not None)
        key = key_for(table, "127.0.0.1", port)
        assert key is not None
        address_cell = table.get_cell(key, "address")
        assert "reverse" in str(address_cell.style)  # new: highlighted for a few seconds
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        sock.close()
        # A vanished listener fades out: struck through for a few seconds, then gone.
        await wait_until(pilot, lambda: f"gone|{key}" in table._order)
        assert table.get_row(f"gone|{key}")[0].plain == "×"
        assert "strike" in str(table.get_row(f"gone|{key}")[1].style)
        await wait_until(pilot, lambda: f"gone|{key}" not in table._order, timeout=10)


async def test_a_fading_row_and_the_header_agree_and_the_row_goes_on_time() -> None:
    """Issue 14 item 6: the header counted a stopped server out at once while its faded row
    stayed until the next poll. Now the header says "1 just stopped" while the row fades, and
    both go when the fade ends, without waiting for a poll (the interval here is 60 s)."""
    app = NetdashApp(interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await started(pilot, app)
        sock = bound_socket("127.0.0.1")
        port = sock.getsockname()[1]
        await pilot.press("r")
        await wait_until(pilot, lambda: key_for(table, "127.0.0.1", port) is not None)
        key = key_for(table, "127.0.0.1", port)
        status = app.query_one("#status")
        assert "just stopped" not in as_text(status.content)
        sock.close()
        await pilot.press("r")
        await wait_until(pilot, lambda: f"gone|{key}" in table._order)
        assert "1 just stopped" in as_text(status.content)
        started_fading = time.monotonic()
        await wait_until(pilot, lambda: f"gone|{key}" not in table._order, timeout=10)
        assert time.monotonic() - started_fading < ListenerTable.GONE_FOR + 2
        assert "just stopped" not in as_text(status.content)


async def test_auto_probe_probes_the_listeners_that_exist_at_start_then_new_ones() -> None:
    """Issue 14 item 8: --auto-probe skipped every listener that existed at start."""
    server = start_http_server("127.0.0.1")
    later = None
    try:
        wait_listening("127.0.0.1", server.port)
        app = NetdashApp(interval=0.3, auto_probe=True, probe_limits=FAST)
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot, app)
            await wait_until(
                pilot, lambda: any(r.listener[2] == server.port for r in app.probed()), timeout=15
            )
            later = start_http_server("127.0.0.1")
            await wait_until(
                pilot, lambda: any(r.listener[2] == later.port for r in app.probed()), timeout=15
            )
    finally:
        server.stop()
        if later is not None:
            later.stop()


def test_child_helper_sanity() -> None:
    """wait_listening really waits for our own server (used above)."""
    server = start_http_server("127.0.0.1")
    try:
        wait_listening("127.0.0.1", server.port)
        assert os.path.exists(f"/proc/{server.pid}")
        assert time.time() > 0
    finally:
        server.stop()


async def test_allowed_exposure_is_acknowledged_not_alarming() -> None:
    from netdash.core.policy import parse_allow

    app = NetdashApp(interval=0.3, allow=[parse_allow("1300")])
    async with app.run_test(size=(120, 40)) as pilot:
        table = await started(pilot, app)
        allowed = bound_socket("0.0.0.0", 1300)
        other = bound_socket("0.0.0.0", 1301)
        await wait_until(pilot, lambda: {1300, 1301} <= row_ports(table))
        await pilot.pause(0.5)
        key = key_for(table, "0.0.0.0", 1300)
        assert key is not None
        assert table.get_row(key)[0].plain == "✓"
        assert table.get_row(key_for(table, "0.0.0.0", 1301))[0].plain == "⚠"  # type: ignore[arg-type]
        messages = " ".join(str(n.message) for n in app._notifications)
        assert ":1301" in messages and ":1300" not in messages
        assert "1 allowed" in as_text(app.query_one("#status").content)
        table.move_cursor(row=table._order.index(key))
        await pilot.pause(0.1)
        assert "allowed by rule '1300'" in as_text(app.query_one("#verdict").content)
        allowed.close()
        other.close()


async def test_every_action_is_in_the_palette_and_every_entry_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the palette lacked stop, open, copy, probe row, details, refresh and filter,
    and its Screenshot entry failed."""
    monkeypatch.chdir(tmp_path)
    sock = bound_socket("127.0.0.1")
    opened: list[str] = []
    try:
        app = NetdashApp(interval=30, browser=opened.append, probe_limits=FAST)
        app.copy_to_clipboard = lambda text: None  # type: ignore[method-assign]
        async with app.run_test(size=(120, 40)) as pilot:
            table = await started(pilot, app)
            key = key_for(table, "127.0.0.1", sock.getsockname()[1])
            assert key is not None
            table.move_cursor(row=table._order.index(key))
            commands = {c.title: c for c in app.get_system_commands(app.screen)}
            for title in (
                "Probe all listeners", "Probe this row", "Details of this row",
                "Stop this row's process", "Open in the browser", "Copy the URL", "Filter",
                "Refresh now", "Show exposed only", "Show UDP listeners",
                "Show IPv6-only listeners", "Sort", "Pause or resume", "Keys and marks",
                "Screenshot",
            ):  # fmt: skip
                assert title in commands, title
                commands[title].callback()
                await pilot.pause(0.2)
                if app.screen is not app.screen_stack[0]:
                    await pilot.press("escape")
                    await pilot.pause(0.1)
                if title == "Filter":
                    await pilot.press("escape")
            assert [p.suffix for p in tmp_path.iterdir()] == [".svg"]
            assert any("Screenshot saved" in n.message for n in app._notifications)
    finally:
        sock.close()


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_toasts_leave_the_verdict_line_readable(size: tuple[int, int]) -> None:
    """Issue 14: toasts covered the verdict line for several seconds."""
    from textual.widgets._toast import Toast

    sock = bound_socket("127.0.0.1")
    try:
        app = NetdashApp(interval=30)
        async with app.run_test(size=size, notifications=True) as pilot:
            await started(pilot, app)
            for n in range(3):
                app.notify(f"notice {n}: " + "a long message " * 6, markup=False)
            await pilot.pause(0.5)
            toasts = list(app.screen.query(Toast))
            assert toasts
            verdict = app.query_one("#verdict").region
            status = app.query_one("#status").region
            rack = app.screen.query_one("#textual-toastrack").region  # toasts draw inside it
            for toast in toasts:
                shown = toast.region.intersection(rack)
                assert not shown.overlaps(verdict), (shown, verdict)
                assert not shown.overlaps(status), (shown, status)
    finally:
        sock.close()


async def test_the_header_tooltip_says_which_lan_address_and_why() -> None:
    app = NetdashApp(interval=30)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        tooltip = str(app.query_one("#status").tooltip)
        assert tooltip.startswith("LAN address probed: IPv4 198.18.0.1: v0"), tooltip


async def test_the_sorted_column_is_marked_in_its_header() -> None:
    sock = bound_socket("127.0.0.1")
    try:
        app = NetdashApp(interval=30)
        async with app.run_test(size=(120, 40)) as pilot:
            table = await started(pilot, app)

            def headers() -> dict[str, str]:
                return table.column_labels

            assert not any("▲" in h for h in headers().values())  # grouped by scope
            await pilot.press("s")  # port
            assert headers()["port"].endswith(" ▲")
            assert not headers()["process"].endswith("▲")
            await pilot.press("s")  # process
            assert headers()["process"].endswith(" ▲") and not headers()["port"].endswith("▲")
            await pilot.press("s")  # back to scope
            assert not any("▲" in h for h in headers().values())
    finally:
        sock.close()


@pytest.mark.parametrize("key", ["question_mark", "enter", "k"])
async def test_polls_and_probe_results_arriving_under_a_modal_screen(key: str) -> None:
    """A poll that changes the table while help, details or the stop dialog is open redraws
    the dashboard underneath (its widgets are on the default screen, not the modal one):
    no crash, and the change is there when the modal closes."""
    server = start_http_server("127.0.0.1")
    try:
        app = NetdashApp(interval=0.2, probe_limits=FAST)
        async with app.run_test(size=(120, 40)) as pilot:
            table = await started(pilot, app)
            row = key_for(table, "127.0.0.1", server.port)
            assert row is not None
            table.move_cursor(row=table._order.index(row))
            await pilot.press(key)
            modal = app.screen
            assert modal is not app.screen_stack[0]
            await pilot.press("p") if key == "question_mark" else None
            late = bound_socket("127.0.0.1")
            try:
                port = late.getsockname()[1]
                await wait_until(pilot, lambda: port in row_ports(table))
                assert app.screen is modal
                await pilot.press("escape")
                await pilot.pause(0.1)
                assert app.screen is app.screen_stack[0]
                assert port in row_ports(app.query_one(ListenerTable))
            finally:
                late.close()
    finally:
        server.stop()


async def test_a_poll_that_arrives_while_the_app_exits_is_dropped() -> None:
    """CI saw it: the stop dialog's SIGTERM ended a server, the app was closing when the poll
    that noticed it arrived, and drawing it raised NoMatches (the table already removed)."""
    from netdash.tui.messages import PollFailed, SnapshotReady

    app = NetdashApp(interval=30)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        snapshot = app.snapshot
    assert snapshot is not None
    app.on_snapshot_ready(SnapshotReady(snapshot, changed=True))  # no NoMatches
    app.on_poll_failed(PollFailed("late"))
    assert app.poll_error is None
