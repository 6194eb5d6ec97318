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
