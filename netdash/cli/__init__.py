"""Command line: ``netdash`` starts the dashboard; ``list``, ``check``, ``who`` and ``free``
answer the same questions for scripts.

Exit codes: 0 success; 1 the answer is "no" (``check``: something is exposed beyond what is
allowed; ``who``: nothing listens; ``free``: the port is taken); 2 usage, configuration or
runtime error (a message on stderr, never a traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence

import psutil

from netdash import __version__
from netdash.config import Config, ConfigError, load_config, parse_interval
from netdash.core.addresses import own_addresses
from netdash.core.model import ListenerKey, ProbeResult, Snapshot
from netdash.core.policy import AllowRule, parse_allow
from netdash.sources.snapshot import collect_snapshot

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

    from rich.console import Console

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
  netdash check --allow sshd    exit 1 if anything but sshd is reachable from the network
  netdash who 8000              who listens on port 8000, where, and how exposed
  netdash free 8000             is 8000 free on every address? else suggest the next free

commands: list, check, who, free (netdash COMMAND --help for each)
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
exit status: 0 nothing exposed beyond what is allowed, 1 something is, 2 error.

allow SPEC: 22 (port, TCP or UDP), 5353/udp (port/protocol), sshd (program name),
192.168.1.100:8000 or [::]:8000 (bind address and port).

examples:
  netdash check                             fail on any listener bound beyond loopback
  netdash check --probe                     ...and probe each to say which really answer
  netdash check --allow 22 --allow 5353/udp --udp
  netdash check --allow sshd --allow '[::]:8000'
  netdash check --json                      findings as JSON (schema/netdash-check.schema.json)
  netdash check --format prometheus > /var/lib/node_exporter/netdash.output.prom.tmp
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
  PORT=$(netdash free) && uvicorn app:app --port "$PORT"
"""


class UsageError(Exception):
    """A mistake in what the user asked for; reported in one line, exit code 2."""


class OutputError(Exception):
    """Standard output could not be written (a full disk, a closed file), or another runtime
    failure with its own message; exit code 2."""


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


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("must be between 1 and 100")
    return value


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
        help=f"probe {what} via loopback and via the LAN address (GET /, no redirects)",
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
        help="probe each listener that appears while the dashboard runs (default: off; "
        "config: auto_probe)",
    )
    parser.add_argument(
        "--bell", action="store_true", help="ring the terminal bell on a new exposure"
    )
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
    _add_probe(listing, "every listener")
    listing.add_argument(
        "--udp",
        action="store_true",
        help="include UDP listeners (bound, unconnected sockets; never probed)",
    )
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
        action="append",
        default=None,
        help="an exposure reachable only through these interfaces is not a finding "
        "(repeatable; replaces the config's ignore_interfaces)",
    )
    _add_probe(check, "every exposed listener")
    check.add_argument("--udp", action="store_true", help="check UDP listeners too")
    check.add_argument(
        "--format",
        choices=("text", "json", "prometheus"),
        default=None,
        help="text (default), json, or prometheus (node_exporter textfile format)",
    )
    check.add_argument("--json", action="store_true", help="the same as --format json")
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
        "is a TCP port free on every address? suggest free ones",
        "Say whether a TCP port is free on 127.0.0.1, ::1, 0.0.0.0 and :: by binding it "
        "and releasing it at once; suggest free ports.",
        FREE_EPILOG,
    )
    free.add_argument("port", type=_port, metavar="PORT", nargs="?")
    free.add_argument(
        "--count",
        type=_count,
        default=None,
        metavar="N",
        help="how many free ports to suggest (default: 1 without PORT, 3 when PORT is taken)",
    )
    return parser


def resolve_lan(
    snapshot: Snapshot, overrides: Sequence[str] | None, source: str | None = None
) -> dict[int, str]:
    """The LAN address per family: detected, with overrides (checked) applied.

    ``source`` names where the overrides came from when it was not ``--lan`` (a config file
    line, an environment variable); it prefixes the error message. Raises :class:`UsageError`.
    """
    try:
        from netdash.core.lan import resolve_lan as resolve

        return resolve(snapshot, overrides or ())
    except ValueError as exc:
        message = str(exc)
        if source is not None:
            message = f"{source}: lan: {message.replace('--lan ', '', 1)}"
        raise UsageError(message) from None


def _load(args: argparse.Namespace) -> Config:
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _lan_for(snapshot: Snapshot, args: argparse.Namespace, config: Config) -> dict[int, str]:
    given = getattr(args, "lan", None)
    if given:
        return resolve_lan(snapshot, given)
    return resolve_lan(snapshot, config.lan, config.sources.get("lan"))


def _probe(
    snapshot: Snapshot, lan: Mapping[int, str], timeout: float, only: Sequence[Any] | None = None
) -> dict[ListenerKey, list[ProbeResult]]:
    from netdash.core.services import group_results
    from netdash.probe.engine import ProbeLimits, probe_listeners

    limits = ProbeLimits(connect_timeout=timeout, read_timeout=timeout, deadline=3 * timeout)
    listeners = snapshot.listeners if only is None else tuple(only)
    import asyncio

    found = asyncio.run(probe_listeners(listeners, lan, own_addresses(snapshot.interfaces), limits))
    return group_results(found)


def _format(args: argparse.Namespace, default: str) -> str:
    chosen: str | None = args.format
    if args.json:
        if chosen not in (None, "json"):
            raise UsageError(f"--json and --format {chosen} ask for different outputs")
        return "json"
    return chosen or default


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None


def _console() -> Console:
    """Rich's console (imported here: JSON output needs none of it), except that a reader
    that goes away (``netdash list | head``) is left to :func:`main` instead of Rich's own
    exit with status 1. Not a terminal: wide lines rather than wrapped cells, and no colour
    (Rich's default there); NO_COLOR is honoured by Rich on a terminal too."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    width = None if sys.stdout.isatty() else 200
    return _Console(highlight=False, width=width)


def _run_list(args: argparse.Namespace) -> int:
    from netdash.core.assess import Assessment

    output = _format(args, "table")
    config = _load(args)
    snapshot = collect_snapshot()
    lan = _lan_for(snapshot, args, config)
    results = _probe(snapshot, lan, args.timeout) if args.probe else None
    assessment = Assessment(snapshot, results, udp=args.udp)
    if args.exposed:
        # The assessment of the listing shown: the exposed listeners only.
        kept = tuple(a.listener for a in assessment.exposures)
        assessment = Assessment(
            dataclasses.replace(snapshot, listeners=kept), results, udp=args.udp
        )
    if output == "json":
        from netdash.output.json import snapshot_to_json

        document = snapshot_to_json(assessment, lan)
        document["exposed_only"] = args.exposed
        _write(_json_text(document))
    elif output == "prometheus":
        from netdash.output.prom import listing_metrics

        _write(listing_metrics(assessment))
    else:
        from netdash.output.text import print_table

        try:
            console = _console()
            if args.exposed and not assessment.shown:
                kinds = "TCP or UDP" if args.udp else "TCP"
                console.print(f"No exposed {kinds} listeners.", markup=False)
            else:
                print_table(assessment, lan, console)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from netdash.core.assess import Assessment
    from netdash.core.policy import Policy
    from netdash.core.services import visible

    output = _format(args, "text")
    config = _load(args)
    ignore = (
        tuple(args.ignore_interface)
        if args.ignore_interface is not None
        else config.ignore_interfaces
    )
    policy = Policy.of((*config.allow, *args.allow), ignore)
    snapshot = collect_snapshot()
    lan = _lan_for(snapshot, args, config)
    results = None
    if args.probe:
        results = _probe(snapshot, lan, args.timeout, visible(snapshot.listeners, args.udp))
    assessment = Assessment(snapshot, results, policy, udp=args.udp)
    if output == "json":
        from netdash.output.json import check_to_json

        _write(_json_text(check_to_json(assessment)))
    elif output == "prometheus":
        from netdash.output.prom import check_metrics

        _write(check_metrics(assessment))
    else:
        from netdash.output.text import check_text

        _write(check_text(assessment))
    return assessment.exit_code


def _run_who(args: argparse.Namespace) -> int:
    from netdash.core.assess import Assessment

    config = _load(args)
    snapshot = collect_snapshot()
    lan = _lan_for(snapshot, args, config)
    mine = tuple(li for li in snapshot.listeners if li.port == args.port)
    results = _probe(snapshot, lan, args.timeout, mine) if args.probe else None
    assessment = Assessment(snapshot, results, udp=True)
    if args.json:
        from netdash.output.json import snapshot_to_json

        document = snapshot_to_json(assessment, lan, mine)
        document["port"] = args.port
        _write(_json_text(document))
        return 0 if mine else 1
    if not mine:
        _write(f"nothing listens on port {args.port} (TCP or UDP)\n")
        return 1
    from netdash.output.text import who_lines

    _write("\n".join(who_lines(assessment, mine, args.port)) + "\n")
    return 0


def _run_free(args: argparse.Namespace) -> int:
    from netdash.sources.freeport import port_state, suggest_ports

    if args.port is None:
        ports = suggest_ports(args.count or 1)
        if not ports:
            _write("no free port found\n")
            return 1
        _write("".join(f"{p}\n" for p in ports))
        return 0
    try:
        state = port_state(args.port)
    except OSError as exc:
        raise OutputError(f"cannot try port {args.port}: {exc.strerror or exc}") from None
    tried = [a.address for a in state.addresses if a.state != "unavailable"]
    if state.free:
        _write(f"{args.port} is free on {', '.join(tried)}\n")
        return 0
    taken = ", ".join(
        a.address + (" (permission denied)" if a.state == "denied" else "") for a in state.taken_on
    )
    lines = [f"{args.port} is taken on {taken}"]
    lines += _holders(args.port)
    suggestions = suggest_ports(args.count or 3, start=args.port + 1 if args.port < 65535 else 1)
    if suggestions:
        lines.append("free: " + " ".join(str(p) for p in suggestions))
    _write("\n".join(lines) + "\n")
    return 1


def _holders(port: int) -> list[str]:
    """``held by …`` lines for the TCP listeners on ``port``; none when the table is
    unreadable (the bind test has already answered)."""
    from netdash.output.labels import endpoint, pid_label, process_label

    try:
        snapshot = collect_snapshot()
    except (psutil.Error, OSError):
        return []
    return [
        f"  held by {process_label(li)} (pid {pid_label(li)}) on {endpoint(li.address, li.port)}"
        for li in snapshot.listeners
        if li.protocol == "tcp" and li.port == port
    ]


def _json_text(document: object) -> str:
    """JSON for standard output: indented for a person at a terminal, compact (and several
    times faster) for a pipe or a file."""
    from netdash.output.json import json_text

    return json_text(document, pretty=sys.stdout.isatty())


def _run_tui(args: argparse.Namespace) -> int:
    from netdash.sources.processes import ProcessCache

    config = _load(args)
    # The first snapshot is read now, before the dashboard's modules load (~0.2 s of
    # imports), and handed to its first poll: that poll then answers at once instead of
    # reading /proc in a thread while the first frames are drawn, and a large scan can still
    # share its work with a forked helper (one thread so far; procfd.read_processes).
    cache = ProcessCache()
    first: list[Snapshot] = []
    with contextlib.suppress(Exception):  # the dashboard's first poll reads again, says why
        first.append(collect_snapshot(cache))
    overrides = list(args.lan or config.lan)
    if overrides:
        # Check now, so a typo is a one-line error rather than a dashboard that cannot probe.
        _lan_for(first[0] if first else collect_snapshot(), args, config)

    def collector() -> Snapshot:
        return first.pop() if first else collect_snapshot(cache)

    from netdash.tui.app import NetdashApp

    NetdashApp(
        interval=args.interval if args.interval is not None else config.interval,
        lan_override=overrides,
        collector=collector,
        udp=args.udp,
        auto_probe=args.auto_probe if args.auto_probe is not None else config.auto_probe,
        allow=config.allow,
        ignore_interfaces=config.ignore_interfaces,
        bell=args.bell,
    ).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    runners = {"list": _run_list, "check": _run_check, "who": _run_who, "free": _run_free}
    try:
        return runners.get(args.command, _run_tui)(args)
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
