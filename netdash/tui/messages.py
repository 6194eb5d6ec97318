"""Messages that the dashboard's own threads post to the app.

Each is handled on the app's thread (Textual calls ``on_<snake_case_name>``), so the thread
that posts one never touches a widget.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from netdash.core.history import Event
from netdash.core.model import Snapshot

__all__ = ["HistoryRecorded", "PollFailed", "SnapshotReady"]


@dataclass
class SnapshotReady(Message):
    """A poll finished; posted from the poll thread. ``changed``: the snapshot differs from
    the previous one (its time aside), as the poll thread found when deciding to send it."""

    snapshot: Snapshot
    changed: bool = True


@dataclass
class PollFailed(Message):
    """A poll raised; ``reason`` is shown and the next poll comes as usual."""

    reason: str


@dataclass
class HistoryRecorded(Message):
    """The history thread recorded an observation; ``recent`` are the newest events,
    newest first, and ``problem`` why history stopped (``None``: it works)."""

    recent: list[Event]
    problem: str | None
