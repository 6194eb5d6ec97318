"""The core (model, collect, classify, probe, render, cli) must import without Textual."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_without_textual() -> None:
    code = (
        "import sys\n"
        "import netdash.model, netdash.collect, netdash.classify, netdash.probe\n"
        "import netdash.render, netdash.text, netdash.cli\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_app_does_import_textual() -> None:
    """The check above would pass vacuously if nothing could load Textual at all."""
    code = "import sys, netdash.app; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


def test_a_probe_request_imports_nothing_per_request() -> None:
    """httpcore looks for sniffio on every lock, event and request; when it is missing, each
    look is a failed import (a path search, never cached): ~20 % of probe CPU. sniffio is a
    dependency for that reason. The check: after the first, httpcore's look-ups of the async
    library find sniffio already imported."""
    code = (
        "import asyncio, builtins, sys\n"
        "import httpcore._synchronization as s\n"
        "failed = []\n"
        "real = builtins.__import__\n"
        "def spy(name, *a, **k):\n"
        "    if name == 'sniffio' and 'sniffio' not in sys.modules:\n"
        "        failed.append(name)\n"
        "    return real(name, *a, **k)\n"
        "async def main():\n"
        "    s.current_async_library()\n"
        "    builtins.__import__ = spy\n"
        "    for _ in range(3):\n"
        "        s.current_async_library()\n"
        "asyncio.run(main())\n"
        "print(len(failed))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
