"""Command line: ``netdash`` starts the dashboard, ``netdash list`` prints the same knowledge.

Exit codes: 0 success, 2 usage or runtime error (a message on stderr, never a traceback),
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

import psutil
from rich.console import Console

from netdash import __version__, classify
from netdash.classify import own_addresses
from netdash.collect import collect_snapshot
from netdash.model import Snapshot

__all__ = ["build_parser", "main", "resolve_lan"]

EPILOG = """\
examples:
  netdash                       open the dashboard (p probes all, enter probes a row,
                                r refreshes, u shows UDP, q quits)
  netdash --auto-probe          ...and probe each new listener as it appears
  netdash --interval 5          poll every 5 seconds
  netdash list                  print listeners grouped by scope
  netdash list --json --probe   JSON for scripts, with probe results
  netdash list --udp            include UDP listeners
"""


class UsageError(Exception):
    """A mistake in what the user asked for; reported in one line, exit code 2."""


class OutputError(Exception):
    """Standard output could not be written (a full disk, a closed file); exit code 2."""


class _Console(Console):
    """Rich's console, but a reader that goes away (``netdash list | head``) is left to
    :func:`main` instead of Rich's own exit with status 1."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.2 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0.2 and 3600 seconds")
    return value


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.05 <= value <= 30:
        raise argparse.ArgumentTypeError("must be between 0.05 and 30 seconds")
    return value


def _add_lan(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--lan",
        metavar="ADDRESS",
        action="append",
        default=default,
        help="the address other devices use to reach this machine, replacing the detected one "
        "of its family (detected: the address of the interface holding the default route, "
        "else the first up non-loopback interface); must be one of this machine's addresses; "
        "give it twice for IPv4 and IPv6",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netdash",
        description="See which local servers only this machine can reach (loopback) and "
        "which every device on the network can reach (all-interfaces).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netdash {__version__}")
    parser.add_argument(
        "--interval",
        type=_interval,
        default=2.0,
        metavar="SECONDS",
        help="seconds between polls of the socket table (default: 2)",
    )
    _add_lan(parser)
    parser.add_argument("--udp", action="store_true", help="start with UDP listeners shown (u)")
    parser.add_argument(
        "--auto-probe",
        action="store_true",
        help="probe each listener that appears while the dashboard runs (off by default)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    listing = sub.add_parser(
        "list",
        help="print listeners grouped by scope, as a table or JSON",
        description="Print this machine's TCP listeners grouped by scope.",
        epilog="examples:\n  netdash list\n  netdash list --json --probe\n"
        "  netdash list --probe --lan 192.168.1.100\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--json", action="store_true", help="print JSON (see README, 'JSON')")
    listing.add_argument(
        "--probe",
        action="store_true",
        help="probe every listener via loopback and via the LAN address (GET /, no redirects)",
    )
    listing.add_argument(
        "--udp",
        action="store_true",
        help="include UDP listeners (bound, unconnected sockets; never probed)",
    )
    listing.add_argument(
        "--timeout",
        type=_timeout,
        default=1.0,
        metavar="SECONDS",
        help="connect and read timeout per probe (default: 1)",
    )
    _add_lan(listing, default=argparse.SUPPRESS)  # keep `netdash --lan X list` working
    return parser


def resolve_lan(snapshot: Snapshot, overrides: Sequence[str] | None) -> dict[int, str]:
    """The LAN address per family: detected, with ``--lan`` overrides (checked) applied."""
    try:
        return classify.resolve_lan(snapshot, overrides or ())
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _run_list(args: argparse.Namespace) -> int:
    from netdash.probe import ProbeLimits, probe_listeners
    from netdash.render import group_results, print_table, snapshot_to_json

    snapshot = collect_snapshot()
    lan = resolve_lan(snapshot, args.lan)
    results = None
    if args.probe:
        limits = ProbeLimits(
            connect_timeout=args.timeout, read_timeout=args.timeout, deadline=3 * args.timeout
        )
        found = asyncio.run(
            probe_listeners(snapshot.listeners, lan, own_addresses(snapshot.interfaces), limits)
        )
        results = group_results(found)
    try:
        if args.json:
            document = snapshot_to_json(snapshot, lan, results, udp=args.udp)
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        else:
            # Not a terminal: wide lines rather than wrapped cells, and no colour (Rich's
            # default there).
            width = None if sys.stdout.isatty() else 200
            console = _Console(highlight=False, width=width)
            print_table(snapshot, lan, results, console, udp=args.udp)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None
    return 0


def _run_tui(args: argparse.Namespace) -> int:
    from netdash.app import NetdashApp
    from netdash.collect import collect_snapshot

    overrides = args.lan or []
    if overrides:
        # Check now, so a typo is a one-line error rather than a dashboard that cannot probe.
        resolve_lan(collect_snapshot(), overrides)
    NetdashApp(
        interval=args.interval, lan_override=overrides, udp=args.udp, auto_probe=args.auto_probe
    ).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _run_list(args)
        return _run_tui(args)
    except BrokenPipeError:
        # The reader went away (`netdash list | head`): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (UsageError, OutputError) as exc:
        print(f"netdash: error: {exc}", file=sys.stderr)
        return 2
    except (psutil.Error, OSError) as exc:
        print(f"netdash: error: cannot read the socket table: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
