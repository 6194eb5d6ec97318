"""Settings: built-in defaults, a TOML file, the environment and the command line, resolved
once into one :class:`Settings` that every command and the dashboard receive.

Precedence, lowest first: built-in defaults < the config file < environment variables < the
command line. Each key takes its value from the highest source that sets it, except
``allow``, whose rules add up over every source (a hook's ``--allow 8000`` keeps the user's
own ``allow = ["sshd"]``). :func:`load_config` reads the file and the environment into a
:class:`Config`; :func:`resolve_settings` lays the command line over it.

The file is ``config.toml`` in the platform's user config directory
(``platformdirs.user_config_dir("netdash")``: ``~/.config/netdash/config.toml`` on Linux,
honouring ``XDG_CONFIG_HOME``); ``--config PATH`` or ``NETDASH_CONFIG`` names another. A
missing default file is no error; a missing named file is. Keys::

    interval = 2.0                    # seconds between dashboard polls, 0.2-3600
    lan = "192.168.1.100"             # or a list, one address per family
    allow = ["22", "sshd", "5353/udp", "192.168.1.100:8000", "[::]:8000"]
    ignore_interfaces = ["docker0"]   # listeners reachable only through these are not findings
    auto_probe = false                # probe each new listener in the dashboard
    history = "~/netdash-history.sqlite3"  # or false: record no history (default: on)
    ignore_firewall = false           # judge by bind address alone, as before issue 13

Environment: ``NETDASH_INTERVAL``, ``NETDASH_LAN`` and ``NETDASH_ALLOW`` and
``NETDASH_IGNORE_INTERFACES`` (comma- or space-separated lists), ``NETDASH_AUTO_PROBE``
and ``NETDASH_IGNORE_FIREWALL`` (``1``/``0``, ``true``/``false``, ``yes``/``no``,
``on``/``off``), ``NETDASH_HISTORY`` (a path, or ``off``).

Every mistake raises :class:`ConfigError` whose message names the file, the line and the key
(``~/.config/netdash/config.toml:3: interval: must be between 0.2 and 3600 seconds``).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from netdash.core.policy import AllowRule, Policy, parse_allow

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

    from netdash.core.model import Snapshot

__all__ = [
    "KEYS",
    "Config",
    "ConfigError",
    "Settings",
    "default_config_path",
    "load_config",
    "parse_interval",
    "resolve_settings",
]

KEYS = (
    "interval",
    "lan",
    "allow",
    "ignore_interfaces",
    "auto_probe",
    "history",
    "ignore_firewall",
)
ENV = {
    "interval": "NETDASH_INTERVAL",
    "lan": "NETDASH_LAN",
    "allow": "NETDASH_ALLOW",
    "ignore_interfaces": "NETDASH_IGNORE_INTERFACES",
    "auto_probe": "NETDASH_AUTO_PROBE",
    "history": "NETDASH_HISTORY",
    "ignore_firewall": "NETDASH_IGNORE_FIREWALL",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    """A setting that cannot be used; the message is one line naming where it came from."""


@dataclass(frozen=True)
class Config:
    """Merged settings of the file and the environment (:func:`resolve_settings` adds the
    command line).

    ``interval`` is seconds; ``lan`` holds LAN address overrides as text (checked later
    against this machine's interfaces); ``allow`` the parsed rules in source order;
    ``sources`` maps each key to where its value came from (``"path:line"`` or an
    environment variable's name) for error messages; ``path`` is the file read, if any.
    """

    interval: float = 2.0
    lan: tuple[str, ...] = ()
    allow: tuple[AllowRule, ...] = ()
    ignore_interfaces: tuple[str, ...] = ()
    auto_probe: bool = False
    history: str | bool | None = None
    """A history file (``~`` expanded later), ``False`` for none, ``None`` for the default."""
    ignore_firewall: bool = False
    sources: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None


def default_config_path() -> Path:
    """``config.toml`` in ``platformdirs.user_config_dir("netdash")``."""
    import platformdirs

    return Path(platformdirs.user_config_dir("netdash")) / "config.toml"


def parse_interval(text: str | float) -> float:
    """Seconds between polls, 0.2 to 3600. Raises ``ValueError`` (message fit for the user)."""
    if isinstance(text, bool):
        raise ValueError("must be a number of seconds")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not 0.2 <= value <= 3600:
        raise ValueError("must be between 0.2 and 3600 seconds")
    return value


def _key_line(text: str, key: str) -> int | None:
    name = rf"[\"']?{re.escape(key)}[\"']?"
    pattern = re.compile(rf"^[ \t]*(?:{name}[ \t]*=|\[+[ \t]*{name}[ \t]*\])", re.MULTILINE)
    found = pattern.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _strings(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"must be {what} or a list of them")


def _split(text: str) -> tuple[str, ...]:
    return tuple(part for part in re.split(r"[,\s]+", text) if part)


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a yes/no value (1, 0, true, false, yes, no, on, off)")


def _apply(values: dict[str, Any], key: str, raw: object, from_env: bool) -> None:
    """Check one raw value and store it in ``values``; raises ``ValueError`` if unusable."""
    if key == "interval":
        if not from_env and not isinstance(raw, (int, float)):
            raise ValueError("must be a number of seconds")
        values[key] = parse_interval(raw)  # type: ignore[arg-type]
    elif key in ("auto_probe", "ignore_firewall"):
        if from_env:
            values[key] = _bool(str(raw))
        elif isinstance(raw, bool):
            values[key] = raw
        else:
            raise ValueError("must be true or false")
    elif key == "history":
        if from_env:
            text = str(raw).strip()
            values[key] = False if text.lower() in ("off", "0", "false", "no") else text
        elif raw is False or (isinstance(raw, str) and raw.strip()):
            values[key] = raw
        elif raw is not True:
            raise ValueError("must be a file path or false")
    elif key == "lan":
        values[key] = _split(str(raw)) if from_env else _strings(raw, "an IP address")
    elif key == "ignore_interfaces":
        values[key] = _split(str(raw)) if from_env else _strings(raw, "an interface name")
    elif key == "allow":
        specs = _split(str(raw)) if from_env else _strings(raw, 'a rule such as "22"')
        values[key] = values.get(key, ()) + tuple(parse_allow(s) for s in specs)


MAX_CONFIG_BYTES = 1 << 20
"""The largest config file read (1 MiB); a larger one is an error, not a slow start."""


def _read_text(path: Path, explicit: bool) -> str | None:
    """The text of the config file at ``path``; ``None`` when there is none to read.

    Only a regular file of at most :data:`MAX_CONFIG_BYTES` is read (opened without blocking,
    so a FIFO cannot hang netdash); ``/dev/null`` is read as empty. A default path (not
    ``explicit``) that does not exist or cannot be reached (``EACCES`` on it or a parent
    directory: ``HOME=/root`` under ``runuser`` or ``sudo -E``) means "no config file"; a path
    the user named must be readable. Raises :class:`ConfigError`.
    """
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{where}: no such config file") from None
        return None
    except PermissionError as exc:
        if explicit:
            raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
        return None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a config file") from None
    except OSError as exc:
        if not explicit and exc.errno in (errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG):
            return None
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{where}: is a directory, not a config file")
        if not stat.S_ISREG(info.st_mode):
            if stat.S_ISCHR(info.st_mode) and _is_dev_null(info):
                return ""
            raise ConfigError(
                f"{where}: not a regular file (a config file is a TOML text file; "
                "/dev/null reads none)"
            )
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{where}: larger than 1 MiB; not a netdash config file")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:  # it grew while we looked
        raise ConfigError(f"{where}: larger than 1 MiB; not a netdash config file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text ({exc.reason})") from None


def _is_dev_null(info: os.stat_result) -> bool:
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return info.st_rdev == null.st_rdev


def _read_file(path: Path, explicit: bool) -> tuple[dict[str, Any], dict[str, str], bool]:
    """``(values, sources, read)`` from the config file at ``path``; ``read`` is false when
    there was no file (see :func:`_read_text`). Raises :class:`ConfigError`."""
    where = str(path)
    text = _read_text(path, explicit)
    if text is None:
        return {}, {}, False
    # Imported only when there is a file to parse: most runs have none.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        located = re.search(r"\(at line (\d+), column (\d+)\)", message)
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        lines = text.splitlines()
        line = int(located.group(1)) if located else len(lines)
        if line:
            source_line = lines[line - 1] if line <= len(lines) else ""
            key_match = re.match(r"\s*([A-Za-z0-9_\-\"']+)\s*=", source_line)
            named = f" {key_match.group(1).strip(chr(34) + chr(39))}:" if key_match else ""
            raise ConfigError(f"{where}:{line}:{named} invalid TOML: {reason}") from None
        raise ConfigError(f"{where}: invalid TOML: {reason}") from None
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, raw in data.items():
        key_line = _key_line(text, key)
        at = f"{where}:{key_line}" if key_line else where
        if key not in KEYS:
            raise ConfigError(f"{at}: {key}: unknown key (known: {', '.join(KEYS)})")
        try:
            _apply(values, key, raw, from_env=False)
        except ValueError as exc:
            raise ConfigError(f"{at}: {key}: {exc}") from None
        sources[key] = at
    return values, sources, True


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read the config file and the environment into a :class:`Config`.

    ``path`` is ``--config``; without it ``NETDASH_CONFIG``, else :func:`default_config_path`.
    ``environ`` defaults to ``os.environ``. Raises :class:`ConfigError`.
    """
    env = os.environ if environ is None else environ
    explicit = path is not None or bool(env.get("NETDASH_CONFIG"))
    named = path if path is not None else env.get("NETDASH_CONFIG")
    chosen = Path(named) if named else default_config_path()
    values, sources, read = _read_file(chosen, explicit)
    for key, name in ENV.items():
        raw = env.get(name)
        if raw is None or (key not in ("auto_probe", "ignore_firewall") and not raw.strip()):
            continue
        try:
            _apply(values, key, raw, from_env=True)
        except ValueError as exc:
            raise ConfigError(f"environment {name}: {exc}") from None
        sources[key] = name if key not in sources or key != "allow" else f"{sources[key]}, {name}"
    return Config(**values, sources=sources, path=chosen if read else None)


DEFAULT_OUTPUT = {
    "list": "table",
    "check": "text",
    "who": "text",
    "free": "text",
    "history": "table",
    None: "text",
}
"""The output format of each command (``None``: the dashboard) when none is asked for."""


@dataclass(frozen=True)
class Settings:
    """Everything one run of netdash uses, resolved once by :func:`resolve_settings` from the
    defaults, the config file, the environment and the command line (in that order, each
    beating the one before).

    ``command`` is ``"list"``, ``"check"``, ``"who"``, ``"free"`` or ``None`` for the
    dashboard. ``interval`` is seconds between dashboard polls. ``lan`` holds the LAN
    address overrides as text (checked against this machine's interfaces by
    :meth:`lan_for`) and ``lan_source`` where they came from: ``None`` for ``--lan`` (or no
    override), else a file line (``"path:line"``) or ``"NETDASH_LAN"``. ``policy`` holds the
    allow rules (file, environment and ``--allow``, added up) and the ignored interfaces
    (``--ignore-interface`` replaces the configured ones). ``udp`` includes UDP listeners
    (``free``: checks UDP ports);
    ``probe`` probes with ``timeout`` seconds per connect and read; ``output`` is the format
    (``table``, ``text``, ``json`` or ``prometheus``); ``exposed`` keeps only exposed
    listeners (``list``); ``port`` and ``count`` are ``who``'s and ``free``'s arguments;
    ``bell`` and ``auto_probe`` are the dashboard's. ``ignore_firewall`` keeps the
    bind-only judgement (no firewall read). ``config_path`` is the file read, if any.
    ``history`` is the history database (``None``: none is written or read; set only for the
    dashboard, ``watch`` and ``history``), ``history_own_dir`` true when it is the default
    one (its directory is netdash's, kept 0700); ``since`` and ``program`` are ``history``'s
    filters as given.
    ``fail_on`` is ``check --fail-on`` (:data:`netdash.core.assess.FAIL_ON`).
    """

    command: str | None = None
    interval: float = 2.0
    lan: tuple[str, ...] = ()
    lan_source: str | None = None
    policy: Policy = field(default_factory=Policy)
    udp: bool = False
    probe: bool = False
    timeout: float = 1.0
    output: str = "text"
    exposed: bool = False
    port: int | None = None
    count: int | None = None
    bell: bool = False
    auto_probe: bool = False
    ignore_firewall: bool = False
    config_path: Path | None = None
    history: Path | None = None
    history_own_dir: bool = False
    since: str | None = None
    program: str | None = None
    fail_on: str = "exposed"
    namespaces: bool = False
    """``list --namespaces``: also list the listeners of this host's other network namespaces."""

    def lan_for(self, snapshot: Snapshot) -> dict[int, str]:
        """The LAN address per family in ``snapshot``: detected, with :attr:`lan` (checked)
        applied. Raises :class:`ConfigError` naming where a bad override came from."""
        from netdash.core.lan import resolve_lan

        try:
            return resolve_lan(snapshot, self.lan)
        except ValueError as exc:
            message = str(exc)
            if self.lan_source is not None:
                message = f"{self.lan_source}: lan: {message.replace('--lan ', '', 1)}"
            raise ConfigError(message) from None


def _output(command_line: Mapping[str, Any], command: str | None) -> str:
    chosen: str | None = command_line.get("format")
    if command_line.get("json"):
        if chosen not in (None, "json"):
            raise ConfigError(f"--json and --format {chosen} ask for different outputs")
        return "json"
    return chosen or DEFAULT_OUTPUT.get(command, "text")


def resolve_settings(
    command_line: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Settings:
    """The :class:`Settings` of one run: ``command_line`` (the parsed arguments as a mapping,
    ``vars(args)``; a value the parser left at ``None`` is not given) over the config file
    and ``environ`` (default ``os.environ``) read by :func:`load_config`, over the defaults.

    ``free`` uses no configurable setting and reads no file (``--config`` is accepted, as by
    every command, so that an alias or script passing it works). Its ``PORT/udp`` (or
    ``--udp``) sets :attr:`Settings.udp`. Raises :class:`ConfigError`: conflicting output
    flags first, then the file and the environment.
    """
    command: str | None = command_line.get("command")
    output = _output(command_line, command)
    config = Config() if command == "free" else load_config(command_line.get("config"), environ)
    port = command_line.get("port")
    udp = bool(command_line.get("udp"))
    if isinstance(port, tuple):  # free's PORT[/tcp|/udp]
        port, protocol = port
        if protocol == "tcp" and udp:
            raise ConfigError("--udp and /tcp ask for different protocols")
        udp = udp or protocol == "udp"
    given_lan = command_line.get("lan")
    ignore = command_line.get("ignore_interface")
    interval = command_line.get("interval")
    auto_probe = command_line.get("auto_probe")
    history, own_dir = _history(command_line, config, command)
    ignore_firewall = command_line.get("ignore_firewall")
    return Settings(
        command=command,
        interval=config.interval if interval is None else interval,
        lan=tuple(given_lan) if given_lan else config.lan,
        lan_source=None if given_lan else config.sources.get("lan"),
        policy=Policy.of(
            (*config.allow, *command_line.get("allow", ())),
            config.ignore_interfaces if ignore is None else ignore,
        ),
        udp=udp,
        probe=bool(command_line.get("probe")),
        timeout=command_line.get("timeout", 1.0),
        output=output,
        exposed=bool(command_line.get("exposed")),
        port=port,
        count=command_line.get("count"),
        bell=bool(command_line.get("bell")),
        auto_probe=config.auto_probe if auto_probe is None else auto_probe,
        ignore_firewall=config.ignore_firewall if ignore_firewall is None else ignore_firewall,
        config_path=config.path,
        history=history,
        history_own_dir=own_dir,
        since=command_line.get("since"),
        program=command_line.get("program"),
        fail_on=command_line.get("fail_on") or "exposed",
        namespaces=bool(command_line.get("namespaces")),
    )


def _history(
    command_line: Mapping[str, Any], config: Config, command: str | None
) -> tuple[Path | None, bool]:
    """The history database and whether it is the default one: ``--no-history`` beats
    ``--history PATH`` beats the config/environment's ``history`` beats the default
    (:func:`netdash.history.paths.default_history_path`). Only the dashboard, ``watch`` and
    ``history`` use one."""
    if command not in (None, "watch", "history") or command_line.get("no_history"):
        return None, False
    given = command_line.get("history")
    if given:
        return Path(given).expanduser(), False
    if config.history is False:
        return None, False
    if isinstance(config.history, str):
        return Path(config.history).expanduser(), False
    from netdash.history.paths import default_history_path

    return default_history_path(), True
