"""probe_listeners against real peers in the netns: TLS, redirects, proxies, caps, safety."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.server
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from netdash.core.addresses import own_addresses
from netdash.core.model import Listener, Outcome, Via
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.sources.interfaces import read_interfaces
from tests.support import netns
from tests.support.peers import http_answer, raw_server, read_request
from tests.support.servers import bound_socket, start_uvicorn

pytestmark = pytest.mark.netns

LAN = {4: netns.LAN_V4, 6: netns.LAN_V6}
FAST = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1)


def listener_for(address: str, port: int) -> Listener:
    return Listener("tcp", address, port, 6 if ":" in address else 4)


async def probe(address: str, port: int, limits: ProbeLimits = FAST, lan=LAN):  # type: ignore[no-untyped-def]
    return await probe_listeners(
        [listener_for(address, port)], lan, own_addresses(read_interfaces()), limits
    )


@contextlib.contextmanager
def serve(
    handler: type[http.server.BaseHTTPRequestHandler], address: str = "127.0.0.1"
) -> Iterator[int]:
    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        daemon_threads = True

    server = Server((address, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    folder: Path = tmp_path_factory.mktemp("tls")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    server = start_uvicorn("0.0.0.0", certfile=str(certfile), keyfile=str(keyfile))
    yield server.port
    server.stop()


async def test_tls_port_is_reported_as_tls_with_the_http_answer_inside(tls_server: int) -> None:
    results = await probe("0.0.0.0", tls_server)
    assert [(r.via, r.outcome, r.status, r.server) for r in results] == [
        (Via.LOOPBACK, Outcome.TLS, 200, "uvicorn"),
        (Via.LAN, Outcome.TLS, 200, "uvicorn"),
    ]
    assert results[0].url == f"http://127.0.0.1:{tls_server}/"


async def test_redirect_is_reported_not_followed() -> None:
    hits: list[str] = []

    class Target(Quiet):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

    with serve(Target) as target_port:

        class Redirect(Quiet):
            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{target_port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

        with serve(Redirect) as port:
            [result] = await probe("127.0.0.1", port, lan={})
    assert (result.outcome, result.status) == (Outcome.HTTP, 302)
    assert hits == []


async def test_proxy_environment_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "localhost")

    class Ok(Quiet):
        def do_GET(self) -> None:
            self.send_response(204)
            self.end_headers()

    with serve(Ok) as port:
        [result] = await probe("127.0.0.1", port, lan={})
    assert (result.outcome, result.status) == (Outcome.HTTP, 204)


async def test_endless_body_is_capped() -> None:
    class Endless(Quiet):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(b"<title>endless</title>")
                while True:
                    self.wfile.write(b"x" * 65536)

    with serve(Endless) as port:
        [result] = await probe("127.0.0.1", port, lan={})
    assert (result.outcome, result.status, result.title) == (Outcome.HTTP, 200, "endless")


async def test_refused_and_closed_and_silent() -> None:
    unused = bound_socket("127.0.0.1")
    refused_port = unused.getsockname()[1]
    unused.close()
    [refused] = await probe("127.0.0.1", refused_port, lan={})
    assert refused.outcome is Outcome.REFUSED

    closer = bound_socket("127.0.0.1")

    def close_at_once() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = closer.accept()
                conn.close()

    threading.Thread(target=close_at_once, daemon=True).start()
    [closed] = await probe("127.0.0.1", closer.getsockname()[1], lan={})
    closer.close()
    assert closed.outcome is Outcome.RESET

    silent = bound_socket("127.0.0.1")  # listen() but never accept(): the kernel completes it
    [quiet] = await probe("127.0.0.1", silent.getsockname()[1], lan={})
    silent.close()
    assert quiet.outcome is Outcome.SILENT  # accepted (by the kernel), then nothing
    assert quiet.elapsed_ms < FAST.deadline * 1000 + 500


async def test_targets_outside_this_machine_are_never_contacted() -> None:
    """A LAN address that is not ours (or a listener bound to an address the machine no
    longer holds) is not-applicable, decided before any connection."""
    [loop, lan] = await probe("0.0.0.0", 80, lan={4: "203.0.113.7"})
    assert loop.outcome is Outcome.REFUSED
    assert (lan.outcome, lan.elapsed_ms) == (Outcome.NOT_APPLICABLE, 0.0)
    assert "not an address of this machine" in (lan.detail or "")
    [_, gone] = await probe("198.18.0.77", 80)  # specific address no interface holds
    assert gone.outcome is Outcome.NOT_APPLICABLE


async def test_bare_tls_socket_is_tls() -> None:
    """A TLS socket that drops a plain HTTP request during the handshake is retried over TLS."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)

    class Ok(Quiet):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Server", "tls-thread")
            self.send_header("Content-Length", "0")
            self.end_headers()

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):  # type: ignore[no-untyped-def]
            conn, addr = super().get_request()
            return context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

        def finish_request(self, request, client_address):  # type: ignore[no-untyped-def]
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return
            super().finish_request(request, client_address)

    server = Server(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        [result] = await probe("127.0.0.1", server.server_address[1], lan={})
    finally:
        server.shutdown()
        server.server_close()
    assert (result.outcome, result.status) == (Outcome.TLS, 200)
    assert result.server is not None and "tls-thread" in result.server.raw


async def test_a_cookie_one_listener_sets_is_never_sent_to_another() -> None:
    # Cookies ignore the port (RFC 6265 §8.5): a client's cookie jar would hand one loopback
    # server's session cookie to every other. 20 listeners probed one at a time over the
    # probe's 16 clients: each sets a cookie, none may receive one.
    cookies: list[str] = []

    class SetsCookie(Quiet):
        def do_GET(self) -> None:
            if self.headers.get("Cookie"):
                cookies.append(self.headers["Cookie"])
            self.send_response(200)
            self.send_header("Set-Cookie", f"session=secret-{self.server.server_address[1]}")
            self.send_header("Content-Length", "0")
            self.end_headers()

    limits = ProbeLimits(
        connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.05, concurrency=1
    )
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(serve(SetsCookie)) for _ in range(20)]
        results = await probe_listeners(
            [listener_for("127.0.0.1", port) for port in ports],
            {},
            own_addresses(read_interfaces()),
            limits,
        )
    assert [r.outcome for r in results] == [Outcome.HTTP] * 20
    assert cookies == []


async def test_the_greeting_wait_and_get_share_one_connection() -> None:
    # Listen first, then GET / on the same connection: one connection per quiet HTTP peer
    # (the risk checks, off here, make their own).
    accepted: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        request = read_request(conn)
        accepted.append(request.split(b"\r\n", 1)[0])
        if request:
            conn.sendall(http_answer("204 No Content", {}))

    limits = ProbeLimits(
        connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1, risk_checks=False
    )
    with raw_server(handler, "127.0.0.1") as port:
        [result] = await probe("127.0.0.1", port, limits, lan={})
    assert (result.outcome, result.status) == (Outcome.HTTP, 204)
    assert accepted == [b"GET / HTTP/1.1"]


async def test_a_greeting_is_read_on_the_connection_get_would_have_used() -> None:
    requests: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"220 mail.example ESMTP ready\r\n")
        conn.settimeout(1)
        with contextlib.suppress(OSError):
            requests.append(conn.recv(100))

    with raw_server(handler, "127.0.0.1") as port:
        [result] = await probe("127.0.0.1", port, lan={})
    assert result.outcome is Outcome.BANNER
    assert result.banner is not None and "220 mail.example" in str(result.banner)
    assert requests in ([b""], [])  # closed without a word sent


async def _hold_the_loop_after(event: threading.Event, seconds: float) -> None:
    """Block the event loop (as 2,000 targets on two cores or a GC pause can) for ``seconds``
    once ``event`` is set."""
    while not event.is_set():
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.02)
    time.sleep(seconds)


async def test_a_greeting_that_comes_while_the_loop_is_busy_is_not_lost() -> None:
    # The greeting arrives during the wait; the loop resumes after the wait has expired, with
    # the bytes and the timer both due. They are the answer, not silence.
    accepted = threading.Event()

    def handler(conn: socket.socket) -> None:
        accepted.set()
        time.sleep(0.1)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            conn.recv(100)

    limits = ProbeLimits(connect_timeout=1, read_timeout=1, deadline=4, greeting_wait=0.15)
    with raw_server(handler, "127.0.0.1") as port:
        hold = asyncio.ensure_future(_hold_the_loop_after(accepted, 0.4))
        [result] = await probe("127.0.0.1", port, limits, lan={})
        await hold
    assert (result.outcome, result.identified) == (Outcome.BANNER, "ssh")


async def test_an_answer_that_comes_while_the_loop_is_busy_is_not_lost() -> None:
    asked = threading.Event()

    def handler(conn: socket.socket) -> None:
        if not read_request(conn):
            return
        asked.set()
        time.sleep(0.1)
        conn.sendall(http_answer("200 OK", {"Server": "slowpoke"}))

    limits = ProbeLimits(
        connect_timeout=1, read_timeout=0.3, deadline=4, greeting_wait=0.05, risk_checks=False
    )
    with raw_server(handler, "127.0.0.1") as port:
        hold = asyncio.ensure_future(_hold_the_loop_after(asked, 0.6))
        [result] = await probe("127.0.0.1", port, limits, lan={})
        await hold
    assert (result.outcome, result.status, result.server) == (Outcome.HTTP, 200, "slowpoke")


async def test_every_connection_is_closed_when_the_probe_returns() -> None:
    # Each plain request has its own connection, closed with its response: after probing
    # HTTP peers (keep-alive offered), a silent one and a refused port, no descriptor is left.
    def handler(conn: socket.socket) -> None:
        if read_request(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            conn.settimeout(3)
            with contextlib.suppress(OSError):
                conn.recv(100)

    def silent(conn: socket.socket) -> None:
        time.sleep(1.5)

    before = len(os.listdir("/proc/self/fd"))
    with raw_server(handler, "127.0.0.1") as port, raw_server(silent, "127.0.0.1") as quiet:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            refused = closed.getsockname()[1]
        listeners = [listener_for("127.0.0.1", p) for p in (port, quiet, refused)]
        results = await probe_listeners(listeners, {}, set(), FAST)
        assert [r.outcome for r in results] == [Outcome.HTTP, Outcome.SILENT, Outcome.REFUSED]
    # The servers' sockets close once their handlers end (the silent one after 1.5 s);
    # the probe's must all be gone by then.
    for _ in range(40):
        if len(os.listdir("/proc/self/fd")) <= before:
            break
        await asyncio.sleep(0.1)
    assert len(os.listdir("/proc/self/fd")) <= before


async def test_a_tls_handshake_cut_by_the_deadline_leaves_no_descriptor_to_the_collector() -> None:
    # The peer answers GET / with bytes that are not HTTP, so the probe tries HTTPS; it never
    # answers the ClientHello, and the target's deadline cancels the handshake. The probe's
    # socket must close then, not when the garbage collector finds it (anyio's TLS wrap left
    # it to the collector: a ResourceWarning later, a descriptor held until then). The peer
    # holds its end until the probe's closes, so the count shows a leak on either side.
    def handler(conn: socket.socket) -> None:
        conn.settimeout(6)
        first = conn.recv(4096)
        if first.startswith(b"GET"):
            conn.sendall(b"\x00\x01 not http\r\n")
            return
        while conn.recv(4096):  # a ClientHello: say nothing until the probe hangs up
            pass

    limits = ProbeLimits(
        connect_timeout=3, read_timeout=0.3, deadline=0.8, greeting_wait=0.05, risk_checks=False
    )
    before = len(os.listdir("/proc/self/fd"))
    gc.disable()
    try:
        with raw_server(handler, "127.0.0.1") as port:
            [result] = await probe("127.0.0.1", port, limits, lan={})
            for _ in range(30):
                if len(os.listdir("/proc/self/fd")) <= before + 1:  # + the listening socket
                    break
                await asyncio.sleep(0.1)
            left = len(os.listdir("/proc/self/fd")) - before - 1
    finally:
        gc.enable()
    assert result.outcome is not Outcome.TLS
    assert left <= 0, f"{left} descriptors still open 3 s after the probe returned"


async def test_a_reset_just_after_the_greeting_wait_is_a_reset() -> None:
    # The peer resets 5 ms after the greeting wait; the loop is busy for 30 ms as the wait
    # ends, so GET / is written on the reset connection. The write meets the reset (httpcore
    # sets write errors aside), the read an end of stream: still a reset, not "not-http".
    wait = 0.1

    def handler(conn: socket.socket) -> None:
        time.sleep(wait + 0.005)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    loop = asyncio.get_running_loop()
    call_later = loop.call_later

    def busy_after_the_wait(delay, callback, *args, **kwargs):  # type: ignore[no-untyped-def]
        if delay == wait:  # the greeting wait's timer: hold the loop just after it fires
            call_later(delay + 1e-6, time.sleep, 0.03)
        return call_later(delay, callback, *args, **kwargs)

    limits = ProbeLimits(
        connect_timeout=1, read_timeout=0.5, deadline=3, greeting_wait=wait, risk_checks=False
    )
    with raw_server(handler, "127.0.0.1") as port:
        loop.call_later = busy_after_the_wait  # type: ignore[method-assign]
        try:
            [result] = await probe("127.0.0.1", port, limits, lan={})
        finally:
            loop.call_later = call_later  # type: ignore[method-assign]
    assert result.outcome is Outcome.RESET, (result.outcome, result.detail)


@pytest.mark.parametrize("trickle", [False, True], ids=["stalls", "trickles"])
async def test_an_answer_whose_body_stalls_is_still_http(trickle: bool) -> None:
    # Status line and headers came; the body stalls (Content-Length larger than what is
    # sent) or trickles a byte every 0.3 s. The answer is the status and headers.
    def handler(conn: socket.socket) -> None:
        if not read_request(conn):
            return
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nServer: slowbody\r\nContent-Length: 1000\r\n\r\n<title>x</title>"
        )
        for _ in range(10):
            time.sleep(0.3)
            if trickle:
                conn.sendall(b"a")

    with raw_server(handler, "127.0.0.1") as port:
        [result] = await probe("127.0.0.1", port, lan={})
    assert (result.outcome, result.status, result.server) == (Outcome.HTTP, 200, "slowbody"), (
        result.outcome,
        result.detail,
    )
    assert str(result.title) == "x"
