"""One process of a benchmark scenario: binds listeners and/or holds client connections.

Usage: ``python -m bench.worker SPEC_JSON`` where the spec is::

    {"nofile": 8192,
     "listen": [{"proto": "tcp", "addr": "127.0.0.1", "mode": "idle", "v6only": false}],
     "connect": [{"host": "127.0.0.1", "port": 40000, "count": 4000}]}

``mode`` (TCP only): ``idle`` listens and never accepts; ``accept`` accepts and holds every
connection (the server end of established connections); ``http`` answers each request with a
minimal HTTP/1.0 200; ``silent`` accepts and never answers. Every port is 0 (any free port).

Prints ``ready PID PORT...`` (the bound ports in spec order) once every listener is bound and
every client connection is established, then serves until killed (SIGTERM/SIGKILL).
Only ever binds or connects to the addresses given; the caller runs it inside a private
network namespace.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import sys
from typing import Any

_HTTP = (
    b"HTTP/1.0 200 OK\r\nServer: netdash-bench\r\nContent-Type: text/html\r\n"
    b"Content-Length: 33\r\nConnection: close\r\n\r\n<title>bench</title>ok</html>\r\n\r\n"
)


def _bind(item: dict[str, Any]) -> socket.socket:
    address = str(item["addr"])
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    kind = socket.SOCK_STREAM if item["proto"] == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family, kind)
    if family == socket.AF_INET6 and address == "::":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if item.get("v6only") else 0)
    s.bind((address, 0))
    if kind == socket.SOCK_STREAM:
        s.listen(4096 if item.get("mode") != "idle" else 8)
    return s


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and keep the connection until the peer closes it (``accept`` and ``silent``)."""
    try:
        while await reader.read(4096):
            pass
    except OSError:
        pass
    writer.close()


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        writer.write(_HTTP)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        pass
    writer.close()


async def _serve(spec: dict[str, Any]) -> None:
    held: list[socket.socket] = []
    servers: list[asyncio.base_events.Server] = []
    for item in spec.get("listen", []):
        s = _bind(item)
        held.append(s)
        mode = item.get("mode", "idle")
        if item["proto"] == "tcp" and mode in ("accept", "silent"):
            servers.append(await asyncio.start_server(_hold, sock=s))
        elif item["proto"] == "tcp" and mode == "http":
            servers.append(await asyncio.start_server(_http, sock=s))
    clients: list[socket.socket] = []
    for target in spec.get("connect", []):
        for _ in range(int(target["count"])):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            # connect() on loopback completes against the peer's backlog; yield so a server
            # in this very process could accept, though servers live in other processes.
            await asyncio.get_running_loop().sock_connect(c, (target["host"], int(target["port"])))
            clients.append(c)
    ports = " ".join(str(s.getsockname()[1]) for s in held)
    print(f"ready {os.getpid()} {ports}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    spec = json.loads(sys.argv[1])
    nofile = int(spec.get("nofile", 0))
    if nofile:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    asyncio.run(_serve(spec))


if __name__ == "__main__":
    main()
