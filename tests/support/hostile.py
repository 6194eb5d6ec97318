"""A real process whose name and arguments are hostile: markup, escapes, 100 KB."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

HOSTILE_COMM = "[red]x\x1b[2J"  # 11 bytes: fits the kernel's 15-byte comm
HOSTILE_ARG = "[bold]arg[/] \x1b]0;pwned\x07 \u202eevil \udcff"


@pytest.fixture
def hostile_process() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A real process named with markup and escapes, its argv hostile and 100 KB long,
    listening on 0.0.0.0."""
    code = (
        "import ctypes, socket, sys, time\n"
        "ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)\n"
        "s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True)\n"
        "time.sleep(120)\n"
    )
    arg = HOSTILE_ARG.encode("utf-8", "surrogateescape") + b"y" * 100_000
    proc = subprocess.Popen(
        [sys.executable.encode(), b"-c", code.encode(), HOSTILE_COMM.encode(), arg],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    yield proc, port
    proc.kill()
    proc.wait()
    proc.stdout.close()
