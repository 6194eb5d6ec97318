"""The dashboard's two lines of text, built as ``rich.text.Text`` by pure functions: the
status line at the top (host, LAN, counts, then notes) and the verdict line under the table
(the highlighted row's verdict in a sentence). The app puts them on screen."""

from __future__ import annotations

import time
from collections.abc import Mapping

from rich.text import Text

from netdash import __version__
from netdash.core.assess import Assessment, RowAssessment
from netdash.core.model import Snapshot
from netdash.core.text import clean, plural
from netdash.output.labels import VERDICT_STYLE, verdict_sentence
from netdash.tui.describe import age
from netdash.tui.state import ViewState

__all__ = ["status_line", "verdict_line"]


def status_line(
    assessment: Assessment | None,
    lan: Mapping[int, str],
    view: ViewState,
    *,
    changed_at: float | None,
    interval: float,
    probe_status: str | None,
    lan_problem: str | None,
    poll_error: str | None,
    fading: int = 0,
) -> Text:
    """The status line: ``host · LAN addr · N listeners, E exposed (A allowed), V verified,
    R risky`` (E: every exposure, as ``list --exposed`` counts; A: those an allow rule
    accepts; R: listeners with a risk of severity medium or above not acknowledged)
    (``reading sockets…`` before the first snapshot, when ``assessment`` is ``None``), then
    on a second line the notes: paused, ``unchanged since`` ``changed_at`` (epoch seconds,
    local time), the narrowed view, the probe's status, a partial view, a ``--lan`` problem
    and a failed poll. ``fading`` counts the rows of listeners that just went away and are
    still shown, faded: the first line says ``1 just stopped`` so that it and the table agree
    while the row fades."""
    line = Text()
    snapshot: Snapshot | None = None
    if assessment is None:
        line.append(f"netdash {__version__} · reading sockets…")
    else:
        snapshot = assessment.snapshot
        exposed = len(assessment.findings)
        verified = assessment.verified
        allowed = len(assessment.exposures) - exposed
        line.append(clean(snapshot.hostname, 30), style="bold")
        line.append(" · LAN ")
        line.append(", ".join(lan.values()) or "none", style="bold cyan")
        noun = "TCP+UDP listener" if view.udp else "listener"
        line.append(f" · {plural(len(assessment.shown), noun)}, ")
        # Every exposure counts, as in list --exposed and netdash_exposed_listeners
        # (CONTRACTS.md); those an allow rule accepts are said in brackets.
        line.append(
            f"{len(assessment.exposures)} exposed", style="bold yellow" if exposed else "green"
        )
        if allowed:
            line.append(f" ({allowed} allowed)", style="cyan")
        if verified:
            line.append(", ")
            line.append(f"{verified} verified", style="bold red")
        if assessment.shielded:
            line.append(f", {assessment.shielded} shielded", style="blue")
        risky = sum(1 for a in assessment.risky if a.risk is not None and a.risk.severity != "low")
        if risky:
            line.append(", ")
            line.append(f"{risky} risky", style="bold red")
        if fading:
            line.append(f" · {fading} just stopped", style="dim")
    notes: list[tuple[str, str]] = []
    if view.paused:
        notes.append(("PAUSED (space resumes)", "bold reverse"))
    if snapshot is not None:
        since = time.strftime("%H:%M:%S", time.localtime(changed_at or 0))
        notes.append((f"unchanged since {since}, polling every {interval:g} s", "dim"))
    views = view.describe(None if assessment is None else view.hidden_ipv6(assessment))
    if views:
        notes.append((views, "magenta"))
    if probe_status:
        notes.append((probe_status, "cyan"))
    if snapshot is not None:
        notes += [(f"partial view: {r}", "yellow") for r in snapshot.partial_reasons]
        firewall = snapshot.firewall
        if firewall is not None and not firewall.read and firewall.reason:
            notes.append((clean(firewall.reason, 120), "yellow"))
    if lan_problem:
        notes.append((lan_problem, "yellow"))
    if poll_error:
        notes.append((f"poll failed: {clean(poll_error, 120)} (retrying)", "red"))
    for n, (note, style) in enumerate(notes):
        line.append("\n" if n == 0 else " · ")
        line.append(note, style=style)
    return line


def verdict_line(assessed: RowAssessment | None, now: float) -> Text:
    """``8000 reachable from the LAN … · acknowledged: why · probed 12 s ago`` for the
    highlighted row (empty without one); ``now`` in seconds since the epoch."""
    line = Text()
    if assessed is None:
        return line
    v, sentence = verdict_sentence(assessed)
    line.append(f"{assessed.row.first.port} ", style="bold")
    line.append(sentence, style=VERDICT_STYLE[v])
    why = assessed.lead.acknowledged if assessed.exposed else None
    if why:
        line.append(f" · acknowledged: {why}", style="cyan")
    ages = [r.probed_at for r in assessed.results if r.probed_at]
    if ages:
        line.append(f" · probed {age(now - min(ages))} ago", style="dim")
    return line
