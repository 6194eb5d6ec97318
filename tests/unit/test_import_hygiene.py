"""Everything outside ``netdash.tui`` imports without Textual (DESIGN.md: the core, sources,
probe, outputs and CLI serve scripts that never draw a screen)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import netdash


def _modules_outside_tui() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(netdash.__path__, "netdash.")
        if not info.name.startswith("netdash.tui") and info.name != "netdash.__main__"
    ]
    assert "netdash.core.assess" in names and "netdash.cli" in names  # the walk found them
    return names


def test_everything_outside_tui_imports_with_textual_blocked() -> None:
    """Textual is made unimportable (a meta-path finder that refuses it), then every module
    outside ``netdash.tui`` is imported: any import of Textual, however indirect, fails."""
    code = (
        "import importlib, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'textual' or name.startswith('textual.'):\n"
        "            raise ImportError('textual is blocked: ' + name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for name in {_modules_outside_tui()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_app_does_import_textual() -> None:
    """The check above would pass vacuously if nothing could load Textual at all."""
    code = "import sys, netdash.tui.app; print('textual' in sys.modules)"
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
