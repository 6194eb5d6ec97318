"""What history costs (issue 17): the idle dashboard with history on and off, and how fast
the database grows.

Run as root from the repository root; like ``bench.run`` it moves itself into a private
network namespace first, so every listener it opens and every dashboard it starts stays there.

    python -m bench.history                  # 200 listeners, 3 rounds of 60 s windows
    python -m bench.history --idle 20 --rounds 1 --listeners 50     # quick look

Idle: two dashboards side by side in one tmux server, ``--history FILE`` and
``--no-history``, both polling every second, measured over the same window from
``/proc/PID/task/*/schedstat`` (exact on-CPU ns); then the same with one listener appearing
or disappearing every 2 s (history writes then). Growth: a store fed a simulated day at two
churn rates (:func:`growth`), file and WAL measured on disk.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.run import NETDASH, Tmux, cpu_ns, wait_for_data
from tests.support import netns

ROOT = Path(__file__).resolve().parent.parent


def _holder(specs: list[str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.holder", *specs],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()
    return process


def idle(listeners: int, seconds: float, rounds: int) -> dict[str, Any]:
    """CPU % of one core of the two dashboards over the same windows, quiet and churning."""
    held = _holder([f"tcp|{'0.0.0.0' if n % 3 else '127.0.0.1'}|0" for n in range(listeners)])
    tmp = Path(tempfile.mkdtemp(prefix="netdash-bench-history-"))
    tmux = Tmux(f"bh{time.monotonic_ns()}")
    figures: dict[str, Any] = {"listeners": listeners, "seconds": seconds, "rounds": rounds}
    try:
        pids = {
            "history on": tmux.start(
                "on", f"{NETDASH} --interval 1 --history {tmp / 'h.sqlite3'}", ROOT
            ),
            "history off": tmux.start("off", f"{NETDASH} --interval 1 --no-history", ROOT),
        }
        for window in ("on", "off"):
            wait_for_data(tmux, window)
        time.sleep(5.0)
        for phase in ("quiet", "churn"):
            samples: dict[str, list[float]] = {name: [] for name in pids}
            for _ in range(rounds):
                before = {name: cpu_ns(pid) for name, pid in pids.items()}
                start = time.perf_counter()
                churned = 0
                if phase == "quiet":
                    time.sleep(seconds)
                else:
                    alive: subprocess.Popen[str] | None = None
                    while time.perf_counter() - start < seconds:
                        if alive is None:
                            alive = _holder(["tcp|0.0.0.0|0"])
                        else:
                            alive.terminate()
                            alive.wait()
                            alive = None
                        churned += 1
                        time.sleep(2.0)
                    if alive is not None:
                        alive.terminate()
                        alive.wait()
                elapsed = time.perf_counter() - start
                for name, pid in pids.items():
                    samples[name].append(100.0 * (cpu_ns(pid) - before[name]) / 1e9 / elapsed)
                figures.setdefault(f"{phase}_changes_per_round", churned)
            figures[phase] = {
                name: {"median_cpu_pct": statistics.median(v), "cpu_pct": v}
                for name, v in samples.items()
            }
        db = tmp / "h.sqlite3"
        figures["database_bytes_after"] = sum(
            p.stat().st_size for p in tmp.iterdir() if p.name.startswith(db.name)
        )
    finally:
        tmux.stop()
        held.terminate()
        held.wait()
    return figures


def growth(days: int = 1) -> dict[str, Any]:
    """Bytes per day of history at two churn rates, through the real store:

    - ``developer laptop``: 60 listeners, one dev server restarting every 5 minutes over 10
      working hours (appeared + disappeared), 3 in 4 on the wildcard address, and 20 probe
      runs a day of every listener (a probe event each);
    - ``busy CI runner``: 200 listeners, a test server up and down every 10 s, all day.
    """
    from netdash.core.history import Event, Seen
    from netdash.history.store import HistoryStore

    rng = random.Random(17)
    out: dict[str, Any] = {}
    for name, base, period, hours, probe_runs in (
        ("developer laptop", 60, 300.0, 10, 20),
        ("busy CI runner", 200, 10.0, 24, 0),
    ):
        tmp = Path(tempfile.mkdtemp(prefix="netdash-bench-growth-"))
        path = tmp / "h.sqlite3"
        store = HistoryStore(path)

        def seen(port: int, pid: int) -> Seen:
            wild = port % 4 != 0
            return Seen(
                "tcp",
                "0.0.0.0" if wild else "127.0.0.1",
                port,
                "all-interfaces" if wild else "loopback",
                "exposed-unverified" if wild else "local-only",
                rng.choice(["node", "python3", "uvicorn", "java", "postgres", "redis-server"]),
                pid,
                "ada",
                "shop@main",
            )

        current = {s.key: s for s in (seen(3000 + n, 1000 + n) for n in range(base))}
        at = 1_800_000_000.0
        store.record(current, at)
        events = 0
        probe_every = hours * 3600 / probe_runs if probe_runs else None
        next_probe = at + (probe_every or 0)
        end = at + days * hours * 3600
        up = False
        while at < end:
            at += period
            key = ("tcp", "0.0.0.0", 9000)
            if up:
                current.pop(key)
            else:
                current[key] = seen(9000, rng.randrange(2000, 60000))
            up = not up
            events += len(store.record(dict(current), at))
            if probe_every and at >= next_probe:
                next_probe += probe_every
                extra = [
                    Event(at, "probe", s.protocol, s.address, s.port, s.scope, s.verdict,
                          program=s.program, pid=s.pid, user=s.user, project=s.project,
                          detail="loopback 127.0.0.1 http 200 · lan 198.18.0.1 http 200")
                    for s in current.values()
                ]  # fmt: skip
                events += len(store.record(dict(current), at, extra=extra))
        store.close()
        size = sum(p.stat().st_size for p in tmp.iterdir())
        out[name] = {
            "events_per_day": events // days,
            "bytes_per_day": size // days,
            "bytes_per_event": round(size / max(events, 1)),
            "days_to_100_mb": round(100 * 1024 * 1024 / (size / days)),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    problem = netns.enter()
    if problem:
        sys.exit(f"bench.history: needs a private network namespace: {problem}")
    figures = {
        "idle": idle(args.listeners, args.idle, args.rounds),
        "growth": growth(),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
