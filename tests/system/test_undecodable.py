"""Bytes that are not UTF-8 in a process name and command line (issue 15, item 7): JSON output
stays valid Unicode (no lone surrogates, which strict parsers reject) and shows each such byte
as the visible escape ``\\xNN``; the text table shows the same."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.support.cli import run_cli
from tests.support.servers import wait_listening

CHILD = r"""
import ctypes, socket, sys, time
libc = ctypes.CDLL(None)
libc.prctl(15, ctypes.c_char_p(b"nd\xff\xfe"), 0, 0, 0)  # PR_SET_NAME: the kernel's comm
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""

LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def test_undecodable_bytes_are_visible_escapes_and_json_is_valid_unicode() -> None:
    child = subprocess.Popen(
        [sys.executable.encode(), b"-c", CHILD.encode(), b"arg\xff"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        wait_listening("127.0.0.1", port)
        result = run_cli("list", "--json")
        assert result.returncode == 0, result.stderr
        assert not LONE_SURROGATE.search(result.stdout), "a lone surrogate in the JSON"
        result.stdout.encode("utf-8")  # valid UTF-8 (strict)
        document = json.loads(result.stdout)
        [listener] = [li for li in document["listeners"] if li["port"] == port]
        [process] = listener["processes"]
        assert process["name"] == "nd\\xff\\xfe"
        assert process["cmdline"][-1] == "arg\\xff"
        table = run_cli("list")
        assert "nd\\xff\\xfe" in table.stdout, table.stdout
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
