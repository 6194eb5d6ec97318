"""Every pid and port the dashboard shows is the kernel's, at every size (issue 14, "done
when"): the real netdash in tmux at 80x24, 100x30, 120x40 and 200x60, before and after `p`,
with UDP off and on; each row on screen is read at its PORT and PID columns and compared with
`ss -tulnpH`. A number cut to its first digits, or a column that kept an old width, fails."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time

import pytest

from tests.support.ci import require
from tests.support.servers import Running, start_raw_peer
from tests.support.ss import ss_listeners
from tests.support.tmux import Tmux

pytestmark = pytest.mark.netns

MARKS = ("‼", "⚠", "·", "⁶", "✓", "×")
UDP_CODE = (
    "import socket,sys,time\n"
    "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind((sys.argv[1],int(sys.argv[2])))\n"
    "print('ready',flush=True);time.sleep(600)\n"
)


def start_udp(address: str, port: int) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", UDP_CODE, address, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


def rows(screen: str) -> list[tuple[str, str]]:
    """(port cell, pid cell) of every listener row on screen: each cell is the text between
    its header's start and the next header's start (headers are left-aligned, numbers
    right-aligned, so a wide number may start before its header and end after it)."""
    lines = screen.splitlines()
    header = next(line for line in lines if " PORT" in line and " PID" in line)
    starts = [i for i in range(1, len(header)) if header[i] != " " and header[i - 1] == " "]

    def cell(line: str, name: str) -> str:
        start = header.index(f" {name}") + 1
        later = [s for s in starts if s > start]
        end = later[0] if later else len(line)
        # A right-aligned number ends before the next header; it may begin left of its own
        # header, so take the last token that ends in this column's span.
        return line[:end].split()[-1] if line[:end].split() else ""

    found = []
    for line in lines[lines.index(header) + 1 :]:
        line = line.rstrip().rstrip("▁▂▃▄▅▆▇█▔▕▏▐").rstrip()  # a scrollbar at the right edge
        stripped = line.strip()
        if stripped.startswith("▌"):
            continue  # a scope group's header row
        if not (line[:1] == " " and line[1:2] in MARKS and line[2:4] == "  "):
            break  # the table ends (the verdict line, the diagram)
        if stripped[0] == "×":
            continue  # a faded row: gone from the kernel already
        pid = cell(line, "PID")
        if pid.startswith("+"):  # "1262 +2": workers
            start = header.index(" PID") + 1
            later = [s for s in starts if s > start]
            tokens = line[: later[0] if later else len(line)].split()
            pid = tokens[-2]
        found.append((cell(line, "PORT"), pid))
    return found


def table_screen(tmux: Tmux, timeout: float = 12) -> str:
    """The screen once the table's header row is visible (a toast may cover it for a few
    seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        screen = tmux.screen()
        if any(" PORT" in line and " PID" in line for line in screen.splitlines()):
            return screen
        assert time.monotonic() < deadline, screen
        time.sleep(0.2)


def check_against_ss(screen: str) -> int:
    kernel = {(proto, port, pid) for proto, _, port, pids, _ in ss_listeners() for pid in pids}
    shown = rows(screen)
    assert shown, screen
    for port_cell, pid_cell in shown:
        number, _, proto = port_cell.partition("/")
        assert number.isdigit() and pid_cell.isdigit(), (port_cell, pid_cell, screen)
        assert (proto or "tcp", int(number), int(pid_cell)) in kernel, (port_cell, pid_cell, screen)
    return len(shown)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (200, 60)])
def test_every_pid_and_port_on_screen_is_the_kernels(size: tuple[int, int]) -> None:
    require(shutil.which("tmux") is not None, "tmux is not installed")
    require(shutil.which("ss") is not None, "ss (iproute2) is not installed")
    servers: list[Running] = [
        start_raw_peer("0.0.0.0", 1090, greeting=b"SSH-2.0-OpenSSH_9.6\r\n"),
        start_raw_peer("127.0.0.1", 1091),
        start_raw_peer("::", 1092),
        start_raw_peer("198.18.0.1", 1093),
    ]
    udp = [start_udp("0.0.0.0", 1094), start_udp("127.0.0.1", 1095)]
    tmux = Tmux(*size)
    python = shlex.quote(sys.executable)
    tmux.start(f"unset COLUMNS LINES; {python} -m netdash --interval 30; echo NETDASH-EXIT=$?")
    try:
        tmux.wait_for("q Quit")
        checked = check_against_ss(table_screen(tmux))
        tmux.run("send-keys", "-t", "t", "p")
        tmux.wait_for(") in ")
        time.sleep(0.6)  # the full redraw after the run
        checked += check_against_ss(table_screen(tmux))
        tmux.run("send-keys", "-t", "t", "u")
        tmux.wait_for("/udp")
        checked += check_against_ss(table_screen(tmux))
        tmux.run("send-keys", "-t", "t", "u")
        time.sleep(0.6)
        checked += check_against_ss(table_screen(tmux))
        assert checked >= 8
        tmux.run("send-keys", "-t", "t", "q")
        tmux.wait_for("NETDASH-EXIT=0", timeout=10)
    finally:
        tmux.kill()
        for server in servers:
            server.stop()
        for child in udp:
            child.kill()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()
