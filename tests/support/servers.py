"""Real servers for tests and screenshots: each runs in a child process or thread we own.

Every helper binds the address it is given; the caller decides the port (0 = any free port)
and gets the bound port back. Nothing here connects anywhere.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Running:
    """A server we started: its bind address, port and owning pid."""

    address: str
    port: int
    pid: int
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port(address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def wait_listening(
    address: str, port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 20.0
) -> None:
    """Wait until something accepts on (address, port) — our own server, just started."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server on {address}:{port} exited with {process.returncode}")
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {address}:{port} after {timeout} s")


def _spawn(args: list[str], address: str, port: int, **kw: object) -> Running:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, **kw
    )  # type: ignore[call-overload]
    wait_listening(address, port, process)
    return Running(address, port, process.pid, process)


def start_uvicorn(
    address: str,
    port: int = 0,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    workers: int = 1,
) -> Running:
    """The example FastAPI app (tests/support/fastapi_app.py) under uvicorn; ``workers`` > 1
    makes it a pre-fork server (the workers share the listening socket)."""
    port = port or free_port(address)
    script = Path(sys.executable).with_name("uvicorn")  # its own name shows in the process table
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "uvicorn"]
    args = [*launcher, "tests.support.fastapi_app:app", "--host", address, "--port", str(port)]
    args += ["--log-level", "warning"]
    if workers > 1:
        args += ["--workers", str(workers)]
    if certfile and keyfile:
        args += ["--ssl-certfile", certfile, "--ssl-keyfile", keyfile]
    return _spawn(args, address, port, cwd=HERE.parent.parent)


def start_http_server(
    address: str, port: int = 0, directory: str | None = None, cwd: str | None = None
) -> Running:
    """Python's ``http.server`` bound to ``address`` (run in ``cwd`` when given)."""
    port = port or free_port(address)
    args = [sys.executable, "-m", "http.server", str(port), "--bind", address]
    if directory:
        args += ["--directory", directory]
    return _spawn(args, address, port, cwd=cwd)


def start_raw_peer(address: str, port: int = 0, greeting: bytes | None = None) -> Running:
    """A TCP peer that accepts and then says ``greeting`` (or nothing, ever, if ``None``)."""
    port = port or free_port(address)
    code = (
        "import socket,sys,time\n"
        "fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
        "s=socket.socket(fam);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "s.bind((sys.argv[1],int(sys.argv[2])));s.listen(64);held=[]\n"
        "g=bytes.fromhex(sys.argv[3]) if len(sys.argv)>3 else None\n"
        "while True:\n"
        "  c,_=s.accept();held.append(c)\n"
        "  if g: c.sendall(g)\n"
    )
    args = [sys.executable, "-c", code, address, str(port)]
    if greeting is not None:
        args.append(greeting.hex())
    return _spawn(args, address, port)


@contextlib.contextmanager
def running(*servers: Running) -> Iterator[tuple[Running, ...]]:
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def bound_socket(address: str, port: int = 0, *, v6only: bool | None = None) -> socket.socket:
    """A listening socket owned by this process (no server loop: connections queue)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebind despite TIME_WAIT
    if v6only is not None and family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
    s.bind((address, port))
    s.listen(16)
    return s


def serve_in_thread(sock: socket.socket) -> threading.Thread:
    """Answer every connection on ``sock`` with a minimal HTTP 200 (for in-process tests).

    Stop it with :func:`close_listening`; a plain ``close()`` would leave the thread blocked in
    ``accept()`` and the kernel socket alive, without an owner.
    """

    def loop() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(4096)
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nServer: thread\r\nContent-Length: 2\r\n"
                        b"Connection: close\r\n\r\nok"
                    )

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def close_listening(sock: socket.socket) -> None:
    """Close a listening socket, waking any thread blocked in ``accept()`` on it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
