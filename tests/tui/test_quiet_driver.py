"""The quiet input driver (netdash/tui/driver.py) in a real terminal: its input thread sleeps
while nothing happens, and keys (a lone ESC included), the mouse, a resize and the exit with
the terminal restored all still work through it (issue 18)."""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ci import require
from tests.support.servers import bound_socket, close_listening
from tests.support.tmux import Tmux

pytestmark = pytest.mark.netns

TEXTUAL_LINUX = "textual.drivers.linux_driver:LinuxDriver"


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    require(shutil.which("tmux") is not None, "tmux is not installed")
    session = Tmux(100, 30)
    yield session
    session.kill()


def _netdash_pid(tmux: Tmux) -> int:
    shell = int(tmux.flag("pane_pid"))
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    assert children, "netdash is not running"
    return int(children[0])


def _switches(pid: int) -> int:
    """Context switches of all the app's threads (``/proc/PID/task/*/status``): on an idle
    dashboard that polls once a minute, Textual's own input thread alone wakes ten times a
    second; the quiet one sleeps."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def _start(tmux: Tmux, env: str = "") -> int:
    python = shlex.quote(sys.executable)
    tmux.start(f"unset COLUMNS LINES; {env} {python} -m netdash --interval 60; echo EXIT=$?")
    tmux.wait_for("q Quit")
    return _netdash_pid(tmux)


def _woken_in(pid: int, seconds: float) -> int:
    """The fewest context switches of the app in any of three windows of ``seconds``: the
    quietest window, so that start-up work finishing (the first poll's owners, history) does
    not count."""
    counts = []
    for _ in range(3):
        before = _switches(pid)
        time.sleep(seconds)
        counts.append(_switches(pid) - before)
    return min(counts)


def test_the_input_thread_sleeps_until_input(tmux: Tmux) -> None:
    pid = _start(tmux)
    assert _woken_in(pid, 1.0) <= 3  # 1 measured; Textual's own driver: 11
    tmux.run("send-keys", "-t", "t", "q")
    tmux.wait_for("EXIT=0", timeout=5)


def test_textuals_own_driver_polls_for_comparison(tmux: Tmux) -> None:
    """The measurement above can fail: with Textual's driver chosen (TEXTUAL_DRIVER), the
    same count shows the ten wake-ups a second that the quiet driver removes."""
    pid = _start(tmux, f"TEXTUAL_DRIVER={TEXTUAL_LINUX}")
    assert _woken_in(pid, 1.0) >= 6
    tmux.run("send-keys", "-t", "t", "q")
    tmux.wait_for("EXIT=0", timeout=5)


def test_keys_escape_mouse_resize_and_restore(tmux: Tmux) -> None:
    wide = bound_socket("0.0.0.0", 1090)
    try:
        _start(tmux)
        tmux.wait_for(" 1090 ")
        # A lone ESC is told from the start of a sequence only by a timeout in the parser:
        # the thread must wake for it although no more input comes.
        tmux.run("send-keys", "-t", "t", "/")
        tmux.wait_for("filter: port, address")  # the input is open and focused
        tmux.run("send-keys", "-t", "t", "-l", "zzz")
        tmux.wait_for("zzz")
        tmux.run("send-keys", "-t", "t", "Escape")
        deadline = time.monotonic() + 3
        while "zzz" in tmux.screen():
            assert time.monotonic() < deadline, tmux.screen()
            time.sleep(0.05)
        # The mouse: an SGR click on the PORT header sorts by port (its header gains the mark).
        screen = tmux.wait_for("ADDRESS").splitlines()
        row = next(n for n, line in enumerate(screen) if "ADDRESS" in line and "PORT" in line)
        column = screen[row].index("PORT") + 2
        click = f"\x1b[<0;{column};{row + 1}M\x1b[<0;{column};{row + 1}m"
        tmux.run("send-keys", "-t", "t", "-l", click)
        tmux.wait_for("PORT ▲")
        # A resize is drawn at once, at the new size.
        tmux.run("resize-window", "-t", "t", "-x", "80", "-y", "24")
        deadline = time.monotonic() + 5
        while len(tmux.screen().splitlines()) != 24 or "q Quit" not in tmux.screen():
            assert time.monotonic() < deadline, tmux.screen()
            time.sleep(0.1)
        # The exit wakes the sleeping thread: quit is prompt and leaves the terminal clean.
        started = time.monotonic()
        tmux.run("send-keys", "-t", "t", "q")
        screen = tmux.wait_for("EXIT=0", timeout=5)
        assert time.monotonic() - started < 3
        assert tmux.flag("alternate_on") == "0"
        assert tmux.flag("mouse_any_flag") == "0"
        assert "Traceback" not in screen
    finally:
        close_listening(wide)


def test_input_at_its_end_is_not_read_in_a_loop() -> None:
    """stdin at its end (``< /dev/null``, a closed pipe: select says "readable" for ever):
    Textual's own loop spins there, a core busy (4.7 s of CPU in 5 s, measured); the quiet
    driver stops watching it and sleeps. Quitting still works, by signal."""
    import os
    import signal
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-m", "netdash", "--interval", "60", "--no-history"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "80", "LINES": "24"},
    )
    try:
        time.sleep(3)  # started, first poll drawn
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

        before = cpu()
        time.sleep(2)
        assert proc.poll() is None
        assert cpu() - before < 1.0  # a spinning loop: about 2 s in 2 s
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
