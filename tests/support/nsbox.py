"""Extra network namespaces for tests: a "host" whose rules die with it, a "phone" on its LAN,
a "container" joined by its own veth.

A :class:`Box` is a sleeping process started with ``unshare -n`` (and ``-m`` with a tmpfs on
``/run`` when asked); the namespace lives as long as that process. Nothing here touches the
machine's own ``/run/netns`` (no ``ip netns add``) or its firewall: commands run inside with
``nsenter -t PID -n [-m]``. Addresses come from 198.18.0.0/15 (RFC 2544) and 10.99.0.0/24
(a link between two boxes that exist only here).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

__all__ = ["Box", "box", "connect", "missing", "veth", "wait_listening"]


def missing() -> str | None:
    """Why boxes cannot be made here, or ``None``."""
    if os.uname().sysname != "Linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (unshare -n)"
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"the `{tool}` command is missing"
    return None


@dataclass
class Box:
    """A network namespace held by ``process`` (``unshare -n [-m] sleep``)."""

    process: subprocess.Popen[bytes]
    mount: bool = False
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def prefix(self, mount: bool | None = None) -> list[str]:
        """``nsenter`` arguments that run a command in this namespace (and its mount namespace
        when it has one and ``mount`` is not False)."""
        args = ["nsenter", "-t", str(self.pid), "-n"]
        if self.mount if mount is None else mount:
            args.append("-m")
        return args

    def run(
        self, *args: str, check: bool = True, timeout: float = 30, mount: bool | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` inside; raises ``CalledProcessError`` (with its stderr) when ``check``."""
        result = subprocess.run(
            [*self.prefix(mount), *args], capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, args, result.stdout, result.stderr
            )
        return result

    def ip(self, *args: str) -> None:
        self.run("ip", *args, mount=False)

    def spawn(self, *args: str, mount: bool | None = None, **kw: object) -> subprocess.Popen[bytes]:
        """Start ``args`` inside, in the background; stopped when the box closes."""
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        child = subprocess.Popen([*self.prefix(mount), *args], **kw)  # type: ignore[call-overload]
        self.children.append(child)
        return child  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()
        for child in reversed([*self.children, self.process]):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


@contextlib.contextmanager
def box(mount: bool = False, forward: bool = False) -> Iterator[Box]:
    """A fresh network namespace with loopback up (and a private mount namespace with a tmpfs
    on ``/run`` when ``mount``; IPv4 forwarding on when ``forward``)."""
    script = "ip link set lo up"
    if mount:
        script += " && mount -t tmpfs -o mode=755 tmpfs /run"
    if forward:
        script += " && echo 1 > /proc/sys/net/ipv4/ip_forward"
    script += " && echo ready && exec sleep infinity"
    args = ["unshare", "-n", *(["-m", "--propagation", "private"] if mount else [])]
    process = subprocess.Popen([*args, "sh", "-c", script], stdout=subprocess.PIPE)
    made = Box(process, mount)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"namespace setup failed (exit {process.wait()})")
        yield made
    finally:
        made.close()


def veth(
    a: Box | None, a_name: str, a_addrs: Sequence[str], b: Box, b_name: str, b_addrs: Sequence[str]
) -> None:
    """A veth pair between ``a`` (``None``: the caller's namespace) and ``b``, addresses given
    with their prefix length (``198.18.0.1/24``); both ends up. IPv6 addresses without DAD."""
    creator = a.ip if a is not None else _ip
    creator("link", "add", a_name, "type", "veth", "peer", "name", b_name, "netns", str(b.pid))
    for end, name, addrs in ((a, a_name, a_addrs), (b, b_name, b_addrs)):
        run = end.ip if end is not None else _ip
        for addr in addrs:
            if ":" in addr:
                run("-6", "addr", "add", addr, "dev", name, "nodad")
            else:
                run("addr", "add", addr, "dev", name)
        run("link", "set", name, "up")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


CONNECT = """
import socket, sys
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.settimeout(timeout)
try:
    s.connect((host, port))
except TimeoutError:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("error", e.errno)
else:
    print("open")
"""


def connect(peer: Box, host: str, port: int, timeout: float = 1.5) -> str:
    """What the kernel does to a new TCP connection from ``peer`` to ``host:port``: ``open``
    (connected), ``refused`` (RST or ICMP reject), ``timeout`` (dropped) or ``error N``."""
    out = peer.run(sys.executable, "-c", CONNECT, host, str(port), str(timeout), mount=False)
    return out.stdout.strip()


def wait_listening(pid: int, protocol: str, port: int, timeout: float = 20) -> None:
    """Wait until ``pid``'s network namespace has a socket listening on ``port``
    (``/proc/PID/net/{tcp,tcp6}`` state LISTEN, or UDP unconnected); raises
    ``TimeoutError``."""
    wanted = "0A" if protocol == "tcp" else "07"
    needle = f":{port:04X} "
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = ""
        for table in (protocol, protocol + "6"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as f:
                text += f.read()
        if any(needle in line and line.split()[3] == wanted for line in text.splitlines()[1:]):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {protocol} port {port} in pid {pid}'s namespace")


LISTEN = (
    "import socket, sys, time\n"
    "s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind((sys.argv[1], int(sys.argv[2])))\n"
    "s.listen(16)\n"
    "while True:\n"
    "    s.accept()[0].close()\n"
)


def listen(inside: Box, port: int, address: str = "0.0.0.0") -> subprocess.Popen[bytes]:
    """A TCP listener on ``address:port`` inside ``inside`` (accepts and closes), ready when
    this returns; stopped when the box closes."""
    server = inside.spawn(sys.executable, "-c", LISTEN, address, str(port), mount=False)
    wait_listening(server.pid, "tcp", port)
    return server


ECHO = (
    "import socket, sys\n"
    "family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
    "s = socket.socket(family, socket.SOCK_DGRAM)\n"
    "s.bind((sys.argv[1], int(sys.argv[2])))\n"
    "while True:\n"
    "    data, peer = s.recvfrom(2048)\n"
    "    s.sendto(data, peer)\n"
)


def echo_udp(inside: Box, port: int, address: str = "0.0.0.0") -> subprocess.Popen[bytes]:
    """A UDP echo server on ``address:port`` inside ``inside`` (a UDP cell needs a peer that
    answers: silence looks the same as a drop), ready when this returns."""
    server = inside.spawn(sys.executable, "-c", ECHO, address, str(port), mount=False)
    wait_listening(server.pid, "udp", port)
    return server
