"""``netdash watch`` as a user runs it: a real process polling the test namespace, real
listeners coming and going, history in a real SQLite file, notifications through real
``notify-send`` to a private session D-Bus with the tests' own notification server."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from netdash.history.store import HistoryStore
from tests.support.cli import run_cli
from tests.support.notify_server import session_bus
from tests.support.servers import free_port

pytestmark = pytest.mark.netns
ROOT = Path(__file__).resolve().parent.parent.parent


class Held:
    """A holder process (tests/support/holder.py) and the port it bound."""

    def __init__(self, spec: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.holder", spec],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        _, pid, port = self.process.stdout.readline().split()
        self.pid, self.port = int(pid), int(port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


LAG = 4.0
"""Seconds an event may come after the change the test made (the watch polls every 0.3 s)."""


@contextmanager
def watching(history: Path, env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    """``netdash watch`` polling every 0.3 s, started and (at the end) stopped with SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "netdash", "watch", "--interval", "0.3",
         "--history", str(history), *args],
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NETDASH_CONFIG": "/dev/null", "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    assert process.stderr is not None
    for _ in range(20):  # "recording history in ...", then "polling every 0.3 s"
        if "polling every" in process.stderr.readline():
            break
    time.sleep(0.8)  # its first poll: what listens now is no news
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def settle() -> None:
    time.sleep(1.2)  # four polls


def test_one_notification_for_a_new_wildcard_none_for_loopback_or_allowed(
    tmp_path: Path,
) -> None:
    history = tmp_path / "h.sqlite3"
    with session_bus(tmp_path) as desktop:
        allowed_port = free_port("0.0.0.0") - 1  # a free port number (+1) to allow
        with watching(
            history,
            {"DBUS_SESSION_BUS_ADDRESS": desktop.address},
            "--allow",
            str(allowed_port + 1),
        ) as watch:
            loop = Held("tcp|127.0.0.1|0")
            allowed = Held(f"tcp|0.0.0.0|{allowed_port + 1}")
            wild = Held("tcp|0.0.0.0|0")
            settle()
            wild.stop()
            settle()  # the watch sees it gone (a gap shorter than a poll may go unseen)
            again = Held(f"tcp|0.0.0.0|{wild.port}")  # the same server restarted: new pid
            settle()
            for held in (loop, allowed, again):
                held.stop()
            settle()
            watch.send_signal(signal.SIGTERM)
            _, log = watch.communicate(timeout=10)
        assert watch.returncode == 0, log
        received = desktop.received()
    assert len(received) == 1, (received, log)
    (note,) = received
    assert note["app_name"] == "netdash"
    assert f"port {wild.port}" in note["summary"] and "python" in note["summary"]
    assert f"0.0.0.0:{wild.port}/tcp" in note["body"] and "Fix:" in note["body"]
    store = HistoryStore(history, create=False)
    kinds = [(e.kind, e.port) for e in reversed(store.events())]
    for port in (loop.port, allowed.port, wild.port):
        assert ("appeared", port) in kinds and ("disappeared", port) in kinds
    assert kinds.count(("appeared", wild.port)) == 2  # stopped and restarted: two lives


def test_without_notify_send_the_log_says_so_once(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()  # a PATH with no notify-send on it
    with watching(tmp_path / "h.sqlite3", {"PATH": str(bare)}) as watch:
        first, second = Held("tcp|0.0.0.0|0"), Held("tcp|0.0.0.0|0")
        settle()
        first.stop()
        second.stop()
        watch.send_signal(signal.SIGTERM)
        _, log = watch.communicate(timeout=10)
    assert watch.returncode == 0
    assert log.count("notify-send is not installed") == 1, log
    assert f":{first.port}/tcp" in log and f":{second.port}/tcp" in log


def test_a_minute_of_churn_matches_what_the_test_did_and_survives_a_killed_writer(
    tmp_path: Path,
) -> None:
    """Listeners come and go for a minute (each held 1-3 s, several at once) while ``watch``
    records; halfway, the watch is killed with SIGKILL and started again. Every listener
    the test held for a second or more is in the history, appearing and disappearing
    within a poll or two of when the test bound and closed it."""
    history = tmp_path / "h.sqlite3"
    rng = random.Random(17)
    lives: list[tuple[int, str, float, float]] = []  # port, address, bound at, closed at
    alive: list[tuple[Held, str, float, float]] = []  # holder, address, start, end
    seconds = float(os.environ.get("NETDASH_WATCH_SECONDS", "60"))
    deadline = time.time() + seconds
    killed = False
    gap_from = gap_to = 0.0  # while the killed watch was replaced
    watch_cm = watching(history, {"PATH": str(tmp_path)})  # no notify-send: log lines only
    watch = watch_cm.__enter__()
    try:
        while time.time() < deadline or alive:
            now = time.time()
            for entry in [a for a in alive if a[3] <= now]:
                held, address, start, _ = entry
                held.stop()
                lives.append((held.port, address, start, time.time()))
                alive.remove(entry)
            if now < deadline and len(alive) < 4:
                address = rng.choice(["0.0.0.0", "127.0.0.1", "::", "198.18.0.1"])
                held = Held(f"tcp|{address}|0")
                alive.append((held, address, time.time(), time.time() + rng.uniform(1, 3)))
            if not killed and now > deadline - seconds / 2:
                killed = True
                gap_from = time.time()
                watch.kill()  # SIGKILL: perhaps mid-transaction
                watch.wait(5)
                watch_cm.__exit__(None, None, None)
                watch_cm = watching(history, {"PATH": str(tmp_path)})
                watch = watch_cm.__enter__()
                gap_to = time.time()  # the new watch has made its first poll
            time.sleep(0.1)
        settle()
    finally:
        watch_cm.__exit__(None, None, None)
    store = HistoryStore(history, create=False)
    events = store.events()
    for port, address, start, end in lives:
        mine = [e for e in events if e.port == port and e.address == address]
        appeared = [e.at for e in mine if e.kind == "appeared"]
        gone = [e.at for e in mine if e.kind == "disappeared"]
        assert appeared and gone, (port, address, mine)
        # Within a few polls (0.3 s each) of the change: a loaded 2-core runner delays one
        # by seconds now and then (2.8 s seen while four test runs shared the cores).
        # One bound while no watch ran is news to the next one's first poll.
        seen_from = gap_to if gap_from <= start <= gap_to else start
        assert any(start - 0.1 <= at <= seen_from + LAG for at in appeared), (start, mine)
        assert any(end - 0.1 <= at <= end + LAG for at in gone) or any(at > end for at in gone), (
            end,
            mine,
        )
    # `netdash history PORT --since 1d` answers from the database that survived the kill.
    port, address, _, _ = lives[0]
    shown = run_cli("history", str(port), "--since", "1d", "--history", str(history))
    assert shown.returncode == 0, shown.stderr
    assert "appeared" in shown.stdout and "disappeared" in shown.stdout
    assert f"{port}" in shown.stdout


def test_history_json_matches_its_schema_and_filters(tmp_path: Path) -> None:
    import json

    import jsonschema

    history = tmp_path / "h.sqlite3"
    with watching(history, {"PATH": str(tmp_path)}):
        wild, loop = Held("tcp|0.0.0.0|0"), Held("tcp|127.0.0.1|0")
        settle()
        wild.stop()
        loop.stop()
        settle()
    shown = run_cli("history", "--json", "--history", str(history), "--since", "1h")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    schema = json.loads((ROOT / "schema" / "netdash-history.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    ports = {e["port"] for e in document["events"]}
    assert {wild.port, loop.port} <= ports
    exposed = json.loads(
        run_cli("history", "--json", "--exposed", "--history", str(history)).stdout
    )
    assert {e["port"] for e in exposed["events"]} >= {wild.port}
    assert loop.port not in {e["port"] for e in exposed["events"]}
    one = json.loads(run_cli("history", str(loop.port), "--json", "--history", str(history)).stdout)
    assert {e["port"] for e in one["events"]} == {loop.port}
    bad = run_cli("history", "--since", "soon")
    assert bad.returncode == 2 and "not a duration" in bad.stderr
    off = run_cli("history", "--no-history")
    assert off.returncode == 2 and off.stderr.count("\n") == 1 and "history is off" in off.stderr


def test_no_history_writes_nothing_and_list_never_writes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {"XDG_STATE_HOME": str(state), "NETDASH_HISTORY": "", "PATH": str(tmp_path)}
    with watching(tmp_path / "unused.sqlite3", env, "--no-history") as watch:
        held = Held("tcp|0.0.0.0|0")
        settle()
        held.stop()
        watch.send_signal(signal.SIGTERM)
        _, log = watch.communicate(timeout=10)
    assert f"0.0.0.0:{held.port}/tcp" in log  # it watched
    assert not (tmp_path / "unused.sqlite3").exists()
    assert not state.exists()
    for args in (["list"], ["check"], ["who", "22"], ["history"]):
        run_cli(*args, XDG_STATE_HOME=str(state), NETDASH_HISTORY="")
    assert not state.exists()  # `history` reads; with no file it creates none


def test_a_read_only_directory_is_one_warning_and_the_watch_goes_on(tmp_path: Path) -> None:
    """The database's directory is mounted read-only (a private mount namespace: root
    writes through permission bits): ``watch`` says so once and keeps notifying."""
    import shutil

    from tests.support.ci import require

    require(shutil.which("unshare") is not None, "unshare is not installed (util-linux)")
    ro = tmp_path / "ro"
    ro.mkdir()
    script = (
        f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && "
        f"exec {sys.executable} -m netdash watch --interval 0.3 --history {ro}/h.sqlite3"
    )
    process = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "NETDASH_CONFIG": "/dev/null", "PYTHONPATH": str(ROOT),
             "PATH": f"{tmp_path}:/usr/bin:/bin"},
    )  # fmt: skip
    try:
        time.sleep(1.5)
        held = Held("tcp|0.0.0.0|0")
        settle()
        held.stop()
        settle()
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=10)
    assert process.returncode == 0, log
    assert log.count("history off from now on") == 1, log
    assert "read-only" in log.lower() or "readonly" in log.lower(), log
    assert f"0.0.0.0:{held.port}/tcp" in log  # still watching, still telling
    assert "Traceback" not in log


def test_watch_probes_only_when_asked_and_records_the_outcome(tmp_path: Path) -> None:
    for probe, history in ((True, tmp_path / "p.sqlite3"), (False, tmp_path / "n.sqlite3")):
        args = ("--probe", "--timeout", "0.3") if probe else ()
        with watching(history, {"PATH": str(tmp_path)}, *args):
            held = Held("tcp|0.0.0.0|0")
            time.sleep(2.5)
            held.stop()
            settle()
        store = HistoryStore(history, create=False)
        mine = [e for e in store.events(port=held.port)]
        store.close()
        kinds = {e.kind for e in mine}
        if probe:
            (outcome,) = [e for e in mine if e.kind == "probe"]
            assert "lan 198.18.0.1" in (outcome.detail or "") and outcome.verdict == "exposed"
            # probed in the poll that found it: it appears already proved
            (appeared,) = [e for e in mine if e.kind == "appeared"]
            assert appeared.verdict == "exposed"
        else:
            assert kinds == {"appeared", "disappeared"}
            assert {e.verdict for e in mine} == {"exposed-unverified"}


def test_a_program_name_that_is_not_utf8_is_looked_up_not_a_traceback(tmp_path: Path) -> None:
    """``history --program`` with bytes that are not UTF-8 (the shell passes them as they
    are) looks them up as names are stored (``\\xNN``), where it raised UnicodeEncodeError
    (break-it pass)."""
    history = tmp_path / "h.sqlite3"
    HistoryStore(history).close()
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"netdash", b"history", b"--history",
         str(history).encode(), b"--program", b"\xff"],
        capture_output=True, timeout=30, env={**os.environ, "NETDASH_CONFIG": "/dev/null"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
