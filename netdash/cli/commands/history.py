"""``netdash history [PORT]``: the recorded timeline of listeners, newest first, as a table
(the column style of ``netdash list``) or JSON (schema/netdash-history.schema.json)."""

from __future__ import annotations

import sys
import time

from netdash.cli.common import OutputError, UsageError, console, json_text, write
from netdash.config import Settings
from netdash.core.history import Event, parse_since
from netdash.core.text import visible_bytes
from netdash.history.store import HistoryError, HistoryStore

__all__ = ["HISTORY_SCHEMA_VERSION", "run"]

HISTORY_SCHEMA_VERSION = 1
HEADERS = ("time", "event", "program", "pid", "user", "address", "scope", "verdict", "detail")
"""The last column: a probe event's answers, else the project (repository@branch)."""


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _verdict(e: Event) -> str:
    return f"{e.previous} → {e.verdict}" if e.previous else e.verdict


def event_json(e: Event) -> dict[str, object]:
    """One event as in schema/netdash-history.schema.json."""
    return {
        "at": round(e.at, 3),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(e.at)),
        "event": e.kind,
        "protocol": e.protocol,
        "address": e.address,
        "port": e.port,
        "scope": e.scope,
        "verdict": e.verdict,
        "previous_verdict": e.previous,
        "program": e.program,
        "pid": e.pid,
        "user": e.user,
        "project": e.project,
        "detail": e.detail,
    }


def run(settings: Settings) -> int:
    """Print the events matching ``settings`` (port, ``--since``, ``--program``,
    ``--exposed``); exit 0 (also when there are none). No database yet at the default path
    is "no events"; a named path (``--history``, config, ``NETDASH_HISTORY``) with no
    database, or an unreadable one, is an error (exit 2): a mistyped path must not read as
    an empty history."""
    if settings.history is None:
        raise UsageError("history is off (--no-history or config history = false)")
    if not settings.history_own_dir and not settings.history.exists():
        raise UsageError(
            f"no history database at {settings.history} (nothing recorded there yet, or a "
            "mistyped path)"
        )
    since = parse_since(settings.since, time.time()) if settings.since else None
    events: list[Event] = []
    if settings.history.exists():
        try:
            store = HistoryStore(settings.history, create=False)
            try:
                program = visible_bytes(settings.program) if settings.program else None
                events = store.events(settings.port, since, program, settings.exposed)
            finally:
                store.close()
        except HistoryError as exc:
            raise OutputError(f"cannot read the history: {exc}") from None
    if settings.output == "json":
        from netdash import __version__

        document = {
            "schema_version": HISTORY_SCHEMA_VERSION,
            "netdash_version": __version__,
            "database": str(settings.history),
            "events": [event_json(e) for e in events],
        }
        write(json_text(document))
        return 0
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from netdash.core.model import Verdict
    from netdash.core.text import clean
    from netdash.output.labels import VERDICT_STYLE, endpoint

    try:
        out = console()
        if not events:
            out.print(f"No events recorded in {settings.history}.", markup=False)
            sys.stdout.flush()
            return 0
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for header in HEADERS:
            table.add_column(header, no_wrap=header in ("time", "pid", "address"))
        for e in events:
            try:
                style = VERDICT_STYLE.get(Verdict(e.verdict), "")
            except ValueError:
                style = ""
            table.add_row(
                Text(_when(e.at)),
                Text(e.kind),
                Text(clean(e.program or "unknown", 40)),
                Text(str(e.pid) if e.pid is not None else "?"),
                Text(clean(e.user or "", 20)),
                Text(f"{e.protocol} {endpoint(e.address, e.port)}"),
                Text(e.scope),
                Text(_verdict(e), style=style),
                Text(clean(e.detail or e.project or "", 120)),
            )
        out.print(table)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None
    return 0
