"""An input driver that sleeps until the terminal has input (Linux and macOS terminals).

Textual's ``LinuxDriver`` reads the terminal in a thread that wakes ten times a second
(``select`` with a 0.1 s timeout) to see whether the app is exiting and to time out a lone
ESC. On an idle dashboard those wake-ups are most of what is left once nothing changes
(``bench/RESULTS.md``). :class:`QuietDriver` blocks instead until there is input, a
wake-up pipe is written (the driver's ``exit_event`` is set: the app is exiting or
suspending), or the escape parser is waiting for the rest of a sequence (then only as long as
that wait lasts).

It relies on Textual internals of the 8.x series (``LinuxDriver.run_input_thread``'s loop,
``exit_event``, ``XTermParser``'s ``_timeout_time``); ``pyproject.toml`` pins
``textual<9``, and :func:`driver_class` falls back to Textual's own driver whenever one of
those names is missing, so another Textual still runs, only less quietly.
``tests/tui/test_quiet_driver.py`` drives keys, a resize, the mouse and the terminal restore
through it in tmux.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import sys
import threading
import time
from codecs import getincrementaldecoder
from typing import Any

from textual.driver import Driver

__all__ = ["driver_class"]


class _WakingEvent(threading.Event):
    """A ``threading.Event`` whose ``set`` also writes a byte to a pipe, so that a thread
    blocked in ``select`` on the pipe's read end returns at once."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        # A full pipe (already awake) or a closed one (already gone): nothing to wake.
        with contextlib.suppress(OSError):
            os.write(self._wake_fd, b"x")


def driver_class() -> type[Driver] | None:
    """The quiet input driver for this platform, or ``None`` for Textual's default (not a
    POSIX terminal platform, ``TEXTUAL_DRIVER`` set by the user, or a Textual without the
    internals it relies on)."""
    if sys.platform not in ("linux", "darwin") or os.environ.get("TEXTUAL_DRIVER"):
        return None
    try:
        from textual._xterm_parser import XTermParser
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:
        return None
    if not hasattr(LinuxDriver, "run_input_thread") or not hasattr(XTermParser, "tick"):
        return None
    return _quiet_driver(LinuxDriver, XTermParser)


def _quiet_driver(base: Any, parser_class: Any) -> type[Driver]:
    class QuietDriver(base):  # type: ignore[misc]
        """Textual's ``LinuxDriver`` with an input thread that blocks until input or exit."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._wake_read, self._wake_write = os.pipe()
            os.set_blocking(self._wake_read, False)
            os.set_blocking(self._wake_write, False)
            if not isinstance(getattr(self, "exit_event", None), threading.Event):
                raise TypeError("LinuxDriver without exit_event")
            self.exit_event = _WakingEvent(self._wake_write)

        def run_input_thread(self) -> None:
            """Wait for input and dispatch events (Textual's loop, without the polling)."""
            fileno = self.fileno
            wake = self._wake_read
            selector = selectors.SelectSelector()  # as Textual: epoll refuses files, /dev/null
            selector.register(fileno, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            parser = parser_class(self._debug)
            decode = getincrementaldecoder("utf-8")().decode
            watching = {fileno}  # emptied at the end of input: no spinning on EOF

            def timeout() -> float | None:
                due: float | None = getattr(parser, "_timeout_time", None)
                if due is None:
                    return None  # nothing pending: sleep until input or exit
                return max(0.0, min(0.1, due - time.monotonic()))

            def dispatch(ready: list[tuple[selectors.SelectorKey, int]], final: bool) -> None:
                for key, _mask in ready:
                    if key.fd == wake:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake, 64)
                        continue
                    raw = os.read(fileno, 4096)
                    if not raw:  # end of input (a file, /dev/null, a closed pipe): stop there
                        if watching:
                            selector.unregister(fileno)
                            watching.clear()
                        continue
                    for event in parser.feed(decode(raw, final=final)):
                        self.process_message(event)
                for event in parser.tick():
                    self.process_message(event)

            try:
                while not self.exit_event.is_set():
                    dispatch(selector.select(timeout()), final=False)
                if watching:
                    selector.unregister(fileno)
                    watching.clear()
                dispatch(selector.select(0.1), final=True)
            finally:
                selector.close()
                try:
                    for _ in parser.feed(""):
                        pass
                except Exception:
                    pass

        def close(self) -> None:
            super().close()
            for fd in (self._wake_read, self._wake_write):
                with contextlib.suppress(OSError):
                    os.close(fd)

    return QuietDriver
