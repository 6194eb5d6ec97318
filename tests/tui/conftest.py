"""TUI tests (Pilot, tmux, snapshots) run inside a private network namespace
(tests/support/netns.py).

pytest loads this file when it collects tests/tui, before any test runs; nothing the suite
loads earlier starts a thread, so the namespace is entered while the process has one thread
(``unshare(CLONE_NEWNET)`` moves only the calling thread). The netns marker check and the
``servers`` fixture are in tests/conftest.py; every test here counts as marked ``netns``, so
none runs outside the namespace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import netns


def pytest_configure(config: pytest.Config) -> None:
    netns.enter()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.netns)
