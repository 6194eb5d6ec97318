"""The real `netdash` in a real terminal (tmux), inside the test netns: draw, probe, quit clean."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.conftest import require
from tests.support import netns
from tests.support.servers import bound_socket, close_listening, serve_in_thread

pytestmark = pytest.mark.netns


class Tmux:
    def __init__(self, width: int, height: int) -> None:
        self.socket = f"netdash-test-{os.getpid()}-{width}x{height}"
        self.width, self.height = width, height

    def run(self, *args: str) -> str:
        # COLUMNS/LINES in the environment would override the pane's real size for the app
        # (shutil.get_terminal_size reads them first); under pytest they can be set.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, env=env
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, command: str) -> None:
        """Open a shell at the wanted size first, then type the command into it, so the app
        starts in a pane that already has its final size."""
        size = ["-x", str(self.width), "-y", str(self.height)]
        self.run("new-session", "-d", "-s", "t", *size, "sh")
        self.run("send-keys", "-t", "t", command, "Enter")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 20) -> str:
        """The screen once ``text`` is on it, also when the terminal wrapped it."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen or text in " ".join(line.strip() for line in screen.splitlines()):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen:\n{screen}")
            time.sleep(0.1)

    def flag(self, name: str) -> str:
        return self.run("display-message", "-p", "-t", "t", f"#{{{name}}}").strip()

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


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
