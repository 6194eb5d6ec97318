"""Hostile text, misbehaving peers, signals, and the security properties, end to end.

Real processes are started under hostile names, real peers send hostile bytes, and the real
`netdash` runs in tmux inside the test namespace.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netdash.core.addresses import own_addresses
from netdash.core.model import Listener, Outcome
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.sources.interfaces import read_interfaces
from tests.support.hostile import HOSTILE_COMM
from tests.support.peers import raw_server, read_request

pytestmark = pytest.mark.netns


def test_hostile_names_are_data_in_the_cli_and_json(
    hostile_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    _, port = hostile_process
    text = subprocess.run(
        [sys.executable, "-m", "netdash", "list"], capture_output=True, timeout=30
    ).stdout
    assert b"\x1b" not in text and b"\x07" not in text
    assert rb"[red]x\x1b[2J" in text  # shown literally, escape made visible
    raw = subprocess.run(
        [sys.executable, "-m", "netdash", "list", "--json"], capture_output=True, timeout=30
    ).stdout
    doc = json.loads(raw)
    [listener] = [li for li in doc["listeners"] if li["port"] == port]
    process = listener["processes"][0]
    assert process["name"] == HOSTILE_COMM  # kept whole in JSON (escaped by JSON itself)
    assert len(process["cmdline"][-1]) > 100_000  # the 100 KB argument, whole
    assert b"\x1b" not in raw  # JSON escapes control characters


async def test_full_backlog_is_a_connect_timeout_within_the_deadline() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(8):  # fill the accept queue: later SYNs are dropped
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        fillers.append(client)
    time.sleep(0.2)
    limits = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0)
    [result] = await probe_listeners(
        [Listener("tcp", "127.0.0.1", port, 4)], {}, own_addresses(read_interfaces()), limits
    )
    assert result.outcome is Outcome.TIMEOUT
    assert result.elapsed_ms < limits.deadline * 1000 + 500
    for s in [*fillers, server]:
        s.close()


def test_cli_probe_writes_nothing_to_disk(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "netdash", "list", "--json", "--probe", "--timeout", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["home", "tmp"]


def test_probe_ignores_proxies_even_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every proxy variable pointing at a server of ours, that server sees nothing."""
    hits: list[bytes] = []

    def proxy(conn: socket.socket) -> None:
        hits.append(read_request(conn))

    with raw_server(proxy, "127.0.0.1") as proxy_port:
        url = f"http://127.0.0.1:{proxy_port}"
        env = {k: url for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy")}
        result = subprocess.run(
            [sys.executable, "-m", "netdash", "list", "--json", "--probe", "--timeout", "0.3"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, **env),
        )
        assert result.returncode == 0, result.stderr
    # The "proxy" is itself a listener, so netdash probes it like any other (GET /, a TLS
    # hello); what must never arrive is a request *through* it: CONNECT or an absolute URI.
    assert hits
    for request in hits:
        first_line = request.split(b"\r\n", 1)[0]
        assert not first_line.startswith(b"CONNECT")
        assert b" http://" not in first_line and b" https://" not in first_line
