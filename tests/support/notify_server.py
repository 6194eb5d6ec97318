"""A freedesktop notification server of the tests' own, on a private session bus.

``python -m tests.support.notify_server OUT`` connects to ``DBUS_SESSION_BUS_ADDRESS``, owns
``org.freedesktop.Notifications`` and appends one JSON line per ``Notify`` call to OUT
(``app_name``, ``summary``, ``body``, ``hints`` keys), answering as a desktop would. Prints
``ready`` once it owns the name. :func:`session_bus` starts a private ``dbus-daemon --session``
and this server, for a test: the desktop is a real boundary, reached by real ``notify-send``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ci import require

NAME = "org.freedesktop.Notifications"


def serve(out: str) -> None:
    from jeepney import HeaderFields, MessageType, new_error, new_method_return
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(bus="SESSION")
    reply = conn.send_and_get_reply(message_bus.RequestName(NAME, 4))  # DO_NOT_QUEUE
    assert reply.body == (1,), reply.body  # PRIMARY_OWNER
    print("ready", flush=True)
    count = 0
    while True:
        msg = conn.receive()
        if msg.header.message_type != MessageType.method_call:
            continue
        member = msg.header.fields.get(HeaderFields.member)
        if member == "Notify":
            app, _replaces, _icon, summary, body, _actions, hints, _timeout = msg.body
            count += 1
            with open(out, "a", encoding="utf-8") as f:
                record = {"app_name": app, "summary": summary, "body": body, "hints": sorted(hints)}
                f.write(json.dumps(record) + "\n")
            conn.send(new_method_return(msg, "u", (count,)))
        elif member == "GetCapabilities":
            conn.send(new_method_return(msg, "as", (["body"],)))
        elif member == "GetServerInformation":
            conn.send(new_method_return(msg, "ssss", ("test", "netdash-tests", "1", "1.2")))
        else:
            conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))


class Desktop:
    """A running private session bus: ``address`` (for ``DBUS_SESSION_BUS_ADDRESS``) and the
    notifications received so far (:meth:`received`)."""

    def __init__(self, address: str, out: Path) -> None:
        self.address = address
        self.out = out

    def received(self) -> list[dict[str, object]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]


@contextmanager
def session_bus(tmp: Path) -> Iterator[Desktop]:
    """A private ``dbus-daemon --session`` with the notification server on it."""
    require(shutil.which("dbus-daemon") is not None, "dbus-daemon is not installed (dbus)")
    try:
        import jeepney  # noqa: F401
    except ImportError:
        require(False, "jeepney is not installed (pip install jeepney)")
    socket_path = tmp / "bus"
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1",
         f"--address=unix:path={socket_path}"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    server = None
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().strip()
        assert address.startswith("unix:"), address
        out = tmp / "notifications.jsonl"
        root = Path(__file__).resolve().parent.parent.parent
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.support.notify_server", str(out)],
            cwd=root, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address, "PYTHONPATH": str(root)},
        )  # fmt: skip
        assert server.stdout is not None
        line = server.stdout.readline().strip()
        assert line == "ready", line
        yield Desktop(address, out)
    finally:
        for process in (server, daemon):
            if process is not None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                if process.stdout is not None:
                    process.stdout.close()


if __name__ == "__main__":
    serve(sys.argv[1])
