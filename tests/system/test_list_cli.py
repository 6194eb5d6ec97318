"""`netdash list` end to end: the real CLI in a subprocess, against real servers in the netns."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.support import netns
from tests.support.cli import run_cli

pytestmark = pytest.mark.netns


def by_port(document: dict[str, Any], port: int) -> list[dict[str, Any]]:
    return [li for li in document["listeners"] if li["port"] == port]


def probes(listener: dict[str, Any], via: str) -> list[dict[str, Any]]:
    return [p for p in listener["probes"] if p["via"] == via]


@pytest.fixture(scope="module")
def probed(servers):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = run_cli("list", "--json", "--probe")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), elapsed


def test_every_listener_listed_with_scope_interfaces_and_pid(servers) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["lan_addresses"] == [netns.LAN_V4, netns.LAN_V6]
    assert doc["probed"] is False
    expected = {
        "uvicorn_any": ("0.0.0.0", "all-interfaces", ["lo", "v0"]),
        "http_lo4": ("127.0.0.1", "loopback", ["lo"]),
        "http_lo6": ("::1", "loopback", ["lo"]),
        "http_lan": (netns.LAN_V4, "specific-interface", ["v0"]),
        "silent": ("127.0.0.1", "loopback", ["lo"]),
        "greeter": ("0.0.0.0", "all-interfaces", ["lo", "v0"]),
    }
    for name, (address, scope, interfaces) in expected.items():
        server = servers[name]
        [listener] = by_port(doc, server.port)
        assert listener["address"] == address, name
        assert listener["scope"] == scope, name
        assert listener["interfaces"] == interfaces, name
        assert [p["pid"] for p in listener["processes"]] == [server.pid], name
        assert listener["probes"] == []
    [any6] = by_port(doc, servers["http_any6"].port)
    assert any6["scope"] == "all-interfaces"
    assert {"lo", "v0"} <= set(any6["interfaces"])
    assert any6["processes"][0]["name"].startswith("python")
    assert "http.server" in any6["processes"][0]["cmdline"]


def test_probe_outcomes_match_binding(servers, probed) -> None:  # type: ignore[no-untyped-def]
    doc, _ = probed
    [lo4] = by_port(doc, servers["http_lo4"].port)
    assert [(p["target"], p["outcome"]) for p in lo4["probes"]] == [
        ("127.0.0.1", "http"),
        (netns.LAN_V4, "refused"),
    ]
    assert lo4["probes"][0]["status"] == 200
    assert lo4["probes"][0]["server"].startswith("SimpleHTTP")
    assert lo4["verdict"] == "local-only"

    [uv] = by_port(doc, servers["uvicorn_any"].port)
    assert [(p["via"], p["outcome"], p["status"]) for p in uv["probes"]] == [
        ("loopback", "http", 200),
        ("lan", "http", 200),
    ]
    assert all(p["server"] == "uvicorn" for p in uv["probes"])
    assert all(p["identified"] == "FastAPI (uvicorn)" for p in uv["probes"])
    assert uv["probes"][0]["docs"] == "/docs"
    assert uv["probes"][0]["title"] == "Example API"
    assert uv["verdict"] == "exposed"

    [lo6] = by_port(doc, servers["http_lo6"].port)
    assert [(p["target"], p["outcome"]) for p in lo6["probes"]] == [
        ("::1", "http"),
        (netns.LAN_V6, "refused"),
    ]
    assert lo6["probes"][0]["url"] == f"http://[::1]:{servers['http_lo6'].port}/"

    [any6] = by_port(doc, servers["http_any6"].port)
    assert {(p["target"], p["outcome"]) for p in any6["probes"]} == {
        ("::1", "http"),
        ("127.0.0.1", "http"),  # Linux's :: is dual-stack by default
        (netns.LAN_V6, "http"),
        (netns.LAN_V4, "http"),
    }

    [lan] = by_port(doc, servers["http_lan"].port)
    assert [(p["via"], p["outcome"]) for p in lan["probes"]] == [
        ("loopback", "refused"),
        ("lan", "http"),
    ]
    assert lan["verdict"] == "exposed"
    assert lo6["verdict"] == "ipv6-loopback-only"  # nothing on 127.0.0.1 at that port


def test_silent_and_greeting_peers(servers, probed) -> None:  # type: ignore[no-untyped-def]
    doc, elapsed = probed
    [silent] = by_port(doc, servers["silent"].port)
    loop = probes(silent, "loopback")[0]
    assert loop["outcome"] == "silent"
    assert "no answer" in loop["detail"]
    assert loop["elapsed_ms"] < 3500  # bounded by the per-probe deadline, not a hang
    [greeter] = by_port(doc, servers["greeter"].port)
    for probe in greeter["probes"]:
        assert probe["outcome"] == "banner"
        assert probe["banner"] == "SSH-2.0-OpenSSH_9.6"
        assert probe["identified"] == "ssh"
    assert greeter["verdict"] == "exposed"  # it answered on the LAN address
    assert elapsed < 20  # hang guard: one silent peer costs one read timeout


def test_text_table_groups_by_scope(servers) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    first_all = out.index("all-interfaces")
    first_specific = out.index("specific-interface")
    first_loopback = out.index("loopback: only this machine")
    assert first_all < first_specific < first_loopback
    assert str(servers["uvicorn_any"].port) in out[first_all:first_specific]
    assert str(servers["http_lo4"].port) in out[first_loopback:]
    assert "\x1b[" not in out  # not a terminal: no colour codes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--lan", "8.8.8.8"], "not an address of this machine"),
        (["list", "--lan", "not-an-ip"], "is not an IP address"),
        (["list", "--lan", "127.0.0.1"], "loopback or wildcard"),
        (["--interval", "abc"], "not a number of seconds"),
        (["--interval", "0"], "between 0.2 and 3600"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_lan_override_replaces_its_own_family_only(servers) -> None:  # type: ignore[no-untyped-def]
    extra = "198.18.0.2"
    subprocess.run(["ip", "addr", "add", f"{extra}/24", "dev", "v0"], check=True)
    try:
        result = run_cli("list", "--json", "--probe", "--lan", extra)
    finally:
        subprocess.run(["ip", "addr", "del", f"{extra}/24", "dev", "v0"], check=True)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["lan_addresses"] == [extra, netns.LAN_V6]
    [uv] = by_port(doc, servers["uvicorn_any"].port)
    assert [(p["target"], p["outcome"]) for p in probes(uv, "lan")] == [(extra, "http")]
    [any6] = by_port(doc, servers["http_any6"].port)
    assert [p["target"] for p in probes(any6, "lan")] == [netns.LAN_V6, extra]


def test_lan_given_twice_for_one_family_is_a_usage_error() -> None:
    result = run_cli("list", "--lan", netns.LAN_V4, "--lan", netns.LAN_V4)
    assert result.returncode == 2
    assert "at most one per family" in result.stderr


def test_output_to_a_closed_pipe_is_quiet() -> None:
    """`netdash list | head`: the reader leaves before netdash writes (`true` exits at once,
    netdash needs a poll first), so the write meets a closed pipe: no traceback, exit 0."""
    for args in ("list", "list --json"):
        result = subprocess.run(
            f"{sys.executable} -m netdash {args} | true; echo rc=${{PIPESTATUS[0]}}",
            shell=True,
            capture_output=True,
            text=True,
            timeout=30,
            executable="/bin/bash",
        )
        assert result.stderr == "", args
        assert result.stdout.strip() == "rc=0", args


def test_help_and_version() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "netdash list --json --probe" in result.stdout
    assert run_cli("--version").stdout.startswith("netdash ")


def test_a_server_in_a_git_worktree_shows_its_project_and_branch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: the project (repository and branch) of a server's working directory, in
    JSON and in the table; read from .git directly."""
    from tests.support.servers import start_http_server

    repo = tmp_path / "shop"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=True)
    subprocess.run(
        [*git, "worktree", "add", "-q", "-b", "login", str(tmp_path / "shop-login")],
        cwd=repo,
        check=True,
    )
    server = start_http_server("127.0.0.1", cwd=str(tmp_path / "shop-login"))
    try:
        document = json.loads(run_cli("list", "--json").stdout)
        (listener,) = by_port(document, server.port)
        assert listener["processes"][0]["project"] == {
            "root": str(tmp_path / "shop-login"),
            "name": "shop-login",
            "branch": "login",
        }
        table = run_cli("list").stdout
        line = next(li for li in table.splitlines() if f" {server.port} " in li)
        assert "shop-login@login" in line and "PROJECT" in table
    finally:
        server.stop()
