"""What starting netdash imports: `netdash list` and the dashboard's first frame load only
what they use (bench/RESULTS.md, session 3: imports are a third of `netdash list`'s time).
Module presence only; no timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def modules_after(code: str, home: Path | None = None) -> set[str]:
    """Modules loaded after running ``code`` in a fresh interpreter (with ``home`` as the
    user's home and config directory: no config file)."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    env = {k: v for k, v in os.environ.items() if k != "NETDASH_CONFIG"}
    if home is not None:
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_list_json_imports_only_what_it_uses(tmp_path: Path) -> None:
    """`netdash list --json` to a pipe, no config file: loads neither the checks,
    Prometheus output, TOML, Rich, asyncio nor httpx. (Nor typing, today; not asserted, as a
    dependency may import it.)"""
    loaded = modules_after(
        "import io, sys\n"
        "from netdash import cli\n"
        "sys.stdout = io.StringIO()\n"
        "code = cli.main(['list', '--json', '--udp'])\n"
        "sys.stdout = sys.__stdout__\n"
        "assert code == 0, code\n",
        home=tmp_path,
    )
    assert "netdash.output.text" in loaded  # the check below is not vacuous
    for module in ("netdash.core.assess", "netdash.output.prom", "netdash.core.hints", "tomllib"):
        assert module not in loaded, module
    for package in ("rich", "asyncio", "httpx", "textual"):
        assert not any(m == package or m.startswith(package + ".") for m in loaded), package


def test_the_dashboard_imports_httpx_only_to_probe() -> None:
    loaded = modules_after("import netdash.tui.app, netdash.probe.engine, netdash.probe.child")
    assert "textual" in loaded
    assert not any(m == "httpx" or m.startswith("httpx.") for m in loaded)
    assert "httpx" in modules_after(
        "from netdash.probe.engine import build_url\nbuild_url('http', '::1', 8000)"
    )
