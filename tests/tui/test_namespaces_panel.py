"""The dashboard's ``N`` panel (issue 13 item 4): a listener in another network namespace
appears, marked container-internal, and goes away when the panel is hidden again."""

from __future__ import annotations

import pytest

from netdash.tui.app import NetdashApp
from netdash.tui.widgets import NamespacesPanel
from tests.support import nsbox
from tests.support.ci import require
from tests.support.pilot import as_text, wait_until

pytestmark = pytest.mark.netns


async def test_n_shows_other_namespaces_listeners() -> None:
    require(nsbox.missing() is None, f"needs extra namespaces: {nsbox.missing()}")
    with nsbox.box() as other:
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
            line = next(li for li in as_text(panel.content).splitlines() if "0.0.0.0:8766" in li)
            assert "container-internal" in line and f"({server.pid})" in line
            await pilot.press("N")
            assert not panel.display
