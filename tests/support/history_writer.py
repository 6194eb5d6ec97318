"""A writer of the history database in its own process, for the concurrency tests.

``python -m tests.support.history_writer PATH COUNT TAG`` records COUNT probe events (detail
``TAG n``) one transaction each; with ``--die`` it then opens a transaction, inserts, and
kills itself with SIGKILL before committing (a writer killed mid-transaction).
"""

from __future__ import annotations

import os
import signal
import sys

from netdash.core.history import Event, Seen
from netdash.history.store import HistoryStore

SEEN = Seen("tcp", "0.0.0.0", 5000, "all-interfaces", "exposed-unverified", "node", 70, "ada")


def main(argv: list[str]) -> None:
    path, count, tag = argv[0], int(argv[1]), argv[2]
    store = HistoryStore(path)
    for n in range(count):
        event = Event(
            float(n), "probe", "tcp", "0.0.0.0", 5000, "all-interfaces", "exposed",
            program="node", detail=f"{tag} {n}",
        )  # fmt: skip
        store.record({SEEN.key: SEEN}, float(n), extra=[event])
    if "--die" in argv:
        db = store._db
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO events (at, kind, protocol, address, port, scope, verdict) "
            "VALUES (1, 'probe', 'tcp', '0.0.0.0', 5000, 'x', 'half-written')"
        )
        sys.stdout.write("in transaction\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1:])
