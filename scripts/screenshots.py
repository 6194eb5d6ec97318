"""Regenerate screenshots/*.svg: demo servers in a private network namespace, the real app
driven headlessly with Textual's Pilot, before and after pressing ``p``.

Needs root on Linux (``unshare -n``). Run from the repository root:

    python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import netns  # noqa: E402

OUT = ROOT / "screenshots"


async def shoot(size: tuple[int, int], suffix: str) -> None:
    from netdash.tui.app import NetdashApp

    app = NetdashApp(interval=2)
    async with app.run_test(size=size) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        app.save_screenshot(f"dashboard{suffix}.svg", path=str(OUT))
        await pilot.press("p")
        deadline = time.monotonic() + 30
        while "probes) in" not in (app.probe_status or "") and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        app.save_screenshot(f"dashboard-probed{suffix}.svg", path=str(OUT))
        if suffix:
            return
        table = app.query_one("#listeners")
        table.move_cursor(row=2)  # the uvicorn row: pre-fork, exposed, FastAPI
        await pilot.press("enter")
        await pilot.pause(1.0)
        app.save_screenshot("details.svg", path=str(OUT))
        await pilot.press("escape", "k")
        await pilot.pause(0.3)
        app.save_screenshot("stop-confirmation.svg", path=str(OUT))
        await pilot.press("escape")


def main() -> None:
    reason = netns.enter()
    if reason is not None:
        sys.exit(f"cannot make a private network namespace: {reason}")
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo_servers import start_demo

    servers = start_demo()
    try:
        OUT.mkdir(exist_ok=True)
        asyncio.run(shoot((120, 34), ""))
        asyncio.run(shoot((80, 24), "-80x24"))
    finally:
        for server in servers:
            server.stop()
    for path in sorted(OUT.glob("*.svg")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
