"""Other network namespaces (issue 13 item 4): a listener in a namespace joined by its own veth
is listed by ``netdash list --namespaces`` with its process, marked container-internal, read
from /proc without entering the namespace; netdash's own listeners are not among them."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.support import nsbox
from tests.support.ci import require
from tests.support.cli import run_cli
from tests.system.test_json_schema import validator

pytestmark = pytest.mark.netns


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
