"""TLS peers at the edges (issue 15, item 11): a certificate whose subject is hostile text in
an unusual string type, one with an empty subject, and a certificate chain of about 1 MB.
Each ends with the right answer or a bounded, explained result; never a traceback, never a
wait beyond the probe's deadline."""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from netdash.core.addresses import own_addresses
from netdash.core.model import Listener, Outcome, ProbeResult
from netdash.core.text import clean
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.sources.interfaces import read_interfaces
from tests.support import netns
from tests.support.servers import close_listening

pytestmark = pytest.mark.netns

LAN = {4: netns.LAN_V4}
LIMITS = ProbeLimits(connect_timeout=0.5, read_timeout=1.0, deadline=3.0, greeting_wait=0.1)


def self_signed(tmp: Path, subject: x509.Name) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp / "cert.pem", tmp / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


@contextlib.contextmanager
def tls_server(certfile: Path, keyfile: Path) -> Iterator[int]:
    """An HTTPS server on 0.0.0.0 answering 200 to anything, with this certificate chain."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certfile), str(keyfile))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 0))
    sock.listen(16)

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(3)
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        close_listening(sock)


async def probe(port: int) -> tuple[list[ProbeResult], float]:
    started = time.monotonic()
    listener = Listener("tcp", "0.0.0.0", port, 4)
    results = await probe_listeners([listener], LAN, own_addresses(read_interfaces()), LIMITS)
    return results, time.monotonic() - started


async def test_a_hostile_subject_in_a_bmpstring_is_shown_as_data(tmp_path: Path) -> None:
    hostile = "\x1b]0;PWNED\x07[bold]evil[/bold]\u202e"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostile, _ASN1Type.BMPString)])
    with tls_server(*self_signed(tmp_path, subject)) as port:
        results, took = await probe(port)
    assert took < LIMITS.deadline * 2 + 1
    assert {r.outcome for r in results} == {Outcome.TLS}, results
    for result in results:
        assert result.self_signed is True
        assert result.certificate is not None
        shown = clean(result.certificate)
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown


async def test_an_empty_subject_is_a_certificate_without_a_name(tmp_path: Path) -> None:
    with tls_server(*self_signed(tmp_path, x509.Name([]))) as port:
        results, _ = await probe(port)
    assert {r.outcome for r in results} == {Outcome.TLS}, results
    assert all(r.certificate in (None, "") for r in results), results


async def test_a_one_megabyte_chain_ends_in_a_bounded_explained_result(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("big.test")
    ca_pem = ca.cert_pem.bytes()
    certfile, keyfile = tmp_path / "chain.pem", tmp_path / "key.pem"
    copies = (1 << 20) // len(ca_pem) + 1
    certfile.write_bytes(leaf.cert_chain_pems[0].bytes() + ca_pem * copies)
    leaf.private_key_pem.write_to_path(str(keyfile))
    assert certfile.stat().st_size > 1 << 20
    with tls_server(certfile, keyfile) as port:
        results, took = await probe(port)
    assert took < LIMITS.deadline * 2 + 1, took
    assert len(results) == 2
    for result in results:
        # OpenSSL's client refuses a certificate list over 100 KiB ("excessive message
        # size"): netdash says the port speaks TLS and why nothing more is known (it said
        # "reset during the request" before).
        assert result.outcome is Outcome.TLS, result
        assert result.detail == (
            "speaks TLS, but the handshake failed: "
            "its certificate chain is over OpenSSL's 100 KiB limit"
        ), result
