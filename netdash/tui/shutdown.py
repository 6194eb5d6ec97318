"""Ending the dashboard on SIGTERM, SIGHUP and SIGINT the normal way, so Textual restores
the terminal (alternate screen, mouse tracking) before the process exits, with a watchdog
for a terminal that has gone away."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable

__all__ = ["ExitOnSignals"]


class ExitOnSignals:
    """Calls ``exit`` (the app's ``exit``) on SIGTERM, SIGHUP or SIGINT, on the event loop.

    When the terminal has gone away (a closed window, a dropped ssh session: SIGHUP),
    Textual's output thread can have died on the dead terminal and its shutdown then blocks
    forever writing to it (seen as netdash processes left behind by tmux ``kill-window``
    right after start; the same dead-queue hang as Textualize/textual#6692). So ``grace``
    seconds after the signal the process ends regardless, with status 128 + the signal
    number; probe children see their stdin close and stop.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

    def __init__(self, exit: Callable[[], object], grace: float = 2.0) -> None:
        self._exit = exit
        self.grace = grace
        self._installed: list[int] = []

    def install(self) -> None:
        """Handle the signals on the running event loop (where the platform allows)."""
        loop = asyncio.get_running_loop()
        for signum in self.SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.on_signal, signum)
                self._installed.append(signum)

    def remove(self) -> None:
        """Give the signals back to their default handling."""
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        self._installed.clear()

    def on_signal(self, signum: int) -> None:
        """Exit as ``q`` does, and start the watchdog."""
        watchdog = threading.Timer(self.grace, os._exit, args=(128 + signum,))
        watchdog.daemon = True
        watchdog.start()
        self._exit()
