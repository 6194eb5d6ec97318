"""The real `netdash` in a real terminal (tmux), inside the test netns: draw, probe, quit clean."""

from __future__ import annotations

import shlex
import shutil
import sys
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
        screen = tmux.wait_for("probes) in")
        exposed_line = next(line for line in screen.splitlines() if " 1080 " in line)
        assert exposed_line.count("http 200") == 2  # loopback and LAN both answered
        assert exposed_line.lstrip().startswith("‼")
        if big:
            local_line = next(line for line in screen.splitlines() if " 1081 " in line)
            assert "http 200" in local_line and "refused" in local_line

        tmux.run("send-keys", "-t", "t", "q")
        screen = tmux.wait_for("NETDASH-EXIT=0", timeout=10)
        assert tmux.flag("alternate_on") == "0"  # terminal restored
        assert tmux.flag("mouse_any_flag") == "0"
        assert "Traceback" not in screen
    finally:
        close_listening(exposed)
        close_listening(local)
