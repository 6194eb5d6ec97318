"""Other network namespaces (issue 13 item 4): a listener in a namespace joined by its own veth
is listed by ``netdash list --namespaces`` with its process, marked container-internal, read
from /proc without entering the namespace; netdash's own listeners are not among them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import nsbox
from tests.support.ci import require
from tests.support.cli import run_cli
from tests.system.test_json_schema import validator

pytestmark = pytest.mark.netns

ROOT = str(Path(__file__).resolve().parents[2])


def namespace_entry(document: dict[str, Any], inode: int) -> dict[str, Any]:
    found = [ns for ns in document["namespaces"] if ns["inode"] == inode]
    assert found, (
        f"namespace net:[{inode}] not listed: {[n['inode'] for n in document['namespaces']]}"
    )
    return found[0]


def test_listener_in_another_namespace_is_listed_container_internal() -> None:
    require(nsbox.missing() is None, f"needs extra namespaces: {nsbox.missing()}")
    with nsbox.box() as other:
        nsbox.veth(None, "vc0", ["10.99.0.1/24"], other, "eth0", ["10.99.0.2/24"])
        server = nsbox.listen(other, 8765)
        inode = os.stat(f"/proc/{other.pid}/ns/net").st_ino
        plain = run_cli("list", "--json")
        result = run_cli("list", "--json", "--namespaces")
        text = run_cli("list", "--namespaces")
    assert result.returncode == 0, result.stderr
    assert "namespaces" not in json.loads(plain.stdout)
    document = json.loads(result.stdout)
    validator("netdash-list.schema.json").validate(document)
    entry = namespace_entry(document, inode)
    assert "10.99.0.2" in entry["addresses"]
    mine = [li for li in entry["listeners"] if li["port"] == 8765]
    assert len(mine) == 1, entry["listeners"]
    assert mine[0]["address"] == "0.0.0.0"
    assert mine[0]["exposure"] == "container-internal"
    assert [p["pid"] for p in mine[0]["processes"]] == [server.pid]
    # Not a listener of netdash's own namespace: absent from the main list.
    assert not [li for li in document["listeners"] if li["port"] == 8765]
    assert text.returncode == 0, text.stderr
    assert "Other network namespaces" in text.stdout
    assert any(
        "0.0.0.0:8765" in line and "container-internal" in line for line in text.stdout.splitlines()
    )


def test_ip_netns_names_and_a_namespace_with_no_process() -> None:
    """``ip netns add`` inside a box with its own mount namespace and tmpfs /run (nothing of
    the machine's /run/netns changes): an empty named namespace is listed by name and not
    read (it would have to be entered); one with a listener is named and read."""
    require(nsbox.missing() is None, f"needs extra namespaces: {nsbox.missing()}")
    with nsbox.box(mount=True) as host:
        host.run("ip", "netns", "add", "ndempty")
        host.run("ip", "netns", "add", "ndlab")
        server = host.spawn(
            "ip", "netns", "exec", "ndlab", sys.executable, "-c", nsbox.LISTEN, "0.0.0.0", "8767"
        )
        nsbox.wait_listening(server.pid, "tcp", 8767)
        result = subprocess.run(
            [*host.prefix(), sys.executable, "-m", "netdash", "list", "--json", "--namespaces"],
            capture_output=True,
            text=True,
            timeout=60,
            # Entering the mount namespace resets the working directory: this checkout first.
            env={**os.environ, "NETDASH_CONFIG": "/dev/null", "PYTHONPATH": ROOT},
        )
        host.run("ip", "netns", "delete", "ndlab", check=False)
        host.run("ip", "netns", "delete", "ndempty", check=False)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    validator("netdash-list.schema.json").validate(document)
    named = {name: ns for ns in document["namespaces"] for name in ns["names"]}
    assert set(named) >= {"ndempty", "ndlab"}
    assert named["ndempty"]["pids"] == 0 and "not read" in named["ndempty"]["unreadable"]
    assert named["ndlab"]["unreadable"] is None
    [listener] = [li for li in named["ndlab"]["listeners"] if li["port"] == 8767]
    assert [p["pid"] for p in listener["processes"]] == [server.pid]


def test_the_hosts_own_namespace_is_named_not_called_a_container() -> None:
    """A fresh user ran netdash in a namespace (the README's own safe recipe): the machine's
    network (pid 1's namespace) was listed as 'container-internal'. It is the host's."""
    import os

    from netdash.core.published import exposure_of
    from netdash.sources.namespaces import read_namespaces

    # pytest's parent (a shell of the host) is in the namespace the tests were started from
    started_from = os.readlink(f"/proc/{os.getppid()}/ns/net")
    assert started_from != os.readlink("/proc/self/ns/net")  # the tests run in their own
    found = read_namespaces(holding=())  # addresses only: no socket table of the host is read
    [host] = [n for n in found if f"net:[{n.inode}]" == started_from]
    assert host.host and "host" in host.label
    assert not any(n.host for n in found if n is not host)
    from netdash.core.namespaces import NamespaceListener

    assert exposure_of(host, NamespaceListener("tcp", 4, "0.0.0.0", 22), ()) == "host"


def test_history_in_another_namespace_has_a_file_of_its_own() -> None:
    """A fresh user's dashboard in a namespace recorded the host's listeners (in the shared
    default file) as disappeared: each namespace's default history file is its own."""
    import os

    from netdash.history.paths import default_history_path

    own = os.readlink("/proc/self/ns/net")[5:-1]
    assert default_history_path().name == f"history-net-{own}.sqlite3"
