"""The README renders as written: every fenced block is closed (an unclosed ```yaml once
turned Security, Trying it safely, Performance and Development into code), and every
section heading is a heading, not text inside a block. Parsed with markdown-it-py
(CommonMark)."""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

README = Path(__file__).resolve().parents[2] / "README.md"


def unclosed_fences(text: str) -> list[int]:
    """1-based lines of fenced blocks that run to the end of the document: CommonMark ends
    an unclosed fence there, so its last line is not a closing fence."""
    lines = text.splitlines()
    bad = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        marker = token.markup
        closing = lines[end - 1].strip() if end - 1 < len(lines) else ""
        if end - 1 == start or not (closing.startswith(marker) and set(closing) <= set(marker[0])):
            bad.append(start + 1)
    return bad


def test_every_fence_in_the_readme_is_closed() -> None:
    assert unclosed_fences(README.read_text(encoding="utf-8")) == []


def test_the_check_catches_an_unclosed_fence() -> None:
    assert unclosed_fences("# A\n\n```yaml\nkey: 1\n\n## B\n") == [3]
    assert unclosed_fences("# A\n\n```yaml\nkey: 1\n```\n\n## B\n") == []


def test_every_section_heading_renders_as_a_heading() -> None:
    text = README.read_text(encoding="utf-8")
    in_source = set()
    fence = None
    for line in text.splitlines():
        m = re.match(r"^(`{3,}|~{3,})", line)
        if m:
            fence = None if fence and line.startswith(fence) else (fence or m.group(1))
            continue
        if fence is None and re.match(r"^#{1,6} ", line):
            in_source.add(line.lstrip("#").strip())
    tokens = MarkdownIt("commonmark").parse(text)
    rendered = {
        tokens[i + 1].content.strip() for i, t in enumerate(tokens) if t.type == "heading_open"
    }
    assert in_source - rendered == set()


def quick_start_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quick start") :]
    section = section[: section.index("\n## ", 3)]
    return [
        t.content.strip()
        for t in MarkdownIt("commonmark").parse(section)
        if t.type == "fence" and t.info == "sh"
    ]


def test_the_quick_start_is_two_commands_and_ci_runs_the_test_command_verbatim() -> None:
    """The README's quick start: one command installs and starts netdash, one installs the
    test extras and runs the tests; each makes the virtual environment it needs (PEP 668),
    and .ci/run runs the second one, word for word."""
    install, test = quick_start_commands()
    assert install.startswith("python3 -m venv .venv && ") and install.endswith("netdash")
    assert test.startswith("python3 -m venv .venv && ") and "'.[test]'" in test
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines()
