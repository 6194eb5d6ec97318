"""The real `netdash` in a real terminal: a tmux server of its own, one session of a given size."""

from __future__ import annotations

import itertools
import os
import subprocess
import time

_SESSIONS = itertools.count()


class Tmux:
    def __init__(self, width: int, height: int) -> None:
        # A socket of its own per session: a server being killed by the last test and the
        # next one starting on the same name race ("server exited unexpectedly").
        self.socket = f"netdash-test-{os.getpid()}-{next(_SESSIONS)}-{width}x{height}"
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
