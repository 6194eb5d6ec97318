"""The probe's bounds hold against hostile and numerous peers (issue 15, items 2, 3, 4, 8).

Every peer here binds inside the test's private network namespace (tests/conftest.py); the
probe contacts only those peers. Nothing is timed: each test counts (connections open at
once on the peers' side, outcomes) and uses generous deadlines only as hang guards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netdash.core.addresses import own_addresses
from netdash.core.model import Listener, Outcome, Via
from netdash.probe.child import probe_in_processes
from netdash.probe.engine import ProbeLimits, page_title, probe_listeners
from netdash.sources.interfaces import read_interfaces
from tests.support import netns
from tests.support.ci import require
from tests.support.peers import http_answer, raw_server, read_request

LAN = {4: netns.LAN_V4, 6: netns.LAN_V6}
LIMITS = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1)
README = Path(__file__).resolve().parents[2] / "README.md"


class Peers:
    """``count`` listeners on 0.0.0.0 served by one thread (a selector loop). ``mode``
    ``"silent"``: accept, read and never answer, until the prober closes; ``"http"``: answer
    each request with a 204 and close. ``open`` counts accepted connections the prober has
    not closed yet; ``peak`` is its maximum. In each round, connections are handled before new
    ones are accepted, so a connection the prober closed before opening the next one is never
    counted together with it."""

    def __init__(self, count: int, mode: str) -> None:
        self.mode = mode
        self.listening = []
        for _ in range(count):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", 0))
            sock.listen(256)
            sock.setblocking(False)
            self.listening.append(sock)
        self.ports = [int(s.getsockname()[1]) for s in self.listening]
        self.open = 0
        self.peak = 0
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Peers:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.listening:
            sock.close()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        listening = set(self.listening)
        for sock in self.listening:
            selector.register(sock, selectors.EVENT_READ, None)
        conns: dict[socket.socket, bytes] = {}

        def read_ready(ready: list[Any]) -> None:
            for conn in [c for c in ready if c in conns]:
                assert isinstance(conn, socket.socket)
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._drop(selector, conns, conn)
                    continue
                conns[conn] += data
                if self.mode == "http" and b"\r\n\r\n" in conns[conn]:
                    with contextlib.suppress(OSError):
                        conn.sendall(http_answer("204 No Content", {}))
                    self._drop(selector, conns, conn)

        while not self._stop.is_set():
            events = selector.select(0.1)
            ready = [key.fileobj for key, _ in events]
            read_ready(ready)  # closings first, then accepts
            for sock in [s for s in ready if s in listening]:
                assert isinstance(sock, socket.socket)
                while True:
                    # A connection that arrived after the select may follow a close that
                    # also did: take the closes the kernel has delivered before counting it.
                    read_ready([key.fileobj for key, _ in selector.select(0)])
                    try:
                        conn, _ = sock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    conn.setblocking(False)
                    conns[conn] = b""
                    selector.register(conn, selectors.EVENT_READ, None)
                    self.accepted += 1
                    self.open += 1
                    self.peak = max(self.peak, self.open)
        for conn in list(conns):
            self._drop(selector, conns, conn)
        selector.close()

    def _drop(
        self, selector: selectors.BaseSelector, conns: dict[socket.socket, bytes], c: socket.socket
    ) -> None:
        selector.unregister(c)
        del conns[c]
        c.close()
        self.open -= 1


def promised_cap() -> int:
    """The README's "at most N connections at once"."""
    text = " ".join(README.read_text().split())
    match = re.search(r"at most (\d+) connections at once", text)
    assert match, "the README states the probe's connection cap"
    return int(match.group(1))


# --- item 3: the concurrency cap is the README's --------------------------------------------


def test_the_default_cap_is_the_readme_promise() -> None:
    assert ProbeLimits().concurrency == promised_cap()


@pytest.mark.netns
@pytest.mark.parametrize("processes", [0, 3])
async def test_connections_at_once_stay_within_the_promise(processes: int) -> None:
    """150 silent listeners, 300 targets: the peers never see more connections open at once
    than the README promises, in one process or split over child processes."""
    cap = promised_cap()
    own = own_addresses(read_interfaces())
    with Peers(150, "silent") as peers:
        listeners = [Listener("tcp", "0.0.0.0", port, 4) for port in peers.ports]
        if processes:
            results = await probe_in_processes(listeners, LAN, own, LIMITS, None, processes)
        else:
            results = await probe_listeners(listeners, LAN, own, LIMITS)
    assert len(results) == 300
    assert {r.outcome for r in results} == {Outcome.SILENT}
    assert peers.accepted >= 300  # every target connected (greeting wait, then GET /)
    assert peers.peak <= cap, f"{peers.peak} connections at once; the README promises {cap}"
    assert peers.peak >= min(cap, 300) // 2  # the count works: the cap was approached


# --- item 4: concurrency sized to the descriptors; EMFILE is retried ------------------------

_UNDER_LOW_LIMIT = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    soft = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    from netdash.core.addresses import own_addresses
    from netdash.core.model import Listener
    from netdash.probe.child import probe_in_processes
    from netdash.probe.engine import ProbeLimits, probe_listeners
    from netdash.sources.interfaces import read_interfaces
    ports = json.loads(sys.argv[1]); lan = {4: sys.argv[2]}; processes = int(sys.argv[3])
    held = [open("/dev/null") for _ in range(int(sys.argv[6]) if len(sys.argv) > 6 else 0)]
    import netdash.probe.engine
    if sys.argv[4] in ("retry-only", "unprotected"):  # no sizing: EMFILE met by the retry alone
        netdash.probe.engine.descriptor_budget = lambda: None
    if sys.argv[4] == "unprotected":  # nor a retry: the code before issue 15 item 4
        netdash.probe.engine._EMFILE_ATTEMPTS = 1
    limits = ProbeLimits(connect_timeout=2, read_timeout=2, deadline=8, greeting_wait=0.1)
    listeners = [Listener("tcp", "0.0.0.0", p, 4) for p in ports]
    own = own_addresses(read_interfaces())
    if processes:
        run = probe_in_processes(listeners, lan, own, limits, None, processes)
    else:
        run = probe_listeners(listeners, lan, own, limits)
    results = asyncio.run(run)
    print(json.dumps([[r.outcome.value, r.detail] for r in results]))
    """
)


@pytest.mark.netns
@pytest.mark.parametrize(("processes", "mode"), [(0, "sized"), (3, "sized"), (0, "retry-only")])
def test_a_low_descriptor_limit_gives_real_outcomes_not_errors(processes: int, mode: str) -> None:
    """Under a soft RLIMIT_NOFILE of 64 (set in the probing process only), 150 HTTP
    listeners probed via loopback and LAN: 300 ``http`` results, no ``Too many open files``.
    In one process, in three children, and with the sizing switched off (the retry alone)."""
    argv = [str(processes), mode]
    with Peers(150, "http") as peers:
        run = subprocess.run(
            [sys.executable, "-c", _UNDER_LOW_LIMIT, json.dumps(peers.ports), netns.LAN_V4, *argv],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stderr[-2000:]
    outcomes = json.loads(run.stdout)
    errors = [detail for outcome, detail in outcomes if outcome != "http"]
    assert len(outcomes) == 300
    assert not errors, f"{len(errors)} of 300 not http, e.g. {errors[:3]}"


@pytest.fixture
def many_descriptors() -> Iterator[None]:
    """This process may open 4,096 files: the peers' side holds 1,000 listeners and their
    connections."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard or hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.netns
@pytest.mark.usefixtures("many_descriptors")
@pytest.mark.parametrize("mode", ["sized", "unprotected"])
def test_two_thousand_targets_under_a_limit_of_256_descriptors(mode: str) -> None:
    """Issue 15 item 11: 1,000 HTTP listeners (2,000 targets: loopback and LAN) probed with
    RLIMIT_NOFILE at 256 by a process that already holds 128 open files (as a dashboard
    holds its history database, pipes and ``/proc`` reads): 2,000 ``http`` outcomes, none an
    error. The control run, ``unprotected`` (no sizing to the limit, no retry), reports
    ``Too many open files``: the limit bites, so the test can fail. (Holding nothing, 200
    targets at once fit in 256 descriptors and the limit is never reached.)"""
    with Peers(1000, "http") as peers:
        out = _clean_run(
            [sys.executable, "-c", _UNDER_LOW_LIMIT, json.dumps(peers.ports), netns.LAN_V4,
             "0", mode, "256", "128"]
        )  # fmt: skip
    outcomes = json.loads(out)
    errors = [detail for outcome, detail in outcomes if outcome != "http"]
    assert len(outcomes) == 2000
    if mode == "unprotected":
        assert any("Too many open files" in detail for detail in errors), errors[:3]
        return
    assert not errors, f"{len(errors)} of 2000 not http, e.g. {errors[:3]}"


def _clean_run(argv: list[str]) -> str:
    """``argv``'s standard output, once it exited 0 without a traceback."""
    run = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    return run.stdout


@pytest.mark.netns
@pytest.mark.usefixtures("many_descriptors")
def test_netdash_list_probes_two_thousand_targets_under_prlimit_256() -> None:
    """The same from the command line: ``prlimit --nofile=256 netdash list --probe --json``
    with 1,000 HTTP listeners: exit 0, no traceback, and each listener's two probes
    (loopback and LAN) are ``http`` 204."""
    prlimit = shutil.which("prlimit")
    require(prlimit is not None, "prlimit (util-linux) is not installed")
    assert prlimit is not None
    with Peers(1000, "http") as peers:
        out = _clean_run(
            [prlimit, "--nofile=256:256", sys.executable, "-m", "netdash", "list", "--probe",
             "--json"]
        )  # fmt: skip
    ours = set(peers.ports)
    # Another test's listener on [::] may share a port number with one of ours (the
    # ephemeral range is shared, and 0.0.0.0 and an IPV6_V6ONLY [::] can hold one port):
    # only this process's listeners count.
    me = os.getpid()
    listed = [
        li
        for li in json.loads(out)["listeners"]
        if li["port"] in ours and any(p["pid"] == me for p in li["processes"])
    ]
    assert sorted(li["port"] for li in listed) == sorted(ours)
    seen = {
        (li["port"], probe["via"], probe["outcome"], probe["status"])
        for li in listed
        for probe in li["probes"]
    }
    assert seen == {(port, via, "http", 204) for port in ours for via in ("loopback", "lan")}


# --- item 2: a quadratic page cannot starve its neighbours -----------------------------------


@pytest.mark.parametrize(
    ("body", "title"),
    [
        (b"<html><head><title>Hello</title></head>", "Hello"),
        (b"<TITLE lang='en'>  Two\n  words </TITLE>", "Two words"),
        (b"<title>a &amp; b</title>", "a & b"),
        (b"<title>first</title><title>second</title>", "first"),
        (b"<titlex>odd</title>", "odd"),  # what the old pattern matched too
        (b"<title>never closed", None),
        (b"<title", None),
        (b"<title></title>", None),
        (b"no title at all", None),
        (b"<title>" * 1000, None),
        (b"<title>" * 1000 + b"</title>", "<title>" * 999),  # as the old pattern read it
        (b"<title>x" + b"<title>" * 1000 + b"</title>", "x" + "<title>" * 1000),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, bytes) else None,
)
def test_page_title(body: bytes, title: str | None) -> None:
    assert page_title(body) == title


@pytest.mark.netns
async def test_a_hostile_title_does_not_change_a_neighbours_result() -> None:
    """One peer answers 64 KiB of repeated ``<title>``; its neighbour answers a healthy page
    after 0.3 s. In the same run, the neighbour is ``http`` with its title."""
    hostile_body = b"<title>" * (64 * 1024 // 7)

    def hostile(conn: socket.socket) -> None:
        if read_request(conn):
            conn.sendall(http_answer("200 OK", {"Server": "hostile"}, hostile_body))

    def healthy(conn: socket.socket) -> None:
        if read_request(conn):
            time.sleep(0.3)  # still waiting for this answer while the hostile one is parsed
            conn.sendall(http_answer("200 OK", {"Server": "ok"}, b"<title>fine</title>"))

    with raw_server(hostile) as bad, raw_server(healthy) as good:
        listeners = [Listener("tcp", "0.0.0.0", port, 4) for port in (bad, good)]
        results = await probe_listeners(listeners, LAN, own_addresses(read_interfaces()), LIMITS)
    neighbour = [r for r in results if r.listener[2] == good]
    assert [(r.via, r.outcome, r.title) for r in neighbour] == [
        (Via.LOOPBACK, Outcome.HTTP, "fine"),
        (Via.LAN, Outcome.HTTP, "fine"),
    ], neighbour
    for result in (r for r in results if r.listener[2] == bad):
        assert (result.outcome, result.status, result.title) == (Outcome.HTTP, 200, None)


# --- item 8: 2 MB of headers is an HTTP answer, cut -----------------------------------------


def _two_mb_of_headers(conn: socket.socket) -> None:
    if not read_request(conn):
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nServer: big-headers\r\n")
    line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    for _ in range(2 * 1024):  # 2 MB; the prober stops reading long before
        conn.sendall(line)
    conn.sendall(b"Content-Length: 2\r\n\r\nok")


@pytest.mark.netns
async def test_two_megabytes_of_headers_is_http_with_the_headers_cut() -> None:
    with raw_server(_two_mb_of_headers) as port:
        listener = Listener("tcp", "0.0.0.0", port, 4)
        results = await probe_listeners([listener], LAN, own_addresses(read_interfaces()), LIMITS)
    assert len(results) == 2
    for result in results:
        assert result.outcome is Outcome.HTTP, result
        assert result.status == 200
        assert result.server == "big-headers"  # the headers that arrived whole are kept
        assert result.detail is not None and "headers were cut" in result.detail, result.detail
