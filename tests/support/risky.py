"""Real servers with something to lose, for the risk checks' tests (tests/system/
test_risks_real.py): Jupyter Server, redis-server, memcached, a private dockerd, a Flask debugger,
Starlette with and without TrustedHostMiddleware, a websockets server with and without an
origin allow-list, Vite, and a stand-in for Ollama and Elasticsearch (which cannot run here).

Each helper starts a server we own, bound where the caller says, logging to a file under
``log_dir`` so a test can read what the server saw. Nothing here connects anywhere but to the
servers it starts (and only to wait until they accept).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.support.servers import HERE, Running, free_port, wait_listening

ROOT = HERE.parent.parent
VITE = HERE / "vite"


def _start(
    args: list[str],
    address: str,
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 40.0,
) -> Running:
    with log.open("wb") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
            cwd=cwd or ROOT,
        )
    wait_listening(address, port, process, timeout)
    return Running(address, port, process.pid, process)


def start_jupyter(address: str, token: str, log_dir: Path) -> tuple[Running, Path]:
    """Jupyter Server (``python -m jupyter_server``) with ``token`` (``""``: none, the
    ``--IdentityProvider.token=''`` of the issue), request log at DEBUG; runs as root here,
    hence ``--allow-root``. Returns the server and its log file."""
    port = free_port(address)
    home = Path(tempfile.mkdtemp(dir=log_dir, prefix="jupyter-"))
    env = {
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "HOME": str(home),
    }
    log = log_dir / f"jupyter-{port}.log"
    args = [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser"]
    args += [f"--ip={address}", f"--port={port}", f"--IdentityProvider.token={token}"]
    args += [f"--ServerApp.root_dir={home}", "--ServerApp.log_level=DEBUG"]
    return _start(args, address, port, log, env=env), log


def start_redis(
    address: str, log_dir: Path, password: str | None = None, protected: bool = True
) -> Running:
    """redis-server on ``address`` (nothing saved to disk), with ``requirepass`` when
    ``password`` is given and ``protected-mode`` as asked."""
    port = free_port(address)
    args = ["redis-server", "--port", str(port), "--bind", address, "--save", ""]
    args += ["--appendonly", "no", "--dir", str(log_dir)]
    args += ["--protected-mode", "yes" if protected else "no"]
    if password:
        args += ["--requirepass", password]
    return _start(args, address, port, log_dir / f"redis-{port}.log")


class RedisMonitor:
    """Every command the Redis server at (host, port) receives, from ``MONITOR`` on a
    connection of the test's own (with ``AUTH`` when the server has a password)."""

    def __init__(self, host: str, port: int, password: str | None = None) -> None:
        self.sock = socket.create_connection((host, port), timeout=5)
        if password:
            self.sock.sendall(f"AUTH {password}\r\n".encode())
            assert self.sock.recv(64).startswith(b"+OK")
        self.sock.sendall(b"MONITOR\r\n")
        assert self.sock.recv(64).startswith(b"+OK")
        self.seen = bytearray()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        self.sock.settimeout(None)
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.seen += data

    def commands(self) -> list[str]:
        """The command names seen (``"ping"``, ``"get"``), lower case, in order."""
        time.sleep(0.3)
        out = []
        for line in bytes(self.seen).decode("utf-8", "replace").splitlines():
            if line.startswith("+") and '"' in line:
                out.append(line.split('"')[1].lower())
        return out

    def close(self) -> None:
        self.sock.close()


def start_memcached(address: str, log_dir: Path, port: int = 11211) -> tuple[Running, Path]:
    """memcached on ``address`` with ``-vv`` (every command it reads, on stderr), on its own
    port 11211 by default (in the test's namespace nothing else holds it): the probe knows
    memcached by that port, since memcached closes on ``GET`` without a word."""
    log = log_dir / f"memcached-{port}.log"
    args = ["memcached", "-u", "nobody", "-l", address, "-p", str(port), "-U", "0", "-vv"]
    return _start(args, address, port, log), log


def start_uvicorn_app(app: str, address: str, log_dir: Path, env: dict[str, str]) -> Running:
    """``uvicorn tests.support.risky_apps:APP`` on ``address``."""
    port = free_port(address)
    args = [sys.executable, "-m", "uvicorn", f"tests.support.risky_apps:{app}"]
    args += ["--host", address, "--port", str(port), "--log-level", "warning"]
    return _start(args, address, port, log_dir / f"uvicorn-{port}.log", env=env)


def start_flask_debugger(address: str, log_dir: Path) -> Running:
    """``flask run --debug`` (Werkzeug's debugger, its console at /console)."""
    port = free_port(address)
    args = [sys.executable, "-m", "flask", "--app", "tests.support.risky_apps:flask_app"]
    args += ["run", "--debug", "--no-reload", "--host", address, "--port", str(port)]
    return _start(args, address, port, log_dir / f"flask-{port}.log")


def start_websockets(address: str, log_dir: Path, origins: bool) -> Running:
    """A ``websockets`` echo server; with ``origins`` it accepts only
    ``http://localhost:3000`` as Origin (its ``origins=`` allow-list)."""
    port = free_port(address)
    args = [sys.executable, "-m", "tests.support.risky_apps", "websockets", address, str(port)]
    args += ["origins" if origins else "any"]
    return _start(args, address, port, log_dir / f"websockets-{port}.log")


def start_standin(kind: str, address: str, log_dir: Path) -> Running:
    """A small HTTP server answering as ``kind`` (``ollama`` or ``elasticsearch``) documents."""
    port = free_port(address)
    args = [sys.executable, "-m", "tests.support.risky_apps", kind, address, str(port)]
    return _start(args, address, port, log_dir / f"{kind}-{port}.log")


def vite_ready() -> str | None:
    """Why Vite cannot run here (no node, no ``npm ci`` done), or ``None``."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (VITE / "node_modules" / "vite" / "bin" / "vite.js").exists():
        return "tests/support/vite has no node_modules: run `npm ci` there (.ci/run does)"
    return None


def start_vite(address: str, log_dir: Path, any_host: bool) -> Running:
    """Vite's dev server (tests/support/vite, from its lockfile) on ``address``; with
    ``any_host`` its ``server.allowedHosts`` is ``true`` (the host check off)."""
    port = free_port(address)
    args = ["node", "node_modules/vite/bin/vite.js", "--host", address, "--port", str(port)]
    args += ["--strictPort"]
    env = {"NETDASH_VITE_ANY_HOST": "1" if any_host else ""}
    return _start(args, address, port, log_dir / f"vite-{port}.log", env=env, cwd=VITE)


def dockerd_ready() -> str | None:
    """Why a private dockerd cannot run here, or ``None``."""
    if shutil.which("dockerd") is None:
        return "dockerd (docker.io) is not installed"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


def start_dockerd(log_dir: Path) -> tuple[Running, Path]:
    """A private dockerd serving its API on ``tcp://127.0.0.1:PORT`` (as ``-H tcp://`` does):
    in a mount namespace of its own with a tmpfs ``/run``, data and exec roots under
    ``log_dir``, its unix socket there too, no iptables, no bridge. The caller's network
    namespace (the test's private one) is the one it listens in."""
    port = free_port("127.0.0.1")
    root = Path(tempfile.mkdtemp(dir=log_dir, prefix="docker-"))
    command = (
        "mount -t tmpfs tmpfs /run && exec dockerd"
        f" --data-root {root}/data --exec-root {root}/exec --pidfile {root}/pid"
        f" -H unix://{root}/docker.sock -H tcp://127.0.0.1:{port}"
        " --iptables=false --ip6tables=false --bridge=none"
    )
    log = log_dir / f"dockerd-{port}.log"
    args = ["unshare", "-m", "--propagation", "private", "sh", "-c", command]
    return _start(args, "127.0.0.1", port, log, timeout=60), log
