"""A view that misses listeners says so (issue 15, item 9): where the system-wide socket table
is refused (macOS without root) and psutil's per-process fallback cannot read other users'
processes, `check` must not print OK. psutil is faked here only in the two calls that refuse
on macOS (an OS we cannot run); the sockets and the fallback's own reads are real."""

from __future__ import annotations

import io
import json
import os
import socket
import sys
from collections.abc import Iterator

import psutil
import pytest

from netdash import cli
from netdash.sources import sock_diag


@pytest.fixture
def like_macos(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Netlink refused; psutil's system-wide table refused; each process's own table refused
    for every process but this one (not root, as on macOS)."""

    def refuse_netlink(*_args: object, **_kwargs: object) -> tuple[bytes, ...]:
        raise PermissionError("netlink refused (simulated)")

    def refuse_table(kind: str = "inet") -> list[object]:
        raise psutil.AccessDenied()

    real = psutil.Process.net_connections
    me = os.getpid()

    def own_only(self: psutil.Process, kind: str = "inet") -> list[object]:
        if self.pid != me:
            raise psutil.AccessDenied(self.pid)
        return list(real(self, kind))

    monkeypatch.setattr(sock_diag, "_dump_chunks", refuse_netlink)
    monkeypatch.setattr(psutil, "net_connections", refuse_table)
    monkeypatch.setattr(psutil.Process, "net_connections", own_only)
    monkeypatch.setenv("NETDASH_CONFIG", "/dev/null")
    yield


def _run(*argv: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    code = cli.main(list(argv))
    return code, out.getvalue()


def test_check_on_an_incomplete_view_says_so_and_exits_3(
    like_macos: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = socket.create_server(("127.0.0.1", 0))
    try:
        code, text = _run("check", monkeypatch=monkeypatch)
        assert code == 3, text
        assert "INCOMPLETE" in text and "could not be read" in text and "OK:" not in text
        code, text = _run("check", "--json", monkeypatch=monkeypatch)
        document = json.loads(text)
        assert code == 3 and document["partial"] is True and document["ok"] is True
        assert any("could not be read" in r for r in document["partial_reasons"])
        code, text = _run("list", "--json", monkeypatch=monkeypatch)
        assert code == 0 and json.loads(text)["partial"] is True
    finally:
        mine.close()


def test_findings_win_over_an_incomplete_view(
    like_macos: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    exposed = socket.create_server(("0.0.0.0", 0))
    try:
        code, text = _run("check", monkeypatch=monkeypatch)
        assert code == 1, text
        assert "FAIL:" in text and "incomplete:" in text
    finally:
        exposed.close()
