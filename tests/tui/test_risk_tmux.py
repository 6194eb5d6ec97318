"""A tokenless Jupyter on 0.0.0.0 is the first thing the real dashboard shows after a probe
(issue 16), in a real terminal (tmux) at 80x24 and 200x60: its row tops its scope with
``critical LAN``, its port and pid whole, and nothing on screen is cut mid-number."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import risky
from tests.support.ci import require
from tests.support.servers import Running, bound_socket, close_listening, serve_in_thread
from tests.support.tmux import Tmux

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    server, _log = risky.start_jupyter("0.0.0.0", "", tmp_path_factory.mktemp("jupyter"))
    yield server
    server.stop()


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_tokenless_jupyter_tops_the_dashboard(
    jupyter: Running, width: int, height: int, tmp_path: Path
) -> None:
    require(shutil.which("tmux") is not None, "tmux is not installed")
    # A lower port on 0.0.0.0 that sorts before Jupyter's until the risk says otherwise.
    plain = bound_socket("0.0.0.0", 1090)
    serve_in_thread(plain)
    python = shlex.quote(sys.executable)
    tmux = Tmux(width, height)
    tmux.start(f"unset COLUMNS LINES; {python} -m netdash --interval 1; echo NETDASH-EXIT=$?")
    try:
        tmux.wait_for("ALL-INTERFACES")
        tmux.run("send-keys", "-t", "t", "p")
        tmux.wait_for(") in ", timeout=30)  # the run ended: rows are regrouped then
        deadline = time.monotonic() + 5
        while True:
            screen = tmux.wait_for("critical LAN")
            lines = screen.splitlines()
            header = next(i for i, line in enumerate(lines) if "ALL-INTERFACES" in line)
            first = lines[header + 1]
            if f" {jupyter.port} " in first or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(lines) == height and "q Quit" in lines[-1], screen
        assert f" {jupyter.port} " in first and "critical LAN" in first, screen
        assert "RISK" in lines[header - 1], screen
        # The pid whole, never cut; at 80 columns PID is the column that goes before RISK
        # when the table is crowded (a scrollbar, a long PROCESS; columns.py's priorities).
        plain_line = next(line for line in lines if " 1090 " in line)
        if "PID" in lines[header - 1]:
            assert f" {jupyter.pid} " in f"{first} ", screen
            assert f" {os.getpid()} " in f"{plain_line} ", screen
        else:
            assert width < 120, screen
            assert str(jupyter.pid)[:3] not in first.split("critical LAN")[1], screen
        assert "1 risky" in screen, screen
        tmux.run("send-keys", "-t", "t", "q")
        tmux.wait_for("NETDASH-EXIT=0", timeout=10)
    finally:
        tmux.kill()
        close_listening(plain)
