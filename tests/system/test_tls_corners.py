"""TLS peers at the edges (issue 15, item 11): certificates whose subject is hostile text or
bytes in every string type, or empty, or 3,000 attributes long; certificates with a negative
serial, impossible validity dates or extensions of garbage, which a TLS server still loads;
certificates that do not parse at all, presented by a peer that speaks just enough TLS
(tests/support/peers.py); and certificate chains of about 1 MB. Each ends with the right
answer or a bounded, explained result; never a traceback, never a wait beyond the probe's
deadline."""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID

from netdash.core.addresses import own_addresses
from netdash.core.model import Listener, Outcome, ProbeResult
from netdash.core.text import clean
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.sources.interfaces import read_interfaces
from tests.support import netns
from tests.support.peers import present_certificates, raw_server
from tests.support.servers import close_listening

pytestmark = pytest.mark.netns

LAN = {4: netns.LAN_V4}
LIMITS = ProbeLimits(connect_timeout=0.5, read_timeout=1.0, deadline=3.0, greeting_wait=0.1)


SERIAL = 0x7E5A5A5A5A5A5A5A
"""A serial whose DER (``02 08 7E 5A …``) is easy to find and patch."""


def certificate(
    subject: x509.Name,
    patches: dict[bytes, bytes] | None = None,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """A self-signed certificate's DER and key; each of ``patches`` then replaces bytes of
    the same length wherever they occur (in a name: the subject and the issuer; the
    signature no longer matches, which nobody checks: the probe verifies nothing)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(SERIAL)
        .not_valid_before(not_before or now - datetime.timedelta(days=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions or []:
        builder = builder.add_extension(extension, critical)
    der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    for old, new in (patches or {}).items():
        assert old in der and len(old) == len(new), old
        der = der.replace(old, new)
    return der, key


def pem_files(tmp: Path, made: tuple[bytes, ec.EllipticCurvePrivateKey]) -> tuple[Path, Path]:
    """A :func:`certificate` written as PEM files, for :func:`tls_server`."""
    der, key = made
    certfile, keyfile = tmp / "cert.pem", tmp / "key.pem"
    certfile.write_text(ssl.DER_cert_to_PEM_cert(der))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


def self_signed(tmp: Path, subject: x509.Name) -> tuple[Path, Path]:
    return pem_files(tmp, certificate(subject))


@contextlib.contextmanager
def tls_server(certfile: Path, keyfile: Path, handshakes: list[int] | None = None) -> Iterator[int]:
    """An HTTPS server on 0.0.0.0 answering 200 to anything, with this certificate chain;
    appends 1 to ``handshakes`` for each TLS handshake it completes."""
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
                if handshakes is not None:
                    handshakes.append(1)
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
        assert result.certificate == f"CN={hostile}"  # decoded as UTF-16 (was 'CN=\x00\x1b\x00]…')
        shown = clean(result.certificate)
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown


async def test_an_empty_subject_is_a_certificate_without_a_name(tmp_path: Path) -> None:
    with tls_server(*self_signed(tmp_path, x509.Name([]))) as port:
        results, _ = await probe(port)
    assert {r.outcome for r in results} == {Outcome.TLS}, results
    assert all(r.certificate in (None, "") for r in results), results


async def test_the_certificate_comes_from_the_https_requests_own_connection(
    tmp_path: Path,
) -> None:
    # One TLS handshake per probed target: the certificate is read from the connection that
    # carried GET /, not from a second handshake (each costs the server and the probe CPU).
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "once.test")])
    handshakes: list[int] = []
    limits = ProbeLimits(
        connect_timeout=0.5, read_timeout=1.0, deadline=3.0, greeting_wait=0.1, risk_checks=False
    )
    with tls_server(*self_signed(tmp_path, subject), handshakes=handshakes) as port:
        listener = Listener("tcp", "127.0.0.1", port, 4)
        [result] = await probe_listeners([listener], {}, set(), limits)
    assert (result.outcome, result.status, result.certificate) == (
        Outcome.TLS,
        200,
        "CN=once.test",
    ), result
    assert len(handshakes) == 1


def many_intermediates(tmp: Path) -> tuple[Path, Path, int]:
    """A leaf and its CA's certificate over and over: over 1 MiB of DER on the wire."""
    ca = trustme.CA()
    leaf = ca.issue_cert("big.test")
    ca_pem = ca.cert_pem.bytes()
    copies = (1 << 20) // len(ssl.PEM_cert_to_DER_cert(ca_pem.decode())) + 1
    certfile, keyfile = tmp / "chain.pem", tmp / "key.pem"
    certfile.write_bytes(leaf.cert_chain_pems[0].bytes() + ca_pem * copies)
    leaf.private_key_pem.write_to_path(str(keyfile))
    return certfile, keyfile, sum(map(len, _ders(certfile)))


def one_huge_extension(tmp: Path) -> tuple[Path, Path, int]:
    """One certificate carrying a private extension of 1 MiB."""
    value = b"\x04\x83" + (1 << 20).to_bytes(3, "big") + b"A" * (1 << 20)
    huge = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), value)
    certfile, keyfile = pem_files(tmp, certificate(cn("huge"), extensions=[(huge, False)]))
    return certfile, keyfile, sum(map(len, _ders(certfile)))


def _ders(certfile: Path) -> list[bytes]:
    text = certfile.read_text()
    pems = text.split("-----END CERTIFICATE-----")[:-1]
    return [ssl.PEM_cert_to_DER_cert(pem.strip() + "\n-----END CERTIFICATE-----\n") for pem in pems]


@pytest.mark.parametrize("make", [many_intermediates, one_huge_extension])
async def test_a_one_megabyte_chain_ends_in_a_bounded_explained_result(
    tmp_path: Path, make: Callable[[Path], tuple[Path, Path, int]]
) -> None:
    """Over 1 MiB of certificates: within the probe's deadline, without holding the chain
    (the memory of this process, the server included, grows by less than 16 MiB)."""
    certfile, keyfile, wire = make(tmp_path)
    assert wire > 1 << 20
    me = psutil.Process()
    with tls_server(certfile, keyfile) as port:
        before = me.memory_info().rss
        results, took = await probe(port)
        grown = me.memory_info().rss - before
    assert took < LIMITS.deadline * 2 + 1, took
    assert grown < 16 << 20, grown
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
    print(f"{make.__name__}: {wire} bytes of DER, {took:.2f} s, RSS +{grown >> 10} KiB")


def cn(value: str, kind: _ASN1Type = _ASN1Type.UTF8String) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value, kind)])


UTC = datetime.timezone.utc
NEGATIVE = b"\x02\x08\x7e\x5a\x5a\x5a"
ODD = {
    # the fields netdash does not read, made impossible
    "negative serial": (cn("negative"), {NEGATIVE: b"\x02\x08\xfe\x5a\x5a\x5a"}, {}),
    "validity from year 0000": (
        cn("year-zero"),
        {b"20500101000000Z": b"00000000000000Z"},
        {"not_before": datetime.datetime(2050, 1, 1, tzinfo=UTC),
         "not_after": datetime.datetime(9999, 12, 31, tzinfo=UTC)},
    ),
    "validity in month 13": (
        cn("month-13"),
        {b"010101000000Z": b"011332256161Z"},
        {"not_before": datetime.datetime(2001, 1, 1, tzinfo=UTC)},
    ),
    "extensions of garbage": (
        cn("garbage-extensions"),
        {},
        {"extensions": [
            (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\xff" * 10), True),
            (x509.UnrecognizedExtension(
                ExtensionOID.AUTHORITY_INFORMATION_ACCESS, b"\x30\x05\x30\x03\x06\x01\x00"), False),
            (x509.UnrecognizedExtension(ExtensionOID.CERTIFICATE_POLICIES, b"\x30\x02\xff\xff"),
             False),
        ]},
    ),
    # subjects in every string type, with bytes that do not decode
    "IA5String with bytes over 127": (
        cn("ia5-XXXX", _ASN1Type.IA5String), {b"ia5-XXXX": b"ia5-\xff\xfe\xc0\x80"}, {}
    ),
    "PrintableString with bytes over 127": (
        cn("pr-XX", _ASN1Type.PrintableString), {b"pr-XX": b"pr-\xff\x1b"}, {}
    ),
    "T61String in Latin-1": (
        cn("t61-X", _ASN1Type.T61String), {b"t61-X": b"t61-\xe9"}, {}
    ),
    "UniversalString": (cn("wörld 🙂", _ASN1Type.UniversalString), {}, {}),
}  # fmt: skip
SUBJECTS = {
    "negative serial": "CN=negative",
    "validity from year 0000": "CN=year-zero",
    "validity in month 13": "CN=month-13",
    "extensions of garbage": "CN=garbage-extensions",
    "IA5String with bytes over 127": "CN=ia5-\\xff\\xfe\\xc0\\x80",
    "PrintableString with bytes over 127": "CN=pr-\\xff\x1b",
    "T61String in Latin-1": "CN=t61-é",
    "UniversalString": "CN=wörld 🙂",
}


@pytest.mark.parametrize("case", list(ODD))
async def test_an_odd_certificate_a_server_still_loads_is_read(tmp_path: Path, case: str) -> None:
    """OpenSSL serves these (it checks little when loading); the probe reports ``tls`` with
    the subject decoded by its string type, bytes that do not decode shown as ``\\xNN``."""
    subject, patches, options = ODD[case]
    made = certificate(subject, patches, **options)  # type: ignore[arg-type]
    with tls_server(*pem_files(tmp_path, made)) as port:
        results, took = await probe(port)
    assert took < LIMITS.deadline * 2 + 1, took
    assert [(r.outcome, r.certificate, r.self_signed, r.detail) for r in results] == [
        (Outcome.TLS, SUBJECTS[case], True, None)
    ] * 2, results
    assert all(r.certificate is not None and r.certificate.raw.encode() for r in results)


async def test_a_subject_of_three_thousand_attributes_is_read_in_bounded_time(
    tmp_path: Path,
) -> None:
    """A subject of 3,000 OU attributes (about 40 KB of DER, under OpenSSL's 100 KiB list)
    is kept whole, as every long value is; the details screen and table cut it."""
    names = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"u{i}") for i in range(3000)]
    with tls_server(*self_signed(tmp_path, x509.Name(names))) as port:
        results, took = await probe(port)
    assert took < LIMITS.deadline * 2 + 1, took
    expected = ", ".join(f"OU=u{i}" for i in range(3000))
    assert [(r.outcome, r.certificate) for r in results] == [(Outcome.TLS, expected)] * 2
    assert len(clean(expected)) == 200


def _not_utf8() -> bytes:
    return certificate(cn("utf8-XXXX"), {b"utf8-XXXX": b"utf8-\xff\xfe\xc0\x80"})[0]


def _odd_bmpstring() -> bytes:
    # a BMPString of 7 bytes: UCS-2 has two per character
    der = certificate(cn("bmp-X", _ASN1Type.BMPString))[0]
    at = der.index(b"\x1e\x0a\x00b\x00m\x00p\x00-\x00X")
    return der[:at] + b"\x1e\x0a\x00b\x00m\x00p\x00-X" + der[at + 12 :]


UNPARSABLE = {
    "bytes that are not DER": lambda: b"\x30\x82\x01\x00" + b"\xff" * 256,
    "an empty certificate": lambda: b"",
    "a certificate cut in half": lambda: certificate(cn("half"))[0][:200],
    "a UTF8String that is not UTF-8": _not_utf8,
    "a BMPString of an odd length": _odd_bmpstring,
}


@pytest.mark.parametrize("case", list(UNPARSABLE))
async def test_a_certificate_that_does_not_parse_is_tls_explained(case: str) -> None:
    """OpenSSL refuses these in the handshake, with no reason code, only "ASN1 lib": the
    port speaks TLS and the detail says why nothing more is known (it was 'reset during
    the request', the plain-HTTP attempt's outcome)."""
    with raw_server(present_certificates([UNPARSABLE[case]()])) as port:
        results, took = await probe(port)
    assert took < LIMITS.deadline * 2 + 1, took
    assert [(r.outcome, r.detail, r.certificate) for r in results] == [
        (
            Outcome.TLS,
            "speaks TLS, but the handshake failed: "
            "its certificate does not parse (an ASN.1 error in OpenSSL)",
            None,
        )
    ] * 2, results
