"""The real `netdash` in a real terminal (tmux), inside the test netns: draw, probe, quit clean."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator

import pytest

from tests.support import netns
from tests.support.ci import require
from tests.support.servers import bound_socket, close_listening, serve_in_thread
from tests.support.tmux import Tmux

pytestmark = pytest.mark.netns


@pytest.fixture(params=[(80, 24), (120, 40)], ids=["80x24", "120x40"])
def tmux(request: pytest.FixtureRequest) -> Iterator[Tmux]:
    require(shutil.which("tmux") is not None, "tmux is not installed")
    session = Tmux(*request.param)
    yield session
    session.kill()


def test_dashboard_in_a_real_terminal(tmux: Tmux) -> None:
    # Low fixed ports sort first in their scope groups, so they are on screen even at 80x24
    # when other tests' servers are listening too (the namespace is private: nothing else is).
    exposed = bound_socket("0.0.0.0", 1080)
    local = bound_socket("127.0.0.1", 1081)
    serve_in_thread(exposed)
    serve_in_thread(local)
    python = shlex.quote(sys.executable)
    command = f"unset COLUMNS LINES; {python} -m netdash --interval 1; echo NETDASH-EXIT=$?"
    tmux.start(command)
    big = tmux.height >= 40
    try:
        tmux.wait_for("ALL-INTERFACES")
        screen = tmux.wait_for("q Quit")
        lines = screen.splitlines()
        assert len(lines) == tmux.height and "q Quit" in lines[-1], screen  # drawn at full size
        assert " 1080 " in screen
        assert f"LAN {netns.LAN_V4}" in screen
        assert "p Probe" in screen
        if big:
            assert "LOOPBACK (" in screen and " 1081 " in screen
            assert "only this machine" in screen
        assert tmux.flag("alternate_on") == "1"

        tmux.run("send-keys", "-t", "t", "p")
        screen = tmux.wait_for(") in ")
        exposed_line = next(line for line in screen.splitlines() if " 1080 " in line)
        if "LO LAN" not in screen:
            assert exposed_line.count("http 200") == 2  # loopback and LAN both answered
        else:  # a narrow terminal: LOOPBACK and LAN merged into marks (LO LAN)
            assert "LO LAN" in screen and "✔  ✔" in exposed_line
        assert exposed_line.lstrip().startswith("‼")
        assert f" {os.getpid()} " in f"{exposed_line} "  # the pid whole, never cut
        if big:
            local_line = next(line for line in screen.splitlines() if " 1081 " in line)
            assert ("http 200" in local_line and "refused" in local_line) or "✔  ✗" in local_line

        tmux.run("send-keys", "-t", "t", "q")
        screen = tmux.wait_for("NETDASH-EXIT=0", timeout=10)
        assert tmux.flag("alternate_on") == "0"  # terminal restored
        assert tmux.flag("mouse_any_flag") == "0"
        assert "Traceback" not in screen
    finally:
        close_listening(exposed)
        close_listening(local)


def test_the_diagram_and_columns_follow_each_resize_at_once() -> None:
    """From 80x24 to 120x40 and back, the diagram's form (one line per interface, or boxes)
    and the table's columns follow the new size with the next frame (issue 14, item 3), the
    pid and the port whole at every size."""
    require(shutil.which("tmux") is not None, "tmux is not installed")
    tmux = Tmux(80, 24)
    exposed = bound_socket("0.0.0.0", 1082)
    python = shlex.quote(sys.executable)
    tmux.start(f"unset COLUMNS LINES; {python} -m netdash --interval 30; echo NETDASH-EXIT=$?")

    def whole(screen: str) -> None:
        line = next(line for line in screen.splitlines() if " 1082 " in line)
        assert f" {os.getpid()} " in f"{line} ", screen

    try:
        screen = tmux.wait_for("→ only this machine")  # compact at 24 rows
        whole(screen)
        for width, height in ((120, 40), (80, 24), (120, 40), (80, 24)):
            tmux.run("resize-window", "-t", "t", "-x", str(width), "-y", str(height))
            big = height >= 30
            form = "devices on this network" if big else "→ only this machine"
            deadline = time.monotonic() + 3  # a frame or two, not a poll (every 30 s)
            while True:
                screen = tmux.screen()
                lines = screen.splitlines()
                if form in screen and len(lines) == height and "q Quit" in lines[-1]:
                    break
                assert time.monotonic() < deadline, screen
                time.sleep(0.05)
            if big:
                assert "→ only this machine" not in screen, screen
                assert "LOOPBACK" in screen, screen  # the full probe columns are back
            else:
                assert "devices on this network" not in screen, screen
                assert "╭" not in screen, screen  # no box squeezed into a few rows
            whole(screen)
        tmux.run("send-keys", "-t", "t", "q")
        tmux.wait_for("NETDASH-EXIT=0", timeout=10)
    finally:
        tmux.kill()
        close_listening(exposed)


CRASHING = """
import sys
from netdash.cli import main
from netdash.tui.app import NetdashApp

def broken(self):
    raise RuntimeError("simulated bug in a key handler")

NetdashApp.action_help = broken
sys.exit(main(["--interval", "30"]))
"""


def test_an_unhandled_error_exits_2_after_restoring_the_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A bug in the app ends it with status 2 (CONTRACTS.md), the terminal restored first
    and the error printed on it (issue 14, item 9). Textual draws on stderr, so the error is
    read from the restored screen."""
    require(shutil.which("tmux") is not None, "tmux is not installed")
    script = tmp_path / "crash.py"
    script.write_text(CRASHING)
    tmux = Tmux(100, 30)
    python = shlex.quote(sys.executable)
    tmux.start(f"unset COLUMNS LINES; clear; {python} {script}; echo NETDASH-EXIT=$?")
    try:
        tmux.wait_for("q Quit")
        tmux.run("send-keys", "-t", "t", "?")
        screen = tmux.wait_for("NETDASH-EXIT=", timeout=10)
        assert tmux.flag("alternate_on") == "0"  # terminal restored
        assert tmux.flag("mouse_any_flag") == "0"
        lines = [line.strip() for line in screen.splitlines() if line.strip()]
        assert "NETDASH-EXIT=2" in lines, screen
        end = lines.index("NETDASH-EXIT=2")
        assert lines[end - 1] == (
            "netdash: error: the dashboard stopped on RuntimeError: simulated bug in a key handler"
        ), screen
    finally:
        tmux.kill()
