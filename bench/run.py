"""The netdash benchmark suite (issue 7): netdash against ss, lsof and htop, same run, same state.

Run as root from the repository root; it moves itself into a private network namespace
first (``tests.support.netns.enter``), so every socket it opens, every process it starts
(tmux, htop, ss, lsof, netdash) and every probe stays inside it: only loopback and the
namespace's test LAN address (198.18.0.1, 2001:db8::1) are ever contacted.

    python -m bench.run                      # all scales, 5 repeats, 60 s idle windows
    python -m bench.run --scales small --idle 10 --repeat 3 --no-probe   # quick look
    python -m bench.run --scales medium,large --no-tui --no-probe        # netdash list only

Prints a Markdown table per part and every target of issue 7 as met / NOT MET; ``--json``
writes the raw figures. Timings are medians of ``--repeat`` runs, commands interleaved so
background load hits them alike. netdash's modules are compiled first, as ``pip install``
does (``--from-source``: the earlier sessions' condition).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.support import netns

ROOT = Path(__file__).resolve().parent.parent
Figures = dict[str, Any]


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# Snapshot cost ----------------------------------------------------------------------------


def _collect_and_classify(cache: Any) -> int:
    from netdash.core.addresses import listener_reach, scope_of
    from netdash.core.lan import choose_lan
    from netdash.sources.snapshot import collect_snapshot

    snapshot = collect_snapshot(cache)
    choose_lan(snapshot)
    for listener in snapshot.listeners:
        scope_of(listener.address)
        listener_reach(listener, snapshot.interfaces)
    return len(snapshot.listeners)


def in_process(repeat: int) -> Figures:
    """collect + classify: a first poll (fresh caches) and steady-state polls (one cache)."""
    from netdash.sources.processes import ProcessCache

    def timed(call: Callable[[], int]) -> tuple[float, float, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        n = call()
        return time.perf_counter() - wall, time.process_time() - cpu, n

    first = [timed(lambda: _collect_and_classify(ProcessCache())) for _ in range(repeat)]
    cache = ProcessCache()
    _collect_and_classify(cache)
    steady = [timed(lambda: _collect_and_classify(cache)) for _ in range(max(repeat, 5))]
    return {
        "listeners": first[0][2],
        "first_wall": _median([f[0] for f in first]),
        "first_cpu": _median([f[1] for f in first]),
        "steady_wall": _median([s[0] for s in steady]),
        "steady_cpu": _median([s[1] for s in steady]),
    }


def _run(argv: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one command, output discarded (``wait4`` on the command)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 and argv[0] != "lsof":  # lsof exits 1 when a filter matches nothing
        raise RuntimeError(f"{argv} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def _peak_rss_kib(argv: list[str]) -> int:
    """Peak RSS of ``argv`` in KiB, from one more run under ``/usr/bin/time -f %M`` (0
    without it): the kernel counts a child's RSS from before its ``exec`` (this benchmark's
    own, ~50 MB) in ``ru_maxrss``, while GNU time's child is forked from a small process."""
    if not Path("/usr/bin/time").exists():
        return 0
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", out.name, *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        text = out.read().strip().splitlines()
    return int(text[-1]) if text and text[-1].isdigit() else 0


COMMANDS: dict[str, list[str]] = {
    "netdash list --json --udp": [sys.executable, "-m", "netdash", "list", "--json", "--udp"],
    "ss -tulnp": ["ss", "-tulnp"],
    "lsof -nP -iTCP -sTCP:LISTEN": ["lsof", "-nP", "-iTCP", "-sTCP:LISTEN"],
}


def commands(repeat: int) -> Figures:
    """Each command ``repeat`` times, interleaved; medians of wall and CPU."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(repeat):
        for name, argv in COMMANDS.items():
            runs[name].append(_run(argv))
    return {
        name: {
            "wall": _median([r[0] for r in rs]),
            "cpu": _median([r[1] for r in rs]),
            "maxrss_mb": _peak_rss_kib(COMMANDS[name]) / 1024,
        }
        for name, rs in runs.items()
    }


# The TUI in tmux ---------------------------------------------------------------------------


class Tmux:
    """A tmux server of our own (``-L``), started inside the namespace."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tmux("new-session", "-d", "-s", "base", "-x", "120", "-y", "40", "sleep 100000")

    def _tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.name, "-f", "/dev/null", *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def start(self, window: str, command: str) -> int:
        """Run ``command`` in a new 120×40 window; returns its pid (the pane's process)."""
        self._tmux("new-window", "-d", "-t", "base", "-n", window, f"exec {command}")
        pid = self._tmux("display-message", "-p", "-t", f"base:{window}", "#{pane_pid}")
        return int(pid.strip())

    def capture(self, window: str) -> str:
        return self._tmux("capture-pane", "-p", "-t", f"base:{window}")

    def kill(self, window: str) -> None:
        subprocess.run(
            ["tmux", "-L", self.name, "kill-window", "-t", f"base:{window}"], capture_output=True
        )

    def stop(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True)


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


NETDASH = f"{sys.executable} -m netdash"


def wait_for_data(tmux: Tmux, window: str, timeout: float = 60.0) -> float:
    """Seconds until the window shows the status line of a finished poll."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if "polling every" in tmux.capture(window):
            return time.perf_counter() - start
        time.sleep(0.01)
    raise RuntimeError(f"no data in {window} after {timeout} s:\n{tmux.capture(window)}")


def cpu_ns(pid: int) -> int:
    """On-CPU time of every thread of ``pid`` so far, in ns (``/proc/PID/task/*/schedstat``,
    first field: exact, where utime/stime are sampled at the 100 Hz tick and overcharge
    threads that wake up often for a moment)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def idle_cpu(tmux: Tmux, pids: dict[str, int], seconds: float) -> Figures:
    """CPU % of one core of each pid over the same ``seconds`` (schedstat), and RSS before
    and after. Threads that ended during the window are not counted."""
    before = {name: cpu_ns(pid) for name, pid in pids.items()}
    rss_before = {name: status_kb(pid, "VmRSS") for name, pid in pids.items()}
    start = time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - start
    return {
        name: {
            "cpu_pct": 100.0 * (cpu_ns(pid) - before[name]) / 1e9 / elapsed,
            "rss_start_mb": rss_before[name] / 1024,
            "rss_end_mb": status_kb(pid, "VmRSS") / 1024,
            "peak_rss_mb": status_kb(pid, "VmHWM") / 1024,
        }
        for name, pid in pids.items()
    }


def tui_idle(tmux: Tmux, interval: float | None, seconds: float, htop: bool) -> Figures:
    """netdash (and htop -d 10, and a bare Textual app: Textual's own idle cost) idle side by
    side; warm-up of 5 s after the first frame."""
    window = f"nd{time.monotonic_ns()}"
    option = f" --interval {interval:g}" if interval else ""
    pids = {"netdash": tmux.start(window, NETDASH + option)}
    try:
        if htop:
            pids["htop -d 10"] = tmux.start(window + "h", "htop -d 10")
            pids["bare Textual app"] = tmux.start(
                window + "t", f"{sys.executable} -m bench.textual_floor"
            )
        first = wait_for_data(tmux, window)
        time.sleep(5.0)
        figures = idle_cpu(tmux, pids, seconds)
        figures["first_frame_s"] = first
        return figures
    finally:
        tmux.kill(window)
        tmux.kill(window + "h")
        tmux.kill(window + "t")


def first_frame_tmux(tmux: Tmux, repeat: int) -> float:
    """Median seconds from starting ``netdash`` in a tmux window to a frame showing data."""
    times = []
    for i in range(repeat):
        window = f"ff{i}"
        tmux.start(window, NETDASH)
        try:
            times.append(wait_for_data(tmux, window))
        finally:
            tmux.kill(window)
    return _median(times)


def first_frame_pilot(repeat: int) -> float:
    """Median seconds from ``run_test`` to a table with rows (in-process, imports done)."""
    from netdash.tui.app import NetdashApp
    from netdash.tui.widgets import ListenerTable

    async def once() -> float:
        app = NetdashApp()
        start = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            while app.query_one(ListenerTable).row_count == 0:
                await pilot.pause(0.005)
            return time.perf_counter() - start

    return _median([asyncio.run(once()) for _ in range(repeat)])


# Probing ---------------------------------------------------------------------------------


def probe_throughput(repeat: int) -> Figures:
    """Wall time of probing every TCP listener (loopback and LAN targets, default limits: 1 s
    connect and read timeouts), two ways: ``probe_listeners`` in this process (one core), and
    ``probe_in_processes`` (child processes, what the TUI does)."""
    from netdash.core.addresses import own_addresses
    from netdash.core.lan import choose_lan
    from netdash.probe.child import default_processes, probe_in_processes
    from netdash.probe.engine import ProbeLimits, probe_listeners
    from netdash.sources.snapshot import collect_snapshot

    snapshot = collect_snapshot()
    lan = choose_lan(snapshot)
    own = own_addresses(snapshot.interfaces)
    assert set(lan.values()) <= {netns.LAN_V4, netns.LAN_V6}, lan  # never beyond the namespace
    limits = ProbeLimits(connect_timeout=1.0, read_timeout=1.0)
    walls: list[float] = []
    child_walls: list[float] = []
    outcomes: dict[str, int] = {}
    for _ in range(repeat):
        start = time.perf_counter()
        results = asyncio.run(probe_listeners(snapshot.listeners, lan, own, limits))
        walls.append(time.perf_counter() - start)
        outcomes = {}
        for r in results:
            key = f"{r.via.value}:{r.outcome.value}"
            outcomes[key] = outcomes.get(key, 0) + 1
        start = time.perf_counter()
        in_children = asyncio.run(probe_in_processes(snapshot.listeners, lan, own, limits))
        child_walls.append(time.perf_counter() - start)
        assert len(in_children) == len(results)
    tcp = sum(1 for li in snapshot.listeners if li.protocol == "tcp")
    return {
        "listeners": tcp,
        "targets": len(results),
        "wall": _median(walls),
        "wall_processes": _median(child_walls),
        "processes": default_processes(len(results)),
        "outcomes": outcomes,
    }


def probe_latency() -> Figures:
    """Key-press latency during a full probe in the TUI (Pilot, 120x40): ``down``/``up`` every
    50 ms while the probe runs.

    ``direct``: the key event is handed to the app's driver (as a terminal would) and timed
    until the table's cursor moved and every widget had processed its messages (the repaint
    queued). ``pilot``: the same through ``Pilot.press``, which also waits until this
    process's CPU time stops advancing (``textual._wait.wait_for_idle``, up to 1 s), so it
    measures how busy the process is as much as the key. Both are also measured for 3 s
    before the probe (``idle_*``), the floor of each method."""
    from textual import events

    from netdash.tui.app import NetdashApp
    from netdash.tui.widgets import ListenerTable

    async def run() -> Figures:
        app = NetdashApp()
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(ListenerTable)
            while table.row_count == 0:
                await pilot.pause(0.01)
            await pilot.pause(0.2)
            driver = app._driver
            assert driver is not None

            def probing() -> bool:
                return any(w.group == "probe" and w.is_running for w in app.workers)

            async def press(key: str, direct: bool) -> float:
                row = table.cursor_row
                pressed = time.perf_counter()
                if direct:
                    driver.send_message(events.Key(key, None))
                else:
                    await pilot.press(key)
                while table.cursor_row == row and time.perf_counter() - pressed < 5:
                    await asyncio.sleep(0.001)
                if direct:
                    await pilot._wait_for_screen()
                return time.perf_counter() - pressed

            async def presses(until: Callable[[], bool]) -> dict[str, list[float]]:
                found: dict[str, list[float]] = {"direct": [], "pilot": []}
                n = 0
                while not until():
                    method = "direct" if n % 2 == 0 else "pilot"
                    key = "down" if (n // 2) % 2 == 0 else "up"
                    found[method].append(await press(key, method == "direct"))
                    n += 1
                    await asyncio.sleep(0.05)
                return found

            idle_start = time.perf_counter()
            idle = await presses(lambda: time.perf_counter() - idle_start > 3)
            start = time.perf_counter()
            await pilot.press("p")
            busy = await presses(
                lambda: (
                    not (probing() or time.perf_counter() - start < 0.5)
                    or time.perf_counter() - start > 60
                )
            )
            probe_wall = time.perf_counter() - start
        figures: Figures = {"probe_in_tui_s": probe_wall}
        for label, found in (("", busy), ("idle_", idle)):
            for method, latencies in found.items():
                latencies.sort()
                figures[f"{label}{method}_presses"] = len(latencies)
                figures[f"{label}{method}_p50_ms"] = 1000 * _median(latencies)
                figures[f"{label}{method}_p95_ms"] = (
                    1000 * latencies[int(0.95 * (len(latencies) - 1))]
                )
                figures[f"{label}{method}_max_ms"] = 1000 * latencies[-1]
        return figures

    return asyncio.run(run())


# The suite -------------------------------------------------------------------------------


def run_scale(name: str, args: argparse.Namespace, tmux: Tmux) -> Figures:
    from bench import scenario

    scale = scenario.SCALES[name]
    print(f"## {name}: building {scale}", file=sys.stderr, flush=True)
    with scenario.build(scale):
        figures: Figures = {"scale": scale.__dict__}
        figures["in_process"] = in_process(args.repeat)
        figures["commands"] = commands(args.repeat)
        if args.no_tui:
            pass
        elif name == "tui200":
            figures["tui"] = tui_idle(tmux, 1.0, args.idle, htop=True)
        else:
            figures["tui"] = tui_idle(tmux, None, args.idle, htop=False)
        if name == "small" and not args.no_tui:
            figures["first_frame_tmux_s"] = first_frame_tmux(tmux, args.repeat)
            figures["first_frame_pilot_s"] = first_frame_pilot(args.repeat)
    print(json.dumps(figures, indent=1), file=sys.stderr, flush=True)
    return figures


def check(label: str, ok: bool, detail: str) -> str:
    return f"- [{'met' if ok else 'NOT MET'}] {label}: {detail}"


def report(results: Figures) -> str:
    lines = []
    scales = [s for s in ("small", "tui200", "medium", "large") if s in results]
    head = "| | " + " | ".join(scales) + " |"
    lines += [head, "|---" * (len(scales) + 1) + "|"]

    def row(label: str, get: Callable[[Figures], str]) -> None:
        cells = []
        for s in scales:
            try:
                cells.append(get(results[s]))
            except (KeyError, ZeroDivisionError):
                cells.append("–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row(
        "listeners / established conns",
        lambda f: f"{f['in_process']['listeners']} / {f['scale']['connections']}",
    )
    row(
        "collect+classify, first poll: wall / CPU ms",
        lambda f: (
            f"{1000 * f['in_process']['first_wall']:.0f} / "
            f"{1000 * f['in_process']['first_cpu']:.0f}"
        ),
    )
    row(
        "collect+classify, steady poll: wall / CPU ms",
        lambda f: (
            f"{1000 * f['in_process']['steady_wall']:.1f} / "
            f"{1000 * f['in_process']['steady_cpu']:.1f}"
        ),
    )

    def command_cell(name: str) -> Callable[[Figures], str]:
        def cell(f: Figures) -> str:
            c = f["commands"][name]
            return f"{1000 * c['wall']:.0f} / {1000 * c['cpu']:.0f}"

        return cell

    for name in COMMANDS:
        row(f"`{name}`: wall / CPU ms", command_cell(name))
    ss = "ss -tulnp"
    lsof = "lsof -nP -iTCP -sTCP:LISTEN"
    lst = "netdash list --json --udp"
    row(
        "netdash list ÷ ss (wall)",
        lambda f: f"{f['commands'][lst]['wall'] / f['commands'][ss]['wall']:.2f}×",
    )
    row(
        "netdash list ÷ lsof (wall)",
        lambda f: f"{f['commands'][lst]['wall'] / f['commands'][lsof]['wall']:.2f}×",
    )
    row("netdash list peak RSS MB", lambda f: f"{f['commands'][lst]['maxrss_mb']:.0f}")
    row(
        "TUI idle CPU % of a core",
        lambda f: (
            f"{f['tui']['netdash']['cpu_pct']:.2f}"
            + (" (interval 1 s)" if "htop -d 10" in f["tui"] else " (interval 2 s)")
        ),
    )
    row("htop -d 10 CPU %, same window", lambda f: f"{f['tui']['htop -d 10']['cpu_pct']:.2f}")
    row(
        "bare Textual app CPU %, same window",
        lambda f: f"{f['tui']['bare Textual app']['cpu_pct']:.2f}",
    )
    row("TUI peak RSS MB (VmHWM)", lambda f: f"{f['tui']['netdash']['peak_rss_mb']:.0f}")
    row(
        "TUI RSS start → end of idle window MB",
        lambda f: (
            f"{f['tui']['netdash']['rss_start_mb']:.1f} → {f['tui']['netdash']['rss_end_mb']:.1f}"
        ),
    )
    row("TUI first frame with data, tmux s", lambda f: f"{f['tui']['first_frame_s']:.2f}")
    text = "\n".join(lines)

    targets = []
    tui = [s for s in scales if "tui" in results[s]]
    for s in ("medium", "large"):
        if s in results:
            c = results[s]["commands"]
            ratio = c[lst]["wall"] / c[ss]["wall"]
            targets.append(
                check(f"{s}: netdash list within 1.5× of ss", ratio <= 1.5, f"{ratio:.2f}×")
            )
            vs = c[lst]["wall"] / c[lsof]["wall"]
            targets.append(check(f"{s}: netdash list faster than lsof", vs < 1, f"{vs:.2f}×"))
    if "medium" in tui:
        pct = results["medium"]["tui"]["netdash"]["cpu_pct"]
        targets.append(check("medium: TUI idle ≤ 2 % of a core", pct <= 2, f"{pct:.2f} %"))
        rss = results["medium"]["tui"]["netdash"]["peak_rss_mb"]
        targets.append(check("medium: TUI peak RSS ≤ 80 MB", rss <= 80, f"{rss:.0f} MB"))
        t = results["medium"]["tui"]["netdash"]
        grew = t["rss_end_mb"] - t["rss_start_mb"]
        targets.append(
            check(
                "medium: nothing grows while idle (RSS over the window)",
                grew < 2,
                f"{grew:+.1f} MB",
            )
        )
    if "tui200" in tui:
        t = results["tui200"]["tui"]
        pct, htop = t["netdash"]["cpu_pct"], t["htop -d 10"]["cpu_pct"]
        targets.append(
            check("200 listeners, 1 s: TUI idle ≤ 1 % of a core", pct <= 1, f"{pct:.2f} %")
        )
        targets.append(
            check(
                "200 listeners, 1 s: TUI ≤ htop -d 10", pct <= htop, f"{pct:.2f} % vs {htop:.2f} %"
            )
        )
    if "small" in tui:
        ff = results["small"]["first_frame_tmux_s"]
        pilot = results["small"]["first_frame_pilot_s"]
        targets.append(
            check(
                "small: first frame with data ≤ 0.5 s",
                ff <= 0.5,
                f"{ff:.2f} s in tmux from exec (Pilot, imports done: {pilot:.2f} s)",
            )
        )
    if "probe" in results:
        p = results["probe"]
        targets.append(
            check(
                "1,000 listeners probed ≤ 3 s",
                p["wall_processes"] <= 3,
                f"{p['wall_processes']:.2f} s for {p['targets']} targets in "
                f"{p['processes']} child processes (in one process: {p['wall']:.2f} s)",
            )
        )
        if "latency" in p:
            lat = p["latency"]
            targets.append(
                check(
                    "key-press latency ≤ 100 ms during the probe",
                    lat["direct_max_ms"] <= 100,
                    f"key to cursor moved and messages drained: p50 {lat['direct_p50_ms']:.0f} ms,"
                    f" p95 {lat['direct_p95_ms']:.0f} ms, max {lat['direct_max_ms']:.0f} ms over "
                    f"{lat['direct_presses']} presses (idle: p50 {lat['idle_direct_p50_ms']:.0f},"
                    f" max {lat['idle_direct_max_ms']:.0f} ms); through Pilot.press, which also "
                    f"waits for the process to go idle: p50 {lat['pilot_p50_ms']:.0f} ms, max "
                    f"{lat['pilot_max_ms']:.0f} ms (idle p50 {lat['idle_pilot_p50_ms']:.0f} ms)",
                )
            )
    started = (
        "netdash started from compiled bytecode, as installed (bench compiled it first)"
        if results.get("compiled")
        else "netdash started from source (--from-source, with PYTHONDONTWRITEBYTECODE=1)"
    )
    return text + f"\n\n{started}.\n\nTargets:\n" + "\n".join(targets)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--scales", default="small,tui200,medium,large")
    parser.add_argument("--repeat", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument("--idle", type=float, default=60.0, help="idle window, s (default 60)")
    parser.add_argument("--no-probe", action="store_true", help="skip the probe benchmark")
    parser.add_argument(
        "--no-tui", action="store_true", help="skip the dashboard's idle and first-frame parts"
    )
    parser.add_argument(
        "--from-source",
        action="store_true",
        help="delete netdash's compiled modules instead of compiling them first: where "
        "PYTHONDONTWRITEBYTECODE=1 (the condition of earlier sessions) every timed start then "
        "compiles netdash from source, which no installed copy does",
    )
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    args = parser.parse_args(argv)
    reason = netns.enter()  # before any thread: the whole run stays in the namespace
    if reason:
        print(f"cannot enter a private network namespace: {reason}", file=sys.stderr)
        return 2
    for tool in ("ss", "lsof", "htop", "tmux"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing (apt-get install {tool})", file=sys.stderr)
            return 2
    from bench import scenario

    scenario.tune_namespace()
    os.chdir(ROOT)
    results: Figures = {"compiled": not args.from_source}
    if args.from_source:
        for cache in (ROOT / "netdash").rglob("__pycache__"):
            shutil.rmtree(cache)
    else:
        # As `pip install` does. The dependencies' bytecode is in site-packages already; an
        # editable checkout has none where PYTHONDONTWRITEBYTECODE=1 (this sandbox), so each
        # start would compile netdash's ~25 modules: ~25 ms of `netdash list` at medium.
        subprocess.run([sys.executable, "-m", "compileall", "-q", "netdash"], check=True)
    tmux = Tmux(f"netdash-bench-{os.getpid()}")
    try:
        for name in args.scales.split(","):
            results[name] = run_scale(name, args, tmux)
    finally:
        tmux.stop()
    if not args.no_probe:
        print("## probe: 1,000 listeners", file=sys.stderr, flush=True)
        with scenario.build_probe_targets():
            results["probe"] = probe_throughput(max(1, args.repeat // 2))
            results["probe"]["latency"] = probe_latency()
        print(json.dumps(results["probe"], indent=1), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
