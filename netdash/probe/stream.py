"""TCP and TLS for httpx: a network backend on the event loop's socket calls, whose connection
can be listened on before httpx speaks.

httpx's own backend (anyio) wraps every read and write in a cancel scope; for probing,
where each target is a connect, one request and a close, that is a fifth of the CPU per
target (bench/RESULTS.md, issue 18). This backend uses ``loop.sock_connect``,
``loop.sock_recv`` (through :func:`netdash.probe.aio.recv_within`) and
``loop.sock_sendall`` on a non-blocking socket; TLS goes on asyncio's streams over the same
socket (:class:`TLSStream`). anyio's TLS wrap, under httpx's own backend, left a socket to
the garbage collector when a cancel (the target's deadline) landed in the handshake: a
``ResourceWarning`` later, and a descriptor held until then.

No connection pool either: a probe never reuses a connection, and httpcore's pool spends
an event, a lock and cancel shields per request and scans its connections for each one.
:class:`OneShot` opens a connection per request (an ``httpcore.AsyncHTTP11Connection``)
and closes it with the response: 0.10-0.15 ms less CPU per probed target.

Its ``on_open`` hook runs once the connection is made, before httpx writes anything: the
probe listens there for a server-first greeting (SSH, SMTP, Redis' protected-mode error…),
so the greeting wait and ``GET /`` share one connection. The hook either returns (httpx
sends its request) or raises, and what it raises reaches the caller of the request as is
(httpcore and httpx re-raise what they do not know).

Imported where probing starts (it imports httpcore).
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import anyio._backends._asyncio  # noqa: F401  (see below)
import httpcore
import httpx

# httpcore imports sniffio and anyio's asyncio backend at a connection's first lock; import
# them with this module, before any probe holds a descriptor: under a full RLIMIT_NOFILE the
# import itself meets EMFILE (test_a_low_descriptor_limit_gives_real_outcomes_not_errors).
with contextlib.suppress(ImportError):
    import sniffio  # noqa: F401

from netdash.probe.aio import connect_tcp, open_tls, recv_within, within

__all__ = [
    "OnOpen",
    "OneShot",
    "SocketBackend",
    "SocketStream",
    "TLSStream",
    "one_shot_transport",
]

OnOpen = Callable[[socket.socket], Awaitable[None]]
"""Called with the connected socket before the request is written; raises to stop there."""


class SocketStream(httpcore.AsyncNetworkStream):
    """One connected, non-blocking TCP socket as httpcore's network stream. Times in seconds
    (``None``: no limit); errors are httpcore's (``ReadTimeout``, ``ReadError``,
    ``WriteTimeout``, ``WriteError``), each caused by the ``OSError`` or timeout behind it."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._write_error: OSError | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data = await recv_within(self._sock, max_bytes, timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.ReadTimeout(f"no data within {timeout:g} s") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc
        if not data and self._write_error is not None:
            # The kernel reports a reset once: to the write that met it, whose error
            # httpcore sets aside to read the answer; the read then sees only an end of
            # stream, which would read as "disconnected without a response".
            raise httpcore.ReadError(str(self._write_error)) from self._write_error
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            await within(self._loop.sock_sendall(self._sock, buffer), timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.WriteTimeout(f"could not write within {timeout:g} s") from exc
        except OSError as exc:
            self._write_error = exc
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._sock.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """This connection as a :class:`TLSStream` once a TLS handshake with ``ssl_context``
        completed within ``timeout`` seconds (``ConnectTimeout``), else ``ConnectError``
        caused by the ``ssl.SSLError`` or ``OSError``. On any failure or cancel the
        connection is aborted at once (:func:`netdash.probe.aio.open_tls`)."""
        try:
            reader, writer = await within(
                open_tls(self._sock, ssl_context, server_hostname or ""), timeout
            )
        except asyncio.TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"TLS handshake timed out after {timeout:g} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return TLSStream(reader, writer)

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._sock
        if info == "is_readable":  # httpcore asks before reusing an idle connection
            if self._sock.fileno() < 0:
                return True
            return bool(select.select([self._sock], [], [], 0)[0])
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "client_addr":
            return self._sock.getsockname()
        return None


class TLSStream(httpcore.AsyncNetworkStream):
    """A TLS connection on asyncio's streams (``SSLProtocol``) as httpcore's network stream.
    Times in seconds (``None``: no limit); errors are httpcore's (``ReadTimeout``,
    ``ReadError``, ``WriteTimeout``, ``WriteError``), each caused by the ``ssl.SSLError``,
    ``OSError`` or timeout behind it. A timed-out or cancelled read loses nothing: the bytes
    stay in the ``StreamReader``'s buffer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return await within(self._reader.read(max_bytes), timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.ReadTimeout(f"no data within {timeout:g} s") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            await within(self._writer.drain(), timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.WriteTimeout(f"could not write within {timeout:g} s") from exc
        except (OSError, RuntimeError) as exc:  # RuntimeError: written after the close
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        """Drop the connection, without a close_notify (as httpx's own backend does): the
        socket closes in the event loop's next iteration, not after asyncio's 30 s SSL
        shutdown timeout when the peer never answers."""
        self._writer.transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("TLS in TLS (a proxy's) is not spoken here")

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        return None


class SocketBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend for plain TCP to IP addresses (what the probe contacts;
    names are resolved with the loop's ``getaddrinfo``), with ``on_open`` run on each new
    connection (see the module's docstring). Connect errors are httpcore's
    ``ConnectTimeout`` and ``ConnectError``, caused by the ``OSError`` (``errno`` kept)."""

    def __init__(self, on_open: OnOpen | None = None) -> None:
        self._on_open = on_open

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if local_address is not None or socket_options:
            raise httpcore.UnsupportedProtocol("no local address or socket options here")
        try:
            sock = await connect_tcp(host, port, timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connect timed out after {timeout:g} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        if self._on_open is not None:
            try:
                await self._on_open(sock)
            except BaseException:
                sock.close()
                raise
        return SocketStream(sock)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("this backend speaks TCP only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class OneShot:
    """What httpx's transport sends its requests through (in place of httpcore's pool): a new
    connection from ``backend`` for each request, HTTP/1.1 on it (over TLS with
    ``ssl_context`` for ``https://``), closed when the response is closed or the request
    fails. No limit of its own on connections (the caller's gate caps them). Errors are
    httpcore's, or what ``backend``'s hook raised."""

    def __init__(
        self, backend: httpcore.AsyncNetworkBackend, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._backend = backend
        self._ssl_context = ssl_context

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        tls = url.scheme == b"https"
        if not tls and url.scheme != b"http":
            raise httpcore.UnsupportedProtocol(f"{url.scheme!r}: http and https only here")
        if tls and self._ssl_context is None:
            raise httpcore.UnsupportedProtocol("https needs an SSL context")
        port = (443 if tls else 80) if url.port is None else url.port
        timeouts = request.extensions.get("timeout", {})
        host = url.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, port, timeout=timeouts.get("connect"))
        if tls:
            assert self._ssl_context is not None
            # an address with a zone (fe80::1%v0) is no name to send
            sni = request.extensions.get("sni_hostname") or ("" if "%" in host else host)
            # start_tls closes the socket when it fails
            stream = await stream.start_tls(self._ssl_context, sni, timeouts.get("connect"))
        connection = httpcore.AsyncHTTP11Connection(origin=url.origin, stream=stream)
        try:
            response = await connection.handle_async_request(request)
        except BaseException:
            await stream.aclose()
            raise
        response.stream = _Closing(response.stream, stream)
        return response

    async def aclose(self) -> None:
        """Nothing to close: every connection closes with its response."""


class _Closing:
    """A response body that closes its connection when it is closed."""

    def __init__(self, body: Any, stream: httpcore.AsyncNetworkStream) -> None:
        self._body = body
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._body:
            yield part

    async def aclose(self) -> None:
        try:
            await self._body.aclose()
        finally:
            await self._stream.aclose()


def one_shot_transport(
    context: ssl.SSLContext, on_open: OnOpen | None = None
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose requests each go on a new connection from
    :class:`SocketBackend` (``on_open`` on each), TLS with ``context`` for ``https://``
    (ALPN ``http/1.1``, as httpcore sets it), closed with the response.

    httpx (< 1) builds its transport's httpcore pool in ``__init__`` with no way to name a
    network backend; this one replaces that pool (``_pool``, what ``handle_async_request``
    sends through) with :class:`OneShot`. Passing ``context`` to httpx also spares it loading
    the trust store (~20 ms a transport).
    ``test_the_greeting_wait_and_get_share_one_connection`` (tests/system/test_probe.py)
    fails if httpx stops sending through it."""
    context.set_alpn_protocols(["http/1.1"])
    transport = httpx.AsyncHTTPTransport(verify=context)
    transport._pool = OneShot(SocketBackend(on_open), context)  # type: ignore[assignment]
    return transport
