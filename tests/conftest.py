"""Test set-up: the whole session runs inside a private network namespace.

Before any test (and before any thread exists) the pytest process enters a fresh network
namespace (tests/support/netns.py): loopback up, a veth "LAN" with 198.18.0.1 and 2001:db8::1.
Every socket a test opens or probes lives there; nothing else on the machine is visible or
contacted. Where that is impossible (not root, not Linux) tests marked ``netns`` skip with the
reason — and under ``NETDASH_CI=1`` (set by .ci/run) a skip is a failure.
"""

from __future__ import annotations

import os

import pytest

from tests.support import netns

_REASON: dict[str, str | None] = {"netns": None}


def pytest_configure(config: pytest.Config) -> None:
    _REASON["netns"] = netns.enter()


def require(condition: bool, reason: str) -> None:
    """Skip the test with ``reason`` unless ``condition``; under NETDASH_CI=1, fail instead."""
    if condition:
        return
    if os.environ.get("NETDASH_CI") == "1":
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("netns") is not None:
        reason = _REASON["netns"]
        require(reason is None, f"needs a private network namespace: {reason}")


def pytest_report_header(config: pytest.Config) -> str:
    reason = _REASON["netns"]
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
    require(_REASON["netns"] is None, f"needs a private network namespace: {_REASON['netns']}")
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
