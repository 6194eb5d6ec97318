"""The argument parser of ``netdash`` and its commands: arguments, their converters (each
rejects a bad value with a message naming it) and the help text."""

from __future__ import annotations

import argparse

from netdash import __version__
from netdash.config import parse_interval
from netdash.core.policy import AllowRule, parse_allow

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

__all__ = ["build_parser"]

EPILOG = """\
examples:
  netdash                       open the dashboard (p probes all, P probes a row,
                                enter shows details, k stops, ? lists every key, q quits)
  netdash --auto-probe          ...and probe every listener, then each new one
  netdash --interval 5          poll every 5 seconds
  netdash list                  print listeners grouped by scope
  netdash list --json --probe   JSON for scripts, with probe results
  netdash list --udp            include UDP listeners
  netdash check --allow sshd    exit 1 if anything but sshd is reachable from the network
  netdash who 8000              who listens on port 8000, where, and how exposed
  netdash free 8000             is 8000 free on every address? else suggest the next free
  netdash history 5000 --since 1d   who listened on :5000 in the last day, how judged
  netdash watch                 record history and notify new exposures, without a screen

commands: list, check, who, free, history, watch (netdash COMMAND --help for each)
settings: --config PATH, NETDASH_CONFIG, else config.toml in the user config directory
(see README, "Configuration"); the command line beats the environment beats the file.
"""

LIST_EPILOG = """\
examples:
  netdash list                              a table per scope, most exposed first
  netdash list --exposed                    only listeners reachable beyond loopback
  netdash list --json --probe               JSON (schema/netdash-list.schema.json) with probes
  netdash list --format prometheus          node_exporter textfile format
  netdash list --probe --lan 192.168.1.100  probe this LAN address
"""

CHECK_EPILOG = """\
exit status: 0 nothing exposed beyond what is allowed, 1 something is, 2 error,
  3 nothing found but the view is incomplete (owners or processes that could not be read,
  or a firewall that could not be read while a listener is bound beyond loopback).

allow SPEC: 22 (port, TCP or UDP), 5353/udp (port/protocol), sshd (program name),
192.168.1.100:8000 or [::]:8000 (bind address and port).

examples:
  netdash check                             fail on any listener bound beyond loopback
  netdash check --probe                     ...and probe each to say which really answer
  netdash check --probe --fail-on risk      ...and fail on any risk of medium or above
  netdash check --probe --allow jupyter-no-token@8888   acknowledge one risk at one port
  netdash check --allow 22 --allow 5353/udp --udp
  netdash check --allow sshd --allow '[::]:8000'
  netdash check --json                      findings as JSON (schema/netdash-check.schema.json)
  netdash check --format prometheus > /var/lib/node_exporter/netdash.prom.tmp
"""

WHO_EPILOG = """\
exit status: 0 something listens on PORT, 1 nothing does, 2 error.

examples:
  netdash who 8000              program, pid, addresses, scope and verdict, one line each
  netdash who 5353              UDP listeners are included
  netdash who 8000 --probe      ...with what answers via loopback and the LAN address
  netdash who 8000 --json       the listeners as in `netdash list --json`
"""

FREE_EPILOG = """\
PORT is tried by binding it on 127.0.0.1, ::1, 0.0.0.0 and :: (TCP) and releasing at once.
exit status: 0 PORT is free (or, without PORT, a free port was found), 1 taken, 2 error.

examples:
  netdash free                  the first free one of 8000, 8080, 3000, 5000, 8001, ...
  netdash free --count 3        three free ports, one per line
  netdash free 8000             is 8000 free? if not, who holds it and the next free ports
  netdash free 5353/udp         the same for a UDP port (or: netdash free --udp 5353)
  PORT=$(netdash free) && uvicorn app:app --port "$PORT"
"""


HISTORY_EPILOG = """\
events: appeared, disappeared, verdict (a verdict changed: before -> after), probe (a probe
run's outcome). Newest first. The database: --history PATH, else config `history`, else
history.sqlite3 in the user state directory (README, "Security").

examples:
  netdash history                       the last events
  netdash history 5000 --since 1d       who listened on :5000 in the last day, how judged
  netdash history --exposed --since 1w  every exposure of the last week
  netdash history --program node --json JSON (schema/netdash-history.schema.json)
"""

WATCH_EPILOG = """\
Polls like the dashboard (--interval, default 2 s), records history, and sends a desktop
notification (notify-send) for a listener newly reachable beyond loopback that no allow rule
accepts, at most one per program, protocol, port and scope per hour. Stops on SIGTERM or
ctrl+c. Runs as a systemd user service (README, "netdash watch").

examples:
  netdash watch                          record and notify
  netdash watch --allow 22 --probe       accept port 22; probe each new listener
"""


def _since(text: str) -> str:
    import time

    from netdash.core.history import parse_since

    try:
        parse_since(text, time.time())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _add_history(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--history",
        metavar="PATH",
        default=default,
        help="the history database (default: history.sqlite3 in the user state directory; "
        "config: history)",
    )
    parser.add_argument(
        "--no-history",
        action="store_true",
        default=default if default is not None else False,
        help="record no history: nothing is written to disk",
    )


def _interval(text: str) -> float:
    try:
        return parse_interval(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.05 <= value <= 30:
        raise argparse.ArgumentTypeError("must be between 0.05 and 30 seconds")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not between 1 and 65535")
    return value


def _port_spec(text: str) -> tuple[int, str | None]:
    """``PORT``, ``PORT/tcp`` or ``PORT/udp`` (as ``ss`` and ``/etc/services`` write them):
    the port and the protocol given, ``None`` when none was."""
    number, slash, given = text.partition("/")
    protocol = given.lower() if slash else None
    if slash and protocol not in ("tcp", "udp"):
        raise argparse.ArgumentTypeError(f"{text!r}: the protocol after '/' must be tcp or udp")
    return _port(number), protocol


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("must be between 1 and 100")
    return value


def _interface_name(text: str) -> str:
    """An interface name as the kernel allows it (1-15 bytes, no '/', no whitespace)."""
    if not text or len(text.encode()) > 15 or "/" in text or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an interface name (1 to 15 characters, no '/' or spaces)"
        )
    return text


def _allow(text: str) -> AllowRule:
    try:
        return parse_allow(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def _add_ignore_firewall(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--ignore-firewall",
        action="store_true",
        default=default,
        help="judge by bind address and probe alone: do not read the firewall (config: "
        "ignore_firewall); by default, as root on Linux, netdash evaluates the nftables and "
        "iptables rulesets for each listener",
    )


def _add_config(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="read settings from this TOML file instead of NETDASH_CONFIG or the default "
        "(config.toml in the user config directory); --config /dev/null reads none",
    )


def _add_probe(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--probe",
        action="store_true",
        help=f"probe {what} via loopback and via the LAN address (GET / and the risk checks' "
        "read-only requests listed in the README, no redirects)",
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=1.0,
        metavar="SECONDS",
        help="connect and read timeout per probe (default: 1)",
    )


def _subparser(
    sub: Any, name: str, help_text: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``netdash`` and its commands (``list``, ``check``, ``who``,
    ``free``)."""
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
        default=None,
        metavar="SECONDS",
        help="seconds between polls of the socket table (default: 2; config: interval)",
    )
    _add_lan(parser)
    _add_config(parser)
    parser.add_argument("--udp", action="store_true", help="start with UDP listeners shown (u)")
    parser.add_argument(
        "--auto-probe",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="probe every listener at start, then each one that appears (default: off; "
        "config: auto_probe)",
    )
    parser.add_argument(
        "--bell", action="store_true", help="ring the terminal bell on a new exposure"
    )
    _add_history(parser)
    _add_ignore_firewall(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    listing = _subparser(
        sub,
        "list",
        "print listeners grouped by scope, as a table, JSON or Prometheus metrics",
        "Print this machine's TCP listeners grouped by scope.",
        LIST_EPILOG,
    )
    listing.add_argument(
        "--format",
        choices=("table", "json", "prometheus"),
        default=None,
        help="table (default; plain text without colour when not a terminal or with "
        "NO_COLOR), json (README, 'JSON'), or prometheus (node_exporter textfile format)",
    )
    listing.add_argument(
        "--json", action="store_true", help="print JSON: the same as --format json"
    )
    listing.add_argument(
        "--exposed",
        action="store_true",
        help="only listeners whose verdict is exposed or exposed-unverified",
    )
    listing.add_argument(
        "--namespaces",
        action="store_true",
        help="also list the listeners of this host's other network namespaces (containers, "
        "ip netns), read from /proc without entering them",
    )
    _add_probe(listing, "every listener")
    listing.add_argument(
        "--udp",
        action="store_true",
        help="include UDP listeners (bound, unconnected sockets; never probed)",
    )
    _add_ignore_firewall(listing, default=argparse.SUPPRESS)
    _add_lan(listing, default=argparse.SUPPRESS)  # keep `netdash --lan X list` working
    _add_config(listing, default=argparse.SUPPRESS)

    check = _subparser(
        sub,
        "check",
        "exit 1 when a listener is reachable beyond loopback and not allowed",
        "Check that nothing listens beyond loopback except what is allowed; print each "
        "finding with program, pid, address, port and how to bind it to loopback.",
        CHECK_EPILOG,
    )
    check.add_argument(
        "--allow",
        metavar="SPEC",
        type=_allow,
        action="append",
        default=[],
        help="accept exposures matching SPEC (repeatable; adds to the config's allow rules)",
    )
    check.add_argument(
        "--ignore-interface",
        metavar="NAME",
        type=_interface_name,
        action="append",
        default=None,
        help="an exposure reachable only through these interfaces is not a finding "
        "(repeatable; replaces the config's ignore_interfaces)",
    )
    _add_probe(check, "every exposed listener")
    check.add_argument(
        "--fail-on",
        choices=("exposed", "critical", "risk"),
        default=None,
        help="with --probe, what else fails besides exposures: exposed (default) a critical "
        "risk reachable beyond loopback, critical every critical risk, risk every risk of "
        "severity medium or above",
    )
    check.add_argument("--udp", action="store_true", help="check UDP listeners too")
    check.add_argument(
        "--format",
        choices=("text", "json", "prometheus"),
        default=None,
        help="text (default), json, or prometheus (node_exporter textfile format)",
    )
    check.add_argument("--json", action="store_true", help="the same as --format json")
    _add_ignore_firewall(check, default=argparse.SUPPRESS)
    _add_lan(check, default=argparse.SUPPRESS)
    _add_config(check, default=argparse.SUPPRESS)

    who = _subparser(
        sub,
        "who",
        "who listens on a port: program, pid, addresses, scope, verdict",
        "Say who listens on PORT (TCP and UDP), on which addresses, with scope and verdict.",
        WHO_EPILOG,
    )
    who.add_argument("port", type=_port, metavar="PORT")
    who.add_argument("--json", action="store_true", help="print JSON (listeners as in list)")
    _add_probe(who, "the listeners on PORT")
    _add_lan(who, default=argparse.SUPPRESS)
    _add_config(who, default=argparse.SUPPRESS)

    free = _subparser(
        sub,
        "free",
        "is a port free on every address? suggest free ones",
        "Say whether a TCP (or, with PORT/udp or --udp, UDP) port is free on 127.0.0.1, ::1, "
        "0.0.0.0 and :: by binding it and releasing it at once; suggest free ports.",
        FREE_EPILOG,
    )
    free.add_argument("port", type=_port_spec, metavar="PORT[/udp]", nargs="?")
    free.add_argument("--udp", action="store_true", help="check UDP ports instead of TCP")
    _add_config(free, default=argparse.SUPPRESS)
    free.add_argument(
        "--count",
        type=_count,
        default=None,
        metavar="N",
        help="how many free ports to suggest (default: 1 without PORT, 3 when PORT is taken)",
    )

    history = _subparser(
        sub,
        "history",
        "the timeline of listeners: what listened where, when, and how it was judged",
        "Print the recorded events of listeners (appeared, disappeared, verdict changes, "
        "probe outcomes), newest first.",
        HISTORY_EPILOG,
    )
    history.add_argument("port", type=_port, metavar="PORT", nargs="?")
    history.add_argument(
        "--since",
        type=_since,
        metavar="WHEN",
        help="only events since 30m, 2h, 1d, 1w ago or an ISO date (2026-12-04)",
    )
    history.add_argument("--program", metavar="NAME", help="only events of this program")
    history.add_argument(
        "--exposed",
        action="store_true",
        help="only events with an exposed or exposed-unverified verdict (before or after)",
    )
    history.add_argument("--json", action="store_true", help="print JSON")
    _add_history(history, default=argparse.SUPPRESS)
    _add_config(history, default=argparse.SUPPRESS)

    watch = _subparser(
        sub,
        "watch",
        "record history and notify new exposures, without a screen",
        "Poll the socket table like the dashboard, record history, and notify the desktop "
        "of each new exposure.",
        WATCH_EPILOG,
    )
    watch.add_argument(
        "--interval",
        type=_interval,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="seconds between polls (default: 2; config: interval)",
    )
    watch.add_argument(
        "--allow",
        metavar="SPEC",
        type=_allow,
        action="append",
        default=[],
        help="no notification for exposures matching SPEC (repeatable; adds to the config's)",
    )
    _add_probe(watch, "each new listener")
    watch.add_argument("--udp", action="store_true", help="notify about UDP listeners too")
    _add_lan(watch, default=argparse.SUPPRESS)
    _add_ignore_firewall(watch, default=argparse.SUPPRESS)
    _add_history(watch, default=argparse.SUPPRESS)
    _add_config(watch, default=argparse.SUPPRESS)
    return parser
