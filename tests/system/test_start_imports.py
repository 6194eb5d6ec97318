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
    """`netdash list --json` to a pipe, no config file: loads its own command and the JSON
    output (and the Assessment every output reads), but neither the other commands, fix
    hints, the text table, Prometheus output, TOML, Rich, asyncio, httpx nor Textual."""
    loaded = modules_after(
        "import io, sys\n"
        "from netdash import cli\n"
        "sys.stdout = io.StringIO()\n"
        "code = cli.main(['list', '--json', '--udp'])\n"
        "sys.stdout = sys.__stdout__\n"
        "assert code == 0, code\n",
        home=tmp_path,
    )
    for module in ("netdash.cli.commands.list", "netdash.output.json"):
        assert module in loaded, module  # the checks below are not vacuous
    commands = [f"netdash.cli.commands.{c}" for c in ("check", "who", "free", "dashboard")]
    hints = "netdash.core.hints"
    for module in (*commands, "netdash.output.text", "netdash.output.prom", hints, "tomllib"):
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
