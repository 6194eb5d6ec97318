"""Desktop notifications for new exposures (``netdash watch``).

Sent through the freedesktop notification service (``org.freedesktop.Notifications`` on the
session D-Bus) by ``notify-send`` (libnotify-bin), where it is installed; where it is not,
the notification is a line in the log, and the log says once why. At most one per listener
(program, protocol, port, scope; not pid) per hour (:class:`~netdash.core.history.NotifyLimiter`).

Program names are other programs' text: control characters are escaped
(:func:`netdash.core.text.clean`) and ``& < >`` written as entities, since notification
servers may read the body as simple markup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping

from netdash.core.history import NotifyLimiter, Seen
from netdash.core.risk import RISK_KINDS
from netdash.core.text import clean

__all__ = ["Notifier", "message_for", "notify_send"]


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_for(seen: Seen, hint: str | None) -> tuple[str, str]:
    """``(summary, body)`` of a notification about ``seen``: the program, port and bind
    address, the verdict, and the fix hint."""
    program = clean(seen.program or "unknown program", 60)
    where = f"[{seen.address}]" if ":" in seen.address else seen.address
    risks = sorted(r.removeprefix("risk:") for r in seen.reasons if r.startswith("risk:"))
    if "exposed" in seen.reasons or not risks:
        summary = f"netdash: {program} exposed on port {seen.port}"
    else:
        summary = f"netdash: {program} on port {seen.port} is risky"
    body = (
        f"{program} (pid {seen.pid or '?'}) listens on {where}:{seen.port}/{seen.protocol} "
        f"({seen.verdict}, {seen.scope})."
    )
    for kind in risks:
        known = RISK_KINDS.get(kind)
        if known is not None:
            body += f" Whoever reaches it can {known.capability} ({known.severity})."
    if hint:
        body += f" Fix: {clean(hint, 300)}"
    return summary, body


def notify_send(summary: str, body: str, env: Mapping[str, str] | None = None) -> str | None:
    """Show one notification with ``notify-send``; ``None`` when it was handed over, else
    the reason it was not (not installed, failed, no session bus). Waits at most 5 s."""
    program = shutil.which("notify-send", path=(env or os.environ).get("PATH"))
    if program is None:
        return "notify-send is not installed (Debian: libnotify-bin)"
    try:
        done = subprocess.run(
            [program, "--app-name=netdash", "--urgency=normal", "--", summary, _entities(body)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=5,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"notify-send failed: {exc}"
    if done.returncode != 0:
        reason = clean(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "", 200)
        return f"notify-send exited with {done.returncode}: {reason or 'no message'}"
    return None


class Notifier:
    """Tells about alarms: each allowed by the ``limiter`` goes to ``send`` (default
    :func:`notify_send`) and to ``log`` (one line); a failure to send is logged once per
    distinct reason."""

    def __init__(
        self,
        log: Callable[[str], object],
        send: Callable[[str, str], str | None] = notify_send,
        limiter: NotifyLimiter | None = None,
    ) -> None:
        self.log = log
        self.send = send
        self.limiter = limiter or NotifyLimiter()
        self._said: set[str] = set()
        self.sent = 0

    def tell(self, seen: Seen, hint: str | None, now: float) -> bool:
        """Notify about ``seen`` unless one was sent for it within the hour; True if sent
        (or logged in its place)."""
        if not self.limiter.allow(seen, now):
            return False
        summary, body = message_for(seen, hint)
        self.log(f"new exposure: {body}")
        problem = self.send(summary, body)
        if problem is not None and problem not in self._said:
            self._said.add(problem)
            self.log(f"desktop notifications unavailable: {problem}; new exposures are logged here")
        if problem is None:
            self.sent += 1
        return True
