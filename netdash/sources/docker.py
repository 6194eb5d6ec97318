"""The Docker Engine API, read-only, over its unix socket: running containers, their names,
images, addresses and published ports.

Where: ``DOCKER_HOST`` when it is a ``unix://`` address, else ``/var/run/docker.sock``. A TCP
``DOCKER_HOST`` is not followed (netdash contacts only this machine's own sockets, and a
remote engine's containers are not this host's). One request, ``GET /containers/json``,
bounded in time (:data:`TIMEOUT` seconds for connect and read) and in bytes
(:data:`MAX_BYTES`). Anything that goes wrong (no daemon, no permission, a malformed
answer) gives ``None``: Docker is then simply not known.

``docker-proxy`` (Docker's userland proxy) holds a published host port and forwards to the
container; its command line names the target (``-container-ip 172.17.0.2 -container-port
80``). :func:`proxy_target` reads that untrusted text, keeping only a valid IP address and
port number.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence

from netdash.core.namespaces import Container, ContainerPort
from netdash.core.text import Untrusted

__all__ = ["MAX_BYTES", "TIMEOUT", "proxy_target", "read_containers", "socket_path"]

TIMEOUT = 0.5
"""Seconds for connecting to and reading from the Docker socket."""
MAX_BYTES = 8 * 1024 * 1024
"""The largest answer read (about 4,000 containers); a longer one is treated as unreadable."""
DEFAULT_SOCKET = "/var/run/docker.sock"


def socket_path(env: Mapping[str, str] | None = None) -> str | None:
    """The Docker API's unix socket path: ``DOCKER_HOST``'s when it is ``unix://PATH``,
    ``None`` when ``DOCKER_HOST`` names anything else (TCP, SSH: not read), else
    :data:`DEFAULT_SOCKET`."""
    env = os.environ if env is None else env
    host = env.get("DOCKER_HOST", "")
    if host:
        return host[len("unix://") :] if host.startswith("unix://") else None
    return DEFAULT_SOCKET


def read_containers(
    env: Mapping[str, str] | None = None, timeout: float = TIMEOUT
) -> tuple[Container, ...] | None:
    """The running containers, or ``None`` when the API cannot be read (no socket, no
    permission, no daemon, an error status, an answer that is too long or not the expected
    JSON). Never raises."""
    path = socket_path(env)
    if path is None or not os.path.exists(path):
        return None
    import httpx

    try:
        transport = httpx.HTTPTransport(uds=path)
        with (
            httpx.Client(transport=transport, timeout=timeout, trust_env=False) as client,
            client.stream("GET", "http://docker/containers/json") as response,
        ):
            if response.status_code != 200:
                return None
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    return None
        import json

        return _containers(json.loads(body))
    except (httpx.HTTPError, OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _containers(document: object) -> tuple[Container, ...]:
    """Containers from the ``/containers/json`` answer; raises ``TypeError``/``KeyError``/
    ``AttributeError`` for a document of the wrong shape."""
    if not isinstance(document, list):
        raise TypeError("not a list")
    found = []
    for item in document:
        names = [n for n in item.get("Names") or () if isinstance(n, str)]
        name = names[0].lstrip("/") if names else str(item["Id"])[:12]
        addresses: list[str] = []
        networks = (item.get("NetworkSettings") or {}).get("Networks") or {}
        for network in networks.values():
            for key in ("IPAddress", "GlobalIPv6Address"):
                address = _valid_ip(network.get(key))
                if address and address not in addresses:
                    addresses.append(address)
        ports = []
        for port in item.get("Ports") or ():
            private = port.get("PrivatePort")
            if not isinstance(private, int):
                continue
            public = port.get("PublicPort")
            ports.append(
                ContainerPort(
                    container_port=private,
                    protocol=str(port.get("Type") or "tcp"),
                    host_ip=_valid_ip(port.get("IP")) or "",
                    host_port=public if isinstance(public, int) else 0,
                )
            )
        found.append(
            Container(
                id=str(item["Id"]),
                name=Untrusted(name),
                image=Untrusted(str(item.get("Image") or "")),
                addresses=tuple(sorted(addresses, key=lambda a: ":" in a)),
                ports=tuple(ports),
            )
        )
    return tuple(found)


def _valid_ip(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def proxy_target(cmdline: Sequence[str]) -> tuple[str, str, int] | None:
    """``(protocol, container address, container port)`` from a ``docker-proxy`` command line
    (``-proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port
    80``; ``--flag value`` and ``-flag=value`` spellings too), or ``None`` when it does not
    name a valid address and port. The command line is untrusted: only an address that
    parses, a port in 1-65535 and a protocol of ``tcp``/``udp``/``sctp`` are taken."""
    values: dict[str, str] = {}
    args = list(cmdline[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            flag, eq, value = arg.lstrip("-").partition("=")
            if not eq and i + 1 < len(args):
                value = args[i + 1]
                i += 1
            values[flag] = value
        i += 1
    address = _valid_ip(values.get("container-ip"))
    port_text = values.get("container-port", "")
    protocol = values.get("proto", "tcp")
    if address is None or not port_text.isdigit() or protocol not in ("tcp", "udp", "sctp"):
        return None
    port = int(port_text)
    if not 0 < port < 65536:
        return None
    return protocol, address, port
