"""The box diagram never cuts a number at any width: every listener's port and probe answer,
and every interface address, appear whole (on a continuation line where the column is
narrow), and no line is wider than the width given (no clipping at the right edge)."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from netdash.core.lan import choose_lan
from netdash.core.services import group_results
from netdash.output.labels import probe_label
from netdash.tui.widgets.interface_diagram import build_diagram
from tests.support.fixed import SNAPSHOT, probe_results


def _words(width: int) -> tuple[list[str], str]:
    console = Console(width=width, record=True, color_system=None, legacy_windows=False)
    console.print(build_diagram(SNAPSHOT, group_results(probe_results()), choose_lan(SNAPSHOT)))
    lines = console.export_text().splitlines()
    return lines, " ".join(" ".join(line.strip("┃│ ").split()) for line in lines)


@pytest.mark.parametrize("width", [31, 44, 58, 60, 80, 100, 140])
def test_numbers_and_addresses_are_whole_at_every_width(width: int) -> None:
    lines, words = _words(width)
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    for listener in SNAPSHOT.listeners:
        if listener.protocol == "tcp":
            assert re.search(rf"(?<!\d){listener.port}(?![\d…])", words), listener.port
    # every probe answer the diagram shows at ample width, whole (one space apart)
    _, wide = _words(400)
    labels = {
        probe_label(found, r.via)
        for found in group_results(probe_results()).values()
        for r in found
    }
    shown = [label for label in labels if label and label in wide]
    assert len(shown) >= 4
    for label in shown:
        assert label in words, (label, width)
    for interface in SNAPSHOT.interfaces:
        if interface.is_up:
            for address in interface.addresses:
                if "%" not in address:
                    assert address in words, (address, width)
