"""A real, private Docker Engine (issue 13 items 3 and the Docker cells of the kernel oracle):
dockerd in a namespace box of its own (tests/support/dockerd.py: own network and mount
namespaces, tmpfs /run, everything under a temporary directory), a busybox httpd published with
``-p 8080:80``, and a phone (tests/support/phone.py) on the box's LAN.

netdash runs inside the box's network namespace (``nsenter -n``) with ``DOCKER_HOST`` pointing
at the private daemon. The kernel is the oracle: what the phone's connection did is the truth,
and netdash's published-port outcome must equal it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import dockerd, nsbox
from tests.support import ufw as ufw_support
from tests.support.ci import require
from tests.support.phone import Phone
from tests.system.test_json_schema import validator

pytestmark = pytest.mark.netns

HOST_V4 = "198.18.0.1"


@dataclass
class Lab:
    host: nsbox.Box
    engine: dockerd.PrivateDocker
    phone: Phone

    def netdash(self, *args: str, docker: bool = True) -> subprocess.CompletedProcess[str]:
        """``python -m netdash ARGS`` inside the box's network namespace (not its mount
        namespace: the checkout and the venv are on the host's file system)."""
        env = self.engine.env if docker else {"DOCKER_HOST": "unix:///nonexistent.sock"}
        return subprocess.run(
            [*self.host.prefix(mount=False), sys.executable, "-m", "netdash", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NETDASH_CONFIG": "/dev/null", **env},
        )

    def listing(self) -> dict[str, Any]:
        result = self.netdash("list", "--json")
        assert result.returncode == 0, result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        validator("netdash-list.schema.json").validate(document)
        return document

    def phone_reaches(self, port: int) -> bool:
        return self.phone.reach([("tcp", HOST_V4, port)])[0]


def _lab(tmp_path: Path, userland_proxy: bool) -> Iterator[Lab]:
    require(nsbox.missing() is None, f"needs extra namespaces: {nsbox.missing()}")
    require(dockerd.missing() is None, f"needs a private Docker Engine: {dockerd.missing()}")
    with nsbox.box(mount=True) as host:
        nsbox.veth(host, "v0", [f"{HOST_V4}/24", "2001:db8::1/64"], host, "v1", [])
        phone = Phone(host=host.pid)
        try:
            engine = dockerd.PrivateDocker(host, tmp_path, userland_proxy=userland_proxy)
            try:
                engine.__enter__()
            except RuntimeError as exc:
                require(False, f"the private dockerd did not start: {exc}")
                raise
            try:
                yield Lab(host, engine, phone)
            finally:
                engine.__exit__(None, None, None)
        finally:
            phone.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path, userland_proxy=True)


@pytest.fixture
def lab_no_proxy(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path, userland_proxy=False)


def listeners_on(document: dict[str, Any], port: int) -> list[dict[str, Any]]:
    return [li for li in document["listeners"] if li["port"] == port]


def published_on(document: dict[str, Any], interface: str, port: int) -> dict[str, Any]:
    found = [p for p in document["published"] if p["interface"] == interface and p["port"] == port]
    assert len(found) == 1, document["published"]
    return found[0]


def test_docker_proxy_row_names_its_container(lab: Lab) -> None:
    web = lab.engine.run_web("web", 8080)
    document = lab.listing()
    rows = listeners_on(document, 8080)
    assert rows, document["listeners"]
    for row in rows:
        assert [p["name"] for p in row["processes"]] == ["docker-proxy"]
        assert row["container"] is not None, row
        assert row["container"]["name"] == "web"
        assert row["container"]["image"] == dockerd.IMAGE
    [container] = document["containers"]
    assert container["name"] == "web" and container["addresses"] == [web["ip"]]
    published = {"container_port": 80, "protocol": "tcp", "host_ip": "0.0.0.0", "host_port": 8080}
    assert published in container["ports"]
    # The kernel's answer and netdash's: the phone reaches the container, the port is open.
    assert lab.phone_reaches(8080)
    entry = published_on(document, "v0", 8080)
    assert entry["outcome"] == "open"
    assert (entry["target_address"], entry["target_port"]) == (web["ip"], 80)
    text = lab.netdash("list").stdout
    assert f"docker-proxy tcp 0.0.0.0:8080 → container web (image {dockerd.IMAGE})" in text
    # Without the Docker API there are no containers, and no row gets one.
    bare = json.loads(lab.netdash("list", "--json", docker=False).stdout)
    assert bare["containers"] is None
    assert all(row["container"] is None for row in bare["listeners"])


def test_without_userland_proxy_the_published_port_names_target_and_container(
    lab_no_proxy: Lab,
) -> None:
    lab = lab_no_proxy
    web = lab.engine.run_web("web", 8080)
    assert lab.phone_reaches(8080)  # the kernel: open
    document = lab.listing()
    # Only dockerd's placeholder socket is on the host: it says nothing of the container.
    rows = listeners_on(document, 8080)
    assert rows and all([p["name"] for p in r["processes"]] == ["dockerd"] for r in rows)
    entry = published_on(document, "v0", 8080)
    assert entry["outcome"] == "open"
    assert (entry["protocol"], entry["target_address"], entry["target_port"]) == (
        "tcp",
        web["ip"],
        80,
    )
    assert entry["container"]["name"] == "web"
    assert entry["container"]["image"] == dockerd.IMAGE
    assert [p["pid"] for p in entry["target_listener"]["processes"]] == [int(web["pid"])]
    assert entry["target_listener"]["processes"][0]["name"] == "httpd"
    assert "DNAT" in entry["dnat_rule"] and "8080" in entry["dnat_rule"]
    assert {p["name"] for s in entry["host_sockets"] for p in s["processes"]} == {"dockerd"}
    check = lab.netdash("check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert any(
        line.startswith("published: v0:8080/tcp") and "container web" in line and "— open" in line
        for line in check.stdout.splitlines()
    ), check.stdout


def test_ufw_denying_the_published_port_does_not_stop_it(lab_no_proxy: Lab) -> None:
    """The well-known report: ufw says deny, the phone gets through (Docker's DNAT goes
    through FORWARD, where Docker accepts it, never INPUT). netdash says open and why."""
    require(ufw_support.available() is None, f"ufw cannot run: {ufw_support.available()}")
    lab = lab_no_proxy
    web = lab.engine.run_web("web", 8080)
    sandbox = ufw_support.UfwSandbox()
    sandbox.prefix = lab.host.prefix(mount=False)
    try:
        sandbox.run("default", "deny", "incoming")
        sandbox.run("deny", "8080/tcp")
        sandbox.run("--force", "enable")
        assert "8080/tcp" in sandbox.run("status")
        assert lab.phone_reaches(8080)  # the kernel: still open
        document = lab.listing()
        entry = published_on(document, "v0", 8080)
        assert entry["outcome"] == "open"
        assert entry["target_address"] == web["ip"]
        assert "DOCKER" in (entry["rule"] or ""), entry["rule"]  # why: Docker's accept
        check = lab.netdash("check", "--json")
        assert check.returncode == 1
        assert any(p["outcome"] == "open" for p in json.loads(check.stdout)["published"])
    finally:
        sandbox.close()
