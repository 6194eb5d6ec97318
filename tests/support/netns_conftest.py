"""The two hooks of a conftest whose tests run in the private network namespace
(tests/system/conftest.py, tests/tui/conftest.py): enter it at configure time, and mark every
test of that directory ``netns`` so none runs outside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import netns


def hooks(
    directory: Path,
) -> tuple[Callable[[pytest.Config], None], Callable[[list[pytest.Item]], None]]:
    """``(pytest_configure, pytest_collection_modifyitems)`` for the conftest in
    ``directory``. pytest loads such a conftest when it collects that directory, before any
    test runs and while the process has one thread (``unshare(CLONE_NEWNET)`` moves only the
    calling thread)."""

    def pytest_configure(config: pytest.Config) -> None:
        netns.enter()

    def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
        for item in items:
            if directory in item.path.parents:
                item.add_marker(pytest.mark.netns)

    return pytest_configure, pytest_collection_modifyitems
