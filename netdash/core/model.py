"""Plain, immutable data shared by every part of netdash.

Nothing here talks to the operating system or draws anything: ``collect`` fills these records
from psutil, ``classify`` and ``probe`` compute from them, and the CLI and the TUI render them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

from netdash.core.text import EMPTY, Untrusted, as_untrusted, wrap_outside

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from netdash.core.reach import FirewallView

__all__ = [
    "Interface",
    "Listener",
    "ListenerIdentity",
    "ListenerKey",
    "Outcome",
    "ProbeResult",
    "Process",
    "Project",
    "RiskFact",
    "Scope",
    "Snapshot",
    "Verdict",
    "Via",
]


class Scope(str, enum.Enum):
    """Who can connect to a listener, decided from its bind address alone.

    ``LOOPBACK``: 127.0.0.0/8 or ``::1`` — only this machine.
    ``ALL_INTERFACES``: the wildcard address ``0.0.0.0`` or ``::`` — every interface, so other
    devices on any attached network.
    ``SPECIFIC_INTERFACE``: one non-loopback address — devices on the network of the interface
    holding it (or nobody, if no interface holds it).
    """

    LOOPBACK = "loopback"
    ALL_INTERFACES = "all-interfaces"
    SPECIFIC_INTERFACE = "specific-interface"


class Verdict(str, enum.Enum):
    """The one thing to know about a listener, from its scope and what probing showed.

    ``EXPOSED``: a probe to the LAN address connected: other devices on that network can
    reach it (barring a firewall, which a probe from this machine does not cross).
    ``EXPOSED_UNVERIFIED``: bound beyond loopback, but not (yet) seen accepting on the LAN
    address: not probed, or the LAN probe was inconclusive.
    ``SHIELDED``: bound beyond loopback, and the firewall (read and evaluated:
    :mod:`netdash.core.reach`) blocks a new connection from every non-loopback network it is
    bound on.
    ``LOCAL_ONLY``: bound to loopback: only this machine can connect.
    ``IPV6_LOOPBACK_ONLY``: bound to ``::1`` with nothing on IPv4 loopback for that port:
    ``http://127.0.0.1:PORT`` is refused while ``http://[::1]:PORT`` answers (Vite on
    Node 17+). Not down, just not on IPv4.
    """

    EXPOSED = "exposed"
    EXPOSED_UNVERIFIED = "exposed-unverified"
    SHIELDED = "shielded"
    LOCAL_ONLY = "local-only"
    IPV6_LOOPBACK_ONLY = "ipv6-loopback-only"


class Via(str, enum.Enum):
    """Which of this machine's addresses a probe connected to."""

    LOOPBACK = "loopback"
    LAN = "lan"


class Outcome(str, enum.Enum):
    """What a probe found at one address. One documented set, used by the CLI, JSON and TUI.

    ``HTTP``: an HTTP response arrived (status, ``Server``, ``Location``, ``<title>`` kept).
    ``TLS``: the port speaks TLS: plain HTTP failed, HTTPS (verification off) answered.
    ``BANNER``: the server spoke first (SSH, SMTP, FTP, MySQL…); it was sent nothing.
    ``NOT_HTTP``: the connection was accepted and the peer answered something that is not HTTP.
    ``RESET``: accepted, then closed or reset before any answer (a relay with a dead backend).
    ``SILENT``: accepted, then nothing came back before the read timeout.
    ``REFUSED``: nothing accepts connections on that address and port (TCP RST to the SYN).
    ``TIMEOUT``: the connect itself did not complete in time (a full backlog, a filter).
    ``NOT_APPLICABLE``: not probed, the target does not apply (the address is not one of this
    machine's); the reason is in ``detail``.
    ``ERROR``: anything else; the reason is in ``detail``.
    """

    HTTP = "http"
    TLS = "tls"
    BANNER = "banner"
    NOT_HTTP = "not-http"
    RESET = "reset"
    SILENT = "silent"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    NOT_APPLICABLE = "not-applicable"
    ERROR = "error"

    @property
    def accepted(self) -> bool:
        """True when the connection was accepted at that address, whatever followed: proof that
        the listener is reachable there."""
        return self in _ACCEPTED


_ACCEPTED = frozenset(
    {Outcome.HTTP, Outcome.TLS, Outcome.BANNER, Outcome.NOT_HTTP, Outcome.RESET, Outcome.SILENT}
)


@dataclass(frozen=True)
class Interface:
    """One network interface, merged from ``psutil.net_if_addrs()`` and ``net_if_stats()``.

    ``addresses`` holds IPv4 and IPv6 addresses as text, IPv4 first; IPv6 link-local addresses
    carry their zone as psutil reports it (``fe80::1%eth0``).
    """

    name: str
    is_up: bool
    addresses: tuple[str, ...] = ()
    is_loopback: bool = False


@dataclass(frozen=True)
class Project:
    """The git repository a process runs in: ``root`` (the directory holding ``.git``),
    ``name`` (its last component) and ``branch`` (the checked-out branch, a detached commit's
    first 12 hex digits, or ``None`` when unreadable). Read from ``.git`` by
    :mod:`netdash.sources.project`."""

    root: Untrusted
    name: Untrusted
    branch: Untrusted | None = None

    def __post_init__(self) -> None:
        wrap_outside(self, "root", "name", "branch")

    @property
    def label(self) -> str:
        """``netdash@main``; the name alone without a branch (display text)."""
        return f"{self.name}@{self.branch}" if self.branch else str(self.name)


@dataclass(frozen=True)
class Process:
    """The owner of a listening socket, as far as psutil could read it.

    ``pid`` is ``None`` when the kernel did not tell us (another user's socket without root);
    ``name``/``user`` are ``None`` and ``cmdline`` empty when they could not be read
    (``psutil.AccessDenied``) or the process exited while we looked.
    ``create_time`` is seconds since the epoch (``psutil.Process.create_time()``); together with
    ``pid`` it identifies a process even when pids are reused. ``user`` may be known when
    ``pid`` is not: the kernel reports every socket's owning uid (sock_diag).
    ``ppid`` is the parent's pid, used to show pre-fork servers parent first. ``project`` is
    the git repository of its working directory, when one was found.
    """

    pid: int | None
    name: Untrusted | None = None
    user: Untrusted | None = None
    cmdline: tuple[Untrusted, ...] = ()
    create_time: float | None = None
    ppid: int | None = None
    project: Project | None = None

    def __post_init__(self) -> None:
        wrap_outside(self, "name", "user")
        if not all(isinstance(arg, Untrusted) for arg in self.cmdline):
            object.__setattr__(self, "cmdline", tuple(map(as_untrusted, self.cmdline)))

    @property
    def known(self) -> bool:
        """True when at least the process name could be read."""
        return self.name is not None


ListenerKey = tuple[str, str, int]
"""Identity of a listener: ``(protocol, bind address, port)``."""


ListenerIdentity = tuple[str, str, int, int]
"""Identity of one socket: ``(protocol, bind address, port, inode)``; the inode tells apart
several SO_REUSEPORT sockets on one address and port (0 where the inode is unknown)."""


@dataclass(frozen=True)
class Listener:
    """A socket accepting connections: a TCP socket in LISTEN, or a bound, unconnected UDP
    socket (``ss``: UNCONN), which is how UDP servers wait.

    ``address`` is the bind address as text (``0.0.0.0``, ``::``, ``127.0.0.1``,
    ``fe80::1%eth0``); ``family`` is 4 or 6; ``processes`` lists every process holding the
    socket (several for pre-fork servers), parent first, possibly one unknown owner.
    ``inode`` is the kernel's socket inode (0 when unknown), ``uid`` the owning user id.
    ``dual_stack`` is set for ``::`` listeners only: ``True`` when the socket also accepts
    IPv4, ``False`` when it set IPV6_V6ONLY, ``None`` when the kernel did not say (then the
    probe decides). ``bound_device`` names the interface of SO_BINDTODEVICE, if any.
    """

    protocol: str
    address: str
    port: int
    family: int
    processes: tuple[Process, ...] = ()
    inode: int = 0
    uid: int | None = None
    dual_stack: bool | None = None
    bound_device: str | None = None

    @cached_property
    def key(self) -> ListenerKey:
        """The endpoint ``(protocol, address, port)``; shared by SO_REUSEPORT sockets.
        Computed once per listener (read tens of thousands of times per redraw at 20,000
        listeners); a cached value is not a field, so equality and hashing ignore it."""
        return (self.protocol, self.address, self.port)

    @cached_property
    def identity(self) -> ListenerIdentity:
        return (self.protocol, self.address, self.port, self.inode)

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.processes if p.pid is not None)


@dataclass(frozen=True)
class Snapshot:
    """What this machine listens on at one moment.

    ``taken_at`` is seconds since the epoch. ``partial_reasons`` is empty when every owner could
    be read; otherwise each entry says why the view is incomplete.
    ``default_route_interfaces`` names the interfaces holding a default route (IPv4 first),
    read from the kernel's routing table; empty where it cannot be read. ``source`` says where
    the socket table came from: ``"sock_diag"`` (Linux netlink, as ``ss``) or ``"psutil"``.
    ``listeners`` holds TCP and UDP listeners; views filter UDP out unless asked.
    ``firewall`` is what the firewall source read (:class:`netdash.core.reach.FirewallView`),
    ``None`` when it was not asked (``--ignore-firewall``, not Linux).
    """

    hostname: str
    interfaces: tuple[Interface, ...]
    listeners: tuple[Listener, ...]
    taken_at: float
    partial_reasons: tuple[str, ...] = ()
    default_route_interfaces: tuple[str, ...] = ()
    source: str = "psutil"
    firewall: FirewallView | None = None

    @property
    def partial(self) -> bool:
        return bool(self.partial_reasons)


@dataclass(frozen=True)
class RiskFact:
    """What one risk check saw at one target (:mod:`netdash.probe.risks` declares the checks;
    :mod:`netdash.core.risk` says what a fact means).

    ``check`` is the risk's kind (``"jupyter-no-token"``, ``"redis-no-auth"``,
    ``"dns-rebinding"``); ``found`` whether the risky answer came (a token-less
    ``/api/status`` 200, ``+PONG`` without ``AUTH``, a 2xx or 3xx to a foreign ``Host``);
    ``request`` the request sent, in words (``"GET /api/status"``, ``"PING"``, or ``""`` when
    the fact was read from an answer already received); ``answer`` the first line of the
    answer (cleaned, at most 120 characters; ``""`` when none came); ``status`` its HTTP
    status (``None`` for other protocols or no answer).
    """

    check: str
    found: bool
    request: str = ""
    answer: Untrusted = EMPTY
    status: int | None = None

    def __post_init__(self) -> None:
        wrap_outside(self, "answer")


@dataclass(frozen=True)
class ProbeResult:
    """The answer from one listener at one address.

    ``listener`` is the probed listener's key; ``via`` says whether ``target`` is a loopback or
    the LAN address; ``url`` is what was requested (``GET``, redirects not followed);
    ``elapsed_ms`` is wall time in milliseconds from the first connect to the end of the probe;
    ``probed_at`` is when it started, in seconds since the epoch.
    ``status``/``server``/``title``/``location`` come from an HTTP answer (``http`` and
    ``tls``); ``banner`` is the first line a server-first peer sent; ``certificate`` the TLS
    certificate's subject and ``self_signed`` whether its issuer is its subject;
    ``identified`` names the server or framework (``None``: unknown) and ``evidence`` says
    why; ``kind`` is the identification's stable key (``"uvicorn"``, ``"flask"``, ``"ssh"``),
    the program a fix hint is about, where ``identified`` is display text; ``docs`` is a
    documentation path it offers (FastAPI's ``/docs``); ``detail`` is the reason for
    ``not-http``, ``reset``, ``silent``, ``timeout``, ``not-applicable``, ``error``.
    ``risks`` holds what the risk checks saw at this target (:class:`RiskFact`, empty when
    none ran).
    """

    listener: ListenerKey
    via: Via
    target: str
    url: str
    outcome: Outcome
    elapsed_ms: float
    status: int | None = None
    server: Untrusted | None = None
    title: Untrusted | None = None
    detail: str | None = None
    location: Untrusted | None = None
    banner: Untrusted | None = None
    certificate: Untrusted | None = None
    self_signed: bool | None = None
    identified: str | None = None
    evidence: str | None = None
    docs: str | None = None
    probed_at: float = 0.0
    kind: str | None = None
    risks: tuple[RiskFact, ...] = ()

    def __post_init__(self) -> None:
        wrap_outside(self, "server", "title", "location", "banner", "certificate")
