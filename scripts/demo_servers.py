"""Start the demo servers used for screenshots and manual tries, then wait for Ctrl-C.

Run it only inside a private network namespace with a veth "v0" holding 198.18.0.1 (see
README, "Trying it safely"); it refuses to start elsewhere. Needs the test extras
(``pip install '.[test]'``) for uvicorn and FastAPI.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.netns import LAN_V4
from tests.support.servers import (
    Running,
    start_http_server,
    start_raw_peer,
    start_uvicorn,
)


def start_demo() -> list[Running]:
    """The demo machine: one server for each binding shape netdash tells apart."""
    return [
        start_uvicorn("0.0.0.0", 8000, workers=2),  # the classic accident: --host 0.0.0.0
        start_http_server("127.0.0.1", 8001),  # safe: loopback only
        start_http_server("::1", 5173),  # Vite-style: IPv6 loopback only
        start_http_server("::", 8888),  # Jupyter --ip='*': every interface, both families
        start_http_server(LAN_V4, 9000),  # bound to the LAN address only
        start_raw_peer("0.0.0.0", 2222, greeting=b"SSH-2.0-OpenSSH_9.6\r\n"),
        start_raw_peer("127.0.0.1", 7000),  # accepts, never answers
    ]


def main() -> None:
    if os.environ.get("NETDASH_DEMO_ANYWHERE") != "1" and "v0" not in {
        name for _, name in socket.if_nameindex()
    }:
        sys.exit("refusing to start outside a private namespace (see README, 'Trying it safely')")
    # SIGTERM (`kill`), SIGHUP (a closed terminal) and SIGINT (Ctrl-C) all end the demo the
    # same way: through the finally below, which stops every server it started. Python's
    # default SIGTERM ends the process at once and left the servers (and the namespace) alive.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    servers: list[Running] = []
    try:
        servers = start_demo()
        print("demo servers:", ", ".join(f"{s.address}:{s.port}" for s in servers), flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
