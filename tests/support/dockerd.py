"""A private Docker Engine for tests: ``dockerd`` inside a namespace box of its own.

The box (:mod:`tests.support.nsbox`) has its own network namespace and mount namespace with a
tmpfs on ``/run``, so the daemon's NAT and filter rules (``--iptables``), its bridge
``docker0``, its ``/run/docker`` and its containerd live and die there; data-root, exec-root,
pidfile and the API socket are under a temporary directory. No registry is contacted: the one
image is ``busybox-static`` and its links, imported with ``docker import``.

Usage::

    with nsbox.box(mount=True) as host, PrivateDocker(host, tmp_path) as docker:
        docker.run_web("web", 8080)           # docker run -d -p 8080:80 IMG httpd -f -p 80
        docker.env                             # {"DOCKER_HOST": "unix://…/docker.sock"}
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.support.nsbox import Box

__all__ = ["IMAGE", "PrivateDocker", "missing"]

IMAGE = "netdash-busybox"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
APPLETS = ("sh", "httpd", "sleep", "nc", "ls", "cat")


def missing() -> str | None:
    """Why a private dockerd cannot start here (no dockerd, docker CLI or static busybox)."""
    for tool in ("dockerd", "docker"):
        if shutil.which(tool) is None:
            return f"`{tool}` is missing (apt-get install docker.io)"
    if _busybox() is None:
        return "busybox-static is missing (apt-get install busybox-static)"
    return None


def _busybox() -> str | None:
    for path in BUSYBOX_CANDIDATES:
        try:
            with open(path, "rb") as f:
                head = f.read(8192)
        except OSError:
            continue
        if head.startswith(b"\x7fELF") and b"/ld-linux" not in head and b"/ld-musl" not in head:
            return path  # no program interpreter: static
    return None


class PrivateDocker:
    """``dockerd`` in ``host`` (a :class:`~tests.support.nsbox.Box` with ``mount=True``),
    with everything under ``tmp``. ``start_seconds`` is the wall time from launch until the
    API answered. ``userland_proxy`` chooses ``--userland-proxy`` (``True``: a docker-proxy
    process holds each published host port; ``False``: dockerd holds a placeholder socket
    and NAT does the rest)."""

    def __init__(self, host: Box, tmp: Path, userland_proxy: bool = True) -> None:
        self.host = host
        self.tmp = tmp
        self.userland_proxy = userland_proxy
        # Unix socket paths are limited to 108 bytes: the API socket and the exec-root (which
        # holds containerd's socket) go under a short directory of their own.
        self.short = Path(tempfile.mkdtemp(prefix="ndk", dir="/tmp"))
        self.sock = self.short / "docker.sock"
        self.start_seconds = 0.0
        self.storage = "overlay2"
        self.daemon: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment that points a client (netdash, docker) at this daemon."""
        return {"DOCKER_HOST": f"unix://{self.sock}"}

    def __enter__(self) -> PrivateDocker:
        try:
            self._start("overlay2")
        except RuntimeError:
            self._stop()
            self._start("vfs")  # overlay on overlay (or on tmpfs) can fail: vfs always works
        self._import_image()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()
        shutil.rmtree(self.short, ignore_errors=True)

    def _start(self, storage: str) -> None:
        self.storage = storage
        root = self.tmp / f"docker-{storage}"
        root.mkdir(parents=True, exist_ok=True)
        log = open(root / "dockerd.log", "wb")  # noqa: SIM115 (the daemon's, closed with it)
        started = time.monotonic()
        self.daemon = self.host.spawn(
            "dockerd",
            "--data-root", str(root / "data"),
            "--exec-root", str(self.short / f"x{storage[0]}"),
            "--pidfile", str(root / "dockerd.pid"),
            "-H", f"unix://{self.sock}",
            "--storage-driver", storage,
            "--iptables=true",
            f"--userland-proxy={'true' if self.userland_proxy else 'false'}",
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = started + 60
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                tail = (root / "dockerd.log").read_text(errors="replace")[-800:]
                raise RuntimeError(f"dockerd exited ({self.daemon.returncode}): {tail}")
            if self.sock.exists() and self._answers():
                self.start_seconds = time.monotonic() - started
                return
            time.sleep(0.1)
        raise RuntimeError("dockerd did not answer within 60 s")

    def _answers(self) -> bool:
        """True when the API answers ``GET /_ping`` (a socket that exists may not accept yet)."""
        import socket

        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            try:
                s.connect(str(self.sock))
                s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.")
            except OSError:
                return False

    def _import_image(self) -> None:
        busybox = _busybox()
        assert busybox is not None
        folder = self.tmp / "image"
        (folder / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy(busybox, folder / "bin" / "busybox")
        for applet in APPLETS:
            link = folder / "bin" / applet
            if not link.exists():
                link.symlink_to("busybox")
        tar = subprocess.run(["tar", "-C", str(folder), "-c", "."], capture_output=True, check=True)
        self.docker("import", "-", IMAGE, input=tar.stdout)

    def docker(
        self, *args: str, check: bool = True, timeout: float = 60, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """The docker CLI against this daemon (run from here: it needs only the socket)."""
        result = subprocess.run(
            ["docker", "-H", f"unix://{self.sock}", *args],
            capture_output=True,
            timeout=timeout,
            input=input,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.decode(errors='replace')}")
        return result

    def run_web(self, name: str, host_port: int, container_port: int = 80) -> dict[str, str]:
        """``docker run -d --name NAME -p HOST_PORT:CONTAINER_PORT IMAGE httpd -f -p PORT``;
        returns ``{"id", "ip", "pid"}`` once the container's httpd listens."""
        self.docker(
            "run", "-d", "--name", name, "-p", f"{host_port}:{container_port}",
            IMAGE, "/bin/httpd", "-f", "-p", str(container_port),
        )  # fmt: skip
        info = json.loads(self.docker("inspect", name).stdout)[0]
        ip = info["NetworkSettings"]["IPAddress"]
        pid = str(info["State"]["Pid"])
        deadline = time.monotonic() + 20
        hex_port = f":{container_port:04X} "
        while time.monotonic() < deadline:
            tables = (
                Path(f"/proc/{pid}/net/tcp").read_text() + Path(f"/proc/{pid}/net/tcp6").read_text()
            )
            if any(hex_port in line and line.split()[3] == "0A" for line in tables.splitlines()):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"container {name}: nothing listens on port {container_port}")
        return {"id": info["Id"], "ip": ip, "pid": pid}

    def _stop(self) -> None:
        if self.daemon is None:
            return
        if self.daemon.poll() is None:
            ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
            if ids:
                self.docker("rm", "-f", *(i.decode() for i in ids), check=False, timeout=60)
            self.daemon.terminate()
            try:
                self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.daemon = None
