"""Other network namespaces of this host and what listens inside them (containers, ``ip netns``).

A listener in another network namespace is not reachable from this host's networks by its bind
address: a ``0.0.0.0`` socket inside a container answers on the container's own interfaces
only. It is ``container-internal`` unless a published port (a DNAT, :mod:`netdash.core.
published`) leads to it. The records are filled by :mod:`netdash.sources.namespaces` from
``/proc`` (never by entering the namespace) and, for names, by :mod:`netdash.sources.docker`.
"""

from __future__ import annotations

from dataclasses import dataclass

from netdash.core.model import Process
from netdash.core.text import Untrusted, as_untrusted, wrap_outside

__all__ = [
    "CONTAINER_INTERNAL",
    "HOST",
    "PUBLISHED",
    "Container",
    "ContainerPort",
    "NamespaceListener",
    "NetNamespace",
]

CONTAINER_INTERNAL = "container-internal"
"""Exposure of a listener in another namespace that no published port leads to."""
PUBLISHED = "published"
"""Exposure of a listener in another namespace that a published port (DNAT) leads to."""
HOST = "host"
"""Exposure of a listener in the host's own network namespace (pid 1's), seen from inside
another one (netdash run in a container or an ``ip netns``): it is the machine's, judged by
the netdash that runs there, not a container's."""


@dataclass(frozen=True)
class NamespaceListener:
    """A listening socket in another network namespace, from ``/proc/PID/net/tcp{,6}`` or
    ``udp{,6}`` of a process inside it.

    ``protocol`` ``"tcp"``/``"udp"``, ``family`` 4 or 6, ``address`` the bind address as text
    (IPv4-mapped IPv6 as ``::ffff:a.b.c.d``), ``port`` the local port, ``inode`` the socket
    inode; ``processes`` the processes of that namespace holding it (``/proc/PID/fd``), empty
    when none could be read.
    """

    protocol: str
    family: int
    address: str
    port: int
    inode: int = 0
    processes: tuple[Process, ...] = ()

    @property
    def endpoint(self) -> str:
        """``0.0.0.0:80``, ``[::]:80``."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class NetNamespace:
    """A network namespace of this host other than netdash's own.

    ``inode`` is the namespace's inode (``readlink /proc/PID/ns/net`` says ``net:[inode]``);
    ``names`` its ``ip netns`` names (bind mounts in ``/run/netns``); ``pids`` the processes
    inside (sorted; empty for an ``ip netns`` namespace that no process has entered: its
    sockets cannot be read without entering it, which netdash never does); ``addresses`` its
    interfaces' addresses other than loopback (``/proc/PID/net/fib_trie`` local entries and
    ``if_inet6``); ``listeners`` what listens inside; ``container`` and ``image`` the Docker
    container that owns it, when the Docker Engine API said so; ``unreadable`` the reason its
    tables could not be read, or ``None``.
    """

    inode: int
    names: tuple[Untrusted, ...] = ()
    pids: tuple[int, ...] = ()
    addresses: tuple[str, ...] = ()
    listeners: tuple[NamespaceListener, ...] = ()
    container: Untrusted | None = None
    image: Untrusted | None = None
    unreadable: str | None = None
    host: bool = False
    """True for the host's own network namespace when netdash runs in another: pid 1's, or
    the one netdash was started from (``sources.namespaces``)."""

    def __post_init__(self) -> None:
        wrap_outside(self, "container", "image")
        if not all(isinstance(name, Untrusted) for name in self.names):
            object.__setattr__(self, "names", tuple(map(as_untrusted, self.names)))

    @property
    def label(self) -> str:
        """How to name it to a person: the container, the ``ip netns`` name, else the first
        process's name and pid, else its inode (``net:[4026532381]``): display text, outside
        names in their escaped form."""
        if self.host:
            return "the host's own network (netdash runs in another namespace)"
        if self.container:
            return f"container {self.container}"
        if self.names:
            return f"netns {self.names[0]}"
        for listener in self.listeners:
            for process in listener.processes:
                if process.name:
                    return f"{process.name} (pid {process.pid})"
        return f"net:[{self.inode}]"

    def holds(self, address: str) -> bool:
        """True when ``address`` (text, as a DNAT target) is one of this namespace's own."""
        return address in self.addresses

    def listening(self, protocol: str, address: str, port: int) -> NamespaceListener | None:
        """The listener that a connection to ``address:port`` over ``protocol`` meets here: bound
        to that address, or to the wildcard of its family (``::`` also takes IPv4 here: the
        kernel's default for a dual-stack socket, which is what busybox and most servers open;
        an IPV6_V6ONLY socket cannot be told apart from ``/proc``). ``None``: nothing listens,
        the connection is refused."""
        v6 = ":" in address
        exact = wildcard = None
        for listener in self.listeners:
            if listener.protocol != protocol or listener.port != port:
                continue
            if listener.address in (address, f"::ffff:{address}"):
                exact = listener
            elif (listener.address == "0.0.0.0" and not v6) or listener.address == "::":
                wildcard = wildcard or listener
        return exact or wildcard


@dataclass(frozen=True)
class ContainerPort:
    """One port a container publishes, as the Docker Engine API lists it: ``host_ip``
    (``0.0.0.0``, ``::``, or ``""`` when not published), ``host_port`` (0 when not
    published), ``container_port`` and ``protocol`` (``tcp``/``udp``/``sctp``)."""

    container_port: int
    protocol: str
    host_ip: str = ""
    host_port: int = 0


@dataclass(frozen=True)
class Container:
    """A running container from the Docker Engine API (``GET /containers/json``).

    ``name`` without Docker's leading ``/``; ``image`` as the API gives it; ``addresses`` its
    IP addresses on every network (IPv4, then global IPv6); ``ports`` its ports. Names and
    images are outside text (:class:`~netdash.core.text.Untrusted`).
    """

    id: str
    name: Untrusted
    image: Untrusted
    addresses: tuple[str, ...] = ()
    ports: tuple[ContainerPort, ...] = ()

    def __post_init__(self) -> None:
        wrap_outside(self, "name", "image")
