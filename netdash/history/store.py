"""The history database: SQLite (the standard library's ``sqlite3``), one file.

- **Concurrency.** WAL journal (readers never block writers or each other); writers take
  turns: ``busy_timeout`` of 5 s, each write one short ``BEGIN IMMEDIATE`` transaction,
  retried a few times on ``SQLITE_BUSY``. The dashboard and ``netdash watch`` can write at
  once: each write compares the new view with the ``current`` table (the last listeners any
  writer saw) inside the transaction, so a change is recorded once, whoever saw it.
- **Bounds.** Events older than ``max_age`` seconds (90 days) go, then the oldest until the
  file is under ``max_bytes`` (100 MB); ``auto_vacuum=INCREMENTAL`` (set when the file is
  created) and ``PRAGMA incremental_vacuum`` give the pages back, and ``journal_size_limit``
  keeps the WAL file from staying large, so the file really shrinks.
- **Modes.** The file is created 0600; a directory netdash creates is 0700.
- **Schema.** ``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS` lead an
  older file to :data:`SCHEMA_VERSION`. A newer file is refused, not changed.
- **Errors.** Every failure (corrupt file, locked beyond the timeout, read-only directory,
  full disk) is a :class:`HistoryError` with a one-line message.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from netdash.core.history import Event, Seen, changes, keep_proved
from netdash.core.model import ListenerKey

__all__ = [
    "MAX_AGE",
    "MAX_BYTES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "HistoryError",
    "HistoryStore",
]

SCHEMA_VERSION = 1
MAX_AGE = 90 * 86400.0
"""Seconds an event is kept (90 days)."""
MAX_BYTES = 100 * 1024 * 1024
"""The size the file is kept under (100 MB)."""
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024
BUSY_TIMEOUT_MS = 5000
PRUNE_EVERY = 3600.0
"""Seconds between two prunings by one writer."""

MIGRATIONS: Mapping[int, Sequence[str]] = {
    1: (
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            protocol TEXT NOT NULL,
            address TEXT NOT NULL,
            port INTEGER NOT NULL,
            scope TEXT NOT NULL,
            verdict TEXT NOT NULL,
            previous TEXT,
            program TEXT,
            pid INTEGER,
            user TEXT,
            project TEXT,
            detail TEXT)""",
        "CREATE INDEX events_at ON events(at)",
        "CREATE INDEX events_port ON events(port, at)",
        """CREATE TABLE current (
            protocol TEXT NOT NULL,
            address TEXT NOT NULL,
            port INTEGER NOT NULL,
            scope TEXT NOT NULL,
            verdict TEXT NOT NULL,
            program TEXT,
            pid INTEGER,
            user TEXT,
            project TEXT,
            PRIMARY KEY (protocol, address, port)) WITHOUT ROWID""",
    ),
}
"""Statements that lead schema version N-1 to N (1: from an empty file)."""

_EVENT_COLUMNS = (
    "at, kind, protocol, address, port, scope, verdict, previous, program, pid, user, "
    "project, detail"
)
_CURRENT_COLUMNS = "protocol, address, port, scope, verdict, program, pid, user, project"
_EXPOSED = ("exposed", "exposed-unverified")
_T = TypeVar("_T")


class HistoryError(Exception):
    """The history database cannot be used; the message is one line naming the file."""


def _prepare_file(path: Path, own_dir: bool) -> None:
    """Create the directory (0700) and the file (0600) if missing; refuse anything but a
    regular file. ``own_dir``: the directory is netdash's own, so it is made 0700 even when
    it existed looser."""
    directory = path.parent
    if not directory.exists():
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
    elif own_dir:
        info = directory.stat()
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(directory, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        _refuse_link(path)
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise HistoryError(f"{path}: not a regular file") from None
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, 0o600)
    else:
        os.fchmod(fd, 0o600)
        os.close(fd)


def _refuse_link(path: Path) -> None:
    """A symbolic link is never followed: the database would be another file (root running
    ``watch`` on a link planted to ``/etc/passwd`` would chmod it 0600 and write SQLite into
    it). Raises :class:`HistoryError`."""
    if path.is_symlink():
        raise HistoryError(
            f"{path}: a symbolic link; netdash writes only its own history file (name the "
            "file itself with --history)"
        )


def _row_event(row: Sequence[Any]) -> Event:
    return Event(*row)  # the columns of _EVENT_COLUMNS, in Event's field order


def _event_row(e: Event) -> tuple[object, ...]:
    return (
        e.at,
        e.kind,
        e.protocol,
        e.address,
        e.port,
        e.scope,
        e.verdict,
        e.previous,
        e.program,
        e.pid,
        e.user,
        e.project,
        e.detail,
    )


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class HistoryStore:
    """One open history database at ``path``.

    ``create``: make the file (and directory) if missing; otherwise a missing file is a
    :class:`HistoryError`. ``own_dir``: the directory is netdash's default one (kept 0700).
    ``max_age`` (seconds) and ``max_bytes`` bound it. Not shared between threads at once:
    each thread or process opens its own (the dashboard writes from one thread).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        create: bool = True,
        own_dir: bool = False,
        max_age: float = MAX_AGE,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.path = Path(path)
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._pruned_at = 0.0
        try:
            if create:
                _prepare_file(self.path, own_dir)
            elif self.path.is_symlink():
                _refuse_link(self.path)
            elif not self.path.exists():
                raise HistoryError(f"{self.path}: no history yet")
            self._db = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except OSError as exc:
            raise HistoryError(f"{self.path}: {exc.strerror or exc}") from None
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from None
        try:
            self._setup()
        except sqlite3.Error as exc:
            self._db.close()
            raise HistoryError(f"{self.path}: {self._explain(exc)}") from None

    @staticmethod
    def _explain(exc: sqlite3.Error) -> str:
        text = str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and (
            "not a database" in text or "malformed" in text
        ):
            return f"{text} (corrupt history database: move it away or use --history PATH)"
        return text

    def _setup(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"{self.path}: written by a newer netdash (schema {version}, this one reads "
                f"{SCHEMA_VERSION}); use --history PATH or --no-history"
            )
        if version == 0 and not db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
            # Only an empty file takes auto_vacuum; it must precede the first table.
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        db.execute("PRAGMA synchronous = NORMAL")
        for target in range(version + 1, SCHEMA_VERSION + 1):

            def migrate(t: int = target) -> None:
                for statement in MIGRATIONS[t]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {t}")

            self._transaction(migrate)

    def _transaction(self, body: Callable[[], _T]) -> _T:
        """Run ``body()`` in one ``BEGIN IMMEDIATE`` transaction, retried up to 5 times on
        ``SQLITE_BUSY`` (after ``busy_timeout`` already waited)."""
        for attempt in range(5):
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc) and attempt < 4:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise
            try:
                result = body()
                self._db.execute("COMMIT")
                return result
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._db.close()

    # Writing -------------------------------------------------------------------------------

    def record(
        self,
        seen: Mapping[ListenerKey, Seen],
        at: float,
        probed: Iterable[ListenerKey] = (),
        extra: Sequence[Event] = (),
    ) -> list[Event]:
        """Record the listeners ``seen`` at ``at`` (epoch seconds): the :func:`changes` from
        the ``current`` table to ``seen`` (an observation without a probe of a key does not
        take back an ``exposed`` proof: :func:`~netdash.core.history.keep_proved`), plus
        ``extra`` events (probe outcomes). Returns the events written. Raises
        :class:`HistoryError`."""
        probed_keys = frozenset(probed)

        def body() -> list[Event]:
            before = self._current()
            after = {k: keep_proved(before.get(k), s, k in probed_keys) for k, s in seen.items()}
            events = [*changes(before, after, at), *extra]
            if events:
                self._db.executemany(
                    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({','.join('?' * 13)})",
                    [_event_row(e) for e in events],
                )
            gone = [k for k in before if k not in after]
            if gone:
                self._db.executemany(
                    "DELETE FROM current WHERE protocol=? AND address=? AND port=?", gone
                )
            changed = [s for k, s in after.items() if _differs(before.get(k), s)]
            if changed:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO current ({_CURRENT_COLUMNS}) "
                    f"VALUES ({','.join('?' * 9)})",
                    [
                        (
                            s.protocol,
                            s.address,
                            s.port,
                            s.scope,
                            s.verdict,
                            s.program,
                            s.pid,
                            s.user,
                            s.project,
                        )
                        for s in changed
                    ],
                )
            return events

        try:
            events = self._transaction(body)
            if at - self._pruned_at >= PRUNE_EVERY:
                self.prune(at)
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {self._explain(exc)}") from None
        except OSError as exc:
            raise HistoryError(f"{self.path}: {exc.strerror or exc}") from None
        return events

    def _current(self) -> dict[ListenerKey, Seen]:
        rows = self._db.execute(f"SELECT {_CURRENT_COLUMNS} FROM current").fetchall()
        return {
            (r[0], r[1], int(r[2])): Seen(
                protocol=r[0],
                address=r[1],
                port=int(r[2]),
                scope=r[3],
                verdict=r[4],
                program=r[5],
                pid=r[6],
                user=r[7],
                project=r[8],
            )
            for r in rows
        }

    def prune(self, now: float) -> int:
        """Delete events older than ``max_age``, then the oldest until the file is under
        ``max_bytes``; give the pages back to the file system. Returns events deleted."""
        self._pruned_at = now
        db = self._db

        def by_age() -> int:
            return db.execute("DELETE FROM events WHERE at < ?", (now - self.max_age,)).rowcount

        deleted = self._transaction(by_age)
        while self._used_bytes() > self.max_bytes:
            count = int(db.execute("SELECT count(*) FROM events").fetchone()[0])
            if count == 0:
                break
            chunk = max(1, count // 10)

            def oldest(n: int = chunk) -> int:
                return db.execute(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY at LIMIT ?)",
                    (n,),
                ).rowcount

            deleted += self._transaction(oldest)
        if deleted:
            # executescript steps the pragma to its end (execute() would free one page).
            db.executescript("PRAGMA incremental_vacuum;")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return deleted

    def _used_bytes(self) -> int:
        """Bytes of the pages in use (freed pages excluded: they go at the next vacuum)."""
        db = self._db
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
        free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
        size = int(db.execute("PRAGMA page_size").fetchone()[0])
        return (pages - free) * size

    # Reading -------------------------------------------------------------------------------

    def events(
        self,
        port: int | None = None,
        since: float | None = None,
        program: str | None = None,
        exposed: bool = False,
        limit: int | None = None,
    ) -> list[Event]:
        """Events newest first: on ``port``, at or after ``since`` (epoch seconds), of
        ``program`` (its name, exactly), with an exposed verdict (``exposed``: exposed or
        exposed-unverified, or a verdict change from one), at most ``limit``. Raises
        :class:`HistoryError`."""
        where: list[str] = []
        args: list[object] = []
        if port is not None:
            where.append("port = ?")
            args.append(port)
        if since is not None:
            where.append("at >= ?")
            args.append(since)
        if program is not None:
            where.append("program = ?")
            args.append(program)
        if exposed:
            where.append("(verdict IN (?, ?) OR previous IN (?, ?))")
            args.extend(_EXPOSED * 2)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            return [_row_event(r) for r in self._db.execute(sql, args).fetchall()]
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {self._explain(exc)}") from None


def _differs(before: Seen | None, after: Seen) -> bool:
    if before is None:
        return True
    return (
        before.scope,
        before.verdict,
        before.program,
        before.pid,
        before.user,
        before.project,
    ) != (after.scope, after.verdict, after.program, after.pid, after.user, after.project)
