"""A process that binds the sockets described on its command line and holds them.

Usage: python -m tests.support.holder SPEC [SPEC ...]
SPEC is ``proto|address|port|option,...`` (port 0: any free port) with options ``v6only``,
``dual``, ``reuseport``, ``freebind``, ``connect=ADDR:PORT`` (UDP: connected, so not a
listener), ``fork=N`` (N children inherit every socket: a pre-fork server), ``user=NAME``
(drop to that user after binding).
Prints ``ready PID PORT...`` (the bound ports in order) and sleeps until killed.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import sys


def bind(spec: str) -> tuple[socket.socket, list[str]]:
    proto, address, port_text, *rest = spec.split("|")
    options = [o for o in (rest[0].split(",") if rest else []) if o]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if "reuseport" in options:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if "v6only" in options:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if "dual" in options:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if "freebind" in options:
        s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND
    host, _, zone = address.partition("%")
    if zone:
        s.bind((host, int(port_text), 0, socket.if_nametoindex(zone)))
    else:
        s.bind((address, int(port_text)))
    for option in options:
        if option.startswith("connect="):
            target = option[len("connect=") :]
            h, p = target.rsplit(":", 1)
            s.connect((h.strip("[]"), int(p)))
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    return s, options


def main() -> None:
    held = []
    options: list[str] = []
    for spec in sys.argv[1:]:
        s, opts = bind(spec)
        held.append(s)
        options += opts
    children: list[int] = []
    for option in options:
        if option.startswith("fork="):
            for _ in range(int(option[5:])):
                child = os.fork()
                if child == 0:
                    signal.pause()
                    os._exit(0)
                children.append(child)

    def stop(*_: object) -> None:
        for child in children:
            os.kill(child, signal.SIGKILL)
        os._exit(0)

    for option in options:
        if option.startswith("user="):
            entry = pwd.getpwnam(option[5:])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
    ports = " ".join(str(s.getsockname()[1]) for s in held)
    print(f"ready {os.getpid()} {ports}", flush=True)
    signal.signal(signal.SIGTERM, stop)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
