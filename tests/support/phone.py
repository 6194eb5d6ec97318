"""A "phone" on the test LAN: a second network namespace holding the far end of the veth.

The test namespace (tests/support/netns.py) has ``v0`` (198.18.0.1/24, 2001:db8::1/64) and its
peer ``v1``. :class:`Phone` starts a helper process in a new network namespace (``unshare -n``),
moves ``v1`` into it with the phone's own addresses (198.18.0.2, 2001:db8::2), and answers
"did this connect?" for batches of targets: a TCP connect, or a UDP datagram answered by an echo
server (silence looks the same as a drop). What the kernel did there is what a real device on
that network would see. :meth:`Phone.close` moves ``v1`` back (destroying the phone's namespace
would destroy the veth pair, ``v0`` with it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

PHONE_V4 = "198.18.0.2"
PHONE_V6 = "2001:db8::2"
PEER = "v1"
TIMEOUT = 1.0

# The helper inside the phone's namespace: one JSON list of [protocol, address, port] per line
# in, one JSON list of booleans (connected / answered) per line out; targets run concurrently.
_HELPER = r"""
import json, socket, sys, threading
def probe(proto, addr, port, timeout):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(fam, kind)
    s.settimeout(timeout)
    try:
        if proto == "tcp":
            s.connect((addr, port))
            return True
        s.sendto(b"netdash-oracle", (addr, port))
        data, _ = s.recvfrom(64)
        return data == b"netdash-oracle"
    except OSError:
        return False
    finally:
        s.close()
print("ready", flush=True)
for line in sys.stdin:
    targets, timeout = json.loads(line)
    out = [False] * len(targets)
    def run(i, t):
        out[i] = probe(t[0], t[1], t[2], timeout)
    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(out), flush=True)
"""


def _ip(*args: str, pid: int | None = None) -> None:
    argv = ["ip", *args]
    if pid is not None:
        argv = ["nsenter", "-t", str(pid), "-n", *argv]
    subprocess.run(argv, check=True, capture_output=True, text=True)


class Phone:
    """The phone's namespace and its helper process (started by the constructor; call
    :meth:`close`). Needs root and the test namespace (``v1`` present); ``host``: the pid of a
    process in another namespace that holds ``v0``/``v1`` instead (tests/support/nsbox.py)."""

    def __init__(self, host: int | None = None) -> None:
        self.host = host
        self.process = subprocess.Popen(
            ["unshare", "-n", sys.executable, "-u", "-c", _HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the phone's helper did not start")
        pid = self.process.pid
        _ip("link", "set", PEER, "netns", str(pid), pid=host)
        _ip("link", "set", "lo", "up", pid=pid)
        _ip("addr", "add", f"{PHONE_V4}/24", "dev", PEER, pid=pid)
        _ip("-6", "addr", "add", f"{PHONE_V6}/64", "dev", PEER, "nodad", pid=pid)
        _ip("link", "set", PEER, "up", pid=pid)

    def reach(
        self, targets: Sequence[tuple[str, str, int]], timeout: float = TIMEOUT
    ) -> list[bool]:
        """For each ``(protocol, address, port)``: whether a TCP connection was established or
        a UDP datagram was echoed, from the phone, within ``timeout`` seconds."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([list(targets), timeout]) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the phone's helper ended")
        return [bool(x) for x in json.loads(line)]

    def close(self) -> None:
        """Move ``v1`` back into the test namespace (up, without address) and end the
        helper."""
        pid = self.process.pid
        try:
            _ip("link", "set", PEER, "netns", str(self.host or os.getpid()), pid=pid)
            _ip("link", "set", PEER, "up", pid=self.host)
        finally:
            if self.process.stdin is not None:
                self.process.stdin.close()
            if self.process.stdout is not None:
                self.process.stdout.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
