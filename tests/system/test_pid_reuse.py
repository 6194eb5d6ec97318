"""The stop guard against pid reuse, with a pid really reused (issue 15, item 10): in a pid
namespace of the test's own, a process is confirmed for stopping, exits, and the kernel is
made to give its pid to a new process (``/proc/sys/kernel/ns_last_pid``); the signal must
not reach the newcomer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.ci import require

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import os, signal, subprocess, sys, time
import psutil
from netdash.core.model import Process
from netdash.tui.process_control import send_signal

first = subprocess.Popen(["sleep", "60"])
started = psutil.Process(first.pid).create_time()
confirmed = Process(pid=first.pid, name="sleep", create_time=started)
first.kill(); first.wait()
time.sleep(0.1)  # a later clock tick: psutil's create time counts ticks (10 ms)
with open("/proc/sys/kernel/ns_last_pid", "w") as f:
    f.write(str(confirmed.pid - 1))
second = subprocess.Popen(["sleep", "60"])
assert second.pid == confirmed.pid, (second.pid, confirmed.pid)
message = send_signal(confirmed, signal.SIGTERM)
time.sleep(0.2)
alive = second.poll() is None
second.kill(); second.wait()
print(f"reused={second.pid == confirmed.pid} alive={alive} message={message}")
"""


def test_a_reused_pid_is_not_signalled() -> None:
    unshare = shutil.which("unshare")
    require(unshare is not None, "unshare (util-linux) is not installed")
    assert unshare is not None
    result = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    require(
        "Operation not permitted" not in result.stderr,
        f"cannot make a pid namespace here: {result.stderr.strip()}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("reused=True alive=True message=pid "), result.stdout
    assert result.stdout.rstrip().endswith(
        "now belongs to another process; nothing was signalled."
    ), result.stdout
