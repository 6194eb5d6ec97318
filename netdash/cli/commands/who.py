"""``netdash who PORT``: who listens on a port (TCP and UDP), on which addresses, with scope
and verdict; one sentence per program."""

from __future__ import annotations

from netdash.cli.common import firewall_reader, json_text, probe, write
from netdash.config import Settings
from netdash.core.assess import Assessment
from netdash.sources.snapshot import collect_snapshot

__all__ = ["run"]


def run(settings: Settings) -> int:
    """Print the listeners on ``settings.port`` as text or JSON; exit code 0 when something
    listens there, 1 when nothing does."""
    port = settings.port
    assert port is not None  # the parser requires PORT
    snapshot = collect_snapshot(firewall=firewall_reader(settings))
    lan = settings.lan_for(snapshot)
    mine = tuple(li for li in snapshot.listeners if li.port == port)
    results = probe(snapshot, lan, settings.timeout, mine) if settings.probe else None
    assessment = Assessment(snapshot, results, udp=True)
    if settings.output == "json":
        from netdash.output.json import snapshot_to_json

        document = snapshot_to_json(assessment, lan, mine)
        document["port"] = port
        write(json_text(document))
        return 0 if mine else 1
    if not mine:
        write(f"nothing listens on port {port} (TCP or UDP)\n")
        return 1
    from netdash.output.text import who_lines

    write("\n".join(who_lines(assessment, mine, port)) + "\n")
    return 0
