"""The dashboard at 20,000 listeners (issue 18): first frame with data, a key in the filter to
the table redrawn (p50/p95), and peak memory.

Run by ``bench.run --huge`` in its own process, inside the bench's network namespace, while
``bench.scenario`` holds 20,000 real listeners (so the snapshot comes from the kernel, as
in use)::

    python -m bench.huge

prints one JSON object: ``first_frame_s`` (``run_test`` to a table with rows, Pilot,
120x40, imports done), ``keys`` (each key and its milliseconds: from the key's event to the
app idle again with the table redrawn, ``Pilot.press`` then ``pause``), ``key_p50_ms``,
``key_p95_ms``, ``key_max_ms``, ``rows`` (table rows after the first frame) and
``peak_rss_mb`` (this process's VmHWM: the app and everything it imported; no probe
children, since nothing is probed here).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

KEYS = ["1", "2", "3", "backspace", "backspace", "backspace", "p", "y", "t", "h", "o", "n"]
KEYS += ["backspace"] * 6 + ["4", "backspace"]
"""Typed into the filter: digits that narrow to a few hundred rows and back, a word that
matches every row (``python``) letter by letter, then cleared."""


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure() -> dict[str, Any]:
    from netdash.tui.app import NetdashApp
    from netdash.tui.widgets import ListenerTable

    app = NetdashApp(interval=3600)
    start = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(ListenerTable)
        while table.row_count == 0:
            await pilot.pause(0.005)
        first = time.perf_counter() - start
        rows = table.row_count
        await pilot.pause()
        await pilot.press("slash")
        keys: list[tuple[str, float]] = []
        for key in KEYS:
            pressed = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            keys.append((key, 1000 * (time.perf_counter() - pressed)))
    ms = sorted(t for _, t in keys)
    return {
        "first_frame_s": first,
        "rows": rows,
        "keys": keys,
        "key_p50_ms": ms[len(ms) // 2],
        "key_p95_ms": ms[int(0.95 * (len(ms) - 1))],
        "key_max_ms": ms[-1],
        "peak_rss_mb": _vm_hwm_mb(),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure())))
