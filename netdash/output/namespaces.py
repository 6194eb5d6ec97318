"""The published ports and other network namespaces in the CLI's formats: JSON entries
(``published``, ``namespaces``, a listener's ``container``; schema/netdash-list.schema.json)
and text lines (``netdash list``, ``netdash check``). Untrusted text (container names,
images, process names) goes through :func:`~netdash.core.text.clean` in text."""

from __future__ import annotations

from typing import Any

from netdash.core.model import Process
from netdash.core.namespaces import Container, NamespaceListener
from netdash.core.published import NamespaceView, PublishedPort
from netdash.core.text import clean

__all__ = [
    "add_containers",
    "container_json",
    "containers_json",
    "namespace_lines",
    "namespaces_json",
    "published_json",
    "published_lines",
]


def container_json(container: Container | None) -> dict[str, Any] | None:
    """``{"id", "name", "image"}`` or ``None``."""
    if container is None:
        return None
    return {"id": container.id, "name": container.name, "image": container.image}


def _processes_json(processes: tuple[Process, ...]) -> list[dict[str, Any]]:
    """Pid and name only: a command line repeated on each of thousands of sockets a process
    holds in another namespace would make the document huge (``netdash who`` and the
    dashboard's details show command lines)."""
    return [{"pid": p.pid, "name": p.name} for p in processes]


def _listener_json(listener: NamespaceListener | None) -> dict[str, Any] | None:
    if listener is None:
        return None
    return {
        "protocol": listener.protocol,
        "address": listener.address,
        "port": listener.port,
        "family": listener.family,
        "inode": listener.inode or None,
        "processes": _processes_json(listener.processes),
    }


def containers_json(containers: tuple[Container, ...] | None) -> list[dict[str, Any]] | None:
    """The Docker API's running containers with their addresses and ports; ``None`` when
    the API was not readable."""
    if containers is None:
        return None
    return [
        {
            **(container_json(c) or {}),
            "addresses": list(c.addresses),
            "ports": [
                {
                    "container_port": p.container_port,
                    "protocol": p.protocol,
                    "host_ip": p.host_ip or None,
                    "host_port": p.host_port or None,
                }
                for p in c.ports
            ],
        }
        for c in containers
    ]


def published_json(ports: tuple[PublishedPort, ...]) -> list[dict[str, Any]]:
    """One entry per published port: where it arrives, where it leads, what is there and
    what the FORWARD path does to a new connection."""
    out = []
    for port in ports:
        f = port.forwarding
        out.append(
            {
                "interface": f.interface,
                "protocol": f.protocol,
                "port": f.port,
                "target_address": f.target_address,
                "target_port": f.target_port,
                "outcome": f.outcome,
                "rule": f.rule,
                "dnat_rule": f.dnat_rule,
                "front_end": f.front_end,
                "namespace": port.namespace.inode if port.namespace else None,
                "target_listener": _listener_json(port.listener),
                "container": container_json(port.container),
                "host_sockets": [
                    {
                        "address": li.address,
                        "port": li.port,
                        "processes": [{"pid": p.pid, "name": p.name} for p in li.processes],
                    }
                    for li in port.host_listeners
                ],
            }
        )
    return out


def namespaces_json(view: NamespaceView) -> list[dict[str, Any]]:
    """One entry per other network namespace, with its listeners and their exposure
    (``container-internal``, ``published``, or ``host`` in the host's own namespace seen
    from another: then ``"host": true``)."""
    out = []
    for namespace in view.namespaces:
        out.append(
            {
                "inode": namespace.inode,
                "names": list(namespace.names),
                "pids": len(namespace.pids),
                "addresses": list(namespace.addresses),
                "container": namespace.container,
                "image": namespace.image,
                "unreadable": namespace.unreadable,
                "host": namespace.host,
                "listeners": [
                    {**(_listener_json(li) or {}), "exposure": view.exposure(namespace, li)}
                    for li in namespace.listeners
                ],
            }
        )
    return out


def add_containers(document: dict[str, Any], view: NamespaceView) -> None:
    """Give each ``docker-proxy`` listener entry of a ``list --json`` document its
    ``container`` (``null`` for every other listener)."""
    by_inode = {identity[3]: c for identity, c in view.proxied.items() if identity[3]}
    for entry in document.get("listeners", ()):
        entry["container"] = container_json(by_inode.get(entry.get("inode") or 0))


def published_lines(view: NamespaceView) -> list[str]:
    """``published: v0:8080/tcp → 172.17.0.2:80 (container web, image busybox) — open, …``,
    one line per published port, then ``docker-proxy tcp 0.0.0.0:8080 → container web
    (image busybox)`` per docker-proxy listener, cleaned for a terminal."""
    lines = [clean(port.sentence(), 400) for port in view.published]
    for (protocol, address, port, _), container in sorted(view.proxied.items()):
        host = f"[{address}]" if ":" in address else address
        lines.append(
            clean(
                f"docker-proxy {protocol} {host}:{port} → container {container.name} "
                f"(image {container.image})",
                300,
            )
        )
    return lines


def _holders(listener: NamespaceListener) -> str:
    names = [f"{clean(p.name or '?', 40)} ({p.pid})" for p in listener.processes]
    return ", ".join(names) or "owner unknown"


def namespace_lines(view: NamespaceView, limit: int | None = None) -> list[str]:
    """Per other network namespace a title line and one line per listener with its
    exposure, cleaned for a terminal; at most ``limit`` listeners per namespace (then a line
    counting the rest)."""
    lines: list[str] = []
    for namespace in view.namespaces:
        addresses = ", ".join(namespace.addresses) or "no address"
        label = clean(namespace.label, 80)
        if not label.startswith("net:["):
            label += f" · net:[{namespace.inode}]"
        lines.append(f"{label} · {addresses}")
        if namespace.unreadable:
            lines.append(f"  not read: {namespace.unreadable}")
        shown = namespace.listeners if limit is None else namespace.listeners[:limit]
        for listener in shown:
            lines.append(
                f"  {listener.protocol} {listener.endpoint:<22} {_holders(listener):<24} "
                f"{view.exposure(namespace, listener)}"
            )
        if len(shown) < len(namespace.listeners):
            lines.append(f"  … {len(namespace.listeners) - len(shown)} more listeners")
        if not namespace.listeners and not namespace.unreadable:
            lines.append("  no listeners")
    return lines
