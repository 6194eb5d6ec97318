"""What a process runs, for a reader (``netdash.output.labels.program_name``): interpreters
and launchers show what their command line runs (issue 14: 8 of 13 rows said only
``python``)."""

from __future__ import annotations

import pytest

# ruff: noqa: E501  (one case per line reads best)
from netdash.core.model import Process
from netdash.output.labels import PROGRAM_WIDTH, process_label, program_name


@pytest.mark.parametrize(
    ("name", "cmdline", "shown"),
    [
        ("python", ("python", "-m", "http.server", "8001"), "python -m http.server"),
        ("python3", ("/usr/bin/python3", "-u", "-m", "uvicorn", "app:app"), "python3 -m uvicorn app:app"),
        ("python3.11", ("python3.11", "-X", "dev", "-m", "flask", "run"), "python3.11 -m flask run"),
        ("python3", ("/venv/bin/python3", "/venv/bin/flask", "run"), "flask run"),
        ("python", ("python", "manage.py", "runserver", "0.0.0.0:8000"), "manage.py runserver"),
        ("python3", ("python3", "/srv/app/server.py", "--port", "80"), "server.py"),
        ("python3", ("python3", "-c", "import socket"), "python3 -c"),
        ("python3", ("python3",), "python3"),
        ("node", ("node", "/app/node_modules/.bin/vite"), "node vite"),
        ("node", ("node", "/app/node_modules/vite/bin/vite.js", "dev"), "node vite dev"),
        ("node", ("node", "/app/node_modules/@angular/cli/bin/ng", "serve"), "node @angular/cli serve"),
        ("node", ("node", "--inspect", "server.js"), "node server.js"),
        ("npm", ("npm", "run", "dev"), "npm run dev"),
        ("java", ("java", "-Xmx1g", "-jar", "/opt/app/app.jar"), "java -jar app.jar"),
        ("java", ("java", "-cp", "lib/*", "com.example.Main"), "java Main"),
        ("bash", ("bash", "./serve.sh"), "serve.sh"),
        ("uvicorn", ("/venv/bin/python3", "/venv/bin/uvicorn", "app:app"), "uvicorn"),  # named
        ("sshd", ("sshd", "-D"), "sshd"),
    ],
)  # fmt: skip
def test_interpreters_show_what_they_run(name: str, cmdline: tuple[str, ...], shown: str) -> None:
    assert program_name(Process(pid=1, name=name, cmdline=cmdline)) == shown


def test_hostile_command_lines_stay_data_and_short() -> None:
    hostile = Process(pid=1, name="python3", cmdline=("python3", "-m", "\x1b]0;PWNED\x07[b]x[/b]"))
    shown = program_name(hostile)
    assert shown is not None and "\x1b" not in shown and "\x07" not in shown
    assert len(shown) <= PROGRAM_WIDTH
    assert program_name(Process(pid=1, name=None)) is None


def test_process_label_keeps_workers_and_unknown() -> None:
    parent = Process(pid=10, name="python3", cmdline=("python3", "-m", "http.server"))
    worker = Process(pid=11, name="python3", cmdline=("python3", "-m", "http.server"), ppid=10)
    assert process_label([parent, worker]) == "python3 -m http.server +1 worker"
    assert process_label([Process(pid=None, user="postgres")]) == "unknown (postgres)"
