"""Build a benchmark scenario: L listening sockets over K processes and C established loopback
connections held by other processes, inside the caller's (private) network namespace.

Shapes of the listeners, by index modulo 20: 8 on ``127.0.0.1``, 4 on ``0.0.0.0``, 2 on
``::1``, 2 dual-stack ``::``, 1 IPv6-only ``::``, 1 on the namespace's LAN address, 2 UDP
(``127.0.0.1`` and ``0.0.0.0``). Connections go from client processes to ``accept`` servers
on ``127.0.0.1``, at most :data:`PER_PROCESS` per process so each stays far under its
RLIMIT_NOFILE (raised by the worker to fit).

Use only after entering a private network namespace (``tests.support.netns.enter``): every
address here is loopback or the namespace's own test LAN address.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import netns

__all__ = ["SCALES", "Scale", "Scenario", "build", "build_probe_targets"]

PER_PROCESS = 4000
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scale:
    """``listeners`` sockets (all shapes, UDP included) over ``processes`` holders, plus
    ``connections`` established loopback TCP connections."""

    name: str
    listeners: int
    connections: int
    processes: int


SCALES: dict[str, Scale] = {
    "small": Scale("small", 50, 200, 5),
    "tui200": Scale("tui200", 200, 200, 10),
    "medium": Scale("medium", 1_000, 8_000, 20),
    "large": Scale("large", 4_000, 30_000, 40),
    "huge": Scale("huge", 20_000, 0, 20),  # issue 18: the dashboard at 20,000 listeners
}

_SHAPES: list[dict[str, Any]] = (
    [{"proto": "tcp", "addr": "127.0.0.1"}] * 8
    + [{"proto": "tcp", "addr": "0.0.0.0"}] * 4
    + [{"proto": "tcp", "addr": "::1"}] * 2
    + [{"proto": "tcp", "addr": "::", "v6only": False}] * 2
    + [{"proto": "tcp", "addr": "::", "v6only": True}]
    + [{"proto": "tcp", "addr": netns.LAN_V4}]
    + [{"proto": "udp", "addr": "127.0.0.1"}, {"proto": "udp", "addr": "0.0.0.0"}]
)


@dataclass
class Scenario:
    """The running processes of one scenario; :meth:`stop` ends them all."""

    scale: Scale
    pids: list[int] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)  # every listener port, in spec order
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self.procs.clear()

    def __enter__(self) -> Scenario:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _spawn(spec: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.worker", json.dumps(spec)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _ready(procs: list[subprocess.Popen[str]], timeout: float = 120.0) -> list[list[int]]:
    """Wait for each worker's ``ready PID PORT...`` line; returns ``[[pid, port...], ...]``."""
    deadline = time.monotonic() + timeout
    out = []
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if not line or line[0] != "ready" or time.monotonic() > deadline:
            raise RuntimeError(f"worker {proc.args!r} did not start: {line}")
        out.append([int(x) for x in line[1:]])
    return out


def tune_namespace() -> None:
    """Widen the namespace's ephemeral port range: tens of thousands of port-0 binds and
    connections need more than the default 28k ports. Per network namespace, so harmless."""
    Path("/proc/sys/net/ipv4/ip_local_port_range").write_text("10000 65000\n")


def build(scale: Scale) -> Scenario:
    """Start the processes of ``scale`` and wait until every socket exists."""
    scenario = Scenario(scale)
    try:
        servers = -(-scale.connections // PER_PROCESS) if scale.connections else 0
        # Connection servers first; their listeners count towards ``scale.listeners``.
        server_procs = [
            _spawn(
                {
                    "listen": [{"proto": "tcp", "addr": "127.0.0.1", "mode": "accept"}],
                    "nofile": PER_PROCESS + 256,
                }
            )
            for _ in range(servers)
        ]
        scenario.procs += server_procs
        server_ports = [entry[1] for entry in _ready(server_procs)]
        plain = scale.listeners - servers
        per_proc: list[list[dict[str, Any]]] = [[] for _ in range(scale.processes)]
        for i in range(plain):
            per_proc[i % scale.processes].append({**_SHAPES[i % len(_SHAPES)], "mode": "idle"})
        holders = [
            _spawn({"listen": items, "nofile": len(items) + 256}) for items in per_proc if items
        ]
        left = scale.connections
        clients = []
        for port in server_ports:
            count = min(PER_PROCESS, left)
            left -= count
            clients.append(
                _spawn(
                    {
                        "connect": [{"host": "127.0.0.1", "port": port, "count": count}],
                        "nofile": count + 256,
                    }
                )
            )
        scenario.procs += holders + clients
        for entry in _ready(holders + clients):
            scenario.pids.append(entry[0])
            scenario.ports += entry[1:]
        scenario.ports += server_ports
        scenario.pids += [p.pid for p in server_procs]
    except BaseException:
        scenario.stop()
        raise
    return scenario


def build_probe_targets(total: int = 1000, silent: int = 100, loopback_only: int = 100) -> Scenario:
    """``total`` TCP listeners for the probe benchmark over 10 processes: ``silent`` accept and
    never answer (on ``0.0.0.0``), ``loopback_only`` answer HTTP on ``127.0.0.1`` (so their
    LAN probe is refused), the rest answer HTTP on ``0.0.0.0``."""
    items: list[dict[str, Any]] = []
    for i in range(total):
        if i < silent:
            items.append({"proto": "tcp", "addr": "0.0.0.0", "mode": "silent"})
        elif i < silent + loopback_only:
            items.append({"proto": "tcp", "addr": "127.0.0.1", "mode": "http"})
        else:
            items.append({"proto": "tcp", "addr": "0.0.0.0", "mode": "http"})
    scenario = Scenario(Scale("probe", total, 0, 10))
    try:
        groups = [items[i::10] for i in range(10)]
        scenario.procs += [_spawn({"listen": g, "nofile": len(g) + 4096}) for g in groups]
        for entry in _ready(scenario.procs):
            scenario.pids.append(entry[0])
            scenario.ports += entry[1:]
    except BaseException:
        scenario.stop()
        raise
    return scenario


if __name__ == "__main__":  # manual check: python -m bench.scenario small (as root)
    reason = netns.enter()
    if reason:
        sys.exit(f"cannot enter a private network namespace: {reason}")
    tune_namespace()
    with build(SCALES[sys.argv[1] if len(sys.argv) > 1 else "small"]) as sc:
        print(f"{len(sc.ports)} listener ports over {len(sc.procs)} processes")
        os.system("ss -tuna | awk 'NR>1{print $1, $2}' | sort | uniq -c")
