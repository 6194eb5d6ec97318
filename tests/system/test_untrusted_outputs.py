"""One set of hostile inputs through every output (issue 15, item 1).

Outside text enters netdash as :class:`netdash.core.text.Untrusted` (unit tests:
tests/unit/test_untrusted.py). Here the same hostile texts come from real sources, a
process's name and command line and an HTTP peer's headers and title, and every output is
read: ``list``, ``check`` and ``who`` as text, JSON and Prometheus, and the dashboard in a
real terminal (tmux), whose every byte is recorded (``pipe-pane``) while the table, the
diagram, the verdict line, the details screen, the stop confirmation, a toast and the
command palette are shown. Terminal outputs must show the escapes, never send them; JSON keeps
the text whole.
"""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ci import require
from tests.support.hostile import HOSTILE_COMM
from tests.support.peers import http_answer, raw_server, read_request
from tests.support.tmux import Tmux

pytestmark = pytest.mark.netns

EVIL = "\x1b]0;PWNED\x07\x1b[2J[bold red]EVIL[/] \u202ecba\u2028\x9b31m"
"""OSC title, BEL, clear screen, Rich markup, a bidi override, a line separator and a C1 CSI."""

FORBIDDEN = [
    b"\x1b]0;PWNED",  # a title change
    b"PWNED\x07",
    b"\x1b[2J[bold",  # the clear screen sent raw
    "\u202e".encode(),
    "\u2028".encode(),
    "\x9b".encode(),
]
"""What must never reach a terminal, as bytes."""


def _assert_shown_not_sent(out: bytes, where: str) -> None:
    for bad in FORBIDDEN:
        assert bad not in out, f"{where}: {bad!r} written raw"


@pytest.fixture
def hostile_peer() -> Iterator[int]:
    """An HTTP server whose Server header and page title are :data:`EVIL`."""

    def answer(conn: socket.socket) -> None:
        if read_request(conn):
            conn.sendall(http_answer("200 OK", {"Server": EVIL}, f"<title>{EVIL}</title>".encode()))

    with raw_server(answer) as port:
        yield port


@pytest.fixture
def hostile_redirect() -> Iterator[int]:
    """An HTTP server redirecting to a Location holding :data:`EVIL` (httpx refuses that
    URL; netdash reads the answer itself and reports it as ``http 302``)."""

    def answer(conn: socket.socket) -> None:
        if read_request(conn):
            headers = {"Server": EVIL, "Location": f"http://localhost/{EVIL}"}
            conn.sendall(http_answer("302 Found", headers))

    with raw_server(answer) as port:
        yield port


@pytest.fixture
def hostile_proxy() -> Iterator[int]:
    """A process named ``docker-proxy`` whose ``-container-port`` argument is :data:`EVIL`
    (the fix hint reads that argument), listening on 0.0.0.0."""
    code = (
        "import ctypes, socket, sys, time\n"
        "ctypes.CDLL(None).prctl(15, b'docker-proxy', 0, 0, 0)\n"
        "s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "-container-port", EVIL], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    yield port
    proc.kill()
    proc.wait()
    proc.stdout.close()


def _netdash(*args: str) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "netdash", *args], capture_output=True, timeout=60, check=False
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    return done.stdout


def test_every_cli_output_shows_hostile_text_and_json_keeps_it_whole(
    hostile_process: tuple[subprocess.Popen[bytes], int],
    hostile_peer: int,
    hostile_redirect: int,
    hostile_proxy: int,
) -> None:
    _, named = hostile_process
    for args in (
        ("list", "--probe"),
        ("list", "--probe", "--all"),
        ("check", "--probe"),
        ("check", "--probe", "--format", "prometheus"),
        ("list", "--probe", "--format", "prometheus"),
        ("who", str(named), "--probe"),
        ("who", str(hostile_peer), "--probe"),
        ("who", str(hostile_redirect), "--probe"),
        ("who", str(hostile_proxy)),
    ):
        out = _netdash(*args)
        _assert_shown_not_sent(out, " ".join(args))
        assert b"\x1b" not in out and b"\x07" not in out, args
    listing = _netdash("list", "--probe")
    assert rb"[red]x\x1b[2J" in listing  # the process name, its escape made visible
    check = _netdash("check", "--probe")
    assert f"127.0.0.1:{hostile_proxy}:{hostile_proxy}".encode() in check  # the hint's port
    who = _netdash("who", str(hostile_peer), "--probe")
    assert rb"\x1b]0;PWNED\x07" in who  # the Server header, shown
    prom = _netdash("list", "--probe", "--format", "prometheus").decode()
    for line in prom.splitlines():
        assert "\n" not in line and ("{" not in line or line.count('"') % 2 == 0), line

    document = json.loads(_netdash("list", "--json", "--probe"))
    by_port = {li["port"]: li for li in document["listeners"]}
    assert by_port[named]["processes"][0]["name"] == HOSTILE_COMM  # whole, JSON-escaped
    assert by_port[hostile_proxy]["processes"][0]["cmdline"][-1] == EVIL
    probes = by_port[hostile_peer]["probes"]
    title = " ".join(EVIL.split())  # HTML collapses white space (U+2028 included)
    assert probes and all(p["server"] == EVIL and p["title"] == title for p in probes)
    redirects = by_port[hostile_redirect]["probes"]
    assert redirects and all(p["outcome"] == "http" and p["status"] == 302 for p in redirects)
    assert all(p["location"] == f"http://localhost/{EVIL}" for p in redirects)
    check_doc = json.loads(_netdash("check", "--json", "--probe"))
    assert "PWNED" not in json.dumps([f["hint"] for f in check_doc["findings"]])


def test_every_dashboard_view_shows_hostile_text_and_sends_none(
    hostile_process: tuple[subprocess.Popen[bytes], int],
    hostile_peer: int,
    hostile_redirect: int,
    hostile_proxy: int,
    tmp_path: Path,
) -> None:
    """Every byte the real dashboard writes to its terminal, while the table, the diagram,
    the verdict line, the details screen, the stop confirmation, a toast and the palette are
    shown for hostile rows, holds none of :data:`FORBIDDEN`, and the pane's title is never
    changed."""
    require(shutil.which("tmux") is not None, "tmux is not installed")
    _, named = hostile_process
    stream = tmp_path / "terminal.bytes"
    python = shlex.quote(sys.executable)
    tmux = Tmux(160, 45)
    history = shlex.quote(str(tmp_path / "history.sqlite3"))
    tmux.start(
        f"unset COLUMNS LINES; {python} -m netdash --interval 1 --history {history};"
        " echo NETDASH-EXIT=$?"
    )
    tmux.run("pipe-pane", "-o", "-t", "t", f"cat >> {shlex.quote(str(stream))}")
    title = tmux.flag("pane_title")
    keys = ["send-keys", "-t", "t"]
    try:
        tmux.wait_for("ALL-INTERFACES")
        tmux.run(*keys, "p")
        tmux.wait_for(") in ", timeout=40)
        assert r"\x1b]0;PWNED\x07" in tmux.wait_for("PWNED")  # the Server header, shown
        for port in (named, hostile_peer, hostile_redirect, hostile_proxy):
            tmux.run(*keys, "/")
            tmux.run(*keys, "-l", str(port))
            tmux.run(*keys, "Enter")
            time.sleep(0.5)
            tmux.run(*keys, "Enter")  # details
            tmux.wait_for("connections")
            tmux.run(*keys, "Escape")
            time.sleep(0.3)
            tmux.run(*keys, "k")  # the stop confirmation names the process
            time.sleep(0.5)
            tmux.run(*keys, "Escape")
            time.sleep(0.3)
            tmux.run(*keys, "c")  # a toast: the row's URL copied (OSC 52)
            time.sleep(0.5)
            tmux.run(*keys, "Escape")  # clears the filter
            time.sleep(0.3)
        for panel in ("h", "N"):  # the history (program names) and other namespaces
            tmux.run(*keys, panel)
            time.sleep(1.0)
            tmux.run(*keys, panel)
            time.sleep(0.3)
        tmux.run(*keys, "C-p")
        time.sleep(0.5)
        tmux.run(*keys, "-l", "stop")
        time.sleep(0.5)
        tmux.run(*keys, "Escape")
        time.sleep(0.3)
        assert tmux.flag("pane_title") == title
        tmux.run(*keys, "q")
        tmux.wait_for("NETDASH-EXIT=0")
    finally:
        tmux.kill()
    out = stream.read_bytes()
    assert len(out) > 10_000  # the dashboard really drew
    _assert_shown_not_sent(out, "dashboard")


HOSTILE_INTERFACE = b"\x1b]0;I\x07[b]\xc2\x9b"
"""12 bytes: an OSC title, BEL, markup and a C1 CSI, as an interface name (root in a network
namespace may name one so)."""


@pytest.fixture
def hostile_interface() -> Iterator[tuple[int, int]]:
    """A veth named :data:`HOSTILE_INTERFACE` with fe80::99, and two listeners that carry its
    name in their address: one bound to the device (SO_BINDTODEVICE), one to fe80::99 on it.
    Yields their ports; the interface is deleted afterwards."""
    ip = shutil.which("ip")
    require(ip is not None, "iproute2 (ip) is not installed")
    assert ip is not None
    name = HOSTILE_INTERFACE
    subprocess.run([ip.encode(), b"link", b"add", name, b"type", b"veth", b"peer", b"name",
                    b"ndhostile0"], check=True)  # fmt: skip
    try:
        for dev in (name, b"ndhostile0"):
            subprocess.run([ip.encode(), b"link", b"set", dev, b"up"], check=True)
        subprocess.run([ip.encode(), b"-6", b"addr", b"add", b"fe80::99/64", b"dev", name,
                        b"nodad"], check=True)  # fmt: skip
        bound = socket.socket()
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, name)
        bound.bind(("0.0.0.0", 0))
        bound.listen()
        local = socket.socket(socket.AF_INET6)
        index = socket.if_nametoindex(name.decode("utf-8", "surrogateescape"))
        local.bind(("fe80::99", 0, 0, index))
        local.listen()
        try:
            yield bound.getsockname()[1], local.getsockname()[1]
        finally:
            bound.close()
            local.close()
    finally:
        subprocess.run([ip.encode(), b"link", b"del", name], check=False)


def test_a_hostile_interface_name_is_shown_escaped_and_probed_without_a_crash(
    hostile_interface: tuple[int, int],
) -> None:
    """Interface names are outside text too: they appear in addresses (``0.0.0.0%IF`` for a
    socket bound to a device, ``fe80::99%IF``) and in the firewall's lines. Every output shows
    them escaped, and a probe of an address no URL can name is an ``error`` result for that
    target, not a crash of the whole run (the break-it pass of issue 15)."""
    bound, local = hostile_interface
    for args in (
        ("list",),
        ("list", "--format", "prometheus"),
        ("check",),
        ("check", "--format", "prometheus"),
        ("who", str(bound)),
        ("who", str(local), "--probe"),
        ("list", "--probe"),
    ):
        out = _netdash(*args)
        _assert_shown_not_sent(out, " ".join(args))
        assert b"\x1b" not in out and b"\x07" not in out and "\x9b".encode() not in out, args
    assert rb"0.0.0.0%\x1b]0;I\x07[b]\x9b" in _netdash("who", str(bound))
    document = json.loads(_netdash("list", "--json", "--probe"))
    (mine,) = [li for li in document["listeners"] if li["port"] == local]
    assert mine["address"] == r"fe80::99%\x1b]0;I\x07[b]\x9b"
    assert all(p["outcome"] in ("error", "refused", "silent", "timeout") for p in mine["probes"])
