"""asyncio helpers of the probe: a time limit on one await (without a task of its own where
Python allows it), and a TCP connect on the event loop's socket calls."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["connect_tcp", "within"]

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
