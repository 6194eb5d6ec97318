"""Widgets of the netdash dashboard."""

from netdash.tui.widgets.history_panel import HistoryPanel
from netdash.tui.widgets.interface_diagram import InterfaceDiagram
from netdash.tui.widgets.listener_table import ListenerTable
from netdash.tui.widgets.namespaces_panel import NamespacesPanel

__all__ = ["HistoryPanel", "InterfaceDiagram", "ListenerTable", "NamespacesPanel"]
