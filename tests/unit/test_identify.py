"""identify_http / identify_banner / identify_answer: a table of what real servers send.

Header sets are as these servers send them by default (their own sources and docs); the
live peers in test_probe_peers.py cover uvicorn/FastAPI, Flask, http.server, TLS and
greetings end to end. Every entry of the identification tables has a row here (checked
below), with its kind and, where it declares one, its follow-up request.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from netdash.core.hints import FIXES
from netdash.probe.identify import (
    ANSWER_IDENTIFICATIONS,
    BANNER_IDENTIFICATIONS,
    HTTP_IDENTIFICATIONS,
    Identification,
    Identity,
    identify_answer,
    identify_banner,
    identify_http,
)

DJANGO = {
    "server": "WSGIServer/0.2 CPython/3.12.1",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}

# headers, body -> kind, name, evidence (exactly as shown and written to JSON)
HTTP_CASES: list[tuple[dict[str, str], bytes, str, str, str]] = [
    (
        {"server": "Docker/24.0.7 (linux)", "api-version": "1.43"},
        b'{"message":"page not found"}',
        "docker",
        "Docker Engine API",
        "the Docker Engine API's answer to GET / (200 page not found)",
    ),
    (
        {"content-type": "text/plain; charset=utf-8"},
        b"Ollama is running",
        "ollama",
        "Ollama",
        "'Ollama is running'",
    ),
    (
        {"content-type": "application/json"},
        b'{"name":"n1","cluster_name":"es","tagline":"You Know, for Search"}',
        "elasticsearch",
        "Elasticsearch / OpenSearch",
        "the cluster JSON (cluster_name, tagline)",
    ),
    (
        {"x-react-native-project-root": "/home/dev/app"},
        b"React Native packager is running.",
        "metro",
        "React Native Metro",
        "X-React-Native-Project-Root header",
    ),
    (
        {"server": "Python/3.12 websockets/13.1"},
        b"Failed to open a WebSocket connection",
        "websockets",
        "Python websockets",
        "Server: Python/3.12 websockets/13.1",
    ),
    (
        {"x-powered-by": "Next.js"},
        b"<div id=__next>",
        "next.js",
        "Next.js",
        "X-Powered-By: Next.js",
    ),
    (
        {"server": "uvicorn"},
        b'<script type="module" src="/@vite/client"></script>',
        "vite",
        "Vite",
        "the page loads /@vite/client",
    ),
    (
        {"x-powered-by": "Express"},
        b"<script src=/webpack-dev-server.js>",
        "webpack-dev-server",
        "webpack-dev-server",
        "the page loads webpack's dev-server client",
    ),
    (
        {},
        b"<script src=/webpack/hot/dev-server.js>",
        "webpack-dev-server",
        "webpack-dev-server",
        "the page loads webpack's dev-server client",
    ),
    (
        {"server": "uvicorn"},
        b"hi",
        "uvicorn",
        "uvicorn (ASGI: Starlette or other)",
        "Server: uvicorn",
    ),
    (
        {"server": "Werkzeug/3.0.1 Python/3.12.1"},
        b"",
        "flask",
        "Flask (Werkzeug)",
        "Server: Werkzeug/3.0.1 Python/3.12.1",
    ),
    (
        DJANGO,
        b"<h1>It worked!</h1>",
        "django",
        "Django dev server",
        "Server: WSGIServer/0.2 CPython/3.12.1; Django's security headers",
    ),
    (
        {"server": "WSGIServer/0.2 CPython/3.12.1"},
        b"",
        "wsgiref",
        "Python wsgiref",
        "Server: WSGIServer/0.2 CPython/3.12.1",
    ),
    (
        {"server": "TornadoServer/6.4", "location": "/lab?"},
        b"",
        "jupyter",
        "Jupyter",
        "Server: TornadoServer/6.4; Location: /lab?",
    ),
    (
        {"server": "TornadoServer/6.4"},
        b"<title>Jupyter Server</title>",
        "jupyter",
        "Jupyter",
        "Server: TornadoServer/6.4; the page mentions Jupyter",
    ),
    (
        {"x-powered-by": "Express"},
        b"ok",
        "node",
        "Node.js (Express)",
        "X-Powered-By: Express",
    ),
    ({"server": "gunicorn"}, b"", "gunicorn", "gunicorn", "Server: gunicorn"),
    ({"server": "hypercorn-h11"}, b"", "hypercorn", "hypercorn", "Server: hypercorn-h11"),
    (
        {"server": "SimpleHTTP/0.6 Python/3.12.1"},
        b"",
        "http.server",
        "Python http.server",
        "Server: SimpleHTTP/0.6 Python/3.12.1",
    ),
    (
        {"server": "TornadoServer/6.4", "location": "/login"},
        b"plain",
        "tornado",
        "Tornado",
        "Server: TornadoServer/6.4",
    ),
    ({"server": "nginx/1.25.3"}, b"", "nginx", "nginx", "Server: nginx/1.25.3"),
    (
        {"server": "Apache/2.4.58 (Debian)"},
        b"",
        "apache",
        "Apache",
        "Server: Apache/2.4.58 (Debian)",
    ),
    ({"server": "Caddy"}, b"", "caddy", "Caddy", "Server: Caddy"),
    ({"server": "lighttpd/1.4.73"}, b"", "lighttpd", "lighttpd", "Server: lighttpd/1.4.73"),
    ({"server": "Jetty(11.0.20)"}, b"", "jetty", "Jetty", "Server: Jetty(11.0.20)"),
    ({"server": "Kestrel"}, b"", "kestrel", "Kestrel (ASP.NET)", "Server: Kestrel"),
]


@pytest.mark.parametrize(("headers", "body", "kind", "name", "evidence"), HTTP_CASES)
def test_http_servers(
    headers: dict[str, str], body: bytes, kind: str, name: str, evidence: str
) -> None:
    identity = identify_http(200, headers, body)
    assert identity is not None
    assert (identity.kind, identity.name, identity.evidence) == (kind, name, evidence)


def test_unknown_http_server_stays_unknown() -> None:
    assert identify_http(200, {"server": "MyOwnThing/1.0"}, b"<html></html>") is None
    assert identify_http(200, {}, b"") is None


def test_uvicorn_declares_its_openapi_follow_up_and_becomes_fastapi() -> None:
    uvicorn = identify_http(200, {"server": "uvicorn"}, b"{}")
    assert uvicorn is not None and uvicorn.follow_up is not None
    follow_up = uvicorn.follow_up
    assert follow_up.path == "/openapi.json"
    assert follow_up.confirmed_by(200, b'{"openapi":"3.1.0","info":{}}')
    assert not follow_up.confirmed_by(404, b'{"openapi":"3.1.0"}')
    assert not follow_up.confirmed_by(200, b'{"detail":"Not Found"}')
    assert not follow_up.confirmed_by(200, b" " * 4096 + b'"openapi"')  # first 4 KiB only
    fastapi = follow_up.refine(uvicorn)
    assert fastapi == Identity(
        "FastAPI (uvicorn)",
        "Server: uvicorn; /openapi.json is OpenAPI",
        "uvicorn",
        docs="/docs",
    )
    assert fastapi.follow_up is None  # at most one extra request


def test_only_uvicorn_declares_a_follow_up() -> None:
    # The probe sends GET / plus the declared follow-ups, nothing else (README, Safety rules):
    # a new follow-up is a new request, to be listed there.
    declared = {i.follow_up.path for i in HTTP_IDENTIFICATIONS if i.follow_up}
    assert declared == {"/openapi.json"}
    for table in (BANNER_IDENTIFICATIONS, ANSWER_IDENTIFICATIONS):
        assert all(i.follow_up is None for i in table)


BANNER_CASES: list[tuple[bytes, str | None, str | None, str | None]] = [
    (b"SSH-2.0-OpenSSH_9.6p1 Debian\r\n", "ssh", "ssh", "greeting 'SSH-2.0-OpenSSH_9.6p1 Debian'"),
    (b"220 mx ESMTP\r\n", "smtp", "smtp", "greeting '220 mx ESMTP'"),
    (b"220 (vsFTPd 3.0.5)\r\n", "ftp", "ftp", "greeting '220 (vsFTPd 3.0.5)'"),
    (b"220 ready\r\n", "ftp-or-smtp", "ftp or smtp", "greeting '220 ready' (code 220)"),
    (b"+OK POP3 ready\r\n", "pop3", "pop3", "greeting '+OK POP3 ready'"),
    (b"* OK IMAP4rev1\r\n", "imap", "imap", "greeting '* OK IMAP4rev1'"),
    (
        b"\x4e\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB\x00rest",
        "mariadb",
        "mariadb",
        "protocol-10 handshake, version 5.5.5-10.11.6-MariaDB",
    ),
    (
        b"\x4e\x00\x00\x00\x0a8.0.36\x00rest",
        "mysql",
        "mysql",
        "protocol-10 handshake, version 8.0.36",
    ),
    (
        b"-DENIED Redis is running in protected mode because protected mode is enabled\r\n",
        "redis",
        "redis",
        "greeting '-DENIED Redis is running in protected mode because protected'",
    ),
    (b"hello there\r\n", None, None, None),
    (b"\x00\x00\x00\x00\x0a\xff\xff\x00", None, None, None),  # protocol 10 framing, no version
]


@pytest.mark.parametrize(("data", "kind", "name", "evidence"), BANNER_CASES)
def test_banners(data: bytes, kind: str | None, name: str | None, evidence: str | None) -> None:
    identity = identify_banner(data)
    got = (identity.kind, identity.name, identity.evidence) if identity else (None, None, None)
    assert got == (kind, name, evidence)


ANSWER_CASES: list[tuple[bytes, str | None, str | None, str | None]] = [
    (
        b"E\x00\x00\x00\x58SFATAL\x00VFATAL\x00C0A000\x00",
        "postgresql",
        "postgresql",
        "an ErrorResponse packet (SFATAL)",
    ),
    (
        b"-ERR unknown command 'GET'\r\n",
        "redis",
        "redis",
        "answer \"-ERR unknown command 'GET'\"",
    ),
    (b"-WRONGTYPE Operation\r\n", "redis", "redis", "answer '-WRONGTYPE Operation'"),
    (
        b"-NOAUTH Authentication required.\r\n",
        "redis",
        "redis",
        "answer '-NOAUTH Authentication required.'",
    ),
    (b"ERROR\r\n", "memcached", "memcached", "answer 'ERROR'"),
    (b"\x15\x03\x01\x00\x02\x02\x46", "tls", "TLS", "a TLS record in answer to plain text"),
    (b"random bytes", None, None, None),
]


@pytest.mark.parametrize(("data", "kind", "name", "evidence"), ANSWER_CASES)
def test_answers_to_a_plain_request(
    data: bytes, kind: str | None, name: str | None, evidence: str | None
) -> None:
    identity = identify_answer(data)
    got = (identity.kind, identity.name, identity.evidence) if identity else (None, None, None)
    assert got == (kind, name, evidence)


@pytest.mark.parametrize(
    ("table", "cases", "kind_at"),
    [
        (HTTP_IDENTIFICATIONS, HTTP_CASES, 2),
        (BANNER_IDENTIFICATIONS, BANNER_CASES, 1),
        (ANSWER_IDENTIFICATIONS, ANSWER_CASES, 1),
    ],
)
def test_every_identification_has_a_row_here(
    table: tuple[Identification[Any], ...], cases: list[Any], kind_at: int
) -> None:
    entries = Counter((i.kind, i.name) for i in table)
    rows = Counter((c[kind_at], c[kind_at + 1]) for c in cases if c[kind_at] is not None)
    assert set(entries) == set(rows)
    assert all(rows[key] >= count for key, count in entries.items())  # Jupyter has two


def test_kinds_with_a_hint_are_kinds_of_the_hint_table() -> None:
    # A kind is a stable key: the ones fix hints know are spelled the same on both sides.
    kinds = {i.kind for i in HTTP_IDENTIFICATIONS}
    kinds |= {i.kind for i in BANNER_IDENTIFICATIONS} | {i.kind for i in ANSWER_IDENTIFICATIONS}
    assert set(FIXES) - kinds == {"rails"}  # only a command line tells rails
