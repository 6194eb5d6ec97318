"""Text for people: ``netdash list``'s tables, ``netdash check``'s report and ``who``'s
sentences, all written from an :class:`~netdash.core.assess.Assessment`.

Cells come from the column declarations (:mod:`netdash.output.columns`) and words from
:mod:`netdash.output.labels`; text from other programs is cleaned there and wrapped in
``rich.text.Text`` here, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netdash.core.assess import Assessment, ExposureGroup, RowAssessment
from netdash.core.model import Listener, Verdict, Via
from netdash.core.reach import BLOCKED
from netdash.core.text import clean
from netdash.output.columns import COLUMNS, LIST, LIST_PROBED, Column, view
from netdash.output.columns import fit as fit_keys
from netdash.output.labels import (
    SCOPE_TITLES,
    VERDICT_MARK,
    address_label,
    endpoint,
    firewall_phrases,
    owner_label,
    probe_label,
    risk_label,
    server_label,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["check_text", "fit", "print_table", "who_lines"]


def print_table(assessment: Assessment, lan: Mapping[int, str], console: Console) -> None:
    """Print the shown listeners as one table per scope, most exposed first, one row per
    service; the probe columns only when ``assessment.probed``."""
    from rich import box  # imported here: JSON and the TUI's labels need no Rich tables
    from rich.table import Table
    from rich.text import Text

    snapshot = assessment.snapshot
    lan_text = ", ".join(lan.values()) or "none found"
    console.print(Text(f"{clean(snapshot.hostname, 60)} · LAN address: {lan_text}", style="bold"))
    for reason in snapshot.partial_reasons:
        console.print(Text(f"partial view: {reason}", style="yellow"))
    if not assessment.shown:
        console.print("No TCP or UDP listeners." if assessment.udp else "No TCP listeners.")
        return
    groups = assessment.rows()
    every = [row for _, rows in groups for row in rows]
    columns = tuple(
        c
        for c in view(LIST_PROBED if assessment.probed else LIST)
        if not c.optional or any(c.value(row) for row in every)
    )
    if console.is_terminal:  # piped output keeps every column
        columns = fit(columns, every, console.width)
    for scope, rows in groups:
        console.print()
        console.print(Text(SCOPE_TITLES[scope], style="bold"))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in columns:
            table.add_column(
                column.header,
                justify="right" if column.justify == "right" else "left",
                no_wrap=column.no_wrap or column.number,
                min_width=_natural(column, rows) if column.number else None,
            )
        for row in rows:
            table.add_row(*(Text(c.value(row), style=c.style(row)) for c in columns))
        console.print(table)
        # Notes (risks in words) under the table, not in it: a sentence in a cell widened
        # its column until the numbers and probe answers no longer fitted.
        for row in rows:
            for line in row.notes:
                console.print(Text(f"  ↳ {row.row.first.port}: {line}", style="yellow"))
    if any(c.key == "reach_why" for c in columns):
        console.print()
        console.print(
            Text(
                "LO LAN: ✔ accepted a connection via loopback / via the LAN address, "
                "✗ did not, – not probed that way (wider terminal or --json: the answers)",
                style="dim",
            )
        )


def _natural(column: Column, rows: Sequence[RowAssessment]) -> int:
    """The width a column needs to show every cell on one line (terminal cells)."""
    from rich.cells import cell_len  # Rich only for the outputs that draw tables

    return max([len(column.header), *(cell_len(column.value(r)) for r in rows)])


def fit(columns: Sequence[Column], rows: Sequence[RowAssessment], width: int) -> tuple[Column, ...]:
    """The columns of a Rich ``SIMPLE_HEAD`` table of ``rows`` that fit ``width`` terminal
    cells (each column as wide as its widest cell, 3 cells between columns and 1 at each
    edge), chosen by the declaration's priorities (:func:`netdash.output.columns.fit`)."""
    keys = [c.key for c in columns]
    wanted = {*keys, *(c.key for c in COLUMNS.values() if set(c.merges) <= set(keys) and c.merges)}
    natural = {k: _natural(COLUMNS[k], rows) for k in wanted}
    return view(fit_keys(keys, natural, width + 1, extra=3))


def _line(group: ExposureGroup) -> str:
    lead = group.lead.listener
    via = ", ".join(clean(n, 20) for n in group.reach) or "no interface"
    endpoints = ", ".join(endpoint(a, lead.port) for a in group.addresses)
    text = (
        f"{VERDICT_MARK[group.verdict]} {group.verdict.value}: {lead.protocol} "
        f"{endpoints} {owner_label(lead)}, {group.lead.scope.value} via {via}"
    )
    lan_probe = probe_label(group.results, Via.LAN)
    if lan_probe:
        text += f"; LAN probe: {lan_probe}"
    what = server_label(group.results)
    if what:
        text += f", {what}"
    return text


def _risk_lines(report: Assessment, fail_on: str) -> tuple[list[str], int]:
    """The report's risks, one service at a time (loudest first within it): severity, reach,
    endpoint, owner, what a reacher can do, evidence and fix, and whether it fails
    ``--fail-on``; and how many services have a failing risk."""
    out: list[str] = []
    failing = 0
    groups = report.groups([a for a in report.listeners if a.risks])
    groups.sort(key=lambda g: g.risks[0].rank)  # the loudest first
    for group in groups:
        lead = group.lead.listener
        endpoints = ", ".join(endpoint(a, lead.port) for a in group.addresses)
        failing += any(m.fails(fail_on) for m in group.members)
        for risk in group.risks:
            state = f" [allowed by {risk.allowed_by}]" if risk.allowed_by else ""
            if risk.fails(fail_on):
                state = f" [fails --fail-on {fail_on}]"
            out.append(
                f"  {risk_label(risk)}: {lead.protocol} {endpoints} {owner_label(lead)}: "
                f"{clean(risk.claim, 200)}{state}"
            )
            out.append(f"      evidence: {clean(risk.evidence, 200)}")
            out.append(f"      fix: {clean(risk.fix, 300)}")
    return (["risks:", *out] if out else []), failing


def check_text(report: Assessment, fail_on: str = "exposed") -> str:
    """``netdash check``'s report: each finding (one per service: its addresses on one line)
    with program, pid, port and fix hint, then what was allowed or ignored, then the risks
    the probe found (with evidence and fix, and which fail ``--fail-on``), then a one-line
    summary. Ends with a newline."""
    out: list[str] = []
    findings = report.groups(report.findings)
    for group in findings:
        out.append(_line(group))
        for note in group.notes:
            out.append(f"    {clean(note, 120)}")
        out.append(f"    fix: {clean(group.lead.hint.text, 400)}")
    allowed = report.groups(report.allowed)
    if allowed:
        out.append("allowed:")
        for group in allowed:
            rule = group.lead.allowed_by.spec if group.lead.allowed_by else ""
            out.append(f"  {_line(group)} [allowed by {rule}]")
    ignored = report.groups(report.ignored)
    if ignored:
        out.append("ignored (reachable only through ignored interfaces):")
        for group in ignored:
            out.append(f"  {_line(group)}")
    shielded = report.groups([a for a in report.listeners if a.verdict is Verdict.SHIELDED])
    if shielded:
        out.append("shielded (the firewall blocks them from every other network):")
        for group in shielded:
            out.append(f"  {_line(group)}")
            for phrase in firewall_phrases([e for m in group.members for e in m.firewall], BLOCKED):
                out.append(f"    {phrase}")
    risk_lines, risky = _risk_lines(report, fail_on)
    out += risk_lines
    n = len(findings)
    kinds = "TCP and UDP" if report.udp else "TCP"
    local = report.local - report.shielded
    tail = f"{len(allowed)} allowed, {len(ignored)} ignored, {local} local-only"
    if shielded:
        tail += f", {report.shielded} shielded"
    view = report.firewall
    if view is not None and not view.read and view.reason:
        out.append(clean(view.reason, 200))
    if not report.probed:
        tail += "; not probed (--probe verifies)"
    for reason in report.snapshot.partial_reasons:
        out.append(f"incomplete: {clean(reason, 200)}")
    if risky and n:
        tail += f"; {risky} with a risk that fails --fail-on {fail_on}"
    if n:
        noun = "listener" if n == 1 else "listeners"
        out.append(f"FAIL: {n} exposed {kinds} {noun} not allowed ({tail})")
    elif risky:
        noun = "service" if risky == 1 else "services"
        out.append(f"FAIL: {risky} {noun} with a risk that fails --fail-on {fail_on} ({tail})")
    elif not report.complete:
        what = "every listener" if report.snapshot.partial else "what reaches each port"
        out.append(
            "INCOMPLETE: nothing exposed beyond what is allowed in what could be read; "
            f"run with sudo to see {what} ({tail})"
        )
    else:
        out.append(f"OK: nothing exposed beyond what is allowed ({tail})")
    return "\n".join(out) + "\n"


def who_lines(assessment: Assessment, listeners: Sequence[Listener], port: int) -> list[str]:
    """``netdash who PORT``: one sentence per program on ``port`` (``listeners``, a subset of
    the snapshot), with the probe's answers when ``assessment.probed``."""
    lines: list[str] = []
    for _scope, rows in assessment.rows(listeners):
        for row in rows:
            verdict: Verdict = row.verdict
            line = (
                f"{row.row.first.protocol} {port}: {owner_label(row.processes)} on "
                f"{address_label(row.row, row.results)}, {row.row.scope.value}, {verdict.value}"
            )
            if row.acknowledged:
                line += f" ({row.acknowledged})"
            if assessment.probed:
                loop = probe_label(row.results, Via.LOOPBACK) or "-"
                lan_text = probe_label(row.results, Via.LAN) or "-"
                what = server_label(row.results)
                line += f"; loopback {loop}, LAN {lan_text}" + (f", {what}" if what else "")
                if row.risk is not None:
                    line += f"; risk {risk_label(row.risk)}: {row.risk.claim}"
            lines.append(line)
    return lines
