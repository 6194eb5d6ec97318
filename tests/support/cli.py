"""Run the real `netdash` command line in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m netdash ARGS`` with no user config file (``NETDASH_CONFIG=/dev/null``, so
    a developer's own config cannot change what the tests see) and ``env`` added to the
    environment (a ``NETDASH_CONFIG`` there replaces the default).

    The firewall is not read (``NETDASH_IGNORE_FIREWALL=1``): as root in the test namespace
    its empty ruleset would make every wide listener ``exposed`` (open from the LAN), and most
    tests here are about bind addresses and probes. Tests of the firewall pass
    ``NETDASH_IGNORE_FIREWALL="0"``."""
    return subprocess.run(
        [sys.executable, "-m", "netdash", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "NETDASH_CONFIG": "/dev/null",
            "NETDASH_IGNORE_FIREWALL": "1",
            **env,
        },
    )
