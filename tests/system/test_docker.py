"""A real, private Docker Engine (issue 13 item 3): dockerd in a namespace box of its own
(tests/support/dockerd.py), a busybox httpd published with ``-p 8080:80``.

netdash runs inside the box's network namespace (``nsenter -n``), with ``DOCKER_HOST``
pointing at the private daemon's socket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import dockerd, nsbox
from tests.support.ci import require
from tests.system.test_json_schema import validator

pytestmark = pytest.mark.netns


def netdash_in(box: nsbox.Box, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m netdash ARGS`` inside ``box``'s network namespace (not its mount
    namespace: the checkout and the venv are on the host's file system)."""
    return subprocess.run(
        [*box.prefix(mount=False), sys.executable, "-m", "netdash", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NETDASH_CONFIG": "/dev/null", **env},
    )


@pytest.fixture
def docker_box(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[nsbox.Box, dockerd.PrivateDocker]]:
    require(nsbox.missing() is None, f"needs extra namespaces: {nsbox.missing()}")
    require(dockerd.missing() is None, f"needs a private Docker Engine: {dockerd.missing()}")
    proxy = getattr(request, "param", True)
    with nsbox.box(mount=True) as host:
        nsbox.veth(host, "v0", ["198.18.0.1/24"], _phone_holder(request), "v1", ["198.18.0.2/24"])
        try:
            engine = dockerd.PrivateDocker(host, tmp_path, userland_proxy=proxy)
            engine.__enter__()
        except RuntimeError as exc:
            require(False, f"the private dockerd did not start: {exc}")
            raise
        try:
            yield host, engine
        finally:
            engine.__exit__(None, None, None)


def _phone_holder(request: pytest.FixtureRequest) -> nsbox.Box:
    """The "phone": a namespace on the box's LAN (closed when the test ends)."""
    stack = nsbox.box()
    phone = stack.__enter__()
    request.addfinalizer(lambda: stack.__exit__(None, None, None))
    request.node.phone = phone
    return phone


def listeners_on(document: dict[str, Any], port: int) -> list[dict[str, Any]]:
    return [li for li in document["listeners"] if li["port"] == port]


def test_docker_proxy_row_names_its_container(docker_box, request) -> None:  # type: ignore[no-untyped-def]
    host, engine = docker_box
    web = engine.run_web("web", 8080)
    result = netdash_in(host, "list", "--json", env=engine.env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    validator("netdash-list.schema.json").validate(document)
    rows = listeners_on(document, 8080)
    assert rows, document["listeners"]
    for row in rows:
        assert [p["name"] for p in row["processes"]] == ["docker-proxy"]
        assert row["container"] is not None, row
        assert row["container"]["name"] == "web"
        assert row["container"]["image"] == dockerd.IMAGE
    [container] = document["containers"]
    assert container["name"] == "web" and container["addresses"] == [web["ip"]]
    assert {
        "container_port": 80,
        "protocol": "tcp",
        "host_ip": "0.0.0.0",
        "host_port": 8080,
    } in container["ports"]
    # The phone really reaches the container through the published port.
    assert nsbox.connect(request.node.phone, "198.18.0.1", 8080) == "open"
    # Other listeners get no container; without DOCKER_HOST there is no Docker at all.
    bare = netdash_in(host, "list", "--json", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert json.loads(bare.stdout)["containers"] is None
    assert all(row["container"] is None for row in json.loads(bare.stdout)["listeners"])
