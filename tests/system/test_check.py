"""`netdash check`: exit status, findings, allow rules of every form, hints.

End-to-end runs use tests/support/isolated.py: netdash runs in a namespace of its own with
exactly the sockets the test binds, so the exit status depends on nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.support import netns

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = Path(sys.executable).name[:15]  # the holder's process name (the kernel's comm)
pytestmark = pytest.mark.netns


def isolated(
    specs: list[str], *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """Run ``netdash ARGS`` next to sockets bound from ``specs`` (holder syntax); returns the
    result and ``[holder pid, port, ...]``."""
    with tempfile.NamedTemporaryFile("r", suffix=".info") as info:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.support.isolated",
                "--info",
                info.name,
                *specs,
                "--",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
            env=dict(os.environ, NETDASH_CONFIG="/dev/null", **(env or {})),
        )
        held = [int(x) for x in Path(info.name).read_text().split()]
    assert result.returncode != 99, result.stderr
    return result, held


SOCKETS = [
    "tcp|0.0.0.0|8000",
    "tcp|::|8000|v6only",
    "udp|0.0.0.0|5353",
    f"tcp|{netns.LAN_V4}|9100",
    "tcp|127.0.0.1|9200",
]


def test_nothing_exposed_exits_0() -> None:
    result, _ = isolated(["tcp|127.0.0.1|8000", "tcp|::1|8001", "udp|127.0.0.1|5353"], "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: nothing exposed")
    assert "3 local-only" not in result.stdout  # UDP is not checked without --udp
    assert "2 local-only" in result.stdout


def test_findings_name_program_pid_address_port_and_hint() -> None:
    result, (pid, *_) = isolated(SOCKETS, "check")
    assert result.returncode == 1, result.stderr
    out = result.stdout
    # One finding per service: 0.0.0.0:8000 and [::]:8000 of one program are one line.
    # The program as the PROCESS column names it: the interpreter and what it runs.
    assert f"tcp 0.0.0.0:8000, [::]:8000 {PYTHON} -m tests.support.holder" in out
    assert f"(pid {pid}, user root)" in out
    assert f"tcp {netns.LAN_V4}:9100" in out
    assert "9200" not in out  # loopback: not a finding
    assert "5353" not in out  # UDP only with --udp
    assert out.count("    fix: ") == 2
    assert "FAIL: 2 exposed TCP listeners not allowed" in out
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("rules", "left"),
    [
        (["8000"], {"9100/tcp", "5353/udp"}),
        (["8000/tcp", "5353/udp"], {"9100/tcp"}),
        (["8000/udp", "5353/tcp"], {"8000/tcp", "9100/tcp", "5353/udp"}),
        ([PYTHON], set()),
        (["sshd"], {"8000/tcp", "9100/tcp", "5353/udp"}),
        ([f"{netns.LAN_V4}:9100", "[::]:8000"], {"8000/tcp", "5353/udp"}),
        (["0.0.0.0:8000", "[::]:8000", "0.0.0.0:5353", f"{netns.LAN_V4}:9100"], set()),
        ([f"{netns.LAN_V4}:8000"], {"8000/tcp", "9100/tcp", "5353/udp"}),  # bind, not reach
    ],
)
def test_allow_rules_of_every_form(rules: list[str], left: set[str]) -> None:
    if rules == [PYTHON]:
        assert not PYTHON[0].isdigit()
    args = [a for rule in rules for a in ("--allow", rule)]
    result, _ = isolated(SOCKETS, "check", "--udp", "--json", *args)
    doc = json.loads(result.stdout)
    found = {f"{f['port']}/{f['protocol']}" for f in doc["findings"]}
    assert found == left
    assert result.returncode == (1 if left else 0)
    assert doc["ok"] is (not left)
    assert doc["allow"] == rules
    for allowed in doc["allowed"]:
        assert allowed["allowed_by"] in rules


def test_allow_rules_add_up_over_config_environment_and_command_line() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as config:
        config.write('allow = ["8000/tcp"]\n')
        config.flush()
        result, _ = isolated(
            SOCKETS,
            "check",
            "--udp",
            "--json",
            "--config",
            config.name,
            "--allow",
            "9100",
            env={"NETDASH_ALLOW": "5353/udp"},
        )
    doc = json.loads(result.stdout)
    assert doc["allow"] == ["8000/tcp", "5353/udp", "9100"]
    assert doc["findings"] == []
    assert result.returncode == 0


def test_ignored_interface_is_not_a_finding() -> None:
    result, _ = isolated(SOCKETS, "check", "--ignore-interface", "v0", "--json")
    doc = json.loads(result.stdout)
    ignored = {(i["address"], i["port"]) for i in doc["ignored"]}
    # 0.0.0.0 and v0's own address are reachable through v0 only (besides lo); the v6-only
    # :: also through v1, which holds an IPv6 link-local address.
    assert ignored == {("0.0.0.0", 8000), (netns.LAN_V4, 9100)}
    assert [(f["address"], f["interfaces"]) for f in doc["findings"]] == [
        ("::", ["lo", "v0", "v1"])
    ]
    assert result.returncode == 1
    both, _ = isolated(
        SOCKETS, "check", "--ignore-interface", "v0", "--ignore-interface", "v1", "--json"
    )
    assert json.loads(both.stdout)["findings"] == []
    assert both.returncode == 0


def test_probe_turns_unverified_into_exposed(servers: Any) -> None:
    """In the suite's namespace with its servers: uvicorn on 0.0.0.0 answers on the LAN
    address, so --probe says exposed, names FastAPI and gives uvicorn's --host hint."""
    result = subprocess.run(
        [sys.executable, "-m", "netdash", "check", "--probe", "--json", "--timeout", "0.5"],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, NETDASH_CONFIG="/dev/null"),
    )
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    port = servers["uvicorn_any"].port
    [uv] = [f for f in doc["findings"] if f["port"] == port]
    assert uv["verdict"] == "exposed"
    assert uv["identified"] == "FastAPI (uvicorn)"
    assert uv["lan_probe"] == "http 200"
    assert uv["pids"] == [servers["uvicorn_any"].pid]
    assert uv["hint"]["tool"] == "uvicorn"
    assert "--host 127.0.0.1" in uv["hint"]["text"]
    [lo] = [f for f in doc["findings"] if f["port"] == servers["http_lo4"].port] or [None]
    assert lo is None  # loopback listeners are never findings


def test_bad_allow_spec_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "netdash", "check", "--allow", "192.168.1.100"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "needs a port" in result.stderr
    assert "Traceback" not in result.stderr
