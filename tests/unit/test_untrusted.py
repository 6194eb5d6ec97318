"""Outside text as a type of its own (issue 15, item 1): :class:`netdash.core.text.Untrusted`.

Terminal outputs get only its display form; JSON and the probe's wire keep it whole; the
modules that read the raw text are a short, named list. Every output fed the same hostile
texts from real processes and peers: tests/system/test_untrusted_outputs.py.
"""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import pytest
from rich.text import Text

import netdash
from netdash.core.model import Listener, Outcome, ProbeResult, Process, Project, RiskFact, Via
from netdash.core.text import Untrusted, clean
from netdash.output.json import compact_json, json_text
from netdash.probe.child import result_from_wire, result_to_wire

HOSTILE = [
    "\x1b]0;PWNED\x07",
    "\x1b[2J",
    "[bold red]EVIL[/]",
    "[link=http://x.invalid]click[/link]",
    "\u202eevil",
    "a\u2028b",
    "\x9b31m",
    "\udcff\udcfe",  # bytes that were not UTF-8, as Python decodes them
    "x" * 10_000,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_the_display_form_is_the_only_text_a_terminal_gets(text: str) -> None:
    u = Untrusted(text)
    shown = str(u)
    assert shown == f"{u}" == f"{u:}" == clean(u.raw)
    assert not any(ch in shown for ch in "\x1b\x07\u202e\u2028\x9b")
    assert not any("\ud800" <= ch <= "\udfff" for ch in shown)
    assert len(shown) <= 200
    for concat in (lambda: "x" + u, lambda: "".join([u]), lambda: Text(u)):  # type: ignore[operator, list-item, arg-type]
        with pytest.raises((TypeError, AttributeError)):
            concat()


def test_markup_contexts_get_escaped_markup() -> None:
    from rich.markup import render

    u = Untrusted("[bold red]EVIL[/] [link=http://x.invalid]click[/link] \\[ok]")
    rendered = render(f"[dim]{u:markup}[/dim]")
    assert rendered.plain == str(u)  # the tags are text, not styles or links
    assert all(span.style == "dim" for span in rendered.spans)


def test_raw_is_whole_valid_unicode_and_compares_as_text() -> None:
    u = Untrusted("nd\udcff\udcfe")
    assert u.raw == "nd\\xff\\xfe"  # valid UTF-8 from the source on
    assert u == "nd\\xff\\xfe" and u == Untrusted("nd\udcff\udcfe") and u != "nd"
    assert sorted([Untrusted("b"), Untrusted("a")]) == ["a", "b"]
    assert pickle.loads(pickle.dumps(u)) == u
    assert bool(Untrusted("")) is False


def test_json_keeps_outside_text_whole() -> None:
    text = "\x1b]0;PWNED\x07 " + "y" * 100_000
    document = {"name": Untrusted(text), "cmdline": [Untrusted("a"), Untrusted(text)]}
    for encoded in (json_text(document, pretty=True), compact_json(document)):
        assert "\x1b" not in encoded and "\x07" not in encoded  # JSON escapes them
        decoded = json.loads(encoded)
        assert decoded == {"name": text, "cmdline": ["a", text]}
    with pytest.raises(TypeError):
        compact_json({"x": object()})


def test_the_model_wraps_whatever_a_source_hands_it() -> None:
    process = Process(pid=1, name="[red]x", user="root", cmdline=("a", "\x1b[2J"))
    assert isinstance(process.name, Untrusted) and isinstance(process.user, Untrusted)
    assert all(isinstance(arg, Untrusted) for arg in process.cmdline)
    project = Project(root="/x", name="\x1b", branch="main")
    assert isinstance(project.name, Untrusted) and project.label == r"\x1b@main"
    result = ProbeResult(
        ("tcp", "0.0.0.0", 1), Via.LAN, "198.18.0.1", "http://x/", Outcome.HTTP, 1.0,
        server="\x1b]0;t\x07", title="t", location="/", banner="b", certificate="c",
        risks=(RiskFact("dns-rebinding", True, "GET /", "\x1b"),),
    )  # fmt: skip
    for value in (result.server, result.title, result.location, result.banner):
        assert isinstance(value, Untrusted)
    assert isinstance(result.risks[0].answer, Untrusted)


def test_the_probe_wire_carries_outside_text_whole_and_wrapped() -> None:
    evil = "\x1b]0;PWNED\x07\u202e\udcff"
    result = ProbeResult(
        ("tcp", "0.0.0.0", 1), Via.LAN, "198.18.0.1", "http://x/", Outcome.HTTP, 1.0,
        server=evil, title=evil, risks=(RiskFact("redis-no-auth", True, "PING", evil),),
    )  # fmt: skip
    back = result_from_wire(result_to_wire(result))
    assert back == result
    assert isinstance(back.server, Untrusted) and back.server.raw == Untrusted(evil).raw
    assert isinstance(back.risks[0].answer, Untrusted)


RAW_READERS = {
    "netdash/core/text.py": "defines Untrusted",
    "netdash/output/json.py": "JSON keeps outside text whole (outside_text)",
    "netdash/probe/child.py": "the probe children's wire keeps it whole",
    "netdash/core/history.py": "the history database stores it whole; read back, it is shown "
    "through clean()",
    "netdash/tui/state.py": "the filter matches what the user typed against the whole text",
    "netdash/core/hints.py": "a fix hint takes only a port number and program kinds from it",
    "netdash/output/labels.py": "program_name parses the command line; its result is cleaned",
    "netdash/sources/published.py": "docker-proxy's target: only a valid address and port",
    "netdash/core/assess.py": "a redirect's host is compared with loopback names",
    # Modules where ``.raw`` is another attribute of that name (bytes an answer held):
    "netdash/probe/engine.py": "_Answer.raw, the bytes a peer sent",
    "netdash/sources/firewall.py": "the raw ruleset text a tool printed",
}
"""Every module that reads ``.raw``, and why. Anything else that needs outside text gets its
display form; a new reader must be added here, in review."""


def test_only_the_named_modules_read_the_raw_text() -> None:
    root = Path(netdash.__file__).parent.parent
    readers = set()
    for path in Path(netdash.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.Attribute) and n.attr == "raw" for n in ast.walk(tree)):
            readers.add(path.relative_to(root).as_posix())
    assert readers == set(RAW_READERS)


def test_listeners_hold_outside_text_only_wrapped() -> None:
    from tests.support.fixed import SNAPSHOT  # the fixed scenario of the screenshots

    for listener in SNAPSHOT.listeners:
        assert isinstance(listener, Listener)
        for process in listener.processes:
            for value in (process.name, process.user, *process.cmdline):
                assert value is None or isinstance(value, Untrusted)


def test_check_json_keeps_a_long_server_header_whole() -> None:
    """``check --json``'s ``server`` was the table's label, cut at 40 characters and
    cleaned; JSON keeps outside text whole (the table still shows the cut label)."""
    from netdash.core.assess import Assessment
    from netdash.core.model import Interface, Snapshot
    from netdash.output.json import check_to_json

    header = "Werkzeug/3.0 Python/3.12 \x1b]0;title\x07 " + "x" * 200
    listener = Listener("tcp", "0.0.0.0", 5000, 4, (Process(pid=10, name="flask"),), inode=1)
    result = ProbeResult(
        listener.key, Via.LAN, "198.18.0.1", "http://198.18.0.1:5000/", Outcome.HTTP, 1.0,
        status=200, server=header,
    )  # fmt: skip
    snap = Snapshot("host", (Interface("v0", True, ("198.18.0.1",)),), (listener,), 0.0)
    doc = json.loads(compact_json(check_to_json(Assessment(snap, {listener.key: [result]}))))
    (finding,) = doc["findings"]
    assert finding["server"] == header
