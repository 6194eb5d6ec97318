"""The dashboard driven by Textual's Pilot, on real sockets and servers in the netns."""

from __future__ import annotations

import sys

import pytest

from netdash.core.model import Outcome, Via
from netdash.probe.engine import ProbeLimits
from netdash.tui import probe_runner
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import InterfaceDiagram, ListenerTable
from tests.support import netns
from tests.support.pilot import as_text, key_for, row_text, wait_until
from tests.support.servers import Running, bound_socket

pytestmark = pytest.mark.netns

FAST = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1)


@pytest.mark.parametrize(
    "where", ["child processes", "thread (a small run)", "thread (no child can start)"]
)
async def test_table_and_diagram_show_real_listeners_then_probe(
    servers: dict[str, Running], where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "thread (no child can start)":
        monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    app = NetdashApp(interval=0.5, probe_limits=FAST)
    if where != "thread (a small run)":
        app.CHILD_PROCESSES_FROM = 1  # the session's few servers make a small run
    spawned: list[bool] = []
    real = probe_runner.probe_in_processes

    async def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        spawned.append(True)
        return await real(*args, **kwargs)

    monkeypatch.setattr(probe_runner, "probe_in_processes", counted)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        table = app.query_one(ListenerTable)
        uv = servers["uvicorn_any"]
        lo4 = servers["http_lo4"]
        uv_key = key_for(table, "0.0.0.0", uv.port)
        lo_key = key_for(table, "127.0.0.1", lo4.port)
        assert uv_key == f"all-interfaces|tcp/{uv.port}/pid{uv.pid}"
        assert lo_key is not None
        assert row_text(table, uv_key)[:4] == ["⚠", "0.0.0.0", str(uv.port), "uvicorn"]
        assert table.get_cell(uv_key, "pid").plain == str(uv.pid)
        assert row_text(table, lo_key)[0] == "·"
        # all-interfaces group comes first, loopback last
        order = table._order
        assert order.index("scope|all-interfaces") < order.index(uv_key)
        assert order.index("scope|loopback") < order.index(lo_key)
        assert order.index("scope|all-interfaces") < order.index("scope|loopback")

        diagram = as_text(app.query_one(InterfaceDiagram).content)
        assert "only this machine" in diagram and "devices on this network" in diagram
        assert f"{uv.port} uvicorn" in diagram and "all·v4" in diagram

        await pilot.press("p")
        await wait_until(pilot, lambda: ") in " in (app.probe_status or ""), timeout=20)
        await pilot.pause(0.2)
        results = {(r.listener, r.via): r for r in app.probed()}
        assert results[(("tcp", "0.0.0.0", uv.port), Via.LAN)].outcome is Outcome.HTTP
        assert results[(("tcp", "127.0.0.1", lo4.port), Via.LAN)].outcome is Outcome.REFUSED
        uv_row = row_text(table, uv_key)
        assert uv_row[0] == "‼"  # verified: answered on the LAN address
        assert [table.get_cell(uv_key, c).plain for c in ("loopback", "lan")] == [
            "http 200",
            "http 200",
        ]
        assert table.get_cell(uv_key, "what").plain == "FastAPI (uvicorn)"
        assert [table.get_cell(lo_key, c).plain for c in ("loopback", "lan")] == [
            "http 200",
            "refused",
        ]
        status = as_text(app.query_one("#status").content)
        assert f"LAN {netns.LAN_V4}" in status and "verified" in status
    assert bool(spawned) == (where != "thread (a small run)")


async def test_new_and_closed_listeners_follow_the_poll_and_cursor_stays() -> None:
    app = NetdashApp(interval=0.3)
    first = bound_socket("127.0.0.1")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        table = app.query_one(ListenerTable)
        first_key = key_for(table, "127.0.0.1", first.getsockname()[1])
        assert first_key is not None
        table.move_cursor(row=table._order.index(first_key))
        second = bound_socket("0.0.0.0")
        second_port = second.getsockname()[1]
        await wait_until(pilot, lambda: key_for(table, "0.0.0.0", second_port) is not None)
        assert table._order[table.cursor_row] == first_key  # cursor followed the listener
        second.close()
        await wait_until(pilot, lambda: key_for(table, "0.0.0.0", second_port) is None)
        assert table._order[table.cursor_row] == first_key
    first.close()


async def test_refresh_key_polls_now_and_quit_key_exits() -> None:
    app = NetdashApp(interval=3600)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        s = bound_socket("127.0.0.1")
        port = s.getsockname()[1]
        await pilot.press("r")
        table = app.query_one(ListenerTable)
        await wait_until(pilot, lambda: key_for(table, "127.0.0.1", port) is not None)
        s.close()
        await pilot.press("q")
    assert app.return_code == 0


async def test_poll_failure_is_shown_and_the_app_recovers() -> None:
    calls = {"n": 0}
    from netdash.sources.snapshot import collect_snapshot

    def flaky():  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise PermissionError("simulated: /proc/net/tcp unreadable")
        return collect_snapshot()

    app = NetdashApp(interval=0.2, collector=flaky)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.poll_error is not None)
        assert "poll failed" in as_text(app.query_one("#status").content)
        await wait_until(pilot, lambda: calls["n"] >= 3 and app.poll_error is None)
        assert app.is_running


async def test_probe_failure_is_shown_and_the_next_probe_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probe run that raises (here: no child process and no thread could start) ends with
    the reason in the header; the app runs on and the next ``p`` probes as usual."""
    real = probe_runner.ProbeRun.run
    calls = {"n": 0}

    async def flaky(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("simulated: cannot start a probe")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(probe_runner.ProbeRun, "run", flaky)
    socket_ = bound_socket("127.0.0.1", 0)
    app = NetdashApp(interval=5, probe_limits=FAST)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None)
            await pilot.press("p")
            await wait_until(pilot, lambda: "probe failed" in (app.probe_status or ""))
            assert "simulated: cannot start a probe" in as_text(app.query_one("#status").content)
            await pilot.press("p")
            await wait_until(pilot, lambda: ") in " in (app.probe_status or ""))
            assert app.is_running and app.probed()
    finally:
        socket_.close()


async def test_shift_p_probes_only_the_highlighted_row(servers) -> None:  # type: ignore[no-untyped-def]
    app = NetdashApp(interval=5, probe_limits=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        table = app.query_one(ListenerTable)
        uv = servers["uvicorn_any"]
        key = key_for(table, "0.0.0.0", uv.port)
        assert key is not None
        table.move_cursor(row=table._order.index(key))
        await pilot.press("P")
        await wait_until(pilot, lambda: ") in " in (app.probe_status or ""))
        assert {r.listener[2] for r in app.probed()} == {uv.port}
        verdict_line = as_text(app.query_one("#verdict").content)
        assert "EXPOSED" in verdict_line and "FastAPI (uvicorn)" in verdict_line
