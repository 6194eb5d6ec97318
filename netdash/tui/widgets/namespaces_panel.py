"""The dashboard's panel of what lies beyond its own network namespace (key ``N``): the
published ports (DNAT) and the listeners of this host's other network namespaces, each marked
``container-internal`` or ``published``.

Reading them (``/proc`` of other namespaces, the Docker API) runs in a thread worker, never on
the app's thread, only while the panel is shown: once when it opens, then every
:data:`REFRESH` seconds. Untrusted names are cleaned by :mod:`netdash.output.namespaces` and
shown without markup.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.timer import Timer
from textual.widgets import Static

from netdash.core.model import Snapshot
from netdash.core.published import NamespaceView
from netdash.output.namespaces import namespace_lines, published_lines
from netdash.sources.processes import ProcessCache
from netdash.sources.published import ForwardingWatch, collect_view

__all__ = ["REFRESH", "NamespacesPanel", "panel_text"]

REFRESH = 5.0
"""Seconds between reads while the panel is shown."""
PER_NAMESPACE = 40
"""Listeners shown per namespace (``netdash list --namespaces`` shows them all)."""


def panel_text(view: NamespaceView, reason: str | None = None) -> Text:
    """The panel's content: published ports first (open ones in red; ``reason``: why the
    firewall was not read), then each other namespace with its listeners."""
    text = Text()
    text.append("Published ports", style="bold")
    empty = reason or "none: no DNAT in the ruleset"
    for line in published_lines(view) or [empty]:
        text.append("\n" + line, style="red" if "— open" in line else "")
    text.append("\n\nOther network namespaces", style="bold")
    text.append(" (not reachable unless published)", style="dim")
    for line in namespace_lines(view, limit=PER_NAMESPACE) or ["none found"]:
        text.append("\n" + line)
    return text


class NamespacesPanel(Static):
    """Hidden until :meth:`toggle`; ``snapshot`` returns the app's latest snapshot."""

    DEFAULT_CSS = """
    NamespacesPanel {
        display: none;
        height: auto;
        max-height: 40%;
        overflow-y: auto;
        padding: 0 1;
        border-top: solid $primary;
    }
    NamespacesPanel.-shown { display: block; }
    """

    def __init__(self, snapshot: Callable[[], Snapshot | None], *, id: str | None = None) -> None:
        super().__init__("reading other network namespaces…", markup=False, id=id)
        self._snapshot = snapshot
        self._cache = ProcessCache()
        self._watch: ForwardingWatch | None = None  # created in the worker's thread
        self._timer: Timer | None = None

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def toggle(self) -> bool:
        """Show or hide the panel; returns whether it is now shown."""
        self.toggle_class("-shown")
        if self.shown:
            self._read()
            self._timer = self.set_interval(REFRESH, self._read)
        elif self._timer is not None:
            self._timer.stop()
            self._timer = None
        return self.shown

    def _read(self) -> None:
        snapshot = self._snapshot()
        if snapshot is not None:
            self._collect(snapshot)

    @work(thread=True, exclusive=True, exit_on_error=False, group="namespaces")
    def _collect(self, snapshot: Snapshot) -> None:
        if snapshot.firewall is not None:  # the poll's own firewall view
            forwardings = None
            reason = snapshot.firewall.reason
        else:
            if self._watch is None:
                self._watch = ForwardingWatch()
            forwardings = self._watch.poll()
            reason = self._watch.reason
        view = collect_view(snapshot, forwardings, namespaces=True, cache=self._cache)
        self.app.call_from_thread(self._show, view, reason)

    def _show(self, view: NamespaceView, reason: str | None) -> None:
        if self.shown:
            self.update(panel_text(view, reason))
