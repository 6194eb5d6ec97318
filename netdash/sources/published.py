"""Gather what lies beyond netdash's own network namespace for one snapshot: the published
ports (DNAT paths from the firewall evaluation), the other network namespaces
(:mod:`netdash.sources.namespaces`) and the Docker API's containers
(:mod:`netdash.sources.docker`), joined by :func:`netdash.core.published.publish`.

Namespaces are read whenever there are published ports to resolve (their targets' listeners)
or when asked; the Docker API is read once per call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from netdash.core.model import ListenerIdentity, Snapshot
from netdash.core.namespaces import Container, NetNamespace
from netdash.core.published import Forwarding, NamespaceView, publish
from netdash.sources.docker import proxy_target, read_containers
from netdash.sources.namespaces import read_namespaces
from netdash.sources.processes import ProcessCache

__all__ = ["collect_view", "proxied_containers", "read_forwardings"]


def proxied_containers(
    snapshot: Snapshot, containers: Sequence[Container]
) -> dict[ListenerIdentity, Container]:
    """The container behind each ``docker-proxy`` listener of ``snapshot``: the one whose
    address and port its command line names (``-container-ip``/``-container-port``, read as
    untrusted text by :func:`~netdash.sources.docker.proxy_target`)."""
    by_address = {a: c for c in containers for a in c.addresses}
    found: dict[ListenerIdentity, Container] = {}
    for listener in snapshot.listeners:
        for process in listener.processes:
            if process.name != "docker-proxy":
                continue
            target = proxy_target(process.cmdline)
            if target is not None and target[1] in by_address:
                found[listener.identity] = by_address[target[1]]
                break
    return found


def read_forwardings(snapshot: Snapshot) -> tuple[Forwarding, ...]:
    """The DNAT paths of the ruleset the kernel enforces, each evaluated through the FORWARD
    path; empty while the firewall cannot be read."""
    del snapshot
    return ()


def collect_view(
    snapshot: Snapshot,
    forwardings: Sequence[Forwarding] | None = None,
    namespaces: bool = False,
    cache: ProcessCache | None = None,
) -> NamespaceView:
    """The :class:`~netdash.core.published.NamespaceView` of ``snapshot``: ``forwardings``
    (the DNAT paths of the firewall evaluation; ``None``: read them now with
    :func:`read_forwardings`) joined with the namespaces and containers behind them;
    ``namespaces`` also keeps every other namespace's listeners in the view. Never raises
    for what it cannot read."""
    if forwardings is None:
        forwardings = read_forwardings(snapshot)
    containers = read_containers()
    if namespaces:
        others = read_namespaces(cache=cache)
    elif forwardings:  # only the namespaces behind a published port
        targets = {f.target_address for f in forwardings}
        others = read_namespaces(cache=cache, holding=targets)
    else:
        others = ()
    if containers:
        others = tuple(_name(ns, containers) for ns in others)
    published = publish(forwardings, others, containers or (), snapshot.listeners)
    return NamespaceView(
        published=published,
        namespaces=others if namespaces else (),
        containers=containers,
        proxied=proxied_containers(snapshot, containers or ()),
    )


def _name(namespace: NetNamespace, containers: Sequence[Container]) -> NetNamespace:
    """``namespace`` with the name and image of the container holding one of its addresses."""
    for container in containers:
        if any(namespace.holds(a) for a in container.addresses):
            return dataclasses.replace(namespace, container=container.name, image=container.image)
    return namespace
