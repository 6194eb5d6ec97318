"""Hostile data in the dashboard, and the dashboard's end: signals and a closed terminal
restore the terminal and leave no process behind. (CLI and probe hardening:
tests/system/test_hardening.py.)
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netdash.probe.engine import ProbeLimits
from netdash.sources.snapshot import collect_snapshot
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import ListenerTable
from tests.support.ci import require
from tests.support.peers import http_answer, raw_server, read_request
from tests.support.pilot import key_for, row_text, wait_until
from tests.support.tmux import Tmux

pytestmark = pytest.mark.netns


async def test_hostile_names_are_data_in_the_tui(
    hostile_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    _, port = hostile_process
    app = NetdashApp(interval=30)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        table = app.query_one(ListenerTable)
        key = key_for(table, "0.0.0.0", port)
        assert key is not None
        cell = row_text(table, key)[3]
        assert cell == r"[red]x\x1b[2J"
        table.move_cursor(row=table._order.index(key))
        await pilot.press("enter")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        body = str(app.screen.query_one("#details-body").content)
        assert "\x1b" not in body and "\u202e" not in body


async def test_hostile_http_peer_is_shown_literally() -> None:
    evil = "\x1b]0;pwned\x07[bold red]EVIL[/] \u202ecba"

    def answer(conn: socket.socket) -> None:
        if read_request(conn):
            conn.sendall(http_answer("200 OK", {"Server": evil}, f"<title>{evil}</title>".encode()))

    with raw_server(answer) as port:
        app = NetdashApp(interval=30, probe_limits=ProbeLimits(read_timeout=0.5))
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None)
            await pilot.press("p")
            await wait_until(pilot, lambda: ") in " in (app.probe_status or ""), 20)
            await pilot.pause(0.3)
            table = app.query_one(ListenerTable)
            key = key_for(table, "0.0.0.0", port)
            assert key is not None
            what = table.get_cell(key, "what").plain
            assert what.startswith(r"\x1b]0;pwned\x07[bold red]EVIL[/]")
            assert "\x1b" not in what and "\u202e" not in what


def _netdash_pid(marker: str) -> int:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()]
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise AssertionError("netdash did not start")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_end_the_app_with_the_terminal_restored(signum: int, tmp_path: Path) -> None:
    require(shutil.which("tmux") is not None, "tmux is not installed")
    tmux = Tmux(80, 24)
    marker = f"--interval 7.{signum}"
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    command = (
        f"cd {tmp_path}; unset COLUMNS LINES; HOME={home} TMPDIR={tmp} "
        f"{shlex.quote(sys.executable)} -m netdash {marker}; echo NETDASH-EXIT=$?"
    )
    tmux.socket += f"-sig{signum}"
    tmux.start(command)
    try:
        tmux.wait_for("q Quit")
        pid = _netdash_pid(marker)
        # Security: while it runs, netdash holds no listening socket of its own.
        listeners = collect_snapshot().listeners
        assert not [li for li in listeners if pid in li.pids]
        assert tmux.flag("alternate_on") == "1"
        os.kill(pid, signum)
        screen = tmux.wait_for("NETDASH-EXIT=", timeout=10)
        assert tmux.flag("alternate_on") == "0"
        assert tmux.flag("mouse_any_flag") == "0"
        assert "Traceback" not in screen
        # Nothing the user did not ask for was written to disk.
        assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "tmp"]
    finally:
        tmux.kill()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_closing_the_terminal_right_after_start_ends_the_process() -> None:
    """A terminal closed right after the first frame (tmux kills the window: SIGHUP, the pty
    gone) ends netdash. Without the shutdown watchdog about half of such runs left netdash
    blocked in Textual's shutdown, writing to the dead terminal, forever."""
    require(shutil.which("tmux") is not None, "tmux is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    left: list[int] = []
    for attempt in range(8):
        socket_name = f"netdash-test-{os.getpid()}-hup{attempt}"
        tmux = ["tmux", "-L", socket_name]
        command = f"exec {shlex.quote(sys.executable)} -m netdash"
        subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30", command], env=env)
        try:
            pane = subprocess.run(
                [*tmux, "display-message", "-p", "#{pane_pid}"], capture_output=True, text=True
            )
            pid = int(pane.stdout)
            deadline = time.monotonic() + 30
            while (
                "polling every"
                not in subprocess.run(
                    [*tmux, "capture-pane", "-p"], capture_output=True, text=True
                ).stdout
            ):
                assert time.monotonic() < deadline, "netdash showed no data"
                time.sleep(0.01)
        finally:
            subprocess.run([*tmux, "kill-server"], capture_output=True)
        deadline = time.monotonic() + NetdashApp.SHUTDOWN_GRACE + 3
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _running(pid):
            left.append(pid)
            os.kill(pid, signal.SIGKILL)  # never leave one behind
    assert not left, f"{len(left)} of 8 netdash processes outlived their terminal"
