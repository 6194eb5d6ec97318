"""`k` refuses processes it must never stop (issue 15, item 10): pid 1, netdash itself, the
shell and terminal netdash runs in, and kernel threads (PF_KTHREAD). Real processes, read from
the real /proc; nothing is signalled."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from netdash.core.model import Listener, Process, Scope
from netdash.core.services import service_rows
from netdash.tui.process_control import StopRequest, refusal, send_signal, stop_request
from tests.support.ci import require


def _kernel_thread() -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        if int(stat[stat.rindex(b")") + 2 :].split()[6]) & 0x00200000:
            return int(entry.name)
    return None


def _row(pid: int, create_time: float | None = None):  # type: ignore[no-untyped-def]
    listener = Listener("tcp", "0.0.0.0", 8000, 4, (Process(pid, "x", create_time=create_time),))
    [(scope, [row])] = service_rows([listener])
    assert scope is Scope.ALL_INTERFACES
    return row


@pytest.mark.parametrize(
    ("who", "needle"),
    [
        (lambda: 1, "init system"),
        (os.getpid, "netdash itself"),
        (os.getppid, "shell or terminal"),
    ],
    ids=["pid-1", "netdash", "parent"],
)
def test_special_processes_are_refused_before_asking_and_before_signalling(
    who: object, needle: str
) -> None:
    pid = who()  # type: ignore[operator]
    reason = stop_request(_row(pid))
    assert isinstance(reason, str) and needle in reason, reason
    assert refusal(pid) == reason
    assert send_signal(Process(pid, "x"), 0) == reason  # signal 0: nothing would be sent anyway


def test_kernel_threads_are_refused() -> None:
    pid = _kernel_thread()
    require(pid is not None, "no kernel thread is visible in this pid namespace")
    assert pid is not None
    reason = stop_request(_row(pid))
    assert isinstance(reason, str) and "kernel thread" in reason


def test_an_ordinary_process_is_asked_about() -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        request = stop_request(_row(child.pid, psutil.Process(child.pid).create_time()))
        assert isinstance(request, StopRequest) and f"pid {child.pid}" in request.question
        assert refusal(child.pid) is None
    finally:
        child.kill()
        child.wait()


def test_a_process_whose_start_time_is_unknown_is_neither_asked_about_nor_signalled() -> None:
    """Without a create time (psutil denied it) the pid-reuse guard cannot work: netdash says
    so rather than signal a pid that may name another process by now (it signalled)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        reason = stop_request(_row(child.pid))
        assert isinstance(reason, str) and "could not read when" in reason, reason
        assert send_signal(Process(child.pid, "x"), signal.SIGTERM) == reason
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_another_users_process_is_not_signalled_and_the_message_says_whose() -> None:
    """As an ordinary user (nobody, via setpriv), stopping root's process: psutil is denied,
    the user is told whose process it is and how to proceed, and the process runs on."""
    import shutil
    import subprocess
    import sys

    setpriv = shutil.which("setpriv")
    require(os.geteuid() == 0 and setpriv is not None, "needs root and setpriv (util-linux)")
    assert setpriv is not None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = psutil.Process(child.pid).create_time()
        script = (
            "import signal, sys\n"
            "from netdash.core.model import Process\n"
            "from netdash.tui.process_control import send_signal\n"
            f"print(send_signal(Process({child.pid}, 'sleep', user='root', "
            f"create_time={started!r}), signal.SIGTERM))\n"
        )
        run = subprocess.run(
            [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
             script],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=30,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip() == (
            f"Not allowed to signal pid {child.pid} (root's process); "
            "run netdash as that user or root."
        )
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()
