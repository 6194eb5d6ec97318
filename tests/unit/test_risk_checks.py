"""The risk checks as data (netdash.probe.risks): what each answer is as a fact, table-driven,
and every request a check can send is named in the README's list (CONTRACTS.md: nothing else
is ever sent). Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdash.core.risk import RISK_KINDS
from netdash.probe.risks import (
    FOREIGN_HOST,
    FOREIGN_ORIGIN,
    HTTP_CHECKS,
    PORT_HINTS,
    RAW_CHECKS,
    WEBSOCKET_CHECKS,
    foreign_host_facts,
)

README = (Path(__file__).parents[2] / "README.md").read_text()


# kind, status, body -> found
HTTP_ANSWERS = [
    ("jupyter", 200, b'{"connections": 0, "kernels": 0, "started": "2026"}', True),
    ("jupyter", 403, b'{"message": "Forbidden", "reason": null}', False),
    ("jupyter", 302, b"", False),  # a redirect to the login page
    ("docker", 200, b'{"Platform":{},"ApiVersion":"1.41","Version":"20.10"}', True),
    ("docker", 404, b'{"message":"page not found"}', False),
    ("ollama", 200, b'{"models":[{"name":"llama3:latest"}]}', True),
    ("ollama", 401, b"unauthorized", False),
    ("flask", 200, b"<script>var CONSOLE_MODE = true, EVALEX = true;</script>", True),
    ("flask", 404, b"<h1>Not Found</h1>", False),
    ("elasticsearch", 200, b'{"cluster_name":"es","tagline":"You Know, for Search"}', True),
    ("elasticsearch", 401, b'{"error":{"type":"security_exception"}}', False),
    ("vite", 200, b'<script type="module" src="/@vite/client"></script>', True),
    ("vite", 403, b"Blocked request.", False),
    ("next.js", 200, b"<div id=__next>", True),
]


@pytest.mark.parametrize(("kind", "status", "body", "found"), HTTP_ANSWERS)
def test_http_checks(kind: str, status: int, body: bytes, found: bool) -> None:
    check = HTTP_CHECKS[kind]
    fact = check.fact(status, {}, body)
    assert (fact.check, fact.found, fact.status) == (check.check, found, status)
    assert fact.request == (f"GET {check.path}" if check.path else "GET /")
    assert fact.answer.raw.startswith(str(status))


@pytest.mark.parametrize(
    ("kind", "answer", "found"),
    [
        ("redis", b"+PONG\r\n", True),
        ("redis", b"-NOAUTH Authentication required.\r\n", False),
        ("redis", b"-DENIED Redis is running in protected mode\r\n", False),
        ("memcached", b"VERSION 1.6.18\r\n", True),
        ("memcached", b"ERROR\r\n", False),
        ("memcached", b"\x1b[2J", False),
    ],
)
def test_raw_checks(kind: str, answer: bytes, found: bool) -> None:
    fact = RAW_CHECKS[kind].fact(answer)
    assert fact.found is found
    assert "\x1b" not in fact.answer.raw and "\r" not in fact.answer.raw  # shown, never obeyed


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (200, {}, [("dns-rebinding", True)]),
        (302, {}, [("dns-rebinding", True)]),
        (403, {}, [("dns-rebinding", False)]),
        (421, {}, [("dns-rebinding", False)]),
        (500, {}, [("dns-rebinding", False)]),
        (
            200,
            {"access-control-allow-origin": "*", "access-control-allow-credentials": "true"},
            [("dns-rebinding", True), ("cors-credentials", True)],
        ),
        (
            200,
            {
                "access-control-allow-origin": FOREIGN_ORIGIN,
                "access-control-allow-credentials": "TRUE",
            },
            [("dns-rebinding", True), ("cors-credentials", True)],
        ),
        (
            200,
            {"access-control-allow-origin": "*"},
            [("dns-rebinding", True), ("cors-credentials", False)],
        ),
        (
            200,
            {
                "access-control-allow-origin": "https://app.example",
                "access-control-allow-credentials": "true",
            },
            [("dns-rebinding", True)],
        ),
    ],
)
def test_the_foreign_host_answer(
    status: int, headers: dict[str, str], expected: list[tuple[str, bool]]
) -> None:
    facts = foreign_host_facts(status, headers)
    assert [(f.check, f.found) for f in facts] == expected
    assert all(FOREIGN_HOST in f.request for f in facts)


def test_every_check_names_a_known_risk_kind() -> None:
    checks = {c.check for c in HTTP_CHECKS.values()} | {c.check for c in RAW_CHECKS.values()}
    assert checks | {"ws-any-origin", "dns-rebinding", "cors-credentials"} == set(RISK_KINDS)
    assert set(PORT_HINTS.values()) <= set(RAW_CHECKS)


def test_every_request_a_check_sends_is_in_the_readme_list() -> None:
    for check in HTTP_CHECKS.values():
        if check.path is not None:
            assert f"`GET {check.path}`" in README, check.path
    for check in RAW_CHECKS.values():
        assert f"`{check.request}`" in README, check.request
    for kind, ws in WEBSOCKET_CHECKS.items():
        assert f"(`{ws.path}`" in README or f"`{ws.path}`" in README, kind
        if ws.subprotocol:
            assert f"`{ws.subprotocol}`" in README
    assert f"`Host: {FOREIGN_HOST}`" in README and f"`Origin: {FOREIGN_ORIGIN}`" in README
    for port in PORT_HINTS:
        assert f"port {port}" in README


def test_checks_never_write_or_log_in() -> None:
    forbidden = (b"SET", b"CONFIG", b"AUTH", b"FLUSH", b"DEL", b"SHUTDOWN", b"set ", b"delete")
    for check in RAW_CHECKS.values():
        assert not check.command.upper().startswith(tuple(f.upper() for f in forbidden))
        assert check.command.count(b"\r\n") == 1  # one command, one line
