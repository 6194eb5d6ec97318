"""``netdash free [PORT[/udp]]``: whether a TCP (or UDP) port is free on 127.0.0.1, ::1,
0.0.0.0 and :: (tried by binding it and releasing it at once), and free ports to use
instead."""

from __future__ import annotations

import psutil

from netdash.cli.common import OutputError, write
from netdash.config import Settings
from netdash.sources.freeport import port_state, suggest_ports
from netdash.sources.snapshot import collect_snapshot

__all__ = ["run"]


def run(settings: Settings) -> int:
    """Without ``settings.port``: print ``settings.count`` free ports (default 1), exit code
    0 (1 if none is found). With it: say whether it is free (0) or taken (1), and by whom,
    with ``settings.count`` free ports after it (default 3)."""
    port, count = settings.port, settings.count
    protocol = "udp" if settings.udp else "tcp"
    if port is None:
        ports = suggest_ports(count or 1, protocol=protocol)
        if not ports:
            write("no free port found\n")
            return 1
        write("".join(f"{p}\n" for p in ports))
        return 0
    try:
        state = port_state(port, protocol=protocol)
    except OSError as exc:
        raise OutputError(f"cannot try port {port}: {exc.strerror or exc}") from None
    tried = [a.address for a in state.addresses if a.state != "unavailable"]
    name = f"{port}/{protocol}"
    if state.free:
        write(f"{name} is free on {', '.join(tried)}\n")
        return 0
    taken = ", ".join(
        a.address + (" (permission denied)" if a.state == "denied" else "") for a in state.taken_on
    )
    lines = [f"{name} is taken on {taken}"]
    lines += _holders(port, protocol)
    suggestions = suggest_ports(
        count or 3, start=port + 1 if port < 65535 else 1, protocol=protocol
    )
    if suggestions:
        lines.append("free: " + " ".join(str(p) for p in suggestions))
    write("\n".join(lines) + "\n")
    return 1


def _holders(port: int, protocol: str) -> list[str]:
    """``held by …`` lines for the ``protocol`` listeners on ``port``; none when the table
    is unreadable (the bind test has already answered)."""
    from netdash.output.labels import endpoint, pid_label, process_label

    try:
        snapshot = collect_snapshot()
    except (psutil.Error, OSError):
        return []
    return [
        f"  held by {process_label(li)} (pid {pid_label(li)}) on {endpoint(li.address, li.port)}"
        for li in snapshot.listeners
        if li.protocol == protocol and li.port == port
    ]
