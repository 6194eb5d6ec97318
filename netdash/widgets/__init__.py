"""Widgets of the netdash dashboard."""

from netdash.widgets.interface_diagram import InterfaceDiagram
from netdash.widgets.listener_table import ListenerTable

__all__ = ["InterfaceDiagram", "ListenerTable"]
