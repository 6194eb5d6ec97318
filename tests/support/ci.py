"""The suite's one rule for tests that cannot run here: skip, except in CI."""

from __future__ import annotations

import os

import pytest


def require(condition: bool, reason: str) -> None:
    """Skip the test with ``reason`` unless ``condition``; under NETDASH_CI=1, fail instead."""
    if condition:
        return
    if os.environ.get("NETDASH_CI") == "1":
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)
