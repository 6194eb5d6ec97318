"""Hostile text, misbehaving peers, signals, and the security properties, end to end.

Real processes are started under hostile names, real peers send hostile bytes, and the real
`netdash` runs in tmux inside the test namespace.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdash.core.addresses import own_addresses
from netdash.core.model import Listener, Outcome
from netdash.probe.engine import ProbeLimits, decode_certificate, probe_listeners
from netdash.sources.collect import collect_snapshot, read_interfaces
from netdash.tui.app import NetdashApp
from netdash.tui.widgets import ListenerTable
from tests.conftest import require
from tests.test_app import key_for, row_text, wait_until
from tests.test_probe_peers import http_answer, raw_server, read_request
from tests.test_tmux import Tmux

pytestmark = pytest.mark.netns

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


def test_hostile_names_are_data_in_the_cli_and_json(
    hostile_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    _, port = hostile_process
    text = subprocess.run(
        [sys.executable, "-m", "netdash", "list"], capture_output=True, timeout=30
    ).stdout
    assert b"\x1b" not in text and b"\x07" not in text
    assert rb"[red]x\x1b[2J" in text  # shown literally, escape made visible
    raw = subprocess.run(
        [sys.executable, "-m", "netdash", "list", "--json"], capture_output=True, timeout=30
    ).stdout
    doc = json.loads(raw)
    [listener] = [li for li in doc["listeners"] if li["port"] == port]
    process = listener["processes"][0]
    assert process["name"] == HOSTILE_COMM  # kept whole in JSON (escaped by JSON itself)
    assert len(process["cmdline"][-1]) > 100_000  # the 100 KB argument, whole
    assert b"\x1b" not in raw  # JSON escapes control characters


async def test_hostile_names_are_data_in_the_tui(
    hostile_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    _, port = hostile_process
    app = NetdashApp(interval=30)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        table = app.query_one(ListenerTable)
        key = key_for(table, "0.0.0.0", port)
        assert key is not None
        cell = row_text(table, key)[3]
        assert cell == r"[red]x\x1b[2J"
        table.move_cursor(row=table._order.index(key))
        await pilot.press("enter")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        body = str(app.screen.query_one("#details-body").content)
        assert "\x1b" not in body and "\u202e" not in body


async def test_hostile_http_peer_is_shown_literally() -> None:
    evil = "\x1b]0;pwned\x07[bold red]EVIL[/] \u202ecba"

    def answer(conn: socket.socket) -> None:
        if read_request(conn):
            conn.sendall(http_answer("200 OK", {"Server": evil}, f"<title>{evil}</title>".encode()))

    with raw_server(answer) as port:
        app = NetdashApp(interval=30, probe_limits=ProbeLimits(read_timeout=0.5))
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None)
            await pilot.press("p")
            await wait_until(pilot, lambda: "probes) in" in (app.probe_status or ""), 20)
            await pilot.pause(0.3)
            table = app.query_one(ListenerTable)
            key = key_for(table, "0.0.0.0", port)
            assert key is not None
            what = row_text(table, key)[7]
            assert what.startswith(r"\x1b]0;pwned\x07[bold red]EVIL[/]")
            assert "\x1b" not in what and "\u202e" not in what


async def test_full_backlog_is_a_connect_timeout_within_the_deadline() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(8):  # fill the accept queue: later SYNs are dropped
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        fillers.append(client)
    time.sleep(0.2)
    limits = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0)
    [result] = await probe_listeners(
        [Listener("tcp", "127.0.0.1", port, 4)], {}, own_addresses(read_interfaces()), limits
    )
    assert result.outcome is Outcome.TIMEOUT
    assert result.elapsed_ms < limits.deadline * 1000 + 500
    for s in [*fillers, server]:
        s.close()


@given(st.binary(max_size=400))
def test_certificate_decoder_never_raises(data: bytes) -> None:
    subject, self_signed = decode_certificate(data)
    assert subject is None or isinstance(subject, str)
    assert self_signed in (None, True, False)


def _netdash_pid(marker: str) -> int:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()]
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise AssertionError("netdash did not start")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_end_the_app_with_the_terminal_restored(signum: int, tmp_path: Path) -> None:
    require(shutil.which("tmux") is not None, "tmux is not installed")
    tmux = Tmux(80, 24)
    marker = f"--interval 7.{signum}"
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    command = (
        f"cd {tmp_path}; unset COLUMNS LINES; HOME={home} TMPDIR={tmp} "
        f"{shlex.quote(sys.executable)} -m netdash {marker}; echo NETDASH-EXIT=$?"
    )
    tmux.socket += f"-sig{signum}"
    tmux.start(command)
    try:
        tmux.wait_for("q Quit")
        pid = _netdash_pid(marker)
        # Security: while it runs, netdash holds no listening socket of its own.
        listeners = collect_snapshot().listeners
        assert not [li for li in listeners if pid in li.pids]
        assert tmux.flag("alternate_on") == "1"
        os.kill(pid, signum)
        screen = tmux.wait_for("NETDASH-EXIT=", timeout=10)
        assert tmux.flag("alternate_on") == "0"
        assert tmux.flag("mouse_any_flag") == "0"
        assert "Traceback" not in screen
        # Nothing the user did not ask for was written to disk.
        assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "tmp"]
    finally:
        tmux.kill()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_closing_the_terminal_right_after_start_ends_the_process() -> None:
    """A terminal closed right after the first frame (tmux kills the window: SIGHUP, the pty
    gone) ends netdash. Without the shutdown watchdog about half of such runs left netdash
    blocked in Textual's shutdown, writing to the dead terminal, forever."""
    require(shutil.which("tmux") is not None, "tmux is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    left: list[int] = []
    for attempt in range(8):
        socket_name = f"netdash-test-{os.getpid()}-hup{attempt}"
        tmux = ["tmux", "-L", socket_name]
        command = f"exec {shlex.quote(sys.executable)} -m netdash"
        subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30", command], env=env)
        try:
            pane = subprocess.run(
                [*tmux, "display-message", "-p", "#{pane_pid}"], capture_output=True, text=True
            )
            pid = int(pane.stdout)
            deadline = time.monotonic() + 30
            while (
                "polling every"
                not in subprocess.run(
                    [*tmux, "capture-pane", "-p"], capture_output=True, text=True
                ).stdout
            ):
                assert time.monotonic() < deadline, "netdash showed no data"
                time.sleep(0.01)
        finally:
            subprocess.run([*tmux, "kill-server"], capture_output=True)
        deadline = time.monotonic() + NetdashApp.SHUTDOWN_GRACE + 3
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _running(pid):
            left.append(pid)
            os.kill(pid, signal.SIGKILL)  # never leave one behind
    assert not left, f"{len(left)} of 8 netdash processes outlived their terminal"


def test_cli_probe_writes_nothing_to_disk(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "netdash", "list", "--json", "--probe", "--timeout", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["home", "tmp"]


def test_probe_ignores_proxies_even_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every proxy variable pointing at a server of ours, that server sees nothing."""
    hits: list[bytes] = []

    def proxy(conn: socket.socket) -> None:
        hits.append(read_request(conn))

    with raw_server(proxy, "127.0.0.1") as proxy_port:
        url = f"http://127.0.0.1:{proxy_port}"
        env = {k: url for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy")}
        result = subprocess.run(
            [sys.executable, "-m", "netdash", "list", "--json", "--probe", "--timeout", "0.3"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, **env),
        )
        assert result.returncode == 0, result.stderr
    # The "proxy" is itself a listener, so netdash probes it like any other (GET /, a TLS
    # hello); what must never arrive is a request *through* it: CONNECT or an absolute URI.
    assert hits
    for request in hits:
        first_line = request.split(b"\r\n", 1)[0]
        assert not first_line.startswith(b"CONNECT")
        assert b" http://" not in first_line and b" https://" not in first_line
