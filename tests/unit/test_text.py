"""Unit tests for ``netdash.core.text.clean`` and the labels built from it."""

from __future__ import annotations

import io
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from netdash.core.assess import Assessment
from netdash.core.model import Interface, Listener, Process, Snapshot
from netdash.core.text import clean, plural
from netdash.output.labels import process_label
from netdash.output.text import print_table

UNSAFE_CATEGORIES = ("Cc", "Cf", "Cs")


def assert_safe(text: str) -> None:
    bad = [ch for ch in text if unicodedata.category(ch) in UNSAFE_CATEGORIES]
    assert not bad, f"raw control/format characters survived: {bad!r} in {text!r}"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1bb", "a\\x1bb"),  # ESC
        ("a\x07b", "a\\x07b"),  # BEL
        ("a\bb", "a\\x08b"),  # backspace
        ("a\rb", "a\\x0db"),  # carriage return
        ("a\nb", "a\\x0ab"),  # newline
        ("a\tb", "a\\x09b"),  # tab
        ("a\x00b", "a\\x00b"),  # NUL
        ("a\x7fb", "a\\x7fb"),  # DEL
        ("a\x9bb", "a\\x9bb"),  # C1 CSI
        ("a\u202eb", "a\\u202eb"),  # RIGHT-TO-LEFT OVERRIDE
        ("a\u2066b\u2069", "a\\u2066b\\u2069"),  # bidi isolates
        ("a\u200bb", "a\\u200bb"),  # zero-width space (Cf)
        ("a\ufeffb", "a\\ufeffb"),  # BOM (Cf)
    ],
)
def test_control_characters_become_visible_escapes(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def test_terminal_escape_sequence_is_defused() -> None:
    out = clean("evil\x1b[2J\x1b]0;title\x07")
    assert out == "evil\\x1b[2J\\x1b]0;title\\x07"
    assert "\x1b" not in out
    assert "\x07" not in out


def test_bidi_override_spoof_is_visible() -> None:
    out = clean("invoice\u202egpj.exe")
    assert "\u202e" not in out
    assert "\\u202e" in out


@pytest.mark.parametrize(
    "markup",
    ["[bold red]x[/]", "[link=https://example.com]click[/link]", "[/]", "\\[escaped]", ":smile:"],
)
def test_markup_is_kept_literally(markup: str) -> None:
    assert clean(markup) == markup


@pytest.mark.parametrize("text", ["uvicorn", "nginx: worker process", "日本語", "café", "🐍 py"])
def test_ordinary_text_unchanged(text: str) -> None:
    assert clean(text) == text


@pytest.mark.parametrize("empty", [None, ""])
def test_none_and_empty_give_empty(empty: str | None) -> None:
    assert clean(empty) == ""


def test_long_text_cut_with_ellipsis_to_exactly_limit() -> None:
    out = clean("a" * 300, 200)
    assert len(out) == 200
    assert out == "a" * 199 + "…"


def test_default_limit_is_200() -> None:
    assert len(clean("x" * 1000)) == 200


def test_text_at_limit_is_not_cut() -> None:
    assert clean("a" * 40, 40) == "a" * 40
    assert clean("a" * 41, 40) == "a" * 39 + "…"


def test_escapes_count_towards_limit() -> None:
    out = clean("\x1b" * 30, 40)
    assert len(out) <= 40
    assert out == "\\x1b" * 9 + "…"  # whole escapes only, never half of one
    assert out.endswith("…")
    assert "\x1b" not in out


def test_limit_one() -> None:
    assert clean("abc", 1) == "…"


def test_limit_zero_gives_empty() -> None:
    assert clean("abc", 0) == ""


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_property_no_control_characters_and_bounded(text: str, limit: int) -> None:
    out = clean(text, limit)
    assert_safe(out)
    assert len(out) <= limit


@given(
    st.text(st.characters(categories=("Cc", "Cf")) | st.characters(), min_size=1),
    st.integers(min_value=1, max_value=50),
)
def test_property_control_heavy_text(text: str, limit: int) -> None:
    out = clean(text, limit)
    assert_safe(out)
    assert len(out) <= limit


@given(st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs")), max_size=200))
def test_property_safe_text_within_limit_is_unchanged(text: str) -> None:
    assert clean(text, 200) == text


@given(st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs")), min_size=1))
def test_property_safe_text_cut_is_a_prefix(text: str) -> None:
    limit = max(1, len(text) // 2)
    out = clean(text, limit)
    if len(text) <= limit:
        assert out == text
    else:
        assert len(out) == limit
        assert out == text[: limit - 1] + "…"


# --- labels built from cleaned text -------------------------------------------------------------

EVIL = "[red]evil\x1b[2J"


def evil_listener(extra_processes: int = 0) -> Listener:
    processes = tuple(Process(pid=100 + i, name=EVIL) for i in range(1 + extra_processes))
    return Listener(protocol="tcp", address="0.0.0.0", port=8080, family=4, processes=processes)


def test_process_label_keeps_markup_literal_and_drops_escape() -> None:
    label = process_label(evil_listener())
    assert "[red]" in label
    assert "\x1b" not in label
    assert label == "[red]evil\\x1b[2J"


def test_process_label_evil_name_with_shared_socket() -> None:
    label = process_label(evil_listener(extra_processes=2))
    assert label == "[red]evil\\x1b[2J +2"


def test_process_label_long_name_is_bounded() -> None:
    listener = Listener(
        protocol="tcp",
        address="0.0.0.0",
        port=80,
        family=4,
        processes=(Process(pid=1, name="\x1b" * 100),),
    )
    label = process_label(listener)
    assert len(label) <= 40
    assert label.endswith("…")
    assert "\x1b" not in label


def test_evil_process_name_printed_literally_in_table() -> None:
    snap = Snapshot(
        hostname="h",
        interfaces=(Interface("lo", True, ("127.0.0.1",), True),),
        listeners=(evil_listener(),),
        taken_at=0.0,
    )
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None, force_terminal=False)
    print_table(Assessment(snap), {}, console)
    output = buffer.getvalue()
    assert "[red]evil\\x1b[2J" in output
    assert "\x1b" not in output
    # and rich would indeed have eaten the tag had it been parsed as markup
    assert Text.from_markup("[red]evil[/]").plain == "evil"


def test_plural_follows_the_count() -> None:
    assert [plural(n, "listener") for n in (0, 1, 2)] == [
        "0 listeners",
        "1 listener",
        "2 listeners",
    ]
    assert plural(1, "process", "processes") == "1 process"
    assert plural(3, "process", "processes") == "3 processes"


def test_the_status_line_says_1_listener() -> None:
    from netdash.tui.lines import status_line
    from netdash.tui.state import ViewState

    listener = Listener("tcp", "127.0.0.1", 8000, 4)
    snapshot = Snapshot(hostname="h", interfaces=(), listeners=(listener,), taken_at=0.0)
    line = status_line(
        Assessment(snapshot),
        {},
        ViewState(),
        changed_at=0.0,
        interval=2.0,
        probe_status=None,
        lan_problem=None,
        poll_error=None,
    ).plain
    assert "1 listener," in line and "1 listeners" not in line


def test_bytes_that_were_not_utf8_read_as_in_every_other_output() -> None:
    """A command line or working directory read from ``/proc`` keeps bytes that are not
    UTF-8 as lone surrogates (``surrogateescape``); the details screen showed them as
    ``\\udcff`` where names, JSON and the table show ``\\xff``."""
    from netdash.core.model import Verdict
    from netdash.core.services import service_rows
    from netdash.sources.processes import ProcessDetails
    from netdash.tui.widgets.screens import details_renderable

    raw = b"/srv/caf\xe9/app\xff".decode("utf-8", "surrogateescape")
    assert clean(raw, 40) == "/srv/caf\\xe9/app\\xff"
    listener = Listener("tcp", "0.0.0.0", 8000, 4, (Process(pid=10, name="x"),), inode=1)
    details = ProcessDetails(10, 1, "x", "root", ("python3", raw), raw, None)
    (row,) = [r for _, rows in service_rows([listener]) for r in rows]
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(details_renderable(row, Verdict.EXPOSED, "", [], [details], None, None, 0.0))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "$ python3 /srv/caf\\xe9/app\\xff" in shown
    assert "in /srv/caf\\xe9/app\\xff" in shown
    assert "\\udc" not in shown
