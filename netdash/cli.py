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

from netdash import __version__
from netdash.classify import choose_lan, own_addresses, validate_lan
from netdash.collect import collect_snapshot
from netdash.model import Snapshot

__all__ = ["build_parser", "main", "resolve_lan"]

EPILOG = """\
examples:
  netdash                       open the dashboard (p probes, r refreshes, q quits)
  netdash --interval 5          poll every 5 seconds
  netdash list                  print listeners grouped by scope
  netdash list --json --probe   JSON for scripts, with probe results
  netdash list --udp            include UDP listeners
"""


class UsageError(Exception):
    """A mistake in what the user asked for; reported in one line, exit code 2."""


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
        default=default,
        help="the address other devices use to reach this machine (default: the address of "
        "the interface holding the default route, else the first up non-loopback interface); "
        "must be one of this machine's addresses",
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


def resolve_lan(snapshot: Snapshot, override: str | None) -> dict[int, str]:
    """The LAN address(es) to use: ``--lan`` when given (checked), else auto-detected."""
    if override:
        try:
            return validate_lan(override, snapshot.interfaces)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return choose_lan(snapshot)


def _run_list(args: argparse.Namespace) -> int:
    from rich.console import Console

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
    if args.json:
        json.dump(snapshot_to_json(snapshot, lan, results, udp=args.udp), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        # Not a terminal: wide lines rather than wrapped cells, and no colour (Rich's default).
        width = None if sys.stdout.isatty() else 200
        print_table(snapshot, lan, results, Console(highlight=False, width=width), udp=args.udp)
    return 0


def _run_tui(args: argparse.Namespace) -> int:
    from netdash.app import NetdashApp

    lan_override = args.lan
    if lan_override:
        # Check it now, so a typo is a one-line error rather than a dashboard that cannot probe.
        from netdash.collect import read_interfaces

        try:
            validate_lan(lan_override, read_interfaces())
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    NetdashApp(interval=args.interval, lan_override=lan_override, udp=args.udp).run()
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
    except UsageError as exc:
        print(f"netdash: error: {exc}", file=sys.stderr)
        return 2
    except (psutil.Error, OSError) as exc:
        print(f"netdash: error: cannot read the socket table: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
