"""Every kind of peer, real, in the test namespace: the right outcome, identification and
verdict, each within its deadline."""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from netdash.core.addresses import own_addresses
from netdash.core.assess import findings, verdict
from netdash.core.model import Listener, Outcome, ProbeResult, Via
from netdash.probe import identify
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.probe.identify import FollowUp, Identification
from netdash.sources.interfaces import read_interfaces
from tests.support import netns
from tests.support.peers import Handler, http_answer, raw_server, read_request
from tests.support.servers import free_port, start_uvicorn, wait_listening

pytestmark = pytest.mark.netns

LAN = {4: netns.LAN_V4, 6: netns.LAN_V6}
LIMITS = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1)


async def probe(port: int, address: str = "0.0.0.0") -> list[ProbeResult]:
    listener = Listener("tcp", address, port, 6 if ":" in address else 4)
    return await probe_listeners([listener], LAN, own_addresses(read_interfaces()), LIMITS)


def by_via(results: list[ProbeResult]) -> dict[Via, ProbeResult]:
    return {r.via: r for r in results}


# --- peers that speak first -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("greeting", "name"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", "ssh"),
        (b"220 mail.example ESMTP Postfix\r\n", "smtp"),
        (b"220 (vsFTPd 3.0.5)\r\n", "ftp"),
        (b"220 Service ready\r\n", "ftp or smtp"),
        (b"220 ProFTPD Server ready FTP\r\n", "ftp"),
        (b"+OK Dovecot ready.\r\n", "pop3"),
        (b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", "imap"),
        (
            struct.pack("<I", 78)[:3] + b"\x00\x0a8.0.36\x00" + b"\x01" * 60,
            "mysql",
        ),
    ],
)
async def test_server_first_protocols_are_banners_and_get_no_request(
    greeting: bytes, name: str
) -> None:
    received: list[bytes] = []

    def greet(conn: socket.socket) -> None:
        conn.sendall(greeting)
        conn.settimeout(1.0)
        with contextlib.suppress(OSError):
            received.append(conn.recv(1024))

    with raw_server(greet) as port:
        results = await probe(port)
    for result in results:
        assert result.outcome is Outcome.BANNER
        assert result.identified == name
        assert result.kind == name.replace(" ", "-")  # "ftp or smtp": "ftp-or-smtp"
        assert result.banner
    assert all(chunk == b"" for chunk in received)  # we said nothing, only closed


# --- peers that misbehave ------------------------------------------------------------------


def reset_at_once(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # RST


def garbage(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"\x00\x01\x02 this is not http \xff\xfe\r\n")
    time.sleep(0.5)


def postgres_like(conn: socket.socket) -> None:
    read_request(conn)
    message = b"SFATAL\x00VFATAL\x00C0A000\x00Munsupported frontend protocol\x00\x00"
    conn.sendall(b"E" + struct.pack(">I", len(message) + 4) + message)


def silent(conn: socket.socket) -> None:
    conn.settimeout(5)
    with contextlib.suppress(OSError):
        while conn.recv(4096):
            pass


def drip(conn: socket.socket) -> None:
    read_request(conn)
    for byte in b"HTTP/1.1 200 OK\r\nServer: drip\r\n\r\n":
        conn.sendall(bytes([byte]))
        time.sleep(0.3)


def endless_headers(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while True:
        conn.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")


@functools.cache
def _bomb() -> bytes:
    """1 GiB of zeros, gzipped: 1,024 gzip members (RFC 1952 §2.2) of 1 MiB each, about
    1 MB in all, made in milliseconds."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    member = packer.compress(bytes(1 << 20)) + packer.flush()
    return member * 1024


def gzip_bomb(conn: socket.socket) -> None:
    read_request(conn)
    body = _bomb()
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nServer: bomb\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    conn.sendall(body)


@pytest.mark.parametrize(
    ("handler", "outcome", "identified"),
    [
        (reset_at_once, Outcome.RESET, None),
        (gzip_bomb, Outcome.HTTP, None),  # read as it came, 64 KiB of it: never inflated
        (garbage, Outcome.NOT_HTTP, None),
        (postgres_like, Outcome.NOT_HTTP, "postgresql"),
        (silent, Outcome.SILENT, None),
        (drip, Outcome.SILENT, None),
        (endless_headers, Outcome.HTTP, None),  # HTTP, the headers cut (issue 15)
    ],
)
async def test_misbehaving_peers(
    handler: Handler, outcome: Outcome, identified: str | None
) -> None:
    with raw_server(handler) as port:
        results = await probe(port)
    for result in results:
        assert result.outcome is outcome, result
        assert result.identified == identified
        assert result.elapsed_ms < LIMITS.deadline * 1000 + 500  # bounded by the deadline
    # It accepted the connection on the LAN address: a phone would reach it.
    listener = Listener("tcp", "0.0.0.0", port, 4)
    assert verdict(listener, results).value == "exposed"


# --- HTTP servers ------------------------------------------------------------------------------


async def test_redirect_to_localhost_is_a_finding_and_not_followed() -> None:
    hits: list[bytes] = []

    def redirect(conn: socket.socket) -> None:
        request = read_request(conn)
        if not request:
            return  # the listen-first connection: netdash says nothing there
        hits.append(request)
        conn.sendall(http_answer("302 Found", {"Location": "http://localhost:3000/login"}))

    with raw_server(redirect) as port:
        results = await probe(port)
    assert [(r.outcome, r.status) for r in results] == [(Outcome.HTTP, 302)] * 2
    assert results[1].location == "http://localhost:3000/login"
    assert findings(results, exposed=True) == [
        "redirects LAN visitors to http://localhost:3000/login"
    ]
    # Per target one GET / and the risk checks' GET / with a foreign Host; never /login.
    assert len(hits) == 4
    assert not any(b"/login" in hit.split(b"\r\n", 1)[0] for hit in hits)


async def test_host_check_still_proves_reachability() -> None:
    """Vite/Django style: 403 unless Host is localhost; the LAN probe sends the LAN address."""
    hosts: list[str] = []

    def host_check(conn: socket.socket) -> None:
        request = read_request(conn).decode("latin-1")
        if not request:
            return  # the listen-first connection
        host = next(
            line.split(":", 1)[1].strip()
            for line in request.split("\r\n")
            if line.lower().startswith("host:")
        )
        hosts.append(host)
        if host.split(":")[0] in ("localhost", "127.0.0.1", "[::1]"):
            conn.sendall(http_answer("200 OK", {}, b"<script src='/@vite/client'></script>"))
        else:
            conn.sendall(
                http_answer("403 Forbidden", {}, b"Blocked request. This host is not allowed.")
            )

    with raw_server(host_check) as port:
        results = await probe(port)
    loop, lan = by_via(results)[Via.LOOPBACK], by_via(results)[Via.LAN]
    assert (loop.status, lan.status) == (200, 403)
    assert loop.identified == "Vite"
    assert any(h.startswith(netns.LAN_V4) for h in hosts)
    # A host check stops DNS rebinding, not a LAN peer who sends Host: localhost itself.
    assert findings(results, exposed=True) == [
        "medium: anyone who reaches it from the network can read the project's source files "
        "through its dev server",
        f"reachable, host check refused (403 for Host {netns.LAN_V4})",
    ]
    assert verdict(Listener("tcp", "0.0.0.0", port, 4), results).value == "exposed"


@pytest.fixture(scope="module")
def flask_server() -> Iterator[int]:
    port = free_port("0.0.0.0")
    code = (
        "from flask import Flask\n"
        "app = Flask('demo')\n"
        "@app.get('/')\n"
        "def index():\n"
        "    return '<title>Flask &amp; friends</title>'\n"
        f"app.run(host='0.0.0.0', port={port})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening("0.0.0.0", port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


async def test_flask_is_identified_by_werkzeug(flask_server: int) -> None:
    results = await probe(flask_server)
    for result in results:
        assert (result.outcome, result.status) == (Outcome.HTTP, 200)
        assert (result.identified, result.kind) == ("Flask (Werkzeug)", "flask")
        assert result.evidence and result.evidence.startswith("Server: Werkzeug")
        assert result.title == "Flask & friends"


async def test_fastapi_and_http_server_are_identified(servers) -> None:  # type: ignore[no-untyped-def]
    fastapi = await probe(servers["uvicorn_any"].port)
    assert {r.identified for r in fastapi} == {"FastAPI (uvicorn)"}
    assert {r.kind for r in fastapi} == {"uvicorn"}
    assert {r.docs for r in fastapi} == {"/docs"}
    plain = await probe(servers["http_lo4"].port, "127.0.0.1")
    loop = by_via(plain)[Via.LOOPBACK]
    assert (loop.identified, loop.kind) == ("Python http.server", "http.server")


@pytest.mark.parametrize(("confirms", "name"), [(True, "Demo (confirmed)"), (False, "Demo")])
async def test_the_engine_makes_the_follow_up_an_identification_declares(
    monkeypatch: pytest.MonkeyPatch, confirms: bool, name: str
) -> None:
    demo = Identification(
        "demo",
        "Demo",
        lambda a: a.low.startswith("demo"),
        "Server: {server}",
        follow_up=FollowUp("/version", b'"demo"', "Demo (confirmed)", "Server: demo; /version"),
    )
    monkeypatch.setattr(identify, "HTTP_IDENTIFICATIONS", (demo,))
    paths: list[str] = []

    def serve(conn: socket.socket) -> None:
        request = read_request(conn)
        if not request:
            return  # the probe's first connection listens for a greeting and says nothing
        path = request.split(b" ", 2)[1].decode()
        paths.append(path)
        body = b'{"demo": 1}' if path == "/version" and confirms else b"{}"
        conn.sendall(http_answer("200 OK", {"Server": "demo/1"}, body))

    with raw_server(serve, "127.0.0.1") as port:
        [loop, _lan] = await probe(port, "127.0.0.1")
    assert (loop.identified, loop.kind) == (name, "demo")
    # GET /, the one declared follow-up, and the risk checks' GET / with a foreign Host.
    assert paths == ["/", "/version", "/"]


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    folder: Path = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(folder / "issued.pem"))
    issued.private_key_pem.write_to_path(str(folder / "issued.key"))
    ca.cert_pem.write_to_path(str(folder / "self.pem"))  # a CA's own certificate: self-signed
    ca.private_key_pem.write_to_path(str(folder / "self.key"))
    issued_server = start_uvicorn(
        "0.0.0.0", certfile=str(folder / "issued.pem"), keyfile=str(folder / "issued.key")
    )
    self_server = start_uvicorn(
        "127.0.0.1", certfile=str(folder / "self.pem"), keyfile=str(folder / "self.key")
    )
    yield {"issued": issued_server.port, "self": self_server.port}
    issued_server.stop()
    self_server.stop()


async def test_tls_reports_certificate_and_self_signed(tls_servers: dict[str, int]) -> None:
    issued = await probe(tls_servers["issued"])
    for result in issued:
        assert (result.outcome, result.status) == (Outcome.TLS, 200)
        assert (result.identified, result.kind) == ("FastAPI (uvicorn)", "uvicorn")
        assert result.self_signed is False
        assert result.certificate is not None
    [self_signed, _lan] = await probe(tls_servers["self"], "127.0.0.1")
    assert self_signed.outcome is Outcome.TLS
    assert self_signed.self_signed is True


async def test_many_probes_with_silent_peers_finish_in_bounded_time() -> None:
    """200 listeners (20 of them silent) probed via loopback and LAN: one deadline, not 20."""
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(raw_server(silent)) for _ in range(20)]
        for _ in range(180):
            ports.append(
                stack.enter_context(
                    raw_server(
                        lambda c: (read_request(c), c.sendall(http_answer("204 No Content", {})))
                    )
                )
            )
        listeners = [Listener("tcp", "0.0.0.0", p, 4) for p in ports]
        start = time.monotonic()
        results = await probe_listeners(listeners, LAN, own_addresses(read_interfaces()), LIMITS)
        elapsed = time.monotonic() - start
    assert len(results) == 400
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.SILENT) == 40 and outcomes.count(Outcome.HTTP) == 360
    # Hang guard: everything overlaps, so the total is a few deadlines, not 40 read timeouts.
    assert elapsed < LIMITS.deadline * 4
