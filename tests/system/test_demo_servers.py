"""scripts/demo_servers.py, the README's "Trying it safely" recipe: it stops every server it
started on SIGTERM, SIGHUP and SIGINT (Python's default SIGTERM left them running, holding the
namespace)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_demo_servers_stop_with_their_children(signum: int) -> None:
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "demo_servers.py")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        line = demo.stdout.readline()
        assert line.startswith("demo servers:"), line
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len(children) >= 7
        demo.send_signal(signum)
        assert demo.wait(15) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(c.is_running() for c in children):
            time.sleep(0.1)
        left = [c.pid for c in children if c.is_running() and c.status() != "zombie"]
        assert left == []
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
