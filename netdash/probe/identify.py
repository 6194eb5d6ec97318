"""Name what answered a probe, from what it said, with the evidence shown.

Pure functions over bytes and headers, no I/O. Each returns an :class:`Identity` (a name and
the evidence it rests on) or ``None``: an unknown server stays unknown, never a guess dressed
as fact. Sources of the markers: each project's own defaults (the ``Server`` header uvicorn,
gunicorn, Werkzeug, Python's ``http.server``, Tornado, nginx, Apache and Caddy send; the
``X-Powered-By`` of Express and Next.js; the ``/@vite/client`` script Vite injects), the
greetings of RFC 4253 (SSH), RFC 5321 (SMTP), RFC 959 (FTP), RFC 1939 (POP3), RFC 9051
(IMAP), MySQL's protocol-10 handshake, and PostgreSQL's ``ErrorResponse`` packet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Identity",
    "identify_answer",
    "identify_banner",
    "identify_http",
    "looks_like_tls_alert",
]


@dataclass(frozen=True)
class Identity:
    """``name``: what answered (``FastAPI (uvicorn)``, ``ssh``); ``evidence``: why we say so,
    in words a user can check (``Server: uvicorn``); ``docs``: a documentation path the
    server offers (``/docs``), when known."""

    name: str
    evidence: str
    docs: str | None = None


_SERVER_PREFIXES: tuple[tuple[str, str], ...] = (
    ("uvicorn", "uvicorn"),
    ("gunicorn", "gunicorn"),
    ("hypercorn", "hypercorn"),
    ("simplehttp", "Python http.server"),
    ("tornadoserver", "Tornado"),
    ("nginx", "nginx"),
    ("apache", "Apache"),
    ("caddy", "Caddy"),
    ("lighttpd", "lighttpd"),
    ("jetty", "Jetty"),
    ("kestrel", "Kestrel (ASP.NET)"),
)

_DJANGO_HEADERS = ("x-frame-options", "x-content-type-options", "referrer-policy")


def identify_http(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    openapi: bool = False,
) -> Identity | None:
    """Identify an HTTP server or framework from one answer to ``GET /``.

    ``headers`` keys are lower-case; ``body`` is at most the probe's byte cap;
    ``openapi`` is true when ``/openapi.json`` answered with an OpenAPI document (FastAPI's
    default). Returns ``None`` when nothing identifies it.
    """
    server = headers.get("server", "")
    low = server.lower()
    powered = headers.get("x-powered-by", "")
    location = headers.get("location", "")
    text = body[:65536].decode("utf-8", "replace")

    if "next.js" in powered.lower():
        return Identity("Next.js", f"X-Powered-By: {powered}")
    if "/@vite/client" in text:
        return Identity("Vite", "the page loads /@vite/client")
    if "webpack-dev-server" in text or "webpack/hot/dev-server" in text:
        return Identity("webpack-dev-server", "the page loads webpack's dev-server client")
    if low.startswith("uvicorn"):
        if openapi:
            return Identity(
                "FastAPI (uvicorn)", "Server: uvicorn; /openapi.json is OpenAPI", docs="/docs"
            )
        return Identity("uvicorn (ASGI: Starlette or other)", f"Server: {server}")
    if "werkzeug" in low:
        return Identity("Flask (Werkzeug)", f"Server: {server}")
    if low.startswith("wsgiserver") and "cpython" in low:
        if all(h in headers for h in _DJANGO_HEADERS):
            return Identity("Django dev server", f"Server: {server}; Django's security headers")
        return Identity("Python wsgiref", f"Server: {server}")
    if low.startswith("tornadoserver") and (
        "jupyter" in text.lower() or re.search(r"/(lab|tree)\b", location)
    ):
        why = f"Location: {location}" if location else "the page mentions Jupyter"
        return Identity("Jupyter", f"Server: {server}; {why}")
    if "express" in powered.lower():
        return Identity("Node.js (Express)", f"X-Powered-By: {powered}")
    for prefix, name in _SERVER_PREFIXES:
        if low.startswith(prefix):
            return Identity(name, f"Server: {server}")
    return None


_MYSQL_VERSION = re.compile(rb"^[0-9][0-9A-Za-z.\-_+]*$")


def identify_banner(data: bytes) -> Identity | None:
    """Identify a server-first protocol from the bytes it sent before we said anything."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    line = first.decode("utf-8", "replace")[:120]
    if data.startswith(b"SSH-"):
        return Identity("ssh", f"greeting {line!r}")
    if data.startswith(b"220"):
        upper = line.upper()
        if "SMTP" in upper:
            return Identity("smtp", f"greeting {line!r}")
        if "FTP" in upper:
            return Identity("ftp", f"greeting {line!r}")
        return Identity("ftp or smtp", f"greeting {line!r} (code 220)")
    if data.startswith(b"+OK"):
        return Identity("pop3", f"greeting {line!r}")
    if data.startswith(b"* OK"):
        return Identity("imap", f"greeting {line!r}")
    if len(data) > 6 and data[3] == 0 and data[4] == 0x0A:
        end = data.find(b"\x00", 5)
        version = data[5:end] if end > 5 else b""
        if _MYSQL_VERSION.match(version):
            name = "mariadb" if b"mariadb" in version.lower() else "mysql"
            return Identity(name, f"protocol-10 handshake, version {version.decode()}")
    return None


def looks_like_tls_alert(data: bytes) -> bool:
    """A TLS record header: content type 21 (alert) or 22 (handshake), version 3.x."""
    return len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 0x03


def identify_answer(data: bytes) -> Identity | None:
    """Identify a non-HTTP answer to a plain ``GET / HTTP/1.0`` request."""
    if data.startswith(b"E") and b"SFATAL" in data[:64]:
        return Identity("postgresql", "an ErrorResponse packet (SFATAL)")
    if data.startswith(b"-ERR") or data.startswith(b"-WRONGTYPE"):
        first = data.split(b"\r", 1)[0][:60].decode("utf-8", "replace")
        return Identity("redis", f"answer {first!r}")
    if data.startswith(b"ERROR\r\n"):
        return Identity("memcached", "answer 'ERROR'")
    if looks_like_tls_alert(data):
        return Identity("TLS", "a TLS record in answer to plain text")
    return None
