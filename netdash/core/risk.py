"""What a risk check's fact means: the severity, the capability in words and the fix of each
risk kind, and how far a risk reaches.

The probe (:mod:`netdash.probe.risks`) gathers facts (:class:`netdash.core.model.RiskFact`);
this table says what each kind of fact means for whoever reaches the port, the way
:mod:`netdash.core.hints` says how to fix an exposure. Adding a risk is one entry in
:data:`RISK_KINDS` plus the check that gathers its fact. Pure data and functions, no I/O.

Severities, most severe first (:data:`SEVERITIES`): ``critical`` (whoever reaches it runs
code or becomes root), ``high`` (reads or writes the service's data, uses its compute),
``medium`` (a dev server's source files, a debugger, a cross-origin socket), ``low`` (any web
page can read what an HTTP server serves, through DNS rebinding).

Reach, most far-reaching first (:data:`REACHES`): ``lan`` (the risky answer came through the
LAN address, or the listener is bound beyond loopback and no LAN check said otherwise),
``browser`` (loopback only, but a web page in the user's browser gets there: the server
accepts any ``Host``, so DNS rebinding works, or a WebSocket accepts any ``Origin``) and
``local`` (only programs on this machine). Sources: the projects' own security advisories and
documentation (Jupyter Server's token, Docker's "Protect the Docker daemon socket", Redis's
security page and protected mode, memcached's ``-l``/SASL, Ollama's ``OLLAMA_HOST``,
Elasticsearch's security, Vite's ``server.allowedHosts`` (CVE-2025-24010), webpack-dev-server's
``allowedHosts`` (CVE-2025-30359), Werkzeug's debugger PIN).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BROWSER_CHECKS",
    "PROTECTED_STATUSES",
    "REACHES",
    "RISK_KINDS",
    "SEVERITIES",
    "RiskKind",
    "severity_rank",
]

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
"""Risk severities, most severe first."""

REACHES: tuple[str, ...] = ("lan", "browser", "local")
"""How far a risk reaches, farthest first."""

PROTECTED_STATUSES = frozenset({400, 403, 421})
"""Answers to a foreign ``Host`` that show a host check (RFC 9110 §15.5.1, §15.5.4, §15.5.20):
the server refuses a name it does not serve, so DNS rebinding gets nothing."""

BROWSER_CHECKS = frozenset({"dns-rebinding", "ws-any-origin"})
"""Facts that let a web page in the user's browser reach a loopback server."""


@dataclass(frozen=True)
class RiskKind:
    """One kind of risk: ``severity`` (one of :data:`SEVERITIES`), ``capability`` (what a
    reacher can do, in words: ``"run code as the server's user"``), ``fix`` (one sentence),
    ``http`` (the risk rides on HTTP, so DNS rebinding carries it to a browser)."""

    severity: str
    capability: str
    fix: str
    http: bool = True


RISK_KINDS: dict[str, RiskKind] = {
    "jupyter-no-token": RiskKind(
        "critical",
        "run code as the server's user (Jupyter without a token)",
        "start it with a token from the JUPYTER_TOKEN environment variable (not on the "
        "command line, which every local user can read)",
    ),
    "docker-api": RiskKind(
        "critical",
        "be root on this machine (the Docker Engine API over TCP)",
        "serve the Docker API on its unix socket only: dockerd -H unix:// (remove tcp:// "
        "from -H and from daemon.json's hosts)",
    ),
    "redis-no-auth": RiskKind(
        "high",
        "read and write every key (Redis without a password)",
        "set requirepass (or ACL users) in redis.conf and keep protected-mode yes",
        http=False,
    ),
    "memcached-open": RiskKind(
        "high",
        "read and write every cached item (memcached without SASL)",
        "bind it to loopback (-l 127.0.0.1) and enable SASL (-S) if others need it",
        http=False,
    ),
    "ollama-open": RiskKind(
        "high",
        "use this machine's models and compute (the Ollama API)",
        "OLLAMA_HOST=127.0.0.1 (the default) unless others must reach it",
    ),
    "elasticsearch-open": RiskKind(
        "high",
        "read and write every index (Elasticsearch without credentials)",
        "xpack.security.enabled: true (or the OpenSearch security plugin)",
    ),
    "dev-server": RiskKind(
        "medium",
        "read the project's source files through its dev server",
        "bind the dev server to localhost and keep its allowed-hosts check on",
    ),
    "werkzeug-debugger": RiskKind(
        "medium",
        "open the Werkzeug debugger console at /console (behind its PIN)",
        "run Flask without --debug where others can reach it",
    ),
    "ws-any-origin": RiskKind(
        "medium",
        "drive its WebSocket (any Origin accepted)",
        "check the Origin header of WebSocket handshakes (an allow-list)",
    ),
    "cors-credentials": RiskKind(
        "medium",
        "read its answers with the user's cookies (CORS with credentials)",
        "answer Access-Control-Allow-Origin only for origins you trust",
    ),
    "dns-rebinding": RiskKind(
        "low",
        "read what it serves (DNS rebinding: any Host accepted)",
        "refuse unknown Host headers (Starlette's TrustedHostMiddleware, Django's "
        "ALLOWED_HOSTS, Vite's server.allowedHosts)",
    ),
}
"""Every risk kind, by the name a :class:`netdash.core.model.RiskFact` gives (its ``check``)
and an allow rule uses (``jupyter-no-token@8888``)."""


def severity_rank(severity: str | None) -> int:
    """0 for ``critical`` … 3 for ``low``; 4 for ``None`` or an unknown severity."""
    try:
        return SEVERITIES.index(severity or "")
    except ValueError:
        return len(SEVERITIES)
