"""The dashboard's ``N`` panel (issue 13 item 4): a listener in another network namespace
appears, marked container-internal, with a hand-written DNAT's published port, and goes away
when the panel is hidden again."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from netdash.tui.app import NetdashApp
from netdash.tui.widgets import NamespacesPanel
from tests.support import nsbox
from tests.support.ci import require
from tests.support.pilot import as_text, wait_until

pytestmark = pytest.mark.netns

DNAT = """
table ip ndpanel {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "v0" tcp dport 9100 dnat to 10.99.1.2:8000
    }
}
"""


@contextlib.contextmanager
def dnat_in_this_namespace() -> Iterator[None]:
    """A hand-written DNAT in the test namespace (its own table, deleted afterwards)."""
    subprocess.run(["nft", "-f", "-"], input=DNAT, text=True, check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "ip", "ndpanel"], capture_output=True)


async def test_n_shows_other_namespaces_listeners() -> None:
    require(nsbox.missing() is None, f"needs extra namespaces: {nsbox.missing()}")
    require(shutil.which("nft") is not None, "nft is not installed")
    with nsbox.box() as other, dnat_in_this_namespace():
        server = nsbox.listen(other, 8766)
        app = NetdashApp(interval=30)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None)
            panel = app.query_one(NamespacesPanel)
            assert not panel.display
            await pilot.press("N")
            assert panel.display

            def listed() -> bool:
                return "0.0.0.0:8766" in as_text(panel.content)

            await wait_until(pilot, listed)
            lines = as_text(panel.content).splitlines()
            line = next(li for li in lines if "0.0.0.0:8766" in li)
            assert "container-internal" in line and f"({server.pid})" in line
            published = [li for li in lines if li.startswith("published: v0:9100/tcp")]
            assert published and "→ 10.99.1.2:8000" in published[0], lines
            await pilot.press("N")
            assert not panel.display
