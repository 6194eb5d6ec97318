"""ServiceRows.of: the rows of a subset of a snapshot's listeners (a filter, a toggle), derived
from the full grouping. Issue 18 made it proportional to the subset; what it returns must be
what the full grouping says: the same rows (the same objects when whole), in its order, a row
partly kept holding only its kept listeners."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netdash.core.model import Listener, Process
from netdash.core.services import ServiceRows, service_rows

ADDRESSES = ("0.0.0.0", "::", "127.0.0.1", "::1", "192.168.1.5")


def _listeners() -> list[Listener]:
    """A small snapshot: services on several addresses, shared and unknown owners, and
    SO_REUSEPORT twins."""
    out = []
    for n in range(40):
        pid = None if n % 7 == 0 else 100 + n % 5
        procs = (Process(pid, f"p{pid}"),) if pid is not None else ()
        out.append(
            Listener(
                "tcp",
                ADDRESSES[n % 5],
                8000 + n % 6,
                6 if ":" in ADDRESSES[n % 5] else 4,
                procs,
                inode=n,
            )
        )
    return out


ALL = _listeners()
ROWS = ServiceRows(ALL)


def _expected(kept: list[Listener]) -> list[tuple[str, list[tuple[str, tuple[int, ...]]]]]:
    """The full grouping's rows, each with only its kept listeners, empty ones left out."""
    ids = {id(li) for li in kept}
    out = []
    for scope, rows in service_rows(ALL):
        members = []
        for row in rows:
            inodes = tuple(li.inode for li in row.listeners if id(li) in ids)
            if inodes:
                members.append((row.key, inodes))
        if members:
            out.append((scope.value, members))
    return out


@given(st.lists(st.booleans(), min_size=len(ALL), max_size=len(ALL)))
def test_rows_of_a_subset_are_the_full_rows_narrowed(mask: list[bool]) -> None:
    kept = [li for li, keep in zip(ALL, mask, strict=True) if keep]
    got = ROWS.of(kept)
    assert [
        (scope.value, [(row.key, tuple(li.inode for li in row.listeners)) for row in rows])
        for scope, rows in got
    ] == _expected(kept)
    full = {row.key: row for _, rows in ROWS.all for row in rows}
    for _, rows in got:
        for row in rows:
            if len(row.listeners) == len(full[row.key].listeners):
                assert row is full[row.key]  # whole: the same object (its cells are reused)
            else:
                whole = full[row.key]
                counts = dict(zip(whole.listeners, whole.sockets_on_endpoint, strict=True))
                assert row.sockets_on_endpoint == tuple(counts[li] for li in row.listeners)


def test_listeners_not_of_the_snapshot_are_grouped_on_their_own() -> None:
    stranger = Listener("tcp", "0.0.0.0", 9999, 4, (Process(1, "init"),))
    assert ROWS.of([stranger]) == service_rows([stranger])
    assert ROWS.of([]) == []
    assert ServiceRows([]).of([]) == []  # a machine with no listener
