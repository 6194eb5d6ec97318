"""Raw TCP peers for probe tests: a server that runs a handler per connection, HTTP bytes, and
a peer that presents any bytes as its TLS certificates."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator

from tests.support.servers import close_listening

Handler = Callable[[socket.socket], None]


@contextlib.contextmanager
def raw_server(handler: Handler, address: str = "0.0.0.0") -> Iterator[int]:
    """A TCP server on ``address`` that runs ``handler`` on each accepted connection."""
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, 0))
    sock.listen(64)

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=_run, args=(handler, conn), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        close_listening(sock)


def _run(handler: Handler, conn: socket.socket) -> None:
    with contextlib.suppress(OSError), conn:
        handler(conn)


def read_request(conn: socket.socket) -> bytes:
    conn.settimeout(3)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def http_answer(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode() + body


def present_certificates(chain: list[bytes]) -> Handler:
    """A handler that speaks just enough TLS 1.2 to present ``chain``, any bytes at all,
    as its certificates: it reads the ClientHello, answers a ServerHello (ECDHE-ECDSA with
    AES-128-GCM, secure renegotiation) and a Certificate message (RFC 5246 §7.4.1.3, §7.4.2)
    in records of at most 16 KiB, then waits for the client's alert. Nothing after that is
    sent, so a client that accepts the certificates waits for a key exchange that never
    comes. A real TLS server refuses to load a certificate that does not parse; this one
    sends it."""

    def records(payload: bytes) -> bytes:
        out = b""
        for start in range(0, len(payload), 16384):
            chunk = payload[start : start + 16384]
            out += b"\x16\x03\x03" + struct.pack("!H", len(chunk)) + chunk
        return out

    def handshake(kind: int, body: bytes) -> bytes:
        return bytes([kind]) + len(body).to_bytes(3, "big") + body

    def handler(conn: socket.socket) -> None:
        conn.settimeout(3)
        head = conn.recv(5)
        if len(head) < 5 or head[0] != 0x16:  # not a TLS handshake record
            return
        wanted, hello = struct.unpack("!H", head[3:5])[0], b""
        while len(hello) < wanted:
            chunk = conn.recv(wanted - len(hello))
            if not chunk:
                return
            hello += chunk
        extensions = b"\xff\x01\x00\x01\x00"  # renegotiation_info, empty (RFC 5746)
        server_hello = (
            b"\x03\x03" + os.urandom(32) + b"\x00" + b"\xc0\x2b" + b"\x00"
            + struct.pack("!H", len(extensions)) + extensions
        )  # fmt: skip
        certificates = b"".join(len(c).to_bytes(3, "big") + c for c in chain)
        conn.sendall(
            records(
                handshake(2, server_hello)
                + handshake(11, len(certificates).to_bytes(3, "big") + certificates)
            )
        )
        conn.recv(64)  # the client's alert, or nothing until it gives up

    return handler
