"""TUI tests (Pilot, tmux, snapshots) run inside a private network namespace
(tests/support/netns.py).

pytest loads this file when it collects tests/tui, before any test runs; nothing the suite
loads earlier starts a thread, so the namespace is entered while the process has one thread
(``unshare(CLONE_NEWNET)`` moves only the calling thread). The netns marker check and the
``servers`` fixture are in tests/conftest.py.
"""

from __future__ import annotations

import pytest

from tests.support import netns


def pytest_configure(config: pytest.Config) -> None:
    netns.enter()
