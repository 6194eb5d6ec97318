"""Regenerate screenshots/*.svg: demo servers in a private network namespace, the real app
driven headlessly with Textual's Pilot, before and after pressing ``p``.

Needs root on Linux (``unshare -n``). Run from the repository root:

    python scripts/screenshots.py                      # every screenshot
    python scripts/screenshots.py --scenario firewall  # only firewall*.svg

The ``firewall`` scenario adds an nft rule in the namespace (ufw-like: ``iif lo`` and port
8000 accepted, everything else from the LAN dropped) and reads it as the dashboard does as
root: SSH on 2222 and Jupyter-style 8888 read ⊘ shielded, uvicorn on 8000 stays exposed.
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


FIREWALL = """
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    iif lo accept
    ct state established,related accept
    tcp dport 8000 accept comment "the API is meant for the LAN"
  }
}
"""


async def shoot_firewall(size: tuple[int, int], suffix: str) -> None:
    """The dashboard with the firewall read (``FIREWALL`` applied), the cursor on a
    shielded row."""
    import subprocess

    from netdash.sources.firewall import FirewallReader
    from netdash.sources.processes import ProcessCache
    from netdash.sources.snapshot import collect_snapshot
    from netdash.tui.app import NetdashApp

    subprocess.run(["nft", "-f", "-"], input=FIREWALL, text=True, check=True)
    cache, reader = ProcessCache(), FirewallReader()
    app = NetdashApp(interval=2, collector=lambda: collect_snapshot(cache, firewall=reader))
    try:
        async with app.run_test(size=size) as pilot:
            while app.snapshot is None:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            table = app.query_one("#listeners")
            table.move_cursor(row=1)  # 0.0.0.0:2222, the SSH greeter: shielded
            await pilot.pause(0.3)
            app.save_screenshot(f"firewall{suffix}.svg", path=str(OUT))
    finally:
        subprocess.run(["nft", "delete", "table", "inet", "filter"], check=False)


def main() -> None:
    only = sys.argv[sys.argv.index("--scenario") + 1] if "--scenario" in sys.argv else None
    reason = netns.enter()
    if reason is not None:
        sys.exit(f"cannot make a private network namespace: {reason}")
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo_servers import start_demo

    servers = start_demo()
    try:
        OUT.mkdir(exist_ok=True)
        if only in (None, "dashboard"):
            asyncio.run(shoot((120, 34), ""))
            asyncio.run(shoot((80, 24), "-80x24"))
        if only in (None, "firewall"):
            asyncio.run(shoot_firewall((120, 34), ""))
            asyncio.run(shoot_firewall((80, 24), "-80x24"))
    finally:
        for server in servers:
            server.stop()
    for path in sorted(OUT.glob("*.svg")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
