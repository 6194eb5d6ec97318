"""Prometheus text exposition format (version 0.0.4), for node_exporter's textfile collector.

``netdash list --format prometheus`` writes one gauge per listener and counts by verdict;
``netdash check --format prometheus`` adds the check's outcome. The collector scrapes the file
with the rest of the node's metrics, so one Prometheus sees a whole fleet; the ``instance``
label tells machines apart, so none is added here. Metrics:

* ``netdash_listener_info{protocol, address, port, family, scope, verdict, program}``: 1 per
  listener (2 and more for SO_REUSEPORT sockets sharing every label); ``program`` is the
  leading holder's name, ``unknown`` when unreadable;
  check adds an ``allowed`` label (``"true"``/``"false"``/``"ignored"``);
* ``netdash_listeners{verdict}``: listeners per verdict, every verdict present (0 too);
* ``netdash_exposed_listeners``: verdict ``exposed`` or ``exposed-unverified``;
* ``netdash_shielded_listeners``: verdict ``shielded``; ``netdash_firewall_read`` (0/1);
* ``netdash_probed``, ``netdash_partial`` (0/1), ``netdash_snapshot_timestamp_seconds``;
* check only: ``netdash_check_findings`` (exposures neither allowed nor ignored),
  ``netdash_check_allowed``, ``netdash_check_ignored``.

Label values are escaped as the format requires (backslash, double quote, newline), after
:func:`netdash.core.text.clean` has shown control characters as escapes. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from netdash import __version__
from netdash.core.assess import Assessment, ListenerAssessment
from netdash.core.model import Verdict
from netdash.output.labels import leading_program

__all__ = ["check_metrics", "listing_metrics"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str | int]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{key}="{_escape(str(value))}"' for key, value in labels.items())
    return "{" + body + "}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} gauge")

    def sample(
        self, name: str, value: float, labels: Mapping[str, str | int] | None = None
    ) -> None:
        number = repr(float(value)) if not float(value).is_integer() else str(int(value))
        self.lines.append(f"{name}{_labels(labels or {})} {number}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _write(out: _Writer, assessment: Assessment, check: bool) -> None:
    out.family("netdash_info", "netdash version that wrote this file (always 1).")
    out.sample("netdash_info", 1, {"version": __version__})
    out.family(
        "netdash_listener_info",
        "Listening sockets by where they are bound, scope and verdict (more than 1: "
        "SO_REUSEPORT sockets sharing the labels).",
    )
    series: Counter[tuple[tuple[str, str | int], ...]] = Counter()
    for assessed in assessment.listeners:
        listener = assessed.listener
        labels: dict[str, str | int] = {
            "protocol": listener.protocol,
            "address": listener.address,
            "port": listener.port,
            "family": listener.family,
            "scope": assessed.scope.value,
            "verdict": assessed.verdict.value,
            "program": leading_program(listener),
        }
        if check:
            labels["allowed"] = _allowed_label(assessed)
        series[tuple(labels.items())] += 1
    for key, count in series.items():
        out.sample("netdash_listener_info", count, dict(key))
    counts = Counter(a.verdict for a in assessment.listeners)
    out.family("netdash_listeners", "Listeners by verdict.")
    for v in Verdict:
        out.sample("netdash_listeners", counts[v], {"verdict": v.value})
    out.family(
        "netdash_exposed_listeners",
        "Listeners whose verdict is exposed or exposed-unverified (bound beyond loopback).",
    )
    out.sample("netdash_exposed_listeners", len(assessment.exposures))
    out.family(
        "netdash_shielded_listeners",
        "Listeners bound beyond loopback that the firewall blocks on every other network.",
    )
    out.sample("netdash_shielded_listeners", assessment.shielded)
    out.family(
        "netdash_firewall_read",
        "1 when the firewall's ruleset was read and evaluated (root on Linux), else 0.",
    )
    view = assessment.firewall
    out.sample("netdash_firewall_read", 1 if view is not None and view.read else 0)
    out.family("netdash_probed", "1 when listeners were probed (verdict exposed is proven).")
    out.sample("netdash_probed", 1 if assessment.probed else 0)
    out.family("netdash_partial", "1 when some socket owners could not be read (not root).")
    out.sample("netdash_partial", 1 if assessment.snapshot.partial else 0)
    out.family("netdash_snapshot_timestamp_seconds", "When the socket table was read, Unix time.")
    out.sample("netdash_snapshot_timestamp_seconds", round(assessment.snapshot.taken_at, 3))


def _allowed_label(assessed: ListenerAssessment) -> str:
    """``ignored``, ``true`` (an allow rule accepts the exposure) or ``false``."""
    if not assessed.exposed:
        return "false"
    if assessed.ignored:
        return "ignored"
    return "true" if assessed.allowed_by is not None else "false"


def listing_metrics(assessment: Assessment) -> str:
    """The textfile for ``netdash list --format prometheus``; ends with a newline."""
    out = _Writer()
    _write(out, assessment, check=False)
    return out.text()


def check_metrics(assessment: Assessment) -> str:
    """The textfile for ``netdash check --format prometheus``: the listing's metrics, with an
    ``allowed`` label on each listener, and the check's counts."""
    out = _Writer()
    _write(out, assessment, check=True)
    out.family(
        "netdash_check_findings",
        "Exposed listeners neither allowed nor ignored (netdash check exits 1 when > 0).",
    )
    out.sample("netdash_check_findings", len(assessment.findings))
    out.family("netdash_check_allowed", "Exposed listeners an allow rule accepts.")
    out.sample("netdash_check_allowed", len(assessment.allowed))
    out.family(
        "netdash_check_ignored", "Exposed listeners reachable only through ignored interfaces."
    )
    out.sample("netdash_check_ignored", len(assessment.ignored))
    return out.text()
