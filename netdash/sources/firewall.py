"""The firewall source (Linux): read the ruleset the kernel enforces, re-read only when it
changed.

What is read, with the tools named explicitly (on Debian ``iptables-save`` is a link to the
nft variant):

* ``nft -j list ruleset``: every nftables table (:mod:`netdash.sources.nft_json`);
* ``iptables-nft-save`` / ``ip6tables-nft-save``: the tables iptables-nft wrote (ufw, Docker),
  whose matches ``nft -j`` shows as ``xt`` expressions without arguments; they replace the
  ``nft -j`` copy of the same table (:mod:`netdash.sources.iptables_save`);
* ``iptables-legacy-save`` / ``ip6tables-legacy-save``: only when
  ``/proc/net/ip_tables_names`` (or ``ip6_tables_names``) is non-empty, since running the
  legacy tools can load kernel modules. Both backends are enforced when both are present.

The cheap change check is the nftables generation id, asked over netlink (``NFT_MSG_GETGEN`` on
a ``NETLINK_NETFILTER`` socket: one round trip, no process). Legacy x_tables have no such
counter: when their tables are loaded, each poll asks ``IPT_SO_GET_INFO`` (entries and size of
each table, one ``getsockopt`` per table) and re-reads when that changed, and at least every
:data:`LEGACY_EVERY` seconds (an edit that keeps both the same). :meth:`FirewallReader.poll`
reads at most once per call. Reading needs CAP_NET_ADMIN (root); without it the state says
:data:`NOT_READ` and verdicts stay bind-based.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netdash.core.reach import FirewallView, NetInterface
from netdash.core.ruleset import Ruleset, RulesetError, Table
from netdash.core.text import interface_name
from netdash.sources.iptables_save import parse_iptables_save
from netdash.sources.nft_json import parse_nft_json

__all__ = [
    "LEGACY_EVERY",
    "NOT_READ",
    "FirewallReader",
    "FirewallState",
    "net_interfaces",
    "nft_generation",
    "read_ruleset",
]

NOT_READ = "firewall not read: run with sudo to see what reaches each port"
LEGACY_EVERY = 60.0
"""Seconds between two reads of iptables-legacy's tables (they have no generation id)."""

NFT = ("nft", "-j", "list", "ruleset")
IPT_NFT = (("iptables-nft-save", 4), ("ip6tables-nft-save", 6))
IPT_LEGACY = (
    ("iptables-legacy-save", 4, "ip_tables_names"),
    ("ip6tables-legacy-save", 6, "ip6_tables_names"),
)
TIMEOUT = 10.0

Runner = Callable[[Sequence[str]], str]


@dataclass(frozen=True)
class FirewallState:
    """What the firewall source knows.

    ``read``: whether a ruleset was read; ``reason``: why not (one line, for the header and
    ``check``); ``ruleset``; ``generation``: nftables' generation id at the read;
    ``legacy``: whether iptables-legacy tables were read (the commands that ran are
    ``ruleset.sources``)."""

    read: bool
    reason: str | None = None
    ruleset: Ruleset | None = None
    generation: int | None = None
    legacy: bool = False


def _run(argv: Sequence[str]) -> str:
    """Run a tool and return its standard output; ``OSError`` when it fails."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise OSError(f"{argv[0]} did not answer in {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        msg = done.stderr.strip().splitlines()
        raise OSError(f"{argv[0]} failed: {msg[-1] if msg else f'exit {done.returncode}'}")
    return done.stdout


Started = list["subprocess.Popen[str]"]


def _start_all(argvs: Sequence[Sequence[str]]) -> Started:
    """Start the tools at once (their dumps overlap: the read costs the slowest, not the
    sum); ``OSError`` when one cannot start (those started are stopped)."""
    procs: Started = []
    try:
        for argv in argvs:
            procs.append(
                subprocess.Popen(
                    list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            )
    except BaseException:
        _stop(procs)
        raise
    return procs


def _stop(procs: Started) -> None:
    """Kill and reap the tools whose output was not collected (a no-op for the others)."""
    for proc in procs:
        if proc.returncode is None:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()  # reaped, pipes closed


def _collect_all(argvs: Sequence[Sequence[str]], procs: Started) -> list[str]:
    """The outputs of the tools :func:`_start_all` started, in order; ``OSError`` when one
    fails (the others are stopped)."""
    try:
        outputs = []
        for argv, proc in zip(argvs, procs, strict=True):
            try:
                out, err = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                raise OSError(f"{argv[0]} did not answer in {TIMEOUT:.0f} s") from None
            if proc.returncode != 0:
                msg = err.strip().splitlines()
                raise OSError(f"{argv[0]} failed: {msg[-1] if msg else f'exit {proc.returncode}'}")
            outputs.append(out)
        return outputs
    finally:
        _stop(procs)


def _run_all(argvs: Sequence[Sequence[str]]) -> list[str]:
    """Run the tools at once and return their outputs in order; ``OSError`` when one fails."""
    return _collect_all(argvs, _start_all(argvs))


def legacy_active(proc: Path = Path("/proc/net")) -> dict[int, bool]:
    """Whether iptables-legacy has tables loaded, per IP version (reading
    ``/proc/net/ip_tables_names`` / ``ip6_tables_names``: empty or absent means none)."""
    out = {}
    for _, version, name in IPT_LEGACY:
        try:
            out[version] = bool((proc / name).read_text().strip())
        except OSError:
            out[version] = False
    return out


def _jobs(run: Runner, active: dict[int, bool]) -> list[tuple[tuple[str, ...], int, str]]:
    """``(argv, IP version, backend)`` of each tool a read runs (``nft -j`` first)."""
    jobs: list[tuple[tuple[str, ...], int, str]] = [(NFT, 0, "")]
    for tool, version in IPT_NFT:
        if run is not _run or shutil.which(tool) is not None:
            jobs.append(((tool,), version, "nft"))
    for tool, version, _ in IPT_LEGACY:
        if active.get(version):
            jobs.append(((tool,), version, "legacy"))
    return jobs


def read_ruleset(
    run: Runner = _run,
    *,
    legacy: dict[int, bool] | None = None,
    started: tuple[list[tuple[str, ...]], Started] | None = None,
) -> Ruleset:
    """Read and merge everything the kernel enforces (see the module's docstring).

    Raises ``OSError`` when ``nft`` cannot run or fails (no privilege: "Operation not
    permitted"), :class:`~netdash.core.ruleset.RulesetError` when a tool printed something
    unreadable. A missing ``iptables-*-save`` is not an error (its tables are then taken from
    ``nft -j``, as ``unknown`` where they hold ``xt`` matches)."""
    now = time.time()
    active = legacy_active() if legacy is None else legacy
    jobs = _jobs(run, active)
    argvs = [argv for argv, _, _ in jobs]
    if started is not None and (run is not _run or started[0] != argvs):
        _stop(started[1])  # not these tools: start them afresh
        started = None
    if started is not None:
        outputs = _collect_all(argvs, started[1])
    elif run is _run:
        outputs = _run_all(argvs)
    else:
        outputs = [run(argv) for argv, _, _ in jobs]
    base = parse_nft_json(outputs[0], read_at=now)
    replaced: list[Table] = []
    legacy_tables: list[Table] = []
    for (_, version, backend), text in zip(jobs[1:], outputs[1:], strict=True):
        parsed = parse_iptables_save(text, version=version, backend=backend)
        (replaced if backend == "nft" else legacy_tables).extend(parsed)
    tables = _merge_iptables_nft(list(base.tables), replaced) + legacy_tables
    sources = tuple(" ".join(argv) for argv, _, _ in jobs)
    return Ruleset(tuple(tables), now, sources, forwarding())


def _merge_iptables_nft(nft: list[Table], saved: list[Table]) -> list[Table]:
    """``nft -j``'s tables with iptables-nft's view put in where it knows better.

    ``iptables-nft-save`` prints a table for any nftables table named like an iptables one
    (``ip nat``, ``ip filter``), including a native one written with ``nft -f``, and then
    shows only the standard chains (``PREROUTING``, ...) it makes up, empty. So it is taken
    chain by chain: a chain both show (what iptables-nft wrote, whose ``xt`` matches only
    ``iptables-nft-save`` spells out) comes from it; a chain only ``nft -j`` shows (a native
    ``prerouting`` in ``table ip nat``) stays as ``nft -j`` read it; a chain only
    ``iptables-nft-save`` shows does not exist in the kernel and is left out. A table only it
    shows is kept whole (no ``nft`` view to check against)."""
    views = {(t.family, t.name): t for t in saved}
    out: list[Table] = []
    for table in nft:
        view = views.pop((table.family, table.name), None)
        if view is None:
            out.append(table)
            continue
        chains = {name: view.chains.get(name, chain) for name, chain in table.chains.items()}
        out.append(Table(table.family, table.name, chains, table.backend))
    return out + list(views.values())


def forwarding(proc: Path = Path("/proc/sys/net")) -> tuple[tuple[int, bool], ...]:
    """The IP versions this network namespace forwards: ``net.ipv4.ip_forward`` and
    ``net.ipv6.conf.all.forwarding`` (a version left out when its file cannot be read)."""
    out = []
    for version, path in ((4, "ipv4/ip_forward"), (6, "ipv6/conf/all/forwarding")):
        try:
            out.append((version, (proc / path).read_text().strip() not in ("", "0")))
        except OSError:
            continue
    return tuple(out)


# -- iptables-legacy's cheap check -------------------------------------------------------------

IPT_SO_GET_INFO = 64  # linux/netfilter_ipv4/ip_tables.h (IP6T_SO_GET_INFO has the same value)
_GETINFO = struct.Struct("=32sI5I5III")  # struct ipt_getinfo: name, hooks, entries, size


@functools.cache
def _libc() -> Any:
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _getsockopt_in(fd: int, level: int, name: bytes) -> bytes:
    """``getsockopt(IPT_SO_GET_INFO)`` with the table's name in the buffer it fills (Python's
    ``socket.getsockopt`` cannot pass one in); ``OSError`` from the kernel."""
    import ctypes

    libc = _libc()
    buf = ctypes.create_string_buffer(_GETINFO.pack(name, *([0] * 13)), _GETINFO.size)
    size = ctypes.c_uint32(_GETINFO.size)
    if libc.getsockopt(fd, level, IPT_SO_GET_INFO, buf, ctypes.byref(size)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return buf.raw[: _GETINFO.size]


def legacy_signature(proc: Path = Path("/proc/net")) -> tuple[object, ...]:
    """What ``IPT_SO_GET_INFO`` says of each iptables-legacy table (valid hooks, hook
    offsets, number of entries, size in bytes), IPv4 then IPv6: it changes with almost every
    edit, at the cost of one ``getsockopt`` per table. ``()`` when no table is loaded; raises
    ``OSError`` without CAP_NET_RAW."""
    out: list[object] = []
    for _, version, names_file in IPT_LEGACY:
        try:
            names = (proc / names_file).read_text().split()
        except OSError:
            continue
        if not names:
            continue
        family, level = (
            (socket.AF_INET, socket.IPPROTO_IP)
            if version == 4
            else (socket.AF_INET6, socket.IPPROTO_IPV6)
        )
        with socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
            for name in sorted(names):
                reply = _getsockopt_in(s.fileno(), level, name.encode()[:31])
                out.append((version, name, _GETINFO.unpack(reply)[1:]))
    return tuple(out)


# -- the generation id over netlink ---------------------------------------------------------

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETGEN = 16
NFTA_GEN_ID = 1
NLMSG_ERROR = 2
NLM_F_REQUEST = 1


def nft_generation() -> int:
    """nftables' ruleset generation id (bumped by every committed change), asked over
    netlink: ``NFT_MSG_GETGEN`` on a ``NETLINK_NETFILTER`` socket (linux/netfilter/nf_tables.h).

    Raises ``OSError`` (``EPERM`` without CAP_NET_ADMIN; ``EPROTONOSUPPORT`` without
    nf_tables)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as s:
        s.settimeout(2.0)
        s.bind((0, 0))
        msg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN
        payload = struct.pack("=BBH", socket.AF_UNSPEC, 0, 0)
        header = struct.pack("=IHHII", 16 + len(payload), msg_type, NLM_F_REQUEST, 1, 0)
        s.send(header + payload)
        data = s.recv(65536)
    return parse_generation_reply(data)


def parse_generation_reply(data: bytes) -> int:
    """The generation id in a ``NFT_MSG_NEWGEN`` reply (netlink header, ``nfgenmsg``, then
    attributes); raises ``OSError`` for a netlink error reply or a reply without it."""
    if len(data) < 16:
        raise OSError("netlink: short reply to NFT_MSG_GETGEN")
    length, msg_type, _, _, _ = struct.unpack_from("=IHHII", data)
    if msg_type == NLMSG_ERROR:
        (err,) = struct.unpack_from("=i", data, 16) if len(data) >= 20 else (0,)
        raise OSError(-err, os.strerror(-err) if err else "netlink error")
    offset = 16 + 4
    end = min(length, len(data))
    while offset + 4 <= end:
        nla_len, nla_type = struct.unpack_from("=HH", data, offset)
        if nla_len < 4:
            break
        if (nla_type & 0x3FFF) == NFTA_GEN_ID and nla_len >= 8:
            return int(struct.unpack_from(">I", data, offset + 4)[0])
        offset += (nla_len + 3) & ~3
    raise OSError("netlink: NFT_MSG_NEWGEN without a generation id")


# -- the reader with its change check -------------------------------------------------------


@dataclass
class FirewallReader:
    """Keeps the last ruleset; :meth:`poll` re-reads only when the generation id changed, or
    iptables-legacy is active and :data:`LEGACY_EVERY` seconds passed. Not thread-safe: one
    poll thread owns it."""

    run: Runner = _run
    generation: Callable[[], int] = nft_generation
    clock: Callable[[], float] = time.monotonic
    legacy: Callable[[], dict[int, bool]] = legacy_active
    signature: Callable[[], tuple[object, ...]] = legacy_signature
    state: FirewallState = field(default_factory=lambda: FirewallState(False, "not read yet"))
    _legacy_at: float = 0.0
    _legacy_signature: tuple[object, ...] = ()
    _view: FirewallView | None = None
    _polled: bool = False
    _started: tuple[int, dict[int, bool], list[tuple[str, ...]], Started] | None = None

    def prestart(self) -> None:
        """Before the first :meth:`poll`: start the tools it will run (generation and
        legacy tables checked as it will), so they dump the ruleset while the caller reads
        the sockets; :meth:`poll` takes their output when the generation is still the same,
        else stops them and reads afresh. Later polls read only after a change and are not
        started early."""
        if self._polled or self._started is not None or self.run is not _run:
            return
        if shutil.which("nft") is None:
            return
        try:
            gen = self.generation()
        except OSError:
            return
        active = self.legacy()
        argvs = [argv for argv, _, _ in _jobs(self.run, active)]
        try:
            procs = _start_all(argvs)
        except OSError:
            return
        self._started = (gen, active, argvs, procs)

    def view(self, interfaces: tuple[NetInterface, ...] | None = None) -> FirewallView:
        """:meth:`poll`, as the :class:`~netdash.core.reach.FirewallView` a snapshot carries:
        the same view object while neither the ruleset nor the interfaces changed, so its
        evaluations are kept. ``interfaces`` default to :func:`net_interfaces`."""
        state = self.poll()
        ifaces = net_interfaces() if interfaces is None else interfaces
        view = self._view
        if (
            view is None
            or view.ruleset is not state.ruleset
            or view.reason != state.reason
            or view.interfaces != ifaces
        ):
            view = FirewallView(state.read, state.reason, state.ruleset, ifaces)
            self._view = view
        return view

    def poll(self) -> FirewallState:
        """The current state: one generation check, and a read only if something changed."""
        self._polled = True
        started, self._started = self._started, None
        try:
            return self._poll(started)
        finally:
            if started is not None:
                _stop(started[3])  # not taken (the poll did not read); else a no-op

    def _poll(
        self, started: tuple[int, dict[int, bool], list[tuple[str, ...]], Started] | None
    ) -> FirewallState:
        if shutil.which("nft") is None and self.run is _run:
            self.state = FirewallState(False, "firewall not read: the nft command is missing")
            return self.state
        try:
            gen = self.generation()
        except OSError:
            self.state = FirewallState(False, NOT_READ)
            return self.state
        active = self.legacy()
        legacy_due = False
        signature: tuple[object, ...] = ()
        if any(active.values()):
            try:
                signature = self.signature()
            except OSError:
                signature = ()
            legacy_due = (
                self.clock() - self._legacy_at >= LEGACY_EVERY
                or signature != self._legacy_signature
            )
        same = self.state.read and self.state.generation == gen
        if same and not legacy_due and any(active.values()) == self.state.legacy:
            return self.state
        early = None
        if started is not None and started[0] == gen and started[1] == active:
            early = (started[2], started[3])  # same generation: the same ruleset
        try:
            ruleset = read_ruleset(self.run, legacy=active, started=early)
        except PermissionError:
            self.state = FirewallState(False, NOT_READ)
            return self.state
        except (OSError, RulesetError) as exc:
            self.state = FirewallState(False, f"firewall not read: {exc}")
            return self.state
        self._legacy_at = self.clock()
        self._legacy_signature = signature
        self.state = FirewallState(True, None, ruleset, gen, any(active.values()))
        return self.state


def net_interfaces() -> tuple[NetInterface, ...]:
    """Up interfaces with their addresses and prefix lengths (``psutil.net_if_addrs()``'s
    netmask; IPv6 zones dropped), for :func:`netdash.core.reach.reach`."""
    import psutil

    stats = psutil.net_if_stats()
    out = []
    for raw_name, entries in psutil.net_if_addrs().items():
        st = stats.get(raw_name)
        name = interface_name(raw_name)
        carrier = st is None or st.isup
        if not carrier and not _admin_up(raw_name):
            continue
        addrs: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = []
        loopback = False
        for e in entries:
            if e.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            addr = e.address.split("%", 1)[0]
            mask = e.netmask or ("255.255.255.255" if e.family == socket.AF_INET else "128")
            if e.family == socket.AF_INET6 and ":" in mask:
                mask = str(bin(int(ipaddress.IPv6Address(mask))).count("1"))
            try:
                iface = ipaddress.ip_interface(f"{addr}/{mask}")
            except ValueError:
                continue
            loopback = loopback or iface.ip.is_loopback
            addrs.append(iface)
        out.append(NetInterface(name, tuple(addrs), loopback, carrier))
    return tuple(out)


def _admin_up(name: str) -> bool:
    """IFF_UP of the interface in this network namespace (``SIOCGIFFLAGS``; psutil's
    ``isup`` also wants a carrier): an interface set up with no link still holds its
    addresses for the kernel."""
    import fcntl

    siocgifflags = 0x8913  # linux/sockios.h
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            request = struct.pack("16sH", name.encode()[:15], 0)
            flags = struct.unpack("16sH", fcntl.ioctl(s.fileno(), siocgifflags, request)[:18])[1]
    except (OSError, ValueError, struct.error):
        return False
    return bool(flags & 0x1)
