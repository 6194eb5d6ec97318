"""Deterministic data for SVG snapshot tests: a typical developer machine, frozen."""

from __future__ import annotations

from netdash.core.model import Interface, Listener, Outcome, ProbeResult, Process, Snapshot, Via

TAKEN_AT = 1_795_000_000.0  # fixed, shown as "unchanged since HH:MM:SS" (tests set TZ=UTC)


def proc(pid: int, name: str, *cmdline: str, ppid: int = 1, user: str = "dev") -> Process:
    return Process(pid=pid, name=name, user=user, cmdline=cmdline, create_time=1.0, ppid=ppid)


GUNICORN = (
    proc(3000, "gunicorn", "gunicorn", "-w", "3", "app:app"),
    *(proc(3001 + n, "gunicorn", "gunicorn", "-w", "3", "app:app", ppid=3000) for n in range(3)),
)
SSHD = (proc(800, "sshd", "sshd", "-D", user="root"),)

SNAPSHOT = Snapshot(
    hostname="devbox",
    interfaces=(
        Interface("lo", True, ("127.0.0.1", "::1"), is_loopback=True),
        Interface("wlan0", True, ("192.168.1.100", "2001:db8::100", "fe80::1%wlan0")),
        Interface("docker0", False, ("172.17.0.1",)),
    ),
    listeners=(
        Listener("tcp", "0.0.0.0", 22, 4, SSHD, inode=11),
        Listener("tcp", "::", 22, 6, SSHD, inode=12, dual_stack=False),
        Listener("tcp", "127.0.0.1", 5000, 4, GUNICORN, inode=13),
        Listener("tcp", "::1", 5173, 6, (proc(7070, "node", "node", "vite"),), inode=14),
        Listener("tcp", "127.0.0.1", 5432, 4, (Process(pid=None, user="postgres"),), inode=15),
        Listener("udp", "0.0.0.0", 5353, 4, (proc(600, "avahi-daemon", user="avahi"),), inode=16),
        Listener(
            "tcp", "0.0.0.0", 8000, 4, (proc(4242, "uvicorn", "uvicorn", "app:app"),), inode=17
        ),
        Listener(
            "tcp", "127.0.0.1", 8001, 4, (proc(4343, "[bold]flask[/]", "flask", "run"),), inode=18
        ),
        Listener(
            "tcp",
            "::",
            8888,
            6,
            (proc(5151, "jupyter-lab", "jupyter-lab"),),
            inode=19,
            dual_stack=True,
        ),
        Listener(
            "tcp", "192.168.1.100", 9000, 4, (proc(6060, "python3", "python3", "-m"),), inode=20
        ),
    ),
    taken_at=TAKEN_AT,
    partial_reasons=("1 listener's owner is unknown (run as root to see them)",),
    default_route_interfaces=("wlan0",),
    source="sock_diag",
)


def _result(
    listener: Listener,
    via: Via,
    target: str,
    outcome: Outcome,
    status: int | None = None,
    server: str | None = None,
    **extra: str,
) -> ProbeResult:
    url = (
        f"http://[{target}]:{listener.port}/"
        if ":" in target
        else f"http://{target}:{listener.port}/"
    )
    return ProbeResult(
        listener.key,
        via,
        target,
        url,
        outcome,
        3.2,
        status,
        server,
        probed_at=TAKEN_AT - 12,
        **extra,  # type: ignore[arg-type]
    )


def probe_results() -> list[ProbeResult]:
    li = {(x.protocol, x.address, x.port): x for x in SNAPSHOT.listeners}
    ssh4, ssh6 = li["tcp", "0.0.0.0", 22], li["tcp", "::", 22]
    guni, vite = li["tcp", "127.0.0.1", 5000], li["tcp", "::1", 5173]
    pg = li["tcp", "127.0.0.1", 5432]
    uv, flask = li["tcp", "0.0.0.0", 8000], li["tcp", "127.0.0.1", 8001]
    jup, spec = li["tcp", "::", 8888], li["tcp", "192.168.1.100", 9000]
    lan4, lan6 = "192.168.1.100", "2001:db8::100"
    ssh = {"banner": "SSH-2.0-OpenSSH_9.6", "identified": "ssh"}
    fastapi = {"identified": "FastAPI (uvicorn)", "docs": "/docs", "evidence": "Server: uvicorn"}
    jupyter = {"identified": "Jupyter", "location": "/lab?"}
    return [
        _result(ssh4, Via.LOOPBACK, "127.0.0.1", Outcome.BANNER, **ssh),
        _result(ssh4, Via.LAN, lan4, Outcome.BANNER, **ssh),
        _result(ssh6, Via.LOOPBACK, "::1", Outcome.BANNER, **ssh),
        _result(ssh6, Via.LAN, lan6, Outcome.BANNER, **ssh),
        _result(
            guni, Via.LOOPBACK, "127.0.0.1", Outcome.HTTP, 200, "gunicorn", identified="gunicorn"
        ),
        _result(guni, Via.LAN, lan4, Outcome.REFUSED),
        _result(vite, Via.LOOPBACK, "::1", Outcome.HTTP, 200, identified="Vite"),
        _result(vite, Via.LAN, lan6, Outcome.REFUSED),
        _result(pg, Via.LOOPBACK, "127.0.0.1", Outcome.NOT_HTTP, identified="postgresql"),
        _result(pg, Via.LAN, lan4, Outcome.REFUSED),
        _result(uv, Via.LOOPBACK, "127.0.0.1", Outcome.HTTP, 200, "uvicorn", **fastapi),
        _result(uv, Via.LAN, lan4, Outcome.HTTP, 200, "uvicorn", **fastapi),
        _result(
            flask,
            Via.LOOPBACK,
            "127.0.0.1",
            Outcome.HTTP,
            200,
            "Werkzeug/3.0.1 Python/3.12",
            identified="Flask (Werkzeug)",
        ),
        _result(flask, Via.LAN, lan4, Outcome.REFUSED),
        _result(jup, Via.LOOPBACK, "::1", Outcome.HTTP, 302, "TornadoServer/6.4", **jupyter),
        _result(jup, Via.LOOPBACK, "127.0.0.1", Outcome.HTTP, 302, "TornadoServer/6.4", **jupyter),
        _result(jup, Via.LAN, lan6, Outcome.HTTP, 302, "TornadoServer/6.4", **jupyter),
        _result(jup, Via.LAN, lan4, Outcome.HTTP, 302, "TornadoServer/6.4", **jupyter),
        _result(spec, Via.LOOPBACK, "127.0.0.1", Outcome.REFUSED),
        _result(
            spec,
            Via.LAN,
            lan4,
            Outcome.HTTP,
            200,
            "SimpleHTTP/0.6 Python/3.12",
            identified="Python http.server",
        ),
    ]
