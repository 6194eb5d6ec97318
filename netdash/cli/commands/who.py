"""``netdash who PORT``: who listens on a port (TCP and UDP), on which addresses, with scope
and verdict; one sentence per program."""

from __future__ import annotations

import dataclasses

from netdash.cli.common import firewall_reader, json_text, namespace_view, probe, write
from netdash.config import Settings
from netdash.core.assess import Assessment
from netdash.sources.snapshot import collect_snapshot

__all__ = ["run"]


def run(settings: Settings) -> int:
    """Print the listeners on ``settings.port`` as text or JSON, and the published ports
    (DNAT) on it with what is behind them; exit code 0 when something listens there or a
    published port leads on to a listener, 1 when nothing does."""
    port = settings.port
    assert port is not None  # the parser requires PORT
    snapshot = collect_snapshot(firewall=firewall_reader(settings))
    lan = settings.lan_for(snapshot)
    mine = tuple(li for li in snapshot.listeners if li.port == port)
    results = probe(snapshot, lan, settings.timeout, mine) if settings.probe else None
    assessment = Assessment(snapshot, results, settings.policy, udp=True)
    view = namespace_view(snapshot, settings)
    published = tuple(p for p in view.published if p.forwarding.port == port)
    found = bool(mine) or any(p.listener is not None for p in published)
    if settings.output == "json":
        from netdash.output.json import snapshot_to_json
        from netdash.output.namespaces import add_containers, published_json

        document = snapshot_to_json(assessment, lan, mine)
        document["port"] = port
        add_containers(document, view)
        document["published"] = published_json(published)
        write(json_text(document))
        return 0 if found else 1
    from netdash.output.namespaces import published_lines
    from netdash.output.text import who_lines

    lines = who_lines(assessment, mine, port) if mine else []
    if not mine:
        lines.append(f"nothing listens on port {port} (TCP or UDP)")
    lines += published_lines(dataclasses.replace(view, published=published, proxied={}))
    write("\n".join(lines) + "\n")
    return 0 if found else 1
