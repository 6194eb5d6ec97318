"""The column declarations that the dashboard, ``netdash list`` and ``who`` share. Pure."""

from __future__ import annotations

import pytest

from netdash.core.assess import Assessment
from netdash.output.columns import COLUMNS, DASHBOARD, LIST, LIST_PROBED, view
from netdash.output.text import who_lines
from tests.support.fixed import SNAPSHOT, probe_results


def _rows(probed: bool) -> list:  # type: ignore[type-arg]
    results: dict | None = None  # type: ignore[type-arg]
    if probed:
        results = {}
        for result in probe_results():
            results.setdefault(result.listener, []).append(result)
    assessment = Assessment(SNAPSHOT, results, udp=True)
    return [row for _, rows in assessment.rows() for row in rows]


@pytest.mark.parametrize("keys", [DASHBOARD, LIST, LIST_PROBED])
def test_every_view_names_declared_columns_once(keys: tuple[str, ...]) -> None:
    assert len(set(keys)) == len(keys)
    assert all(k in COLUMNS for k in keys)


def test_the_views_keep_their_headers() -> None:
    assert [c.header for c in view(DASHBOARD)] == [
        "", "ADDRESS", "PORT", "RISK", "PROCESS", "PROJECT", "LOOPBACK", "LAN", "PID", "WHAT",
    ]  # fmt: skip
    assert [c.header for c in view(LIST_PROBED)] == [
        "PROTO", "ADDRESS", "PORT", "PID", "PROCESS", "PROJECT", "INTERFACES", "VERDICT",
        "RISK", "LOOPBACK", "LAN", "WHAT",
    ]  # fmt: skip


@pytest.mark.parametrize("probed", [False, True])
def test_every_column_gives_one_line_of_text_and_a_style_for_every_row(probed: bool) -> None:
    rows = _rows(probed)
    assert {r.verdict.value for r in rows} >= {"exposed-unverified", "local-only"}
    for column in COLUMNS.values():
        for row in rows:
            text = column.value(row)
            assert isinstance(text, str) and "\n" not in text and "\x1b" not in text
            assert isinstance(column.style(row), str)


def test_numbers_are_right_aligned_and_never_dropped_first() -> None:
    numbers = [c for c in COLUMNS.values() if c.number]
    assert {c.key for c in numbers} == {"port", "pid"}
    assert all(c.justify == "right" for c in numbers)
    assert all(c.value(row).split(" ")[0].split("/")[0].isdigit() or c.value(row) == "?"
               for c in numbers for row in _rows(False))  # fmt: skip


def test_who_uses_the_same_words_as_the_tables() -> None:
    assessment = Assessment(SNAPSHOT, udp=True)
    mine = [li for li in SNAPSHOT.listeners if li.port == 22]
    (line,) = who_lines(assessment, mine, 22)
    (row,) = [r for _, rows in assessment.rows(mine) for r in rows]
    process = COLUMNS["process"].value(row)
    assert line.startswith(f"tcp 22: {process} (pid {COLUMNS['pid'].value(row)}")
    assert COLUMNS["address"].value(row) in line and row.verdict.value in line


@pytest.mark.parametrize("probed", [False, True])
@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_terminal_drops_low_priority_columns_and_cuts_nothing(
    probed: bool, width: int
) -> None:
    """At 80 columns `netdash list` drops columns by priority instead of cutting a verdict
    or a number (the column declaration's width policy)."""
    import io

    from rich.console import Console

    from netdash.output.text import print_table

    results = None
    if probed:
        results = {}
        for result in probe_results():
            results.setdefault(result.listener, []).append(result)
    assessment = Assessment(SNAPSHOT, results, udp=True)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=True)
    print_table(assessment, {4: "192.168.1.100"}, console)
    lines = buffer.getvalue().splitlines()
    assert all(len(line) <= width for line in lines), lines
    text = buffer.getvalue()
    assert "…" not in text, text
    for row in [r for _, rows in assessment.rows() for r in rows]:
        assert row.verdict.value in text
        assert COLUMNS["port"].value(row) in text


def test_fit_merges_loopback_and_lan_before_a_number_goes() -> None:
    from netdash.output.columns import fit

    natural = {"mark": 1, "address": 23, "port": 4, "process": 19, "loopback": 8, "lan": 8,
               "pid": 7, "what": 17, "reach": 6, "project": 10, "risk": 0}  # fmt: skip
    empty = ["risk"]  # no risk found: the optional RISK column is left out
    assert fit(DASHBOARD, natural, 200, 2, empty=empty) == tuple(
        k for k in DASHBOARD if k != "risk"
    )
    dashboard = tuple(k for k in DASHBOARD if k != "risk")
    without = tuple(k for k in dashboard if k != "project")
    assert fit(DASHBOARD, natural, 105, 2, empty=empty) == without  # PROJECT first
    assert fit(DASHBOARD, natural, 200, 2, empty=["project", *empty]) == without
    # The rest as before, with no project to show.
    assert fit(without, natural, 90, 2) == without[:-1]  # then WHAT
    assert fit(without, natural, 80, 2) == (
        "mark", "address", "port", "process", "reach", "pid",
    )  # fmt: skip
    assert fit(without, natural, 64, 2) == ("mark", "address", "port", "process", "pid")
    assert fit(without, natural, 20, 2) == ("mark", "address", "port", "process")


def test_the_risk_column_outlasts_pid_and_the_probe_columns() -> None:
    from netdash.output.columns import fit

    # "critical LAN": 12 cells; PORT and PID are numbers, never cut: columns go instead.
    natural = {"mark": 1, "address": 23, "port": 5, "process": 19, "loopback": 8, "lan": 8,
               "pid": 7, "what": 17, "reach": 6, "project": 10, "risk": 12}  # fmt: skip
    assert fit(DASHBOARD, natural, 200, 2) == DASHBOARD
    assert fit(DASHBOARD, natural, 90, 2) == (
        "mark", "address", "port", "risk", "process", "reach", "pid",
    )  # fmt: skip
    assert fit(DASHBOARD, natural, 80, 2) == ("mark", "address", "port", "risk", "process", "pid")
    assert fit(DASHBOARD, natural, 70, 2) == ("mark", "address", "port", "risk", "process")


def test_an_optional_column_without_text_is_left_out_and_goes_first() -> None:
    from netdash.output.columns import fit

    natural = {k: 8 for k in COLUMNS}
    assert "project" not in fit(DASHBOARD, natural, 500, 2, empty=["project"])
    shown = fit(DASHBOARD, natural, 500, 2)
    assert "project" in shown
    narrower = fit(DASHBOARD, natural, sum(10 for _ in DASHBOARD) - 5, 2)
    assert "project" not in narrower and "what" in narrower  # the first to go
