"""JSON output validated against the schema files in schema/, and the other `list` formats:
--exposed, --format, colour only on a terminal without NO_COLOR, --help on every command."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.netns


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / "schema" / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def document(*args: str) -> dict[str, Any]:
    result = run_cli(*args)
    assert result.returncode in (0, 1), result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_list_json_with_probes_and_udp_matches_the_schema(servers: Any) -> None:
    doc = document("list", "--json", "--probe", "--udp", "--timeout", "0.5")
    validator("netdash-list.schema.json").validate(doc)
    assert doc["schema_version"] == 3
    outcomes = {p["outcome"] for li in doc["listeners"] for p in li["probes"]}
    assert {"http", "refused", "banner", "silent"} <= outcomes  # the schema saw them all


def test_schema_rejects_what_it_should(servers: Any) -> None:
    doc = document("list", "--json")
    check = validator("netdash-list.schema.json")
    broken = json.loads(json.dumps(doc))
    broken["listeners"][0]["verdict"] = "public"
    assert not check.is_valid(broken)
    broken = json.loads(json.dumps(doc))
    del broken["listeners"][0]["service"]
    assert not check.is_valid(broken)
    broken = json.loads(json.dumps(doc))
    broken["schema_version"] = 4
    assert not check.is_valid(broken)


def test_who_and_exposed_list_match_the_schema(servers: Any) -> None:
    check = validator("netdash-list.schema.json")
    who = document("who", str(servers["uvicorn_any"].port), "--json", "--probe")
    check.validate(who)
    probes = [p for li in who["listeners"] for p in li["probes"]]
    assert probes and {(p["identified"], p["kind"]) for p in probes} == {
        ("FastAPI (uvicorn)", "uvicorn")
    }
    exposed = document("list", "--json", "--exposed")
    check.validate(exposed)
    assert exposed["exposed_only"] is True
    verdicts = {li["verdict"] for li in exposed["listeners"]}
    assert verdicts == {"exposed-unverified"}
    every = document("list", "--json")
    assert {li["port"] for li in exposed["listeners"]} == {
        li["port"] for li in every["listeners"] if li["scope"] != "loopback"
    }


def test_check_json_matches_its_schema(servers: Any) -> None:
    doc = document("check", "--json", "--probe", "--udp", "--timeout", "0.5", "--allow", "22")
    validator("netdash-check.schema.json").validate(doc)
    assert doc["findings"] and doc["schema_version"] == 3
    assert all(f["address"] == f["addresses"][0] for f in doc["findings"])
    assert not validator("netdash-check.schema.json").is_valid({**doc, "ok": "no"})


def test_list_exposed_table_leaves_loopback_out(servers: Any) -> None:
    result = run_cli("list", "--exposed")
    assert result.returncode == 0, result.stderr
    assert "all-interfaces" in result.stdout
    assert "loopback: only this machine" not in result.stdout
    assert str(servers["uvicorn_any"].port) in result.stdout
    assert f" {servers['http_lo4'].port} " not in result.stdout


def test_json_and_format_must_agree() -> None:
    result = run_cli("list", "--json", "--format", "prometheus")
    assert result.returncode == 2
    assert result.stderr == (
        "netdash: error: --json and --format prometheus ask for different outputs\n"
    )
    assert run_cli("list", "--json", "--format", "json").returncode == 0


def in_terminal(*args: str, width: int = 120, **env: str) -> str:
    """Run netdash with a pseudo-terminal (``width``×40) as stdout; returns what it wrote."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environ.update(NETDASH_CONFIG="/dev/null", TERM="xterm-256color", **env)
    environ.pop("COLUMNS", None)
    environ.pop("LINES", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "netdash", *args], stdout=terminal, stderr=terminal, env=environ
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(30)
    os.close(controller)
    return b"".join(chunks).decode("utf-8", "replace")


def test_colour_on_a_terminal_unless_no_color(servers: Any) -> None:
    coloured = in_terminal("list")
    assert "\x1b[33m" in coloured or "\x1b[32m" in coloured  # verdict colours
    plain = in_terminal("list", NO_COLOR="1")
    assert "all-interfaces" in plain
    for code in ("\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m", "\x1b[91m"):
        assert code not in plain


def test_list_probe_at_80_columns_shows_the_answers_whole(servers: Any) -> None:
    """A new user saw list --probe at 80 columns without any probe answer, and at 120 with a
    risk sentence widening ADDRESS until LAN was cut: the answers stay (merged into LO LAN
    marks with a legend), notes go under the table, and no line is wider than the terminal."""
    import re

    from rich.cells import cell_len

    out = re.sub(r"\x1b\[[0-9;]*m", "", in_terminal("list", "--probe", width=80, NO_COLOR="1"))
    lines = out.replace("\r", "").splitlines()
    assert all(cell_len(line) <= 80 for line in lines), out
    assert "LO LAN" in out and "✔" in out, out
    assert "LO LAN: ✔ accepted a connection" in " ".join(line.strip() for line in lines), out
    assert "…" not in out, out


@pytest.mark.parametrize("command", [[], ["list"], ["check"], ["who"], ["free"]])
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    name = " ".join(["netdash", *command])
    assert f"  {name} " in result.stdout or f"  {name}\n" in result.stdout
    script = ROOT / "netdash" / "__main__.py"
    assert script.exists()  # `python -m netdash` is what run_cli runs
