"""Other network namespaces of this host, read from ``/proc`` without entering them (Linux).

* Which namespaces: ``readlink /proc/PID/ns/net`` (``net:[inode]``) of every process, grouped
  by inode, plus the ``ip netns`` bind mounts in ``/run/netns`` (their inode from ``stat``).
  netdash's own namespace (``/proc/self/ns/net``) is left out.
* What listens there: ``/proc/PID/net/tcp``, ``tcp6``, ``udp``, ``udp6`` of one process
  inside show that namespace's socket tables (``proc(5)``): TCP in state ``0A`` (LISTEN), UDP
  in state ``07`` with no remote address (bound, unconnected).
* Its addresses: ``/proc/PID/net/fib_trie`` (IPv4 ``/32 host LOCAL`` entries) and
  ``/proc/PID/net/if_inet6``.
* Who holds each socket: the ``socket:[inode]`` links in ``/proc/PID/fd`` of the processes of
  that namespace only.

Nothing is sent, and no namespace is entered (no ``setns``). Reading other processes' ``/proc``
entries needs root; what cannot be read is skipped (a namespace whose tables cannot be read
keeps the reason in ``unreadable``).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Collection, Iterable

from netdash.core.model import Process
from netdash.core.namespaces import NamespaceListener, NetNamespace
from netdash.core.text import Untrusted
from netdash.sources.processes import ProcessCache

__all__ = ["parse_socket_table", "read_addresses", "read_namespaces"]

_TABLES = (("tcp", 4, "tcp"), ("tcp", 6, "tcp6"), ("udp", 4, "udp"), ("udp", 6, "udp6"))
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


def _ns_inode(link: str) -> int | None:
    """``net:[4026531840]`` → 4026531840."""
    if link.startswith("net:[") and link.endswith("]"):
        try:
            return int(link[5:-1])
        except ValueError:
            return None
    return None


def _hex_address(text: str, family: int) -> str:
    """The kernel's hex address (``0100007F``: each 32-bit word in host byte order, as
    ``/proc/net/tcp`` prints it) as text. Raises ``ValueError`` for malformed input."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if family == 4 and len(words) == 4:
        return socket.inet_ntop(socket.AF_INET, words)
    if family == 6 and len(words) == 16:
        return socket.inet_ntop(socket.AF_INET6, words)
    raise ValueError(f"bad address {text!r}")


def parse_socket_table(text: str, protocol: str, family: int) -> list[NamespaceListener]:
    """The listeners in one ``/proc/PID/net/{tcp,tcp6,udp,udp6}`` table (``proc(5)``): TCP
    sockets in LISTEN, UDP sockets bound and unconnected. Lines that do not parse are skipped."""
    found: list[NamespaceListener] = []
    wanted = _TCP_LISTEN if protocol == "tcp" else _UDP_UNCONNECTED
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != wanted:
            continue
        try:
            local, port_hex = fields[1].split(":")
            remote, remote_port = fields[2].split(":")
            if protocol == "udp" and (int(remote, 16) or int(remote_port, 16)):
                continue  # connected UDP: not a listener
            found.append(
                NamespaceListener(
                    protocol=protocol,
                    family=family,
                    address=_hex_address(local, family),
                    port=int(port_hex, 16),
                    inode=int(fields[9]),
                )
            )
        except ValueError:
            continue
    return found


def read_addresses(pid: int, proc: str = "/proc") -> tuple[str, ...]:
    """The non-loopback addresses of ``pid``'s network namespace: IPv4 from ``fib_trie``'s
    ``/32 host LOCAL`` entries of the local table, IPv6 from ``if_inet6`` (interface ``lo``
    left out). Empty when unreadable."""
    v4: list[str] = []
    try:
        with open(f"{proc}/{pid}/net/fib_trie") as f:
            last = ""
            for line in f:
                stripped = line.strip()
                if stripped.startswith(("|--", "+--")):
                    last = stripped[3:].strip().split()[0]
                elif stripped == "/32 host LOCAL" and last and not last.startswith("127."):
                    v4.append(last)
    except OSError:
        pass
    v6: list[str] = []
    try:
        with open(f"{proc}/{pid}/net/if_inet6") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and fields[5] != "lo":
                    text = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(fields[0]))
                    if text not in v6:
                        v6.append(text)
    except (OSError, ValueError):
        pass
    return (*dict.fromkeys(v4), *v6)


def _namespaces_by_pid(proc: str) -> dict[int, list[int]]:
    """``{namespace inode: [pid, ...]}`` for every process whose ``ns/net`` can be read."""
    groups: dict[int, list[int]] = {}
    try:
        names = os.listdir(proc)
    except OSError:
        return groups
    for name in names:
        if not name.isdigit():
            continue
        try:
            inode = _ns_inode(os.readlink(f"{proc}/{name}/ns/net"))
        except OSError:
            continue  # exited, a kernel thread's, or another user's without root
        if inode is not None:
            groups.setdefault(inode, []).append(int(name))
    return groups


def _named(run_netns: str) -> dict[int, list[str]]:
    """``{namespace inode: [ip netns name, ...]}`` from the bind mounts in ``/run/netns``."""
    names: dict[int, list[str]] = {}
    try:
        entries = sorted(os.listdir(run_netns))
    except OSError:
        return names
    for entry in entries:
        try:
            inode = os.stat(os.path.join(run_netns, entry)).st_ino
        except OSError:
            continue
        names.setdefault(inode, []).append(entry)
    return names


def _holders(inodes: Iterable[int], pids: Iterable[int], proc: str) -> dict[int, list[int]]:
    """``{socket inode: [pid, ...]}`` among ``pids`` only (the processes of one namespace)."""
    targets = {f"socket:[{inode}]": inode for inode in inodes}
    held: dict[int, list[int]] = {}
    if not targets:
        return held
    for pid in pids:
        try:
            fds = os.listdir(f"{proc}/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                inode = targets.get(os.readlink(f"{proc}/{pid}/fd/{fd}"))
            except OSError:
                continue
            if inode is not None and pid not in held.setdefault(inode, []):
                held[inode].append(pid)
    return held


def own_namespace(proc: str = "/proc") -> int | None:
    """This process's network namespace inode (``/proc/self/ns/net``), ``None`` if unreadable."""
    try:
        return _ns_inode(os.readlink(f"{proc}/self/ns/net"))
    except OSError:
        return None


def host_namespace(proc: str = "/proc", own: int | None = None) -> int | None:
    """The host's own network namespace, when netdash runs in another: pid 1's, or, where
    pid 1 cannot be read (a sandbox), the namespace of the nearest ancestor outside netdash's
    own (``ip netns exec``, ``unshare -n``: started from the host's). ``None`` when neither
    is known or both are netdash's own (a container's init shares its namespace). ``own``:
    netdash's namespace inode (default: read from ``/proc/self/ns/net``)."""
    if own is None:
        own = own_namespace(proc)
    try:
        init = _ns_inode(os.readlink(f"{proc}/1/ns/net"))
    except OSError:
        init = None
    if init is not None:
        return init if init != own else None
    pid = os.getpid() if proc == "/proc" else None
    for _ in range(64):  # bounded: a parent chain is short
        if pid is None or pid <= 1:
            return None
        try:
            with open(f"{proc}/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])  # its parent
        except (OSError, ValueError, IndexError):
            return None
        try:
            inode = _ns_inode(os.readlink(f"{proc}/{pid}/ns/net"))
        except OSError:
            continue  # not ours to read: its parent may be
        if inode is not None and inode != own:
            return inode
    return None


def read_namespaces(
    proc: str = "/proc",
    run_netns: str = "/run/netns",
    cache: ProcessCache | None = None,
    holding: Collection[str] | None = None,
) -> tuple[NetNamespace, ...]:
    """Every network namespace of this host except the caller's, with its addresses and
    listeners, sorted by inode. Never raises for what it cannot read: a namespace whose tables
    cannot be read is listed with ``unreadable`` set; processes that exit mid-read are
    skipped. ``cache`` keeps process metadata between calls.

    ``holding``: read the socket tables only of namespaces holding one of these addresses
    (the targets of published ports); the others are listed with their addresses only.

    Cost: one ``readlink`` per process, then per namespace its addresses (``fib_trie``,
    ``if_inet6``: tens of microseconds) and, where its tables are read, four socket tables
    and one ``/proc/PID/fd`` scan of its processes. The kernel prints ``tcp`` and ``tcp6`` by
    walking the whole established hash table whatever the namespace: several milliseconds
    each on a large machine, the dominant cost (bench/RESULTS.md).
    """
    cache = cache if cache is not None else ProcessCache()
    try:
        own = _ns_inode(os.readlink(f"{proc}/self/ns/net"))
    except OSError:
        own = None
    init = host_namespace(proc, own)
    groups = _namespaces_by_pid(proc)
    names = _named(run_netns)
    result: list[NetNamespace] = []
    for inode in sorted(set(groups) | set(names)):
        if inode == own:
            continue
        pids = tuple(sorted(groups.get(inode, ())))
        ns_names = tuple(map(Untrusted, names.get(inode, ())))
        if not pids:
            result.append(
                NetNamespace(
                    inode=inode,
                    names=ns_names,
                    unreadable="no process inside: its sockets are not read without entering it",
                )
            )
            continue
        result.append(_read_one(inode, ns_names, pids, proc, cache, holding))
    if init is not None:  # netdash runs in another namespace: name the host's
        result = [dataclasses.replace(n, host=True) if n.inode == init else n for n in result]
    return tuple(result)


def _read_one(
    inode: int,
    names: tuple[Untrusted, ...],
    pids: tuple[int, ...],
    proc: str,
    cache: ProcessCache,
    holding: Collection[str] | None,
) -> NetNamespace:
    if holding is not None:
        for pid in pids:
            addresses = read_addresses(pid, proc)
            if addresses:
                break
        else:
            addresses = ()
        if not any(a in holding for a in addresses):
            return NetNamespace(inode=inode, names=names, pids=pids, addresses=addresses)
    listeners: list[NamespaceListener] = []
    reader: int | None = None
    for pid in pids:  # the first process whose tables can be read
        tables: list[tuple[str, str, int]] = []
        for protocol, family, table in _TABLES:
            try:
                with open(f"{proc}/{pid}/net/{table}") as f:
                    tables.append((f.read(), protocol, family))
            except OSError:
                continue  # exited, or no IPv6 in that namespace
        if tables:
            reader = pid
            for text, protocol, family in tables:
                listeners += parse_socket_table(text, protocol, family)
            break
    if reader is None:
        return NetNamespace(
            inode=inode, names=names, pids=pids, unreadable="its socket tables cannot be read"
        )
    holders = _holders((li.inode for li in listeners), pids, proc)
    named: dict[int, Process] = {}
    owned: list[NamespaceListener] = []
    for listener in sorted(listeners, key=lambda li: (li.protocol, li.port, li.family, li.address)):
        processes = []
        for pid in sorted(holders.get(listener.inode, ())):
            if pid not in named:
                process, _ = cache.get(pid)
                if process is None:
                    continue
                # Its working directory is another mount namespace's path: no project.
                named[pid] = dataclasses.replace(process, project=None)
            processes.append(named[pid])
        owned.append(dataclasses.replace(listener, processes=tuple(processes)))
    return NetNamespace(
        inode=inode,
        names=names,
        pids=pids,
        addresses=read_addresses(reader, proc),
        listeners=tuple(owned),
    )
