"""The desktop as the dashboard reaches it: opening a URL in a browser and what a copy to the
clipboard really did. Each function says what happened in words the app shows; none claims
more than it knows.

No Textual here: the clipboard escape itself is Textual's ``App.copy_to_clipboard`` (OSC 52);
this module only explains where it goes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping

__all__ = ["clipboard_note", "open_in_browser"]


def open_in_browser(
    url: str, env: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Open ``url`` through the desktop: ``open`` on macOS, ``xdg-open`` on Linux and the
    BSDs when ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set. Returns ``None`` once the opener
    started, else the reason nothing was opened (no desktop session, no opener installed,
    the opener could not start).

    Python's ``webbrowser`` is not used: without a desktop it may start a console browser
    (lynx, w3m) that takes over the dashboard's terminal. The opener runs detached, with no
    terminal (stdin, stdout and stderr on ``/dev/null``, a new session), and is not waited
    for.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform == "darwin":
        opener = shutil.which("open")
    elif not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return "no desktop session (DISPLAY and WAYLAND_DISPLAY are unset)"
    else:
        opener = shutil.which("xdg-open")
        if opener is None:
            return "xdg-open is not installed"
    if opener is None:
        return "'open' was not found"
    try:
        child = subprocess.Popen(
            [opener, url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        return f"{os.path.basename(opener)} could not start: {exc.strerror or exc}"
    # Reaped in the background: no zombie, and the dashboard never waits for the browser.
    threading.Thread(target=child.wait, name="netdash-opener", daemon=True).start()
    return None


def tmux_set_clipboard(env: Mapping[str, str] | None = None) -> str | None:
    """tmux's ``set-clipboard`` option (``on``, ``external`` or ``off``) when running inside
    tmux (``TMUX`` set), from ``tmux show-options -gv set-clipboard``; ``None`` outside tmux
    or when tmux does not answer within 1 s."""
    env = os.environ if env is None else env
    if not env.get("TMUX"):
        return None
    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    try:
        done = subprocess.run(
            [tmux, "show-options", "-gv", "set-clipboard"],
            capture_output=True,
            text=True,
            timeout=1.0,
            env=dict(env),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def clipboard_note(url: str, env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """What a copy of ``url`` to the clipboard did, in words, and whether it is likely to
    have arrived. The copy is the terminal's OSC 52 escape: terminals that support it put
    the text on the system clipboard; inside tmux it passes only with ``set-clipboard on``
    (tmux's default, ``external``, ignores what applications send — tmux(1), OPTIONS)."""
    setting = tmux_set_clipboard(env)
    if setting is None and (env if env is not None else os.environ).get("TMUX"):
        return (
            f"Sent to the terminal's clipboard (OSC 52); tmux did not say whether it passes "
            f"it on. The URL: {url}",
            False,
        )
    if setting is None:
        return (
            f"Sent to the terminal's clipboard (OSC 52; most terminals accept it): {url}",
            True,
        )
    if setting == "on":
        return (f"Sent through tmux (set-clipboard on) to the terminal's clipboard: {url}", True)
    return (
        f"Not copied: tmux's set-clipboard is '{setting}', which drops a program's clipboard "
        f"request ('tmux set -g set-clipboard on' lets it through). The URL: {url}",
        False,
    )
