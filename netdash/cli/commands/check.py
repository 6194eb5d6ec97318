"""``netdash check``: every listener reachable beyond loopback that the policy does not
allow or ignore is a finding."""

from __future__ import annotations

from netdash.cli.common import firewall_reader, json_text, namespace_view, probe, write
from netdash.config import Settings
from netdash.core.assess import Assessment
from netdash.core.services import visible
from netdash.sources.snapshot import collect_snapshot

__all__ = ["run"]


def run(settings: Settings) -> int:
    """Print the findings in ``settings.output`` (``text``, ``json`` or ``prometheus``); the
    exit code is the assessment's (CONTRACTS.md: 0 nothing beyond what is allowed, 1
    findings, 3 an incomplete view), where a risk that fails ``settings.fail_on``
    (:data:`netdash.core.assess.FAIL_ON`; risks need ``--probe``) is a finding too."""
    snapshot = collect_snapshot(firewall=firewall_reader(settings))
    lan = settings.lan_for(snapshot)
    results = None
    if settings.probe:
        shown = visible(snapshot.listeners, settings.udp)
        results = probe(snapshot, lan, settings.timeout, shown)
    assessment = Assessment(snapshot, results, settings.policy, udp=settings.udp)
    view = namespace_view(snapshot, settings)
    if settings.output == "json":
        from netdash.output.json import check_to_json
        from netdash.output.namespaces import published_json

        document = check_to_json(assessment, settings.fail_on)
        document["published"] = published_json(view.published)
        document["ok"] = document["ok"] and not view.open_published
        write(json_text(document))
    elif settings.output == "prometheus":
        from netdash.output.prom import check_metrics

        write(check_metrics(assessment, settings.fail_on))
    else:
        from netdash.output.namespaces import published_lines
        from netdash.output.text import check_text

        write(check_text(assessment, settings.fail_on))
        for line in published_lines(view):
            write(line + "\n")
        if view.open_published:
            count = len(view.open_published)
            noun = "published port is" if count == 1 else "published ports are"
            write(f"FAIL: {count} {noun} open (a DNAT sends new connections on to them)\n")
    # An open published port is a finding, whatever host socket there is (none at all for a
    # hand-written DNAT); a blocked one is not.
    return 1 if view.open_published else assessment.exit_code_for(settings.fail_on)
