"""What `ss -tulnpH` reports as listeners, for comparison with netdash."""

from __future__ import annotations

import re
import subprocess

SS_LINE = re.compile(
    r"^(?P<proto>tcp|udp)\s+(?P<state>\S+)\s+\d+\s+\d+\s+(?P<local>\S+)\s+\S+\s*(?P<users>.*)$"
)


def ss_listeners() -> set[tuple[str, str, int, frozenset[int], bool | None]]:
    """(protocol, address, port, pids, dual_stack) for every listener ss reports."""
    out = subprocess.run(["ss", "-tulnpH"], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        m = SS_LINE.match(line)
        assert m, line
        local = m["local"]
        host, _, port = local.rpartition(":")
        dual: bool | None = None
        if host == "*":  # ss prints a dual-stack `::` socket as *:port
            host, dual = "::", True
        elif host == "[::]":
            host, dual = "::", False
        zone = ""
        if "%" in host:
            host, zone = host.split("%", 1)
        host = host.strip("[]") + (f"%{zone}" if zone else "")
        pids = frozenset(int(p) for p in re.findall(r"pid=(\d+)", m["users"]))
        found.add((m["proto"], host, int(port), pids, dual))
    return found
