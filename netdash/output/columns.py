"""Every column of every table, declared once: the dashboard's table, ``netdash list``'s table
and ``who`` read these declarations (as dolphie's panels declare theirs).

A :class:`Column` names its header, the plain text of a cell (from a
:class:`~netdash.core.assess.RowAssessment`), its style, its alignment and its width policy:
``priority`` orders what a narrow terminal gives up first (0 is never dropped), and a
``number`` is never cut. A column with ``merges`` stands in for those columns, in one short
cell, when the table is too narrow for them (:func:`fit`). A view is a tuple of column keys.
Adding a column is one entry in :data:`COLUMNS` and its key in the views that show it.

Plain strings and Rich style names only: renderers (Rich tables, Textual's DataTable) wrap
the text in ``rich.text.Text``, so nothing here is parsed as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from netdash.core.assess import RowAssessment
from netdash.core.model import Via
from netdash.core.text import clean
from netdash.output.labels import (
    ALLOWED_MARK,
    RISK_STYLE,
    VERDICT_MARK,
    VERDICT_STYLE,
    address_label,
    no_lan_probe,
    pid_label,
    port_label,
    probe_label,
    process_label,
    risk_label,
    server_label,
)

__all__ = [
    "COLUMNS",
    "DASHBOARD",
    "LIST",
    "LIST_PROBED",
    "Column",
    "fit",
    "view",
]


@dataclass(frozen=True)
class Column:
    """One column. ``value`` gives a cell's text, ``style`` its Rich style (``""``: none);
    ``justify`` is ``"left"`` or ``"right"``; ``priority`` 0 is never dropped, higher numbers
    go first at narrow widths; ``number`` marks cells that must never be cut; ``no_wrap``
    keeps a cell on one line; ``merges`` names the columns this one replaces, in less room,
    when they do not fit side by side (it is in no view itself); an ``optional`` column is
    shown only when some row has text in it."""

    key: str
    header: str
    value: Callable[[RowAssessment], str]
    style: Callable[[RowAssessment], str] = lambda _: ""
    justify: str = "left"
    priority: int = 1
    number: bool = False
    no_wrap: bool = False
    merges: tuple[str, ...] = ()
    optional: bool = False


def _project(row: RowAssessment) -> str:
    """The leading process's git project: ``shop@main`` (:class:`netdash.core.model.Project`),
    empty when none was found."""
    project = next((p.project for p in row.processes if p.project is not None), None)
    return clean(project.label, 40) if project is not None else ""


def _mark(row: RowAssessment) -> str:
    return ALLOWED_MARK if row.acknowledged else VERDICT_MARK[row.verdict]


def _mark_style(row: RowAssessment) -> str:
    if row.acknowledged:
        return "bold cyan"
    return {"‼": "bold red", "⚠": "yellow", "⊘": "blue", "·": "green", "⁶": "bold cyan"}[_mark(row)]


def _probe_style(via: Via) -> Callable[[RowAssessment], str]:
    def style(row: RowAssessment) -> str:
        answered = any(r.outcome.accepted for r in row.results if r.via is via)
        if via is Via.LAN and answered:
            return "bold red"
        return "green" if answered else "dim"

    return style


def _lan_or_why(row: RowAssessment) -> str:
    """The LAN probe's label, or why a probed listing has none (UDP, no LAN address)."""
    label = probe_label(row.results, Via.LAN)
    if label or not row.probed:
        return label
    return no_lan_probe(row.row)


def _reach_mark(row: RowAssessment, via: Via) -> str:
    mine = [r for r in row.results if r.via is via]
    if not mine:
        return "–"
    return "✔" if any(r.outcome.accepted for r in mine) else "✗"


def _reach(row: RowAssessment) -> str:
    """``✔  ✗``: answered via loopback, not via the LAN address (under ``LO LAN``); ``–``
    where that way was not probed; empty before any probe of the row."""
    if not row.results:
        return ""
    return f"{_reach_mark(row, Via.LOOPBACK)}  {_reach_mark(row, Via.LAN)}"


def _reach_style(row: RowAssessment) -> str:
    if _reach_mark(row, Via.LAN) == "✔":
        return "bold red"
    return "green" if _reach_mark(row, Via.LOOPBACK) == "✔" else "dim"


def _risk(row: RowAssessment) -> str:
    risk = row.risk
    return risk_label(risk) if risk is not None and risk.severity != "low" else ""


def _risk_style(row: RowAssessment) -> str:
    risk = row.risk
    return RISK_STYLE[risk.severity] if risk is not None else ""


def _interfaces(row: RowAssessment) -> str:
    return ", ".join(clean(n, 20) for n in row.reach) or "no interface"


COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("mark", "", _mark, _mark_style, priority=0),
        Column("proto", "PROTO", lambda r: r.row.first.protocol, priority=3),
        Column("address", "ADDRESS", lambda r: address_label(r.row, r.results), priority=0),
        Column(
            "port",
            "PORT",
            lambda r: port_label(r.row.first),
            justify="right",
            number=True,
            priority=0,
        ),
        # The loudest risk not acknowledged, medium or above (at most 12 cells), shown once
        # any row has one (a low one, DNS rebinding of a loopback server, is common: it is
        # in the details and JSON, and does not take a column from the probe's answers);
        # priority 1 and left of PID, LOOPBACK and LAN, so those go first at narrow widths.
        Column(
            "risk",
            "RISK",
            _risk,
            _risk_style,
            priority=1,
            no_wrap=True,
            optional=True,
        ),
        Column("process", "PROCESS", lambda r: process_label(r.processes), priority=0),
        Column("project", "PROJECT", _project, lambda _: "dim", priority=4, optional=True),
        Column(
            "pid",
            "PID",
            lambda r: pid_label(r.processes),
            justify="right",
            number=True,
            priority=1,
        ),
        Column("interfaces", "INTERFACES", _interfaces, priority=3),
        Column(
            "verdict",
            "VERDICT",
            # An exposure an allow rule accepts says so, as the dashboard's ✓ does (the
            # verdict itself stays the fact: JSON keeps "exposed" with allowed_by).
            lambda r: f"{r.verdict.value} {ALLOWED_MARK}" if r.acknowledged else r.verdict.value,
            lambda r: "bold cyan" if r.acknowledged else VERDICT_STYLE[r.verdict],
            priority=0,
        ),
        Column(
            "loopback",
            "LOOPBACK",
            lambda r: probe_label(r.results, Via.LOOPBACK),
            _probe_style(Via.LOOPBACK),
            priority=1,
            no_wrap=True,
        ),
        Column(
            "lan",
            "LAN",
            lambda r: probe_label(r.results, Via.LAN),
            _probe_style(Via.LAN),
            priority=1,
            no_wrap=True,
        ),
        Column("reach", "LO LAN", _reach, _reach_style, priority=2, merges=("loopback", "lan")),
        Column("lan_why", "LAN", _lan_or_why, _probe_style(Via.LAN), priority=1, no_wrap=True),
        # netdash list --probe's stand-in for LOOPBACK and LAN (with its why) when they do
        # not fit: the same marks as the dashboard's. Priority 0: the probe's answers are what
        # list --probe is for, so at 80 columns PID goes before they do.
        Column(
            "reach_why",
            "LO LAN",
            _reach,
            _reach_style,
            priority=0,
            merges=("loopback", "lan_why"),
        ),
        Column("what", "WHAT", lambda r: server_label(r.results), priority=2),
    )
}
"""Every column, by key."""

DASHBOARD = (
    "mark", "address", "port", "risk", "process", "project", "loopback", "lan", "pid", "what",
)  # fmt: skip
"""The dashboard's table."""

LIST = ("proto", "address", "port", "pid", "process", "project", "interfaces", "verdict")
"""``netdash list``'s table, not probed."""

LIST_PROBED = (*LIST, "risk", "loopback", "lan_why", "what")
"""``netdash list --probe``'s table."""


def view(keys: tuple[str, ...]) -> tuple[Column, ...]:
    """The columns of a view, in order."""
    return tuple(COLUMNS[k] for k in keys)


def fit(
    keys: Sequence[str],
    natural: Mapping[str, int],
    width: int,
    extra: int,
    empty: Collection[str] = (),
) -> tuple[str, ...]:
    """The keys of the columns to show in ``width`` terminal cells, each column taking its
    ``natural`` width (its widest cell, every column of :data:`COLUMNS` that may be shown)
    plus ``extra`` (padding, separators). While the total exceeds ``width``: a column of the
    highest ``priority`` (the rightmost of equals) goes, except that columns a stand-in
    ``merges`` are first merged into it when no column of higher priority than theirs is
    left to drop. Priority 0 never goes, and no cell is ever cut: when only priority 0 is
    left, the table is as narrow as it gets. Columns in ``empty`` (optional ones no row has
    text for) are left out from the start."""
    kept = [k for k in keys if k not in empty]
    stand_ins = [c for c in COLUMNS.values() if c.merges]

    def total() -> int:
        return sum(natural[k] + extra for k in kept)

    while total() > width:
        droppable = [k for k in kept if COLUMNS[k].priority > 0]
        worst = max(droppable, key=lambda k: (COLUMNS[k].priority, kept.index(k)), default=None)
        merge = next((s for s in stand_ins if all(m in kept for m in s.merges)), None)
        if merge is not None and (
            worst is None
            or COLUMNS[worst].priority <= max(COLUMNS[m].priority for m in merge.merges)
        ):
            at = kept.index(merge.merges[0])
            kept = [k for k in kept if k not in merge.merges]
            kept.insert(at, merge.key)
            continue
        if worst is None:
            break
        kept.remove(worst)
    return tuple(kept)
