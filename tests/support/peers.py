"""Raw TCP peers for probe tests: a server that runs a handler per connection, and HTTP bytes."""

from __future__ import annotations

import contextlib
import socket
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
