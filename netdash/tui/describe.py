"""What the dashboard says about listeners in notifications and lines: who listens where,
how long ago, and the URL to open for a row. Pure functions; no Textual."""

from __future__ import annotations

from collections.abc import Sequence

from netdash.core.addresses import scope_of
from netdash.core.model import Listener, Outcome, ProbeResult, Scope, Via
from netdash.core.services import ServiceRow
from netdash.core.text import clean
from netdash.probe.engine import build_url

__all__ = ["age", "summary", "url_for"]


def age(seconds: float) -> str:
    """``42 s`` under 90 s, ``12 min`` under 90 min, else ``3 h`` (rounded down)."""
    if seconds < 90:
        return f"{max(0, int(seconds))} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"


def _who(listener: Listener) -> str:
    named = next((p for p in listener.processes if p.name), None)
    if named is None:
        return "an unknown process"
    return f"{clean(named.name, 40)} (pid {named.pid})"


def _endpoint(listener: Listener) -> str:
    address = f"[{listener.address}]" if ":" in listener.address else listener.address
    suffix = "/udp" if listener.protocol == "udp" else ""
    return f"{address}:{listener.port}{suffix}"


def summary(listeners: Sequence[Listener], most: int = 3) -> str:
    """``uvicorn (pid 42) on 0.0.0.0:8000``, or several of those and ``+N more``."""
    parts = [f"{_who(li)} on {_endpoint(li)}" for li in listeners[:most]]
    if len(listeners) > most:
        parts.append(f"+{len(listeners) - most} more")
    return "; ".join(parts)


def url_for(row: ServiceRow, results: Sequence[ProbeResult]) -> str:
    """The URL to open for a row: one a probe found answering via loopback (https for a TLS
    port), else ``http://localhost:PORT/`` (or the bind address, for a listener that does
    not answer on loopback)."""
    for result in results:
        if result.via is Via.LOOPBACK and result.outcome in (Outcome.HTTP, Outcome.TLS):
            if result.outcome is Outcome.TLS:
                return result.url.replace("http://", "https://", 1)
            return result.url
    first = row.first
    if scope_of(first.address) is Scope.SPECIFIC_INTERFACE:
        return build_url("http", first.address, first.port)
    return f"http://localhost:{first.port}/"
