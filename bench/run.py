"""The netdash benchmark suite (issue 7): netdash against ss, lsof and htop, same run, same state.

Run as root from the repository root; it moves itself into a private network namespace
first (``tests.support.netns.enter``), so every socket it opens, every process it starts
(tmux, htop, ss, lsof, netdash) and every probe stays inside it: only loopback and the
namespace's test LAN address (198.18.0.1, 2001:db8::1) are ever contacted.

    python -m bench.run                      # all scales, 5 repeats, 60 s idle windows
    python -m bench.run --scales small --idle 10 --repeat 3 --no-probe   # quick look
    python -m bench.run --scales medium,large --no-tui --no-probe        # netdash list only
    python -m bench.run --baseline /path/to/old/checkout   # and an older tree, same run

Prints a Markdown table per part and every target of issue 7 as met / NOT MET; ``--json``
writes the raw figures. Timings are medians of ``--repeat`` runs, commands interleaved so
background load hits them alike. netdash's modules are compiled first, as ``pip install``
does (``--from-source``: the earlier sessions' condition).

``--baseline PATH`` measures a second netdash source tree (a git worktree of an older commit)
in the same run, interleaved with this one (issue 12: "no figure more than 10 % worse"):
``netdash list --json --udp`` beside ss and lsof, the dashboard idle in a second tmux window
over the same seconds, the first frame at small, and the probe (``bench/probe_tree.py`` in a
subprocess per tree). The baseline's ``netdash`` package is copied to a temporary directory
and compiled there (as this tree's is in place), so its checkout is only read; every netdash
this suite starts runs with its tree as working directory and ``PYTHONPATH``, so an editable
install elsewhere cannot stand in for either (checked at start).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import layout, probe_tree
from tests.support import netns

ROOT = Path(__file__).resolve().parent.parent
Figures = dict[str, Any]
BASE = "netdash (baseline)"  # the --baseline tree's name in the figures


@dataclass(frozen=True)
class Tree:
    """A netdash source tree to measure: started with ``path`` as working directory and as
    ``PYTHONPATH`` (``python -m`` puts the working directory first on ``sys.path``).
    ``source`` is where it came from (the baseline is measured from a copy)."""

    name: str  # "netdash" (this tree) or "netdash (baseline)"
    path: Path
    source: Path

    def env(self) -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(self.path))

    def shell(self, command: str) -> str:
        """``command`` for a shell (a tmux window), with this tree's environment."""
        return f"env PYTHONPATH={shlex.quote(str(self.path))} {command}"

    def label(self, what: str) -> str:
        """``what`` as this tree's figure is named: unchanged for this tree."""
        return what if self.path == ROOT else f"{what} (baseline)"

    def netdash_file(self) -> Path:
        """Where ``import netdash`` resolves for this tree (checked once at start)."""
        out = subprocess.run(
            [sys.executable, "-c", "import netdash; print(netdash.__file__)"],
            env=self.env(),
            cwd=self.path,
            check=True,
            capture_output=True,
            text=True,
        )
        return Path(out.stdout.strip()).resolve()


def interleaved(items: Sequence[Any], i: int) -> list[Any]:
    """``items`` in order on even rounds, reversed on odd ones: neither tree always goes
    first (right after ss, lsof or the other tree)."""
    return list(items) if i % 2 == 0 else list(reversed(items))


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# Snapshot cost ----------------------------------------------------------------------------


def _collect_and_classify(cache: Any) -> int:
    collect_snapshot = layout.find("collect_snapshot")
    choose_lan = layout.find("choose_lan")
    scope_of = layout.find("scope_of")
    listener_reach = layout.find("listener_reach")

    snapshot = collect_snapshot(cache)
    choose_lan(snapshot)
    for listener in snapshot.listeners:
        scope_of(listener.address)
        listener_reach(listener, snapshot.interfaces)
    return len(snapshot.listeners)


def in_process(repeat: int) -> Figures:
    """collect + classify: a first poll (fresh caches) and steady-state polls (one cache)."""
    ProcessCache = layout.find("ProcessCache")

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


def _run(argv: list[str], tree: Tree | None = None) -> tuple[float, float]:
    """(wall s, CPU s) of one command, output discarded (``wait4`` on the command); a
    netdash command runs in ``tree``'s directory and environment."""
    where: dict[str, Any] = {"env": tree.env(), "cwd": tree.path} if tree else {}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **where)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 and argv[0] != "lsof":  # lsof exits 1 when a filter matches nothing
        raise RuntimeError(f"{argv} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def _peak_rss_kib(argv: list[str], tree: Tree | None = None) -> int:
    """Peak RSS of ``argv`` in KiB, from one more run under ``/usr/bin/time -f %M`` (0
    without it): the kernel counts a child's RSS from before its ``exec`` (this benchmark's
    own, ~50 MB) in ``ru_maxrss``, while GNU time's child is forked from a small process."""
    if not Path("/usr/bin/time").exists():
        return 0
    where: dict[str, Any] = {"env": tree.env(), "cwd": tree.path} if tree else {}
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", out.name, *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **where,
        )
        text = out.read().strip().splitlines()
    return int(text[-1]) if text and text[-1].isdigit() else 0


LIST = "netdash list --json --udp"
COMMANDS: dict[str, list[str]] = {
    LIST: [sys.executable, "-m", "netdash", "list", "--json", "--udp"],
    "ss -tulnp": ["ss", "-tulnp"],
    "lsof -nP -iTCP -sTCP:LISTEN": ["lsof", "-nP", "-iTCP", "-sTCP:LISTEN"],
    # The interpreter's own start, in the same run: issue 18 counts netdash's time past it.
    "python -c pass": [sys.executable, "-c", "pass"],
}
BASE_LIST = f"{LIST} (baseline)"


def commands(repeat: int, trees: Sequence[Tree]) -> Figures:
    """Each command ``repeat`` times, interleaved (``netdash list`` once per tree, the trees'
    order alternating); medians of wall and CPU."""
    argvs: dict[str, tuple[list[str], Tree | None]] = {}
    for tree in trees:
        argvs[tree.label(LIST)] = (COMMANDS[LIST], tree)
    for name, argv in COMMANDS.items():
        if name != LIST:
            argvs[name] = (argv, None)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in argvs}
    for i in range(repeat):
        netdash = interleaved([tree.label(LIST) for tree in trees], i)
        for name in netdash + [n for n in argvs if n not in netdash]:
            runs[name].append(_run(*argvs[name]))
    return {
        name: {
            "wall": _median([r[0] for r in rs]),
            "cpu": _median([r[1] for r in rs]),
            "maxrss_mb": _peak_rss_kib(*argvs[name]) / 1024,
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

    def start(self, window: str, command: str, cwd: Path | None = None) -> int:
        """Run ``command`` in a new 120×40 window (in ``cwd``); returns its pid (the pane's
        process)."""
        where = ["-c", str(cwd)] if cwd else []
        self._tmux("new-window", "-d", *where, "-t", "base", "-n", window, f"exec {command}")
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


def tui_idle(
    tmux: Tmux, interval: float | None, seconds: float, htop: bool, trees: Sequence[Tree]
) -> Figures:
    """netdash (and htop -d 10, and a bare Textual app: Textual's own idle cost; and the
    baseline tree's netdash) idle side by side; warm-up of 5 s after the first frame."""
    window = f"nd{time.monotonic_ns()}"
    option = f" --interval {interval:g}" if interval else ""
    windows = {tree.name: f"{window}{'b' * i}" for i, tree in enumerate(trees)}
    pids = {
        tree.name: tmux.start(windows[tree.name], tree.shell(NETDASH + option), tree.path)
        for tree in trees
    }
    try:
        if htop:
            pids["htop -d 10"] = tmux.start(window + "h", "htop -d 10")
            pids["bare Textual app"] = tmux.start(
                window + "t", f"{sys.executable} -m bench.textual_floor"
            )
        first = {tree.name: wait_for_data(tmux, windows[tree.name]) for tree in trees}
        time.sleep(5.0)
        figures = idle_cpu(tmux, pids, seconds)
        figures["first_frame_s"] = first[trees[0].name]
        if len(trees) > 1:
            figures["first_frame_baseline_s"] = first[trees[1].name]
        return figures
    finally:
        for name in windows.values():
            tmux.kill(name)
        tmux.kill(window + "h")
        tmux.kill(window + "t")


def first_frame_tmux(tmux: Tmux, repeat: int, trees: Sequence[Tree]) -> dict[str, float]:
    """Median seconds from starting ``netdash`` in a tmux window to a frame showing data, per
    tree (by name; the trees take turns, their order alternating)."""
    times: dict[str, list[float]] = {tree.name: [] for tree in trees}
    for i in range(repeat):
        for j, tree in enumerate(interleaved(trees, i)):
            window = f"ff{i}-{j}"
            tmux.start(window, tree.shell(NETDASH), tree.path)
            try:
                times[tree.name].append(wait_for_data(tmux, window))
            finally:
                tmux.kill(window)
    return {name: _median(ts) for name, ts in times.items()}


def first_frame_pilot(repeat: int) -> float:
    """Median seconds from ``run_test`` to a table with rows (in-process, imports done)."""
    NetdashApp = layout.find("NetdashApp")
    ListenerTable = layout.find("ListenerTable")

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
    ``probe_in_processes`` (child processes, what the TUI does). See ``bench/probe_tree.py``."""
    return probe_tree.measure(repeat, {netns.LAN_V4, netns.LAN_V6})


def probe_throughput_trees(repeat: int, trees: Sequence[Tree]) -> dict[str, Figures]:
    """:func:`probe_throughput` per tree (by name), each run a subprocess with that tree's
    environment (``bench/probe_tree.py``: whatever the module layout), the trees taking
    turns ``repeat`` times; medians over the turns."""
    script = [sys.executable, str(ROOT / "bench" / "probe_tree.py"), "1", netns.LAN_V4]
    script.append(netns.LAN_V6)
    runs: dict[str, list[Figures]] = {tree.name: [] for tree in trees}
    for i in range(repeat):
        for tree in interleaved(trees, i):
            out = subprocess.run(
                script, env=tree.env(), cwd=tree.path, check=True, capture_output=True, text=True
            )
            runs[tree.name].append(json.loads(out.stdout))
    figures = {}
    for name, found in runs.items():
        walls = [w for f in found for w in f["walls"]]
        child_walls = [w for f in found for w in f["walls_processes"]]
        figures[name] = {
            **found[-1],
            "wall": _median(walls),
            "wall_processes": _median(child_walls),
            "walls": walls,
            "walls_processes": child_walls,
            "cpu_ms_per_target": _median([c for f in found for c in f["cpu_ms_per_target_all"]]),
            "in_subprocess": True,
        }
    return figures


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

    NetdashApp = layout.find("NetdashApp")
    ListenerTable = layout.find("ListenerTable")

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


def nmap_beside(repeat: int) -> Figures:
    """``bench/nmap.py`` on the probe scenario's ports (running): netdash and nmap in turn."""
    snapshot = layout.find("collect_snapshot")()
    ports = sorted({li.port for li in snapshot.listeners if li.protocol == "tcp"})
    out = subprocess.run(
        [sys.executable, "-m", "bench.nmap", str(repeat), netns.LAN_V4],
        input=" ".join(map(str, ports)),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    figures: Figures = json.loads(out.stdout)
    return figures


def huge() -> Figures:
    """``bench/huge.py`` in its own process while 20,000 listeners exist."""
    from bench import scenario

    print("## huge: 20,000 listeners", file=sys.stderr, flush=True)
    with scenario.build(scenario.SCALES["huge"]):
        out = subprocess.run(
            [sys.executable, "-m", "bench.huge"], cwd=ROOT, check=True, capture_output=True
        )
    figures: Figures = json.loads(out.stdout)
    return figures


# The suite -------------------------------------------------------------------------------


def run_scale(name: str, args: argparse.Namespace, tmux: Tmux, trees: Sequence[Tree]) -> Figures:
    from bench import scenario

    scale = scenario.SCALES[name]
    print(f"## {name}: building {scale}", file=sys.stderr, flush=True)
    with scenario.build(scale):
        figures: Figures = {"scale": scale.__dict__}
        figures["in_process"] = in_process(args.repeat)
        figures["commands"] = commands(args.repeat, trees)
        if args.no_tui:
            pass
        elif name == "tui200":
            figures["tui"] = tui_idle(tmux, 1.0, args.idle, htop=True, trees=trees)
        else:
            figures["tui"] = tui_idle(tmux, None, args.idle, htop=False, trees=trees)
        if name == "small" and not args.no_tui:
            first = first_frame_tmux(tmux, args.repeat, trees)
            figures["first_frame_tmux_s"] = first[trees[0].name]
            if len(trees) > 1:
                figures["first_frame_tmux_baseline_s"] = first[trees[1].name]
            figures["first_frame_pilot_s"] = first_frame_pilot(args.repeat)
    print(json.dumps(figures, indent=1), file=sys.stderr, flush=True)
    return figures


LIMIT = 1.10  # issue 12: no figure more than 10 % worse


def _at(figures: Figures, path: Sequence[str]) -> float:
    for key in path:
        figures = figures[key]
    return float(figures)  # type: ignore[arg-type]


def comparisons(results: Figures) -> list[tuple[str, float, float, str]]:
    """(figure, baseline, this tree, format) for every figure measured for both trees."""
    specs: list[tuple[str, list[str], list[str], float, str]] = []  # label, old, new, ×, format
    for s in ("small", "tui200", "medium", "large"):
        for key, what, times, fmt in (
            ("wall", "wall ms", 1000.0, "{:.0f}"),
            ("cpu", "CPU ms", 1000.0, "{:.0f}"),
            ("maxrss_mb", "peak RSS MB", 1.0, "{:.1f}"),
        ):
            old, new = [s, "commands", BASE_LIST, key], [s, "commands", LIST, key]
            specs.append((f"{s}: `{LIST}` {what}", old, new, times, fmt))
        for key, what, fmt in (
            ("cpu_pct", "TUI idle CPU % of a core", "{:.2f}"),
            ("peak_rss_mb", "TUI peak RSS MB", "{:.0f}"),
        ):
            old, new = [s, "tui", BASE, key], [s, "tui", "netdash", key]
            specs.append((f"{s}: {what}", old, new, 1, fmt))
    specs.append(
        (
            "small: TUI first frame with data, tmux s",
            ["small", "first_frame_tmux_baseline_s"],
            ["small", "first_frame_tmux_s"],
            1,
            "{:.2f}",
        )
    )
    targets = results.get("probe", {}).get("targets", "all")
    for key, what in (("wall_processes", "child processes"), ("wall", "in one process")):
        label = f"probe of {targets} targets, {what}: wall s"
        specs.append((label, ["probe_baseline", key], ["probe", key], 1, "{:.2f}"))
    found = []
    for label, old, new, times, fmt in specs:
        try:
            found.append((label, times * _at(results, old), times * _at(results, new), fmt))
        except KeyError:
            continue  # not measured in this run
    return found


def compare(results: Figures) -> str:
    """The table "restructure: baseline vs this tree": each figure, new/old, within 10 %."""
    trees = results.get("trees", {})
    old = trees.get(BASE, {}).get("commit", "baseline")
    new = trees.get("netdash", {}).get("commit", "this tree")
    lines = [
        "restructure: baseline vs this tree (issue 12: no figure more than 10 % worse)",
        "",
        f"| figure | baseline ({old}) | this tree ({new}) | new/old | ≤ {LIMIT:.2f} |",
        "|---|---|---|---|---|",
    ]
    for label, before, after, fmt in comparisons(results):
        ratio = after / before if before else float("inf")
        mark = "✓" if ratio <= LIMIT else "✗"
        lines.append(
            f"| {label} | {fmt.format(before)} | {fmt.format(after)} | {ratio:.2f} | {mark} |"
        )
    return "\n".join(lines)


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

    names = list(COMMANDS)
    if any(BASE_LIST in results[s]["commands"] for s in scales):
        names.insert(1, BASE_LIST)
    for name in names:
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
    if any(BASE in results[s].get("tui", {}) for s in scales):
        row(
            "baseline netdash TUI idle CPU %, same window",
            lambda f: f"{f['tui'][BASE]['cpu_pct']:.2f}",
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
    if BASE in results.get("trees", {}):
        text += "\n\n" + compare(results)

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
    targets += issue18_targets(results)
    started = (
        "netdash started from compiled bytecode, as installed (bench compiled it first)"
        if results.get("compiled")
        else "netdash started from source (--from-source, with PYTHONDONTWRITEBYTECODE=1)"
    )
    return text + f"\n\n{started}.\n\nTargets:\n" + "\n".join(targets)


def issue18_targets(results: Figures) -> list[str]:
    """The rows of issue 18's table that this run measured, each met or NOT MET."""
    out = []
    ss, lst = "ss -tulnp", "netdash list --json --udp"
    for scale, limit in (("medium", 1.0), ("large", 0.6)):
        if scale in results:
            c = results[scale]["commands"]
            ratio = c[lst]["wall"] / c[ss]["wall"]
            label = f"{scale}: netdash list ÷ ss ≤ {limit}×"
            out.append(check(label, ratio <= limit, f"{ratio:.2f}×"))
    if "small" in results and "python -c pass" in results["small"]["commands"]:
        c = results["small"]["commands"]
        own = (c[lst]["wall"] - c["python -c pass"]["wall"]) / c[ss]["wall"]
        out.append(check("small: netdash's own time ÷ ss ≤ 4×", own <= 4, f"{own:.2f}×"))
    if "tui" in results.get("medium", {}):
        pct = results["medium"]["tui"]["netdash"]["cpu_pct"]
        out.append(check("1,000 listeners, 2 s: TUI idle ≤ 0.5 %", pct <= 0.5, f"{pct:.2f} %"))
    if "huge" in results:
        h = results["huge"]
        out.append(
            check(
                "20,000 listeners: first frame ≤ 2 s",
                h["first_frame_s"] <= 2,
                f"{h['first_frame_s']:.2f} s",
            )
        )
        out.append(
            check(
                "20,000 listeners: a key in the filter p95 ≤ 100 ms",
                h["direct_p95_ms"] <= 100,
                f"key to table redrawn: p50 {h['direct_p50_ms']:.0f} ms, p95 "
                f"{h['direct_p95_ms']:.0f} ms, max {h['direct_max_ms']:.0f} ms; through "
                f"Pilot.press, which waits for idle in 20 ms sleeps (a floor of ~100 ms): p50 "
                f"{h['key_p50_ms']:.0f} ms, p95 {h['key_p95_ms']:.0f} ms",
            )
        )
        out.append(
            check(
                "20,000 listeners: peak RSS ≤ 150 MB",
                h["peak_rss_mb"] <= 150,
                f"{h['peak_rss_mb']:.0f} MB",
            )
        )
    if "nmap" in results:
        n = results["nmap"]
        nd, nm = n["netdash"], n["nmap"]
        out.append(
            check(
                "probe ÷ nmap -sT -sV --version-light ≤ 0.5×, identifying at least as many",
                n["ratio_wall"] <= 0.5 and nd["identified"] >= nm["identified"],
                f"{n['ratio_wall']:.2f}× ({nd['wall_s']:.1f} s vs {nm['wall_s']:.1f} s); "
                f"identified {nd['identified']}/{nd['targets']} vs {nm['identified']}/"
                f"{nm['targets']}",
            )
        )
        per = nd["cpu_ms_per_target"]
        out.append(
            check(
                "netdash list --probe: CPU per probed target ≤ 0.8 ms",
                per <= 0.8,
                f"{per:.2f} ms (the whole command, start-up and listing included)",
            )
        )
    if "cpu_ms_per_target" in results.get("probe", {}):
        p = results["probe"]
        per, kids = p["cpu_ms_per_target"], p.get("cpu_ms_per_target_processes")
        runs = p.get("cpu_ms_per_target_all", [per])
        also = f"; in {p['processes']} child processes {kids:.2f} ms" if kids is not None else ""
        alone = p.get("httpx_alone_cpu_ms_per_request")
        if alone is not None:
            also += (
                f"; httpx alone, a bare GET / to each of the {p['httpx_alone_requests']} HTTP "
                f"targets in the same window: {alone:.2f} ms a request"
            )
        out.append(
            check(
                "CPU per probed target ≤ 0.8 ms (in process)",
                per <= 0.8,
                f"{per:.2f} ms over {p['targets']} targets (median of {len(runs)} runs: "
                + ", ".join(f"{c:.2f}" for c in runs)
                + (
                    f"; the first run, imports included, {p['cpu_ms_per_target_cold']:.2f} ms"
                    if "cpu_ms_per_target_cold" in p
                    else ""
                )
                + f"){also}",
            )
        )
    return out


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
    parser.add_argument(
        "--huge",
        action="store_true",
        help="also the dashboard at 20,000 listeners: first frame, a key in the filter, peak "
        "memory (bench/huge.py)",
    )
    parser.add_argument(
        "--nmap",
        action="store_true",
        help="also netdash list --probe beside nmap -sT -sV --version-light on the probe's "
        "1,000 listeners (bench/nmap.py; needs nmap)",
    )
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="PATH",
        help="another netdash source tree (e.g. a git worktree of an older commit) to measure "
        "in the same run, interleaved with this one; the report compares the two",
    )
    args = parser.parse_args(argv)
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "netdash" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: no netdash package there")
        if args.baseline == ROOT:
            parser.error("--baseline is this tree")
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
    with tempfile.TemporaryDirectory(prefix="netdash-bench-baseline-") as copy:
        trees = [Tree("netdash", ROOT, ROOT)]
        if args.baseline is not None:
            # A copy of its package, so compiling it (below) writes nothing into the checkout.
            shutil.copytree(
                args.baseline / "netdash",
                Path(copy) / "netdash",
                ignore=shutil.ignore_patterns("__pycache__"),
            )
            trees.append(Tree(BASE, Path(copy), args.baseline))
        return _suite(args, trees)


def _git_head(path: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return out.stdout.strip() or "?"


def _suite(args: argparse.Namespace, trees: list[Tree]) -> int:
    import netdash  # the in-process parts measure this one: it must be this tree's
    from bench import scenario

    results: Figures = {"compiled": not args.from_source, "trees": {}}
    here = Path(netdash.__file__).resolve()
    for tree in trees:
        found = tree.netdash_file()
        commit = _git_head(tree.source)
        print(f"{tree.name}: {tree.source} ({commit}): imports {found}", file=sys.stderr)
        if not found.is_relative_to(tree.path.resolve()):
            print(f"{tree.name} imports netdash from {found}, not {tree.path}", file=sys.stderr)
            return 2
        results["trees"][tree.name] = {
            "path": str(tree.source),
            "commit": commit,
            "netdash": str(found),
        }
    if not here.is_relative_to(ROOT):
        print(f"this process imports netdash from {here}, not {ROOT}", file=sys.stderr)
        return 2
    if args.from_source:
        for cache in (ROOT / "netdash").rglob("__pycache__"):
            shutil.rmtree(cache)
    else:
        # As `pip install` does. The dependencies' bytecode is in site-packages already; an
        # editable checkout has none where PYTHONDONTWRITEBYTECODE=1 (this sandbox), so each
        # start would compile netdash's ~25 modules: ~25 ms of `netdash list` at medium. The
        # baseline is compiled in its copy. (Not PYTHONPYCACHEPREFIX: that moves the bytecode
        # of the standard library and the dependencies too, so they would compile every start.)
        for tree in trees:
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", "netdash"],
                check=True,
                env=tree.env(),
                cwd=tree.path,
                stdout=subprocess.DEVNULL,
            )
    tmux = Tmux(f"netdash-bench-{os.getpid()}")
    try:
        for name in args.scales.split(","):
            results[name] = run_scale(name, args, tmux, trees)
    finally:
        tmux.stop()
    if not args.no_probe:
        print("## probe: 1,000 listeners", file=sys.stderr, flush=True)
        # CPU per target varies by 10-20 % from run to run on this VM: at least 3 runs
        # (each ~12 s); nmap's 26 minutes, half the repeats.
        repeat = max(3, args.repeat)
        with scenario.build_probe_targets():
            if len(trees) > 1:
                both = probe_throughput_trees(repeat, trees)
                results["probe"] = both[trees[0].name]
                results["probe_baseline"] = both[trees[1].name]
            else:
                results["probe"] = probe_throughput(repeat)
            results["probe"]["latency"] = probe_latency()
            if args.nmap:
                results["nmap"] = nmap_beside(max(1, args.repeat // 2))
        print(json.dumps(results["probe"], indent=1), file=sys.stderr, flush=True)
    if args.huge:
        results["huge"] = huge()
        print(json.dumps(results["huge"], indent=1), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
