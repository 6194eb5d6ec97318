"""identify_http / identify_banner / identify_answer: a table of what real servers send.

Header sets are as these servers send them by default (their own sources and docs); the
live peers in test_probe_peers.py cover uvicorn/FastAPI, Flask, http.server, TLS and
greetings end to end.
"""

from __future__ import annotations

import pytest

from netdash.probe.identify import identify_answer, identify_banner, identify_http

DJANGO = {
    "server": "WSGIServer/0.2 CPython/3.12.1",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.mark.parametrize(
    ("headers", "body", "openapi", "name"),
    [
        ({"server": "uvicorn"}, b"{}", True, "FastAPI (uvicorn)"),
        ({"server": "uvicorn"}, b"hi", False, "uvicorn (ASGI: Starlette or other)"),
        ({"server": "Werkzeug/3.0.1 Python/3.12.1"}, b"", False, "Flask (Werkzeug)"),
        (DJANGO, b"<h1>It worked!</h1>", False, "Django dev server"),
        ({"server": "WSGIServer/0.2 CPython/3.12.1"}, b"", False, "Python wsgiref"),
        ({"server": "gunicorn"}, b"", False, "gunicorn"),
        ({"x-powered-by": "Next.js"}, b"<div id=__next>", False, "Next.js"),
        ({}, b'<script type="module" src="/@vite/client"></script>', False, "Vite"),
        (
            {"x-powered-by": "Express"},
            b"<script src=/webpack-dev-server.js>",
            False,
            "webpack-dev-server",
        ),
        ({"x-powered-by": "Express"}, b"ok", False, "Node.js (Express)"),
        ({"server": "TornadoServer/6.4", "location": "/lab?"}, b"", False, "Jupyter"),
        ({"server": "TornadoServer/6.4"}, b"plain", False, "Tornado"),
        ({"server": "SimpleHTTP/0.6 Python/3.12.1"}, b"", False, "Python http.server"),
        ({"server": "nginx/1.25.3"}, b"", False, "nginx"),
        ({"server": "Apache/2.4.58 (Debian)"}, b"", False, "Apache"),
        ({"server": "Caddy"}, b"", False, "Caddy"),
    ],
)
def test_http_servers(headers: dict[str, str], body: bytes, openapi: bool, name: str) -> None:
    identity = identify_http(200, headers, body, openapi=openapi)
    assert identity is not None and identity.name == name
    assert identity.evidence  # always says why


def test_unknown_http_server_stays_unknown() -> None:
    assert identify_http(200, {"server": "MyOwnThing/1.0"}, b"<html></html>") is None
    assert identify_http(200, {}, b"") is None


def test_fastapi_points_at_its_docs() -> None:
    identity = identify_http(200, {"server": "uvicorn"}, b"", openapi=True)
    assert identity is not None and identity.docs == "/docs"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"SSH-2.0-OpenSSH_9.6p1 Debian\r\n", "ssh"),
        (b"220 mx ESMTP\r\n", "smtp"),
        (b"+OK POP3 ready\r\n", "pop3"),
        (b"* OK IMAP4rev1\r\n", "imap"),
        (b"\x4e\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB\x00rest", "mariadb"),
        (b"hello there\r\n", None),
        (b"\x00\x00\x00\x00\x0a\xff\xff\x00", None),  # protocol 10 framing, not a version
    ],
)
def test_banners(data: bytes, name: str | None) -> None:
    identity = identify_banner(data)
    assert (identity.name if identity else None) == name


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"E\x00\x00\x00\x58SFATAL\x00VFATAL\x00C0A000\x00", "postgresql"),
        (b"-ERR unknown command 'GET'\r\n", "redis"),
        (b"ERROR\r\n", "memcached"),
        (b"\x15\x03\x01\x00\x02\x02\x46", "TLS"),
        (b"random bytes", None),
    ],
)
def test_answers_to_a_plain_request(data: bytes, name: str | None) -> None:
    identity = identify_answer(data)
    assert (identity.name if identity else None) == name
