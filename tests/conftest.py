"""Shared by every test directory, and needs no root: nothing here enters a namespace.

tests/unit/ holds pure tests and runs anywhere (`pytest tests/unit`, no root). Tests that open,
probe or list sockets live in tests/system/ and tests/tui/; their conftest.py moves the pytest
process into a private network namespace (tests/support/netns.py): loopback up, a veth "LAN"
with 198.18.0.1 and 2001:db8::1. Every socket such a test opens or probes lives there; nothing
else on the machine is visible or contacted. Where that is impossible (not root, not Linux)
tests marked ``netns`` skip with the reason — and under ``NETDASH_CI=1`` (set by .ci/run) a
skip is a failure (tests/support/ci.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# History: no test writes to the real user's state directory. Every process the suite starts
# (CLI runs, dashboards in tmux) inherits these; a test that wants its own file sets its own.
_STATE = tempfile.mkdtemp(prefix="netdash-test-state-")
atexit.register(shutil.rmtree, _STATE, True)
os.environ["XDG_STATE_HOME"] = _STATE
os.environ["NETDASH_HISTORY"] = os.path.join(_STATE, "netdash", "history.sqlite3")

# Helpers in tests/support assert too: rewrite them as pytest rewrites test modules.
pytest.register_assert_rewrite("tests.support")

from tests.support import netns  # noqa: E402
from tests.support.ci import require  # noqa: E402
from tests.support.hostile import hostile_process  # noqa: E402, F401 (a fixture: system and tui)


def _missing() -> str | None:
    """Why the private namespace is not there, or ``None`` when it is."""
    if netns.entered():
        return None
    return netns.reason() or "not entered: only tests/system and tests/tui enter it"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("netns") is not None:
        reason = _missing()
        require(reason is None, f"needs a private network namespace: {reason}")


def pytest_report_collectionfinish(config: pytest.Config) -> str:
    # After collection: tests/system/conftest.py and tests/tui/conftest.py, which enter the
    # namespace, are loaded while their directories are collected.
    reason = _missing()
    if reason is None:
        return f"network: private namespace (LAN {netns.LAN_V4}, {netns.LAN_V6})"
    return f"network: NO private namespace ({reason}); socket tests will skip"


@pytest.fixture(scope="session")
def servers():  # type: ignore[no-untyped-def]
    """Real servers, one per binding shape, started once for the session (inside the netns).

    Keys: ``uvicorn_any`` (FastAPI on 0.0.0.0), ``http_lo4`` (127.0.0.1), ``http_lo6`` (::1),
    ``http_any6`` (::), ``http_lan`` (198.18.0.1), ``silent`` (127.0.0.1, accepts and never
    answers), ``greeter`` (0.0.0.0, sends an SSH greeting).
    """
    require(_missing() is None, f"needs a private network namespace: {_missing()}")
    from tests.support import servers as s

    started: dict[str, s.Running] = {}
    try:
        started["uvicorn_any"] = s.start_uvicorn("0.0.0.0")
        started["http_lo4"] = s.start_http_server("127.0.0.1")
        started["http_lo6"] = s.start_http_server("::1")
        started["http_any6"] = s.start_http_server("::")
        started["http_lan"] = s.start_http_server(netns.LAN_V4)
        started["silent"] = s.start_raw_peer("127.0.0.1")
        started["greeter"] = s.start_raw_peer("0.0.0.0", greeting=b"SSH-2.0-OpenSSH_9.6\r\n")
        yield started
    finally:
        for server in started.values():
            server.stop()
