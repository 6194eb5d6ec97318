"""Run netdash in a network namespace of its own, next to sockets a holder process binds.

Usage: python -m tests.support.isolated [--info FILE] [SPEC ...] -- NETDASH-ARGS

The process enters a fresh network namespace (nested inside the suite's, set up as
tests/support/netns.py does: loopback, and v0 with 198.18.0.1 and 2001:db8::1), starts
``tests.support.holder`` with the SPECs (``proto|address|port|options``; fixed ports are safe
here, nothing else listens), writes the holder's ``PID PORT...`` to FILE, runs
``python -m netdash NETDASH-ARGS`` and exits with its status, its output passed through.
So a test sees exactly the listeners it asked for: ``check``'s exit status then depends on
nothing else in the session.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import netns

ROOT = Path(__file__).resolve().parent.parent.parent


def main(argv: list[str]) -> int:
    info: str | None = None
    if argv[:1] == ["--info"]:
        info, argv = argv[1], argv[2:]
    split = argv.index("--")
    specs, args = argv[:split], argv[split + 1 :]
    reason = netns.enter()
    if reason is not None:
        print(f"isolated: {reason}", file=sys.stderr)
        return 99
    holder = None
    try:
        if specs:
            holder = subprocess.Popen(
                [sys.executable, "-m", "tests.support.holder", *specs],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            assert holder.stdout is not None
            ready = holder.stdout.readline().split()
            if ready[:1] != ["ready"]:
                print(f"isolated: holder failed: {ready}", file=sys.stderr)
                return 98
            if info:
                Path(info).write_text(" ".join(ready[1:]))
        return subprocess.run([sys.executable, "-m", "netdash", *args], cwd=ROOT).returncode
    finally:
        if holder is not None:
            holder.terminate()
            holder.wait(5)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
