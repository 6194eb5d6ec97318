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

``Pilot.press`` and ``pause`` also wait until this process's CPU time stops advancing
(``textual._wait.wait_for_idle``: 20 ms sleeps, three of them at least), so those figures
have a floor of about 100 ms whatever the key costs (measured with 10 listeners: 104 ms for
8 ms of work). The same keys are then typed again ``direct``: each handed to the app's
driver as a terminal would, timed until the filter is applied, every widget has processed
its messages and the screen's pending repaint is drawn (``direct_keys``,
``direct_p50_ms``, ``direct_p95_ms``, ``direct_max_ms``).
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
        await pilot.press(*["backspace"] * len(app.view.filter_text))
        await pilot.pause()
        direct = [(key, 1000 * await _direct(pilot, key)) for key in KEYS]
    ms = sorted(t for _, t in keys)
    dms = sorted(t for _, t in direct)
    return {
        "first_frame_s": first,
        "rows": rows,
        "keys": keys,
        "key_p50_ms": ms[len(ms) // 2],
        "key_p95_ms": ms[int(0.95 * (len(ms) - 1))],
        "key_max_ms": ms[-1],
        "direct_keys": direct,
        "direct_p50_ms": dms[len(dms) // 2],
        "direct_p95_ms": dms[int(0.95 * (len(dms) - 1))],
        "direct_max_ms": dms[-1],
        "peak_rss_mb": _vm_hwm_mb(),
    }


async def _direct(pilot: Any, key: str) -> float:
    """Seconds from ``key`` handed to the driver to the filter applied, the messages drained
    and the repaint drawn."""
    from textual import events

    app = pilot.app
    text = app.query_one("#filter").value
    expected = (text[:-1] if key == "backspace" else text + key).strip()
    pressed = time.perf_counter()
    app._driver.send_message(events.Key(key, "\x08" if key == "backspace" else key))
    while app.view.filter_text != expected and time.perf_counter() - pressed < 5:
        await asyncio.sleep(0.001)
    await pilot._wait_for_screen()
    app.screen._on_timer_update()
    return time.perf_counter() - pressed


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure())))
