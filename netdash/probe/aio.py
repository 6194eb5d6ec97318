"""asyncio helpers of the probe: a time limit on one await (without a task of its own where
Python allows it), a receive with a time limit that never drops bytes it has read, a TCP
connect on the event loop's socket calls, and TLS over a connected socket that a cancel
never leaves half-closed."""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["connect_tcp", "open_tls", "recv_within", "within"]

_T = TypeVar("_T")

if sys.version_info >= (3, 11):

    async def within(awaitable: Awaitable[_T], seconds: float | None) -> _T:
        """``await awaitable``, raising :class:`asyncio.TimeoutError` (``TimeoutError``) after
        ``seconds`` (``None``: no limit). On Python 3.11+ the await runs in the caller's own
        task (:func:`asyncio.timeout`); :func:`asyncio.wait_for` makes a task per call, and a
        probe makes several calls per target."""
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # Python 3.10

    async def within(awaitable: Awaitable[_T], seconds: float | None) -> _T:
        return await asyncio.wait_for(awaitable, seconds)


async def recv_within(sock: socket.socket, size: int, seconds: float | None) -> bytes:
    """At most ``size`` bytes from the non-blocking ``sock`` (``b""`` once the peer has closed),
    raising :class:`asyncio.TimeoutError` if none came within ``seconds`` (``None``: no limit),
    else the ``OSError`` of ``recv()`` (``ConnectionResetError``…).

    Not ``within(loop.sock_recv(...))``: when the data and the time limit arrive in the same
    event-loop iteration (a busy loop), ``loop.sock_recv`` has already taken the bytes from the
    kernel when the timeout cancels the task, and they are lost (a banner read as silence). Here
    the reader callback receives and the timer only fires on a read not yet done, so the bytes
    are either returned or left in the kernel's buffer."""
    try:
        return sock.recv(size)
    except (BlockingIOError, InterruptedError):
        pass
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()

    def readable() -> None:
        if done.done():
            return
        try:
            data = sock.recv(size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            done.set_exception(exc)
        else:
            done.set_result(data)

    def expired() -> None:
        if not done.done():
            done.set_exception(asyncio.TimeoutError())

    fd = sock.fileno()
    loop.add_reader(fd, readable)
    timer = None if seconds is None else loop.call_later(seconds, expired)
    try:
        return await done
    finally:
        loop.remove_reader(fd)
        if timer is not None:
            timer.cancel()


async def connect_tcp(host: str, port: int, timeout: float | None) -> socket.socket:
    """A connected, non-blocking TCP socket to ``host`` (an IP address; a name or a zone is
    resolved by the loop's ``getaddrinfo``) and ``port``, made with ``loop.sock_connect``.
    Raises :class:`asyncio.TimeoutError` after ``timeout`` seconds, else the ``OSError`` of
    ``socket()`` or ``connect()`` (``ConnectionRefusedError``, ``EMFILE``…)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await within(asyncio.get_running_loop().sock_connect(sock, (host, port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


class _Recording(asyncio.StreamReaderProtocol):
    """asyncio's stream protocol, keeping the TLS transport it was given (``made``), which
    asyncio hands it when the handshake completes, possibly after the caller was cancelled."""

    made: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self.made = transport
        super().connection_made(transport)


async def open_tls(
    sock: socket.socket, context: ssl.SSLContext, server_hostname: str = ""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio's streams over the connected ``sock`` once a TLS handshake with ``context``
    completed (``server_hostname`` ``""``: no SNI, no name check). Raises the ``OSError``
    (``ssl.SSLError`` among them) of the handshake; no time limit of its own (wrap it in
    :func:`within`).

    On any failure or cancel the connection is aborted and ``sock`` closed at once.
    ``asyncio.open_connection`` closes it gracefully instead: a cancel that lands in the
    loop pass where the handshake completed leaves asyncio a TLS shutdown of up to 30 s
    on that descriptor (and, had the caller closed the socket, the next socket given its
    number fails "File descriptor N is used by transport")."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(loop=loop)
    protocol = _Recording(reader, loop=loop)
    try:
        transport, _ = await loop.create_connection(
            lambda: protocol, sock=sock, ssl=context, server_hostname=server_hostname
        )
    except BaseException:
        if protocol.made is not None:
            protocol.made.abort()  # takes the descriptor off the loop before the close
        sock.close()
        raise
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)
