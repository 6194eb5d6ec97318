"""What the commands share: the errors :func:`netdash.cli.main` reports with exit code 2,
writing to standard output, JSON text, Rich's console and probing a snapshot."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from rich.console import Console

    from netdash.config import Settings
    from netdash.core.model import Listener, ListenerKey, ProbeResult, Snapshot
    from netdash.core.published import NamespaceView
    from netdash.sources.firewall import FirewallReader

__all__ = [
    "OutputError",
    "UsageError",
    "console",
    "firewall_reader",
    "json_text",
    "namespace_view",
    "print_beyond",
    "probe",
    "write",
    "write_json",
]


class UsageError(Exception):
    """A mistake in what the user asked for; reported in one line, exit code 2."""


class OutputError(Exception):
    """Standard output could not be written (a full disk, a closed file), or another runtime
    failure with its own message; exit code 2."""


def write(text: str) -> None:
    """Write ``text`` to standard output and flush; a failed write is an :class:`OutputError`
    (a reader that went away stays a ``BrokenPipeError``, for :func:`netdash.cli.main`)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None


def write_json(document: dict[str, object]) -> None:
    """Write a ``list --json`` document: as :func:`json_text` to a terminal; to a pipe or a
    file as the compact text's pieces (:func:`netdash.output.json.listing_pieces`), handed to
    the kernel together (``writev``) instead of joined into one string first; joined where
    standard output has no file descriptor (a test's buffer) or there is no ``writev``."""
    if sys.stdout.isatty():
        write(json_text(document))
        return
    import os

    from netdash.output.json import listing_pieces

    pieces = listing_pieces(document)
    try:
        fd = sys.stdout.fileno() if hasattr(os, "writev") else -1  # no writev on Windows
    except (AttributeError, ValueError, OSError):  # io.UnsupportedOperation: a test's buffer
        fd = -1
    if fd < 0:
        write(b"".join(pieces).decode("ascii"))
        return
    try:
        sys.stdout.flush()
        _writev_all(fd, pieces)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None


def _writev_all(fd: int, pieces: list[bytes]) -> None:
    """Write every byte of ``pieces`` to ``fd`` in order, at most 1,024 pieces (IOV_MAX) per
    ``writev``, resuming after a short write."""
    import os

    views = [memoryview(p) for p in pieces if p]
    i = 0
    while i < len(views):
        written = os.writev(fd, views[i : i + 1024])
        if written == 0:
            raise OSError("writev wrote nothing")
        while written and i < len(views):
            size = len(views[i])
            if written < size:
                views[i] = views[i][written:]
                break
            written -= size
            i += 1


def json_text(document: object) -> str:
    """JSON for standard output: indented for a person at a terminal, compact (and several
    times faster) for a pipe or a file."""
    from netdash.output.json import json_text as encode

    return encode(document, pretty=sys.stdout.isatty())


def console() -> Console:
    """Rich's console (imported here: JSON output needs none of it), except that a reader
    that goes away (``netdash list | head``) is left to :func:`netdash.cli.main` instead of
    Rich's own exit with status 1. Not a terminal: wide lines rather than wrapped cells, and
    no colour (Rich's default there); NO_COLOR is honoured by Rich on a terminal too."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    width = None if sys.stdout.isatty() else 200
    return _Console(highlight=False, width=width)


def probe(
    snapshot: Snapshot,
    lan: Mapping[int, str],
    timeout: float,
    only: Sequence[Listener] | None = None,
) -> dict[ListenerKey, list[ProbeResult]]:
    """Probe the listeners of ``snapshot`` (or ``only`` these) via loopback and ``lan``, with
    ``timeout`` seconds per connect and read and three times that in all; results grouped by
    listener key."""
    import asyncio

    from netdash.core.addresses import own_addresses
    from netdash.core.services import group_results
    from netdash.probe.engine import ProbeLimits, probe_listeners

    limits = ProbeLimits(connect_timeout=timeout, read_timeout=timeout, deadline=3 * timeout)
    listeners = snapshot.listeners if only is None else tuple(only)
    found = asyncio.run(probe_listeners(listeners, lan, own_addresses(snapshot.interfaces), limits))
    return group_results(found)


def namespace_view(
    snapshot: Snapshot, settings: Settings, namespaces: bool = False
) -> NamespaceView:
    """What lies beyond this namespace (:func:`netdash.sources.published.collect_view`):
    published ports (none with ``--ignore-firewall``: they come from the ruleset),
    containers and, when ``namespaces``, the other namespaces' listeners."""
    from netdash.sources.published import collect_view

    forwardings = () if settings.ignore_firewall else None
    return collect_view(snapshot, forwardings, namespaces=namespaces)


def print_beyond(view: NamespaceView, out: Console, namespaces: bool) -> None:
    """The text sections after the listing: published ports, then (when asked) the other
    network namespaces' listeners."""
    from rich.text import Text

    from netdash.output.namespaces import namespace_lines, published_lines

    if view.published or view.proxied:
        out.print()
        out.print(
            Text("Published ports (DNAT: a connection to this host goes elsewhere)", style="bold")
        )
        for line in published_lines(view):
            out.print(Text(line, style="red" if "— open" in line else ""))
    if namespaces:
        out.print()
        out.print(Text("Other network namespaces (not reachable unless published)", style="bold"))
        for line in namespace_lines(view) or ["none found"]:
            out.print(Text(line))


def firewall_reader(settings: Settings) -> FirewallReader | None:
    """A firewall reader for this run (Linux), ``None`` with ``--ignore-firewall`` or
    elsewhere: verdicts then rest on bind addresses and probes alone."""
    if settings.ignore_firewall or not sys.platform.startswith("linux"):
        return None
    from netdash.sources.firewall import FirewallReader

    return FirewallReader()
