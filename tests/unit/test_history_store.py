"""The history database on real SQLite files: modes, WAL, two writers at once, a writer
killed mid-transaction, a corrupt file, a newer schema, retention that shrinks the file."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from netdash.core.history import Event, Seen
from netdash.history.recorder import HistoryRecorder
from netdash.history.store import SCHEMA_VERSION, HistoryError, HistoryStore

ROOT = Path(__file__).resolve().parent.parent.parent
SEEN = Seen("tcp", "0.0.0.0", 5000, "all-interfaces", "exposed-unverified", "node", 70, "ada")


def writer(path: Path, count: int, tag: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.history_writer", str(path), str(count), tag, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_created_0600_in_a_0700_directory_wal_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "state" / "netdash" / "history.sqlite3"
    store = HistoryStore(path, own_dir=True)
    store.record({SEEN.key: SEEN}, 10.0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for side in path.parent.iterdir():  # -wal and -shm too
        assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0, side
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    (event,) = store.events(port=5000)
    assert (event.kind, event.program, event.at) == ("appeared", "node", 10.0)
    assert store.record({SEEN.key: SEEN}, 11.0) == []  # nothing changed: nothing written
    assert [e.kind for e in store.record({}, 12.0)] == ["disappeared"]
    store.close()


def test_two_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    HistoryStore(path).close()
    a, b = writer(path, 300, "a"), writer(path, 300, "b")
    for p in (a, b):
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    store = HistoryStore(path)
    probes = [e.detail for e in store.events() if e.kind == "probe"]
    assert sorted(probes) == sorted([f"a {n}" for n in range(300)] + [f"b {n}" for n in range(300)])
    assert [e.kind for e in store.events()].count("appeared") == 1  # recorded once, by either


def test_a_reader_is_not_blocked_by_a_writer_in_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path)
    store.record({SEEN.key: SEEN}, 1.0)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("DELETE FROM events")
    assert len(HistoryStore(path, create=False).events()) == 1  # at once, the last commit
    other.execute("ROLLBACK")


def test_a_writer_killed_mid_transaction_leaves_a_working_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    p = writer(path, 50, "k", "--die")
    out, err = p.communicate(timeout=60)
    assert p.returncode == -9 and "in transaction" in out, err
    store = HistoryStore(path)
    events = store.events()
    assert len([e for e in events if e.kind == "probe"]) == 50
    assert all(e.verdict != "half-written" for e in events)
    assert [e.kind for e in store.record({}, 99.0)] == ["disappeared"]  # still writable
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_corrupt_file_is_one_line_of_error_and_the_recorder_carries_on(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"this is not sqlite\n" * 500)
    with pytest.raises(HistoryError) as caught:
        HistoryStore(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "corrupt" in message
    from netdash.core.assess import Assessment
    from netdash.core.model import Interface, Listener, Process, Snapshot

    snapshot = Snapshot(
        "box",
        (Interface("lo", True, ("127.0.0.1",), is_loopback=True),),
        (Listener("tcp", "0.0.0.0", 5000, 4, (Process(70, "node"),)),),
        taken_at=1.0,
    )
    recorder = HistoryRecorder(path)
    assert recorder.observe(Assessment(snapshot)) == []
    assert recorder.problem is not None and "corrupt" in recorder.problem
    assert recorder.observe(Assessment(snapshot)) == []  # off from now on, no exception


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    HistoryStore(path).close()
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match="newer netdash"):
        HistoryStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2


def test_retention_drops_old_events_and_the_file_shrinks(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path, max_age=1000.0, max_bytes=200_000)
    padding = "x" * 200
    events = [
        Event(float(n), "probe", "tcp", "0.0.0.0", 5000, "s", "exposed", detail=f"{n} {padding}")
        for n in range(5000)
    ]
    store.record({}, 0.0, extra=events)  # at 0: the first prune, nothing is old yet
    store._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    big = on_disk(path)
    assert big > 1_000_000
    store.prune(4000.0)  # older than 3000 s go, then the oldest until under 200 kB
    left = store.events()
    assert left and min(e.at for e in left) >= 3000.0
    assert store._used_bytes() <= 200_000
    assert on_disk(path) < big / 3  # the file and its WAL really shrink
    store.close()


def on_disk(path: Path) -> int:
    """Bytes of the database file and its WAL."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def test_history_command_on_a_corrupt_or_missing_file(tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    # A named file that does not exist: a mistyped path must not read as an empty history
    missing = run_cli("history", "--history", str(tmp_path / "none.sqlite3"))
    assert missing.returncode == 2 and "no history database at" in missing.stderr
    assert missing.stderr.count("\n") == 1
    assert not (tmp_path / "none.sqlite3").exists()
    corrupt = tmp_path / "bad.sqlite3"
    corrupt.write_bytes(b"\0garbage" * 600)
    shown = run_cli("history", "--history", str(corrupt))
    assert shown.returncode == 2 and "Traceback" not in shown.stderr
    assert shown.stderr.count("\n") == 1 and "corrupt history database" in shown.stderr


def test_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    """Break-it pass: --history LINK followed the link, made the target 0600 and could
    write SQLite into it (root and a planted link to /etc/passwd)."""
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0::/root:/bin/sh\n")
    target.chmod(0o644)
    link = tmp_path / "history.sqlite3"
    link.symlink_to(target)
    for create in (True, False):
        with pytest.raises(HistoryError, match="symbolic link"):
            HistoryStore(link, create=create)
    assert target.read_text() == "root:x:0:0::/root:/bin/sh\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
