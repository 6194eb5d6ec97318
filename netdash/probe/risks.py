"""Risk checks as data: which harmless request each identified kind gets, and what in the
answer is the fact (:class:`netdash.core.model.RiskFact`).

Three tables, like the identifications of :mod:`netdash.probe.identify`:

* :data:`HTTP_CHECKS`: by identified kind, one read-only ``GET`` (Jupyter's
  ``/api/status``, which needs a token; Docker's ``/version``; Ollama's ``/api/tags``;
  Werkzeug's ``/console``) or a fact read from the ``GET /`` answer already received
  (Elasticsearch's cluster JSON, a dev server's page: no request at all);
* :data:`RAW_CHECKS`: by identified kind, one harmless command of the service's own protocol
  on its own connection (Redis ``PING``, memcached ``version``), never a write, never
  ``AUTH``, ``CONFIG`` or any admin command;
* :data:`WEBSOCKET_CHECKS`: by identified kind, the WebSocket path and subprotocol of a
  cross-origin handshake (Vite's HMR socket: ``/`` with ``vite-hmr``), closed at once.

Every HTTP answer also gets :data:`FOREIGN_HOST` once: ``GET /`` with ``Host`` a name under
``.invalid`` (RFC 6761 §6.4: never resolves) and ``Origin: http://attacker.invalid`` (DNS
rebinding and CORS). The engine (:mod:`netdash.probe.engine`) sends them, within the probe's
limits; the functions here are pure. What a fact means (severity, words, fix) is
:mod:`netdash.core.risk`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from netdash.core.model import RiskFact
from netdash.core.text import Untrusted, clean

__all__ = [
    "FOREIGN_HOST",
    "FOREIGN_ORIGIN",
    "HTTP_CHECKS",
    "PORT_HINTS",
    "RAW_CHECKS",
    "WEBSOCKET_CHECKS",
    "HttpCheck",
    "RawCheck",
    "WebSocketCheck",
    "first_line",
    "foreign_host_facts",
    "http_status_line",
]

FOREIGN_HOST = "netdash-rebind.invalid"
"""The ``Host`` of the rebinding check: under ``.invalid``, which no resolver answers."""

FOREIGN_ORIGIN = "http://attacker.invalid"
"""The ``Origin`` of the rebinding, CORS and WebSocket checks."""


def first_line(data: bytes | str, limit: int = 120) -> str:
    """The first line of an answer as clean text (control characters shown, at most
    ``limit`` characters)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return clean(text.split("\n", 1)[0].rstrip("\r"), limit)


def http_status_line(status: int, body: bytes) -> str:
    """``200 {"version": ...`` : the status and the body's first line, for evidence."""
    return first_line(f"{status} " + body[:200].decode("utf-8", "replace"))


@dataclass(frozen=True)
class HttpCheck:
    """A risk check of an identified HTTP kind: ``check`` (the risk kind), ``path`` to
    ``GET`` (``None``: judge the ``GET /`` answer already received, send nothing), and
    ``found``, whether an answer (status, lower-case headers, body) is the risky one."""

    check: str
    path: str | None
    found: Callable[[int, Mapping[str, str], bytes], bool]

    def fact(self, status: int, headers: Mapping[str, str], body: bytes) -> RiskFact:
        """The fact of one answer to this check's request."""
        request = f"GET {self.path}" if self.path else "GET /"
        return RiskFact(
            self.check,
            self.found(status, headers, body),
            request,
            Untrusted(http_status_line(status, body)),
            status,
        )


def _json_200(marker: bytes) -> Callable[[int, Mapping[str, str], bytes], bool]:
    return lambda status, _headers, body: status == 200 and marker in body[:4096]


_DEV = HttpCheck("dev-server", None, lambda status, _h, _b: 200 <= status < 400)

HTTP_CHECKS: dict[str, HttpCheck] = {
    # jupyter_server's /api/status needs authentication: 403 with a token, 200 without.
    "jupyter": HttpCheck("jupyter-no-token", "/api/status", _json_200(b'"kernels"')),
    # Docker Engine API, GET /version (read-only; docs.docker.com/reference/api/engine).
    "docker": HttpCheck("docker-api", "/version", _json_200(b'"ApiVersion"')),
    # Ollama's model list (github.com/ollama/ollama docs/api.md).
    "ollama": HttpCheck("ollama-open", "/api/tags", _json_200(b'"models"')),
    # Werkzeug's debugger console page (only served with the debugger on).
    "flask": HttpCheck("werkzeug-debugger", "/console", _json_200(b"CONSOLE_MODE")),
    # Elasticsearch / OpenSearch answer GET / with the cluster JSON unless security is on.
    "elasticsearch": HttpCheck(
        "elasticsearch-open",
        None,
        lambda status, _h, body: status == 200 and b'"cluster_name"' in body,
    ),
    "vite": _DEV,
    "webpack-dev-server": _DEV,
    "next.js": _DEV,
    "metro": _DEV,
}
"""Risk checks of identified HTTP kinds: at most one request each."""


@dataclass(frozen=True)
class RawCheck:
    """A risk check of an identified non-HTTP kind: ``command`` (bytes sent on a fresh
    connection, the protocol's own harmless request), ``request`` (it in words), and
    ``prefix``, the start of a risky answer."""

    check: str
    command: bytes
    request: str
    prefix: bytes

    def fact(self, answer: bytes) -> RiskFact:
        return RiskFact(
            self.check,
            answer.startswith(self.prefix),
            self.request,
            Untrusted(first_line(answer)),
        )


RAW_CHECKS: dict[str, RawCheck] = {
    # PING needs no key and writes nothing; +PONG without AUTH means no password. With
    # requirepass: -NOAUTH; protected mode through a non-loopback address: -DENIED.
    "redis": RawCheck("redis-no-auth", b"PING\r\n", "PING", b"+PONG"),
    # memcached's text protocol: "version" reads the server version, nothing else.
    "memcached": RawCheck("memcached-open", b"version\r\n", "version", b"VERSION "),
}
"""Risk checks of identified non-HTTP kinds: one command each."""

PORT_HINTS: dict[int, str] = {11211: "memcached"}
"""Kinds tried by port when nothing identified the answer: memcached closes a connection
that starts with ``GET`` without a word (its defence against cross-protocol requests), so its
IANA port is the only hint; its harmless ``version`` then names it (a found fact only)."""


@dataclass(frozen=True)
class WebSocketCheck:
    """Where an identified kind's WebSocket is: ``path`` and the ``subprotocol`` it expects
    (``None``: none)."""

    path: str
    subprotocol: str | None = None


WEBSOCKET_CHECKS: dict[str, WebSocketCheck] = {
    "vite": WebSocketCheck("/", "vite-hmr"),
    "webpack-dev-server": WebSocketCheck("/ws"),
    "next.js": WebSocketCheck("/_next/webpack-hmr"),
    "metro": WebSocketCheck("/hot"),
    "websockets": WebSocketCheck("/"),
}
"""Kinds that use WebSockets: one cross-origin handshake each."""


def foreign_host_facts(status: int, headers: Mapping[str, str]) -> tuple[RiskFact, ...]:
    """The facts of one answer to :data:`FOREIGN_HOST`'s ``GET /`` (``headers`` lower-case):
    ``dns-rebinding`` (found for 2xx and 3xx) and, when the answer allows the foreign origin
    (``*`` or reflected) together with ``Access-Control-Allow-Credentials: true``,
    ``cors-credentials``."""
    request = f"GET / (Host: {FOREIGN_HOST}, Origin: {FOREIGN_ORIGIN})"
    facts = [
        RiskFact("dns-rebinding", 200 <= status < 400, request, Untrusted(str(status)), status)
    ]
    allow = headers.get("access-control-allow-origin", "").strip()
    credentials = headers.get("access-control-allow-credentials", "").strip().lower() == "true"
    if allow in ("*", FOREIGN_ORIGIN):
        answer = f"Access-Control-Allow-Origin: {allow}" + (
            "; Access-Control-Allow-Credentials: true" if credentials else ""
        )
        facts.append(
            RiskFact(
                "cors-credentials", credentials, request, Untrusted(clean(answer, 120)), status
            )
        )
    return tuple(facts)
