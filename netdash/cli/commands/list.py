"""``netdash list``: this machine's listeners grouped by scope, as a table, JSON or
Prometheus metrics."""

from __future__ import annotations

import dataclasses
import sys

from netdash.cli.common import (
    OutputError,
    console,
    firewall_reader,
    namespace_view,
    print_beyond,
    probe,
    write,
    write_json,
)
from netdash.config import Settings
from netdash.core.assess import Assessment
from netdash.sources import early_scan
from netdash.sources.processes import ProcessCache
from netdash.sources.snapshot import collect_snapshot

__all__ = ["run"]


def run(settings: Settings) -> int:
    """Print the listing in ``settings.output`` (``table``, ``json`` or ``prometheus``);
    exit code 0. The listing shows every exposure; one an allow rule accepts is marked so
    (``exposed ✓``, JSON ``allowed_by``), as the dashboard marks it."""
    cache = ProcessCache()
    # The owner scan `python -m netdash` forked, if any: waited for once the sockets are read.
    cache.holders.before = early_scan.seed
    snapshot = collect_snapshot(cache, firewall=firewall_reader(settings))
    lan = settings.lan_for(snapshot)
    results = probe(snapshot, lan, settings.timeout) if settings.probe else None
    assessment = Assessment(snapshot, results, settings.policy, udp=settings.udp)
    if settings.exposed:
        # The assessment of the listing shown: the exposed listeners only.
        kept = tuple(a.listener for a in assessment.exposures)
        assessment = Assessment(
            dataclasses.replace(snapshot, listeners=kept),
            results,
            settings.policy,
            udp=settings.udp,
        )
    view = namespace_view(snapshot, settings, settings.namespaces)
    if settings.output == "json":
        from netdash.output.json import snapshot_to_json
        from netdash.output.namespaces import (
            add_containers,
            containers_json,
            namespaces_json,
            published_json,
        )

        document = snapshot_to_json(assessment, lan)
        document["exposed_only"] = settings.exposed
        add_containers(document, view)
        document["published"] = published_json(view.published)
        document["containers"] = containers_json(view.containers)
        if settings.namespaces:
            document["namespaces"] = namespaces_json(view)
        write_json(document)
    elif settings.output == "prometheus":
        from netdash.output.prom import listing_metrics

        write(listing_metrics(assessment))
    else:
        from netdash.output.text import print_table

        try:
            out = console()
            if settings.exposed and not assessment.shown:
                kinds = "TCP or UDP" if settings.udp else "TCP"
                out.print(f"No exposed {kinds} listeners.", markup=False)
            else:
                print_table(assessment, lan, out)
            print_beyond(view, out, settings.namespaces)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None
    return 0
