"""``netdash`` without a command: the dashboard (``netdash.tui``), started with the settings
and the first snapshot already read."""

from __future__ import annotations

import contextlib
import sys

from netdash.cli.common import firewall_reader
from netdash.config import Settings
from netdash.core.model import Snapshot
from netdash.sources.processes import ProcessCache
from netdash.sources.snapshot import collect_snapshot

__all__ = ["run"]


def run(settings: Settings) -> int:
    """Run the dashboard until it quits; exit code 0, or 2 when an unhandled error ended it
    (after the terminal is restored and the error printed: CONTRACTS.md).

    The first snapshot is read now, before the dashboard's modules load (~0.2 s of
    imports), and handed to its first poll: that poll then answers at once instead of
    reading /proc in a thread while the first frames are drawn. A LAN override is checked
    now too, so a typo is a one-line error rather than a dashboard that cannot probe.
    """
    cache = ProcessCache()
    firewall = firewall_reader(settings)
    first: list[Snapshot] = []
    with contextlib.suppress(Exception):  # the dashboard's first poll reads again, says why
        first.append(collect_snapshot(cache, firewall=firewall))
    if settings.lan:
        settings.lan_for(first[0] if first else collect_snapshot())

    def collector() -> Snapshot:
        return first.pop() if first else collect_snapshot(cache, firewall=firewall)

    from netdash.tui.app import NetdashApp

    app = NetdashApp(
        interval=settings.interval,
        lan_override=list(settings.lan),
        collector=collector,
        udp=settings.udp,
        auto_probe=settings.auto_probe,
        allow=settings.policy.rules,
        ignore_interfaces=sorted(settings.policy.ignore_interfaces),
        bell=settings.bell,
    )
    app.run()
    if app.return_code:  # an unhandled error: Textual restored the terminal, printed it
        crash = app.crash
        what = f"{type(crash).__name__}: {crash}" if crash is not None else "an unexpected error"
        print(f"netdash: error: the dashboard stopped on {what}", file=sys.stderr)
        return 2
    return 0
