"""Enter a private network namespace for the test suite and the screenshot script.

Inside it the process sees only the sockets it opens itself: loopback is up, and a veth pair
gives a test "LAN" address from 198.18.0.0/15 (RFC 2544 benchmarking range) and 2001:db8::/32
(RFC 3849 documentation range). Nothing there can reach any other network, so probing is safe.

``enter()`` must run before any thread starts: ``unshare(CLONE_NEWNET)`` moves only the
calling thread, and threads started afterwards inherit its namespace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import threading

LAN_V4 = "198.18.0.1"
LAN_V6 = "2001:db8::1"
LAN_INTERFACE = "v0"
CLONE_NEWNET = 0x40000000
MARKER = "NETDASH_IN_NETNS"

_state: dict[str, str | None] = {"entered": None, "reason": None}


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def enter() -> str | None:
    """Move this process into a fresh network namespace. Returns ``None`` on success, or the
    reason it could not be done (not Linux, not root, no ``ip``, threads already running)."""
    if _state["entered"]:
        return None
    if _state["reason"]:
        return _state["reason"]
    reason = _enter()
    if reason is None:
        _state["entered"] = "yes"
        os.environ[MARKER] = "1"
    else:
        _state["reason"] = reason
    return reason


def _enter() -> str | None:
    if os.uname().sysname != "Linux":
        return "private network namespaces need Linux"
    if os.geteuid() != 0:
        return "creating a network namespace needs root (unshare -n)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    if threading.active_count() > 1:
        return "threads already running; the namespace must be entered first"
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}"
    try:
        _ip("link", "set", "lo", "up")
        _ip("link", "add", LAN_INTERFACE, "type", "veth", "peer", "name", "v1")
        _ip("addr", "add", f"{LAN_V4}/24", "dev", LAN_INTERFACE)
        _ip("-6", "addr", "add", f"{LAN_V6}/64", "dev", LAN_INTERFACE, "nodad")
        _ip("link", "set", "v1", "up")
        _ip("link", "set", LAN_INTERFACE, "up")
    except subprocess.CalledProcessError as exc:
        return f"setting up the namespace failed: {exc.stderr.strip()}"
    return None


def entered() -> bool:
    return bool(_state["entered"])


def reason() -> str | None:
    """Why ``enter()`` failed, or ``None`` (entered, or not tried yet)."""
    return _state["reason"]
