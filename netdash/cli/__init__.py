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
import json
import os
import sys
from collections.abc import Mapping, Sequence

import psutil

from netdash import __version__
from netdash.config import Config, ConfigError, load_config, parse_interval
from netdash.core import addresses as classify
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
        return classify.resolve_lan(snapshot, overrides or ())
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
    from netdash.output.text import group_results
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
    # check and prom (and their hints, allow rules) only for --exposed and Prometheus output.
    from netdash.output.text import ipv4_loopback_ports, print_table, snapshot_to_json, verdict

    output = _format(args, "table")
    config = _load(args)
    snapshot = collect_snapshot()
    lan = _lan_for(snapshot, args, config)
    results = _probe(snapshot, lan, args.timeout) if args.probe else None
    if args.exposed:
        from netdash.core.assess import EXPOSED

        v4_ports = ipv4_loopback_ports(snapshot.listeners)
        kept = tuple(
            li
            for li in snapshot.listeners
            if verdict(li, (results or {}).get(li.key, ()), v4_ports) in EXPOSED
        )
        snapshot = dataclasses.replace(snapshot, listeners=kept)
    if output == "json":
        document = snapshot_to_json(snapshot, lan, results, udp=args.udp)
        document["exposed_only"] = args.exposed
        _write(_json_text(document))
    elif output == "prometheus":
        from netdash.output.prom import listing_metrics

        _write(listing_metrics(snapshot, results, udp=args.udp))
    else:
        try:
            console = _console()
            if args.exposed and not any(args.udp or li.protocol == "tcp" for li in kept):
                kinds = "TCP or UDP" if args.udp else "TCP"
                console.print(f"No exposed {kinds} listeners.", markup=False)
            else:
                print_table(snapshot, lan, results, console, udp=args.udp)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from netdash.core.assess import evaluate, report_to_json, report_to_text
    from netdash.output.prom import check_metrics

    output = _format(args, "text")
    config = _load(args)
    rules = (*config.allow, *args.allow)
    ignore = (
        tuple(args.ignore_interface)
        if args.ignore_interface is not None
        else config.ignore_interfaces
    )
    snapshot = collect_snapshot()
    lan = _lan_for(snapshot, args, config)
    results = None
    if args.probe:
        from netdash.output.text import visible

        results = _probe(snapshot, lan, args.timeout, visible(snapshot.listeners, args.udp))
    report = evaluate(snapshot, results, rules, ignore, udp=args.udp)
    if output == "json":
        _write(_json_text(report_to_json(report)))
    elif output == "prometheus":
        _write(check_metrics(report, results))
    else:
        _write(report_to_text(report))
    return report.exit_code


def _run_who(args: argparse.Namespace) -> int:
    from netdash.core.model import Via
    from netdash.core.text import clean
    from netdash.output.text import (
        address_label,
        ipv4_loopback_ports,
        pid_label,
        probe_label,
        process_label,
        row_processes,
        row_results,
        row_verdict,
        server_label,
        service_rows,
        snapshot_to_json,
    )

    config = _load(args)
    snapshot = collect_snapshot()
    lan = _lan_for(snapshot, args, config)
    mine = tuple(li for li in snapshot.listeners if li.port == args.port)
    results = _probe(snapshot, lan, args.timeout, mine) if args.probe else None
    if args.json:
        document = snapshot_to_json(
            dataclasses.replace(snapshot, listeners=mine), lan, results, udp=True
        )
        document["port"] = args.port
        _write(_json_text(document))
        return 0 if mine else 1
    if not mine:
        _write(f"nothing listens on port {args.port} (TCP or UDP)\n")
        return 1
    v4_ports = ipv4_loopback_ports(snapshot.listeners)
    lines: list[str] = []
    for _scope, rows in service_rows(list(mine)):
        for row in rows:
            got = row_results(row, results or {})
            processes = row_processes(row)
            user = next((p.user for p in processes if p.user), None)
            owner = f"{process_label(processes)} (pid {pid_label(processes)}"
            owner += f", user {clean(user, 30)})" if user else ")"
            line = (
                f"{row.first.protocol} {args.port}: {owner} on {address_label(row, got)}, "
                f"{row.scope.value}, {row_verdict(row, got, v4_ports).value}"
            )
            if results is not None:
                loop = probe_label(got, Via.LOOPBACK) or "-"
                lan_text = probe_label(got, Via.LAN) or "-"
                what = server_label(got)
                line += f"; loopback {loop}, LAN {lan_text}" + (f", {what}" if what else "")
            lines.append(line)
    _write("\n".join(lines) + "\n")
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
    from netdash.core.assess import endpoint
    from netdash.output.text import pid_label, process_label

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
    times faster: Python's C encoder) for a pipe or a file."""
    if sys.stdout.isatty():
        return json.dumps(document, indent=2) + "\n"
    return _compact_json(document, end="\n")


class _EncodedStrings(dict[str, str]):
    """The JSON text of each distinct string, escaped once (:meth:`dict.__getitem__` is the
    string encoder of :func:`_compact_json`): a process's command line repeats in every
    listener it holds, and escaping a long one (a Java class path) costs far more than a
    dictionary look-up."""

    def __missing__(self, text: str) -> str:
        encoded = self[text] = json.encoder.encode_basestring_ascii(text)
        return encoded


def _compact_json(document: object, end: str = "") -> str:
    """Exactly ``json.dumps(document, separators=(",", ":")) + end``, faster when strings repeat:
    CPython's C encoder (``json.encoder.c_make_encoder``, what ``json.dumps`` itself uses)
    with :class:`_EncodedStrings` as its string encoder. A 1,000-listener listing whose
    holders have long command lines (3.8 MB, bench "medium") takes 6 ms instead of 27 ms.
    Falls back to ``json.dumps`` where the C encoder is missing (PyPy)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.dumps(document, separators=(",", ":")) + end
    # The arguments json.JSONEncoder.iterencode passes for dumps' defaults and these
    # separators: circular check on, TypeError for other types, ASCII, NaN allowed.
    encode = make(
        {},
        json.JSONEncoder().default,
        _EncodedStrings().__getitem__,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
    return "".join([*encode(document, 0), end])  # one copy of megabytes, not two


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
