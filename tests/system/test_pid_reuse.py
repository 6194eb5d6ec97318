"""The stop guard against pid reuse, with a pid really reused (issue 15, item 10): in a pid
namespace of the test's own, a process is confirmed for stopping, exits, and the kernel is
made to give its pid to a new process (``/proc/sys/kernel/ns_last_pid``); the signal must
not reach the newcomer, whether the guard is called directly or through the dashboard's
``k`` and its confirmation."""

from __future__ import annotations

import os
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


DASHBOARD = r"""
import asyncio, os, subprocess, sys, time
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import ListenerTable
from netdash.tui.widgets.screens import KillScreen
from tests.support.pilot import key_for, wait_until

LISTEN = (
    "import socket, time; s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen();"
    "print(s.getsockname()[1], flush=True); time.sleep(60)"
)


async def main() -> None:
    first = subprocess.Popen([sys.executable, "-c", LISTEN], stdout=subprocess.PIPE)
    port = int(first.stdout.readline())
    app = NetdashApp(interval=60)  # one poll: the row keeps showing the first process
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(ListenerTable)
        await wait_until(pilot, lambda: key_for(table, "0.0.0.0", port) is not None)
        table.move_cursor(row=table._order.index(key_for(table, "0.0.0.0", port)))
        await pilot.press("k")
        assert isinstance(app.screen, KillScreen), app.screen
        # While the question is on screen, the process ends and its pid goes to a newcomer.
        first.kill(); first.wait()
        await asyncio.sleep(0.1)  # a later clock tick: psutil's create time counts ticks
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(first.pid - 1))
        second = subprocess.Popen(["sleep", "60"])
        await pilot.press("y")
        await wait_until(pilot, lambda: any("pid" in str(n.message) for n in app._notifications))
        await asyncio.sleep(0.3)
        alive = second.poll() is None
        second.kill(); second.wait()
        notes = " | ".join(str(n.message) for n in app._notifications)
    print(f"reused={second.pid == first.pid} alive={alive} message={notes}")


asyncio.run(main())
"""


def in_a_pid_namespace(script: str) -> str:
    """Run ``script`` with this interpreter as pid 1 of a new pid namespace (its own
    ``/proc``); its standard output. Skips where no pid namespace can be made."""
    unshare = shutil.which("unshare")
    require(unshare is not None, "unshare (util-linux) is not installed")
    assert unshare is not None
    result = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "NETDASH_HISTORY": "off"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    require(
        "Operation not permitted" not in result.stderr,
        f"cannot make a pid namespace here: {result.stderr.strip()}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_reused_pid_is_not_signalled() -> None:
    stdout = in_a_pid_namespace(SCRIPT)
    assert stdout.startswith("reused=True alive=True message=pid "), stdout
    assert stdout.rstrip().endswith("now belongs to another process; nothing was signalled."), (
        stdout
    )


def test_k_confirmed_before_the_pid_is_reused_does_not_signal_the_newcomer() -> None:
    """The dashboard's own path: a row's process is selected, ``k`` asks, and while the
    question is on screen the process exits and its pid is given to a new process; ``y``
    then signals nothing and says why."""
    stdout = in_a_pid_namespace(DASHBOARD)
    assert stdout.startswith("reused=True alive=True message="), stdout
    assert "now belongs to another process; nothing was signalled." in stdout, stdout
