"""Name what answered a probe, from what it said, with the evidence shown.

Identifications are data: three ordered tables (:data:`HTTP_IDENTIFICATIONS`,
:data:`BANNER_IDENTIFICATIONS`, :data:`ANSWER_IDENTIFICATIONS`), one
:class:`Identification` per entry declaring what it looks for, the name shown, the evidence
(a template filled from the answer), its ``kind`` (the stable key of the program, which fix
hints use) and, for HTTP, at most one :class:`FollowUp` request that refines it. The first
entry that matches wins; an unknown server stays unknown (``None``), never a guess dressed as
fact. Adding an identification is one entry here plus its test.

Pure functions over bytes and headers, no I/O: the probe engine
(:mod:`netdash.probe.engine`) performs the follow-up a matched identification declares.
Sources of the markers: each project's own defaults (the ``Server`` header uvicorn, gunicorn,
Hypercorn, Werkzeug, Python's ``http.server`` and ``wsgiref``, Tornado, nginx, Apache, Caddy,
lighttpd, Jetty and Kestrel send; the ``X-Powered-By`` of Express and Next.js; the
``/@vite/client`` script Vite injects; FastAPI's ``/openapi.json`` and ``/docs``), the
greetings of RFC 4253 (SSH), RFC 5321 (SMTP), RFC 959 (FTP), RFC 1939 (POP3), RFC 9051
(IMAP), MySQL's protocol-10 handshake, PostgreSQL's ``ErrorResponse`` packet, and the TLS
record header of RFC 8446 §5.1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "ANSWER_IDENTIFICATIONS",
    "BANNER_IDENTIFICATIONS",
    "HTTP_IDENTIFICATIONS",
    "Banner",
    "FollowUp",
    "HttpAnswer",
    "Identification",
    "Identity",
    "identify_answer",
    "identify_banner",
    "identify_http",
    "looks_like_tls_alert",
]


@dataclass(frozen=True)
class FollowUp:
    """One more ``GET`` that refines an identification (at most one per probe, same limits).

    ``path`` is requested on the same scheme, host and port; the answer confirms when its
    status is ``status`` and ``marker`` occurs in its first ``within`` body bytes. Confirmed,
    the identity becomes ``name`` with ``evidence`` and ``docs`` (its ``kind`` is kept).
    """

    path: str
    marker: bytes
    name: str
    evidence: str
    docs: str | None = None
    status: int = 200
    within: int = 4096

    def confirmed_by(self, status: int, body: bytes) -> bool:
        """Whether an answer (HTTP ``status``, ``body`` bytes) to ``GET path`` confirms."""
        return status == self.status and self.marker in body[: self.within]

    def refine(self, identity: Identity) -> Identity:
        """``identity`` as the confirmed follow-up names it (same ``kind``, no follow-up)."""
        return Identity(self.name, self.evidence, identity.kind, docs=self.docs)


@dataclass(frozen=True)
class Identity:
    """``name``: what answered (``FastAPI (uvicorn)``, ``ssh``); ``evidence``: why we say so,
    in words a user can check (``Server: uvicorn``); ``kind``: the stable key of the program
    (``"uvicorn"`` for both uvicorn names), which fix hints are keyed by; ``docs``: a
    documentation path the server offers (``/docs``), when known; ``follow_up``: the request
    that would refine it, still to be made (``None`` once made or when there is none)."""

    name: str
    evidence: str
    kind: str
    docs: str | None = None
    follow_up: FollowUp | None = None


@dataclass(frozen=True)
class HttpAnswer:
    """What identifications of an HTTP answer look at, computed once per answer.

    ``server``, ``powered`` (``X-Powered-By``) and ``location`` are header values (``""``
    when absent), ``low``/``powered_low`` their lower case; ``headers`` has lower-case keys;
    ``text`` is the body (at most 64 KiB) decoded as UTF-8 with replacement.
    """

    status: int
    headers: Mapping[str, str]
    server: str
    low: str
    powered: str
    powered_low: str
    location: str
    text: str


@dataclass(frozen=True)
class Banner:
    """What identifications of raw bytes look at: ``data`` as received (at most 512 bytes),
    ``line`` its first line as text (at most 120 characters), ``first`` the text before the
    first ``\\r`` (at most 60 bytes), and ``version`` the server version of a MySQL
    protocol-10 handshake (``""`` when it is none)."""

    data: bytes
    line: str
    first: str
    version: str


Seen = TypeVar("Seen", HttpAnswer, Banner)


@dataclass(frozen=True)
class Identification(Generic[Seen]):
    """One identification: ``looks_for`` says whether an answer matches; ``name`` is the
    display name; ``evidence`` a :meth:`str.format` template over the answer's fields
    (``"Server: {server}"``); ``kind`` the stable key of the program; ``docs`` a
    documentation path; ``follow_up`` the one extra request that refines it, if any."""

    kind: str
    name: str
    looks_for: Callable[[Seen], bool]
    evidence: str
    docs: str | None = None
    follow_up: FollowUp | None = None

    def identity(self, seen: Seen) -> Identity:
        """The :class:`Identity` this identification gives to the matching answer ``seen``."""
        return Identity(
            self.name,
            self.evidence.format_map(vars(seen)),
            self.kind,
            docs=self.docs,
            follow_up=self.follow_up,
        )


def _first(table: tuple[Identification[Seen], ...], seen: Seen) -> Identity | None:
    for identification in table:
        if identification.looks_for(seen):
            return identification.identity(seen)
    return None


def _server(prefix: str) -> Callable[[HttpAnswer], bool]:
    return lambda a: a.low.startswith(prefix)


_DJANGO_HEADERS = ("x-frame-options", "x-content-type-options", "referrer-policy")
_JUPYTER_PATH = re.compile(r"/(lab|tree)\b")


def _wsgiref(a: HttpAnswer) -> bool:
    return a.low.startswith("wsgiserver") and "cpython" in a.low


def _jupyter_location(a: HttpAnswer) -> bool:
    return (
        a.low.startswith("tornadoserver")
        and bool(a.location)
        and ("jupyter" in a.text.lower() or bool(_JUPYTER_PATH.search(a.location)))
    )


def _jupyter_page(a: HttpAnswer) -> bool:
    return a.low.startswith("tornadoserver") and not a.location and "jupyter" in a.text.lower()


HTTP_IDENTIFICATIONS: tuple[Identification[HttpAnswer], ...] = (
    # The Docker Engine API: Server: Docker/... and Api-Version on its routes; its 404 for
    # an unknown path (GET /) is the JSON below and nothing else (dockerd 20.10 to 28).
    Identification(
        "docker",
        "Docker Engine API",
        lambda a: (
            a.low.startswith("docker/")
            or "api-version" in a.headers
            or (a.status == 404 and a.text.strip() == '{"message":"page not found"}')
        ),
        "the Docker Engine API's answer to GET / ({status} page not found)",
    ),
    Identification(
        "ollama", "Ollama", lambda a: a.text.startswith("Ollama is running"), "'Ollama is running'"
    ),
    Identification(
        "elasticsearch",
        "Elasticsearch / OpenSearch",
        lambda a: '"cluster_name"' in a.text and '"tagline"' in a.text,
        "the cluster JSON (cluster_name, tagline)",
    ),
    Identification(
        "metro",
        "React Native Metro",
        lambda a: "x-react-native-project-root" in a.headers,
        "X-React-Native-Project-Root header",
    ),
    Identification(
        "websockets",
        "Python websockets",
        lambda a: "websockets/" in a.low,
        "Server: {server}",
    ),
    Identification(
        "next.js", "Next.js", lambda a: "next.js" in a.powered_low, "X-Powered-By: {powered}"
    ),
    Identification(
        "vite", "Vite", lambda a: "/@vite/client" in a.text, "the page loads /@vite/client"
    ),
    Identification(
        "webpack-dev-server",
        "webpack-dev-server",
        lambda a: "webpack-dev-server" in a.text or "webpack/hot/dev-server" in a.text,
        "the page loads webpack's dev-server client",
    ),
    Identification(
        "uvicorn",
        "uvicorn (ASGI: Starlette or other)",
        _server("uvicorn"),
        "Server: {server}",
        # FastAPI serves its OpenAPI document here by default, and its docs at /docs.
        follow_up=FollowUp(
            "/openapi.json",
            b'"openapi"',
            "FastAPI (uvicorn)",
            "Server: uvicorn; /openapi.json is OpenAPI",
            docs="/docs",
        ),
    ),
    Identification("flask", "Flask (Werkzeug)", lambda a: "werkzeug" in a.low, "Server: {server}"),
    Identification(
        "django",
        "Django dev server",
        lambda a: _wsgiref(a) and all(h in a.headers for h in _DJANGO_HEADERS),
        "Server: {server}; Django's security headers",
    ),
    Identification("wsgiref", "Python wsgiref", _wsgiref, "Server: {server}"),
    Identification(
        "jupyter", "Jupyter", _jupyter_location, "Server: {server}; Location: {location}"
    ),
    Identification(
        "jupyter", "Jupyter", _jupyter_page, "Server: {server}; the page mentions Jupyter"
    ),
    Identification(
        "node", "Node.js (Express)", lambda a: "express" in a.powered_low, "X-Powered-By: {powered}"
    ),
    Identification("gunicorn", "gunicorn", _server("gunicorn"), "Server: {server}"),
    Identification("hypercorn", "hypercorn", _server("hypercorn"), "Server: {server}"),
    Identification("http.server", "Python http.server", _server("simplehttp"), "Server: {server}"),
    Identification("tornado", "Tornado", _server("tornadoserver"), "Server: {server}"),
    Identification("nginx", "nginx", _server("nginx"), "Server: {server}"),
    Identification("apache", "Apache", _server("apache"), "Server: {server}"),
    Identification("caddy", "Caddy", _server("caddy"), "Server: {server}"),
    Identification("lighttpd", "lighttpd", _server("lighttpd"), "Server: {server}"),
    Identification("jetty", "Jetty", _server("jetty"), "Server: {server}"),
    Identification("kestrel", "Kestrel (ASP.NET)", _server("kestrel"), "Server: {server}"),
)
"""Identifications of an answer to ``GET /``, in order: the first match wins."""


def identify_http(status: int, headers: Mapping[str, str], body: bytes) -> Identity | None:
    """Identify an HTTP server or framework from one answer to ``GET /``.

    ``status`` is the HTTP status; ``headers`` keys are lower-case; ``body`` is at most the
    probe's byte cap. Returns the first matching entry of :data:`HTTP_IDENTIFICATIONS` as an
    :class:`Identity`, whose ``follow_up`` (if any) the caller may request and apply with
    :meth:`FollowUp.refine`; ``None`` when nothing identifies it.
    """
    server = headers.get("server", "")
    powered = headers.get("x-powered-by", "")
    answer = HttpAnswer(
        status=status,
        headers=headers,
        server=server,
        low=server.lower(),
        powered=powered,
        powered_low=powered.lower(),
        location=headers.get("location", ""),
        text=body[:65536].decode("utf-8", "replace"),
    )
    return _first(HTTP_IDENTIFICATIONS, answer)


_MYSQL_VERSION = re.compile(rb"^[0-9][0-9A-Za-z.\-_+]*$")


def _handshake_version(data: bytes) -> str:
    """The server version of a MySQL protocol-10 handshake (3-byte length, sequence 0,
    protocol 10, NUL-terminated version), or ``""``."""
    if len(data) > 6 and data[3] == 0 and data[4] == 0x0A:
        end = data.find(b"\x00", 5)
        version = data[5:end] if end > 5 else b""
        if _MYSQL_VERSION.match(version):
            return version.decode()
    return ""


def _banner(data: bytes) -> Banner:
    line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")[:120]
    first = data.split(b"\r", 1)[0][:60].decode("utf-8", "replace")
    return Banner(data, line, first, _handshake_version(data))


def _greets(code: bytes, word: str = "") -> Callable[[Banner], bool]:
    return lambda b: b.data.startswith(code) and word in b.line.upper()


BANNER_IDENTIFICATIONS: tuple[Identification[Banner], ...] = (
    Identification("ssh", "ssh", _greets(b"SSH-"), "greeting {line!r}"),
    # Redis in protected mode refuses a non-loopback client as soon as it connects.
    Identification("redis", "redis", _greets(b"-DENIED"), "greeting {first!r}"),
    Identification("smtp", "smtp", _greets(b"220", "SMTP"), "greeting {line!r}"),
    Identification("ftp", "ftp", _greets(b"220", "FTP"), "greeting {line!r}"),
    Identification("ftp-or-smtp", "ftp or smtp", _greets(b"220"), "greeting {line!r} (code 220)"),
    Identification("pop3", "pop3", _greets(b"+OK"), "greeting {line!r}"),
    Identification("imap", "imap", _greets(b"* OK"), "greeting {line!r}"),
    Identification(
        "mariadb",
        "mariadb",
        lambda b: "mariadb" in b.version.lower(),
        "protocol-10 handshake, version {version}",
    ),
    Identification(
        "mysql", "mysql", lambda b: bool(b.version), "protocol-10 handshake, version {version}"
    ),
)
"""Identifications of the bytes a server-first peer sent before we said anything, in order."""


def identify_banner(data: bytes) -> Identity | None:
    """Identify a server-first protocol from the bytes (at most 512) it sent before we said
    anything: the first match in :data:`BANNER_IDENTIFICATIONS`, or ``None``."""
    return _first(BANNER_IDENTIFICATIONS, _banner(data))


def looks_like_tls_alert(data: bytes) -> bool:
    """A TLS record header (RFC 8446 §5.1): content type 21 (alert) or 22 (handshake),
    version 3.x."""
    return len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 0x03


ANSWER_IDENTIFICATIONS: tuple[Identification[Banner], ...] = (
    Identification(
        "postgresql",
        "postgresql",
        lambda b: b.data.startswith(b"E") and b"SFATAL" in b.data[:64],
        "an ErrorResponse packet (SFATAL)",
    ),
    Identification(
        "redis",
        "redis",
        lambda b: b.data.startswith((b"-ERR", b"-WRONGTYPE", b"-NOAUTH", b"-DENIED")),
        "answer {first!r}",
    ),
    Identification(
        "memcached", "memcached", lambda b: b.data.startswith(b"ERROR\r\n"), "answer 'ERROR'"
    ),
    Identification(
        "tls", "TLS", lambda b: looks_like_tls_alert(b.data), "a TLS record in answer to plain text"
    ),
)
"""Identifications of a non-HTTP answer to a plain ``GET / HTTP/1.0``, in order."""


def identify_answer(data: bytes) -> Identity | None:
    """Identify a non-HTTP answer (at most 512 bytes) to a plain ``GET / HTTP/1.0`` request:
    the first match in :data:`ANSWER_IDENTIFICATIONS`, or ``None``."""
    return _first(ANSWER_IDENTIFICATIONS, _banner(data))
