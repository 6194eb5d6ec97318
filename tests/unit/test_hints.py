"""fix_hint: one table of hints keyed by kind, and what maps to a kind, most specific first.

The texts are pinned here word for word: `netdash check` prints them and writes them to JSON
(``hint.tool``, ``hint.text``), and the details screen shows them.
"""

from __future__ import annotations

import pytest

from netdash.core.hints import FIXES, fix_hint, kind_from_names, kind_from_words
from netdash.core.model import Listener, Outcome, ProbeResult, Process, Snapshot, Via
from netdash.probe.identify import (
    ANSWER_IDENTIFICATIONS,
    BANNER_IDENTIFICATIONS,
    HTTP_IDENTIFICATIONS,
)

FLASK = (
    "run flask without --host 0.0.0.0 (flask run --host 127.0.0.1), or in code "
    'app.run(host="127.0.0.1")'
)

# kind -> (tool, text at port 8000, chosen by a probe's identification alone)
KINDS: dict[str, tuple[str, str, bool]] = {
    "uvicorn": (
        "uvicorn",
        "start uvicorn with --host 127.0.0.1 (its default) instead of 0.0.0.0",
        True,
    ),
    "gunicorn": ("gunicorn", "start gunicorn with --bind 127.0.0.1:8000", True),
    "hypercorn": ("hypercorn", "start hypercorn with --bind 127.0.0.1:8000", False),
    "django": ("django", "run Django's dev server as: manage.py runserver 127.0.0.1:8000", True),
    "flask": ("flask", FLASK, True),
    "vite": ("vite", "set server.host to '127.0.0.1' in vite.config (and drop --host)", True),
    "next.js": ("next.js", "start Next.js with -H 127.0.0.1 (next dev -H 127.0.0.1)", True),
    "jupyter": ("jupyter", "start Jupyter with --ip=127.0.0.1", True),
    "webpack-dev-server": (
        "webpack-dev-server",
        "set devServer.host to '127.0.0.1' in webpack.config",
        True,
    ),
    "http.server": ("http.server", "run python -m http.server 8000 --bind 127.0.0.1", False),
    "rails": ("rails", "start the server with -b 127.0.0.1 (rails server -b 127.0.0.1)", False),
    "node": ("node", "listen on loopback only: server.listen(8000, '127.0.0.1')", True),
    "ssh": ("sshd", "set ListenAddress in sshd_config, or allow it: --allow sshd", False),
    "postgresql": ("postgresql", "set listen_addresses = 'localhost' in postgresql.conf", False),
    "redis": ("redis", "set bind 127.0.0.1 ::1 in redis.conf", False),
    "mysql": ("mysql", "set bind-address = 127.0.0.1 in my.cnf", False),
    "mariadb": ("mysql", "set bind-address = 127.0.0.1 in my.cnf", False),
    "memcached": ("memcached", "start memcached with -l 127.0.0.1", False),
}
GENERIC = "bind it to 127.0.0.1 (or ::1) instead of 0.0.0.0, or allow it: --allow 8000"


def _p(name: str, *cmdline: str) -> Process:
    return Process(pid=10, name=name, cmdline=cmdline)


def test_the_table_is_pinned() -> None:
    assert set(FIXES) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind(kind: str) -> None:
    tool, text, by_probe = KINDS[kind]
    hint = FIXES[kind].hint(8000)
    assert (hint.tool, hint.text) == (tool, text)
    from_probe = fix_hint((), kind, "0.0.0.0", 8000)
    assert (from_probe.tool, from_probe.text) == (
        (tool, text) if by_probe else ("generic", GENERIC)
    )


# Today's hints from what a probe identified, by display name (before kinds, these were
# chosen by matching the display text): every identification must still give the same one.
BY_DISPLAY_NAME = {
    "FastAPI (uvicorn)": "uvicorn",
    "uvicorn (ASGI: Starlette or other)": "uvicorn",
    "Flask (Werkzeug)": "flask",
    "Django dev server": "django",
    "Vite": "vite",
    "Next.js": "next.js",
    "Jupyter": "jupyter",
    "webpack-dev-server": "webpack-dev-server",
    "Node.js (Express)": "node",
    "gunicorn": "gunicorn",
}


def test_every_identification_keeps_its_hint() -> None:
    tables = (HTTP_IDENTIFICATIONS, BANNER_IDENTIFICATIONS, ANSWER_IDENTIFICATIONS)
    named = [(i.name, i.kind) for table in tables for i in table]
    named += [(i.follow_up.name, i.kind) for i in HTTP_IDENTIFICATIONS if i.follow_up]
    assert set(BY_DISPLAY_NAME) <= {name for name, _ in named}
    for name, kind in named:
        hint = fix_hint((), kind, "0.0.0.0", 8000)
        assert hint.tool == BY_DISPLAY_NAME.get(name, "generic"), name


@pytest.mark.parametrize(
    ("cmdline", "kind"),
    [
        (("/v/bin/uvicorn", "app:app", "--host", "0.0.0.0"), "uvicorn"),
        (("python3", "-m", "uvicorn", "app:app"), "uvicorn"),
        (("/v/bin/gunicorn", "-b", "0.0.0.0:8000", "app:app"), "gunicorn"),
        (("hypercorn", "app:app"), "hypercorn"),
        (("python3", "manage.py", "runserver", "0.0.0.0:8000"), "django"),
        (("python3", "manage.py", "migrate"), None),
        (("/v/bin/flask", "run", "--host", "0.0.0.0"), "flask"),
        (("node", "/app/node_modules/.bin/vite", "--host"), "vite"),
        (("node", "/app/node_modules/vite/bin/vite.js"), "vite"),
        (("node", "/app/node_modules/.bin/next", "dev"), "next.js"),
        (("next-server (v14.2.3)",), "next.js"),
        (("/usr/bin/python3", "/usr/bin/jupyter-lab"), "jupyter"),
        (("jupyter", "notebook"), "jupyter"),
        (("node", "/app/node_modules/.bin/webpack-dev-server"), "webpack-dev-server"),
        (("node", "/app/node_modules/.bin/webpack", "serve"), "webpack-dev-server"),
        (("node", "/app/node_modules/.bin/webpack", "--watch"), None),
        (("python3", "-m", "http.server", "8000"), "http.server"),
        (("ruby", "bin/rails", "server", "-b", "0.0.0.0"), "rails"),
        (("puma", "5.6.4", "(tcp://0.0.0.0:3000)"), "rails"),
        (("node", "server.js"), None),
        (("python3", "app.py"), None),
        # the first rule that matches wins: uvicorn before gunicorn's worker class
        (("gunicorn", "-k", "uvicorn.workers.UvicornWorker"), "gunicorn"),
        (("gunicorn", "-k", "uvicorn"), "uvicorn"),
    ],
)
def test_command_line_words_to_kind(cmdline: tuple[str, ...], kind: str | None) -> None:
    hint = fix_hint((_p("x", *cmdline),), None, "0.0.0.0", 8000)
    assert hint.tool == (FIXES[kind].tool if kind else "generic")  # a tool per word kind


def test_kind_from_words_takes_base_names() -> None:
    assert kind_from_words(["node", "vite", "--host"]) == "vite"
    assert kind_from_words(["python3", "-m", "http.server"]) == "http.server"
    assert kind_from_words(["python3", "app"]) is None


@pytest.mark.parametrize(
    ("names", "kind"),
    [
        (["sshd"], "ssh"),
        (["postgres"], "postgresql"),
        (["redis-server"], "redis"),
        (["mysqld"], "mysql"),
        (["mariadbd"], "mariadb"),
        (["memcached"], "memcached"),
        (["node"], "node"),
        (["nodejs"], "node"),
        (["bun"], "node"),
        (["deno"], "node"),
        (["python3"], None),
        (["python3", "postgres"], "postgresql"),  # the first name that names one
        (["postgres", "sshd"], "postgresql"),
    ],
)
def test_process_names_to_kind(names: list[str], kind: str | None) -> None:
    assert kind_from_names(names) == kind
    processes = tuple(_p(n) for n in names)
    assert fix_hint(processes, None, "0.0.0.0", 8000).tool == (
        FIXES[kind].tool if kind else "generic"
    )


DOCKER = _p(
    "docker-proxy",
    "/usr/bin/docker-proxy",
    "-proto",
    "tcp",
    "-host-ip",
    "0.0.0.0",
    "-host-port",
    "8000",
    "-container-port",
    "80",
)


@pytest.mark.parametrize(
    ("processes", "kind", "tool"),
    [
        # 1. docker-proxy, whatever else is known
        ((DOCKER,), "uvicorn", "docker"),
        ((DOCKER, _p("uvicorn", "uvicorn", "app:app")), "flask", "docker"),
        # 2. the command line before the probe's kind
        ((_p("python3", "python3", "-m", "uvicorn", "app:app"),), "flask", "uvicorn"),
        ((_p("node", "node", "/x/.bin/vite"),), "node", "vite"),
        # 3. the probe's kind before process names
        ((_p("node", "node", "server.js"),), "vite", "vite"),
        ((_p("sshd", "sshd", "-D"),), "uvicorn", "uvicorn"),
        # 4. process names when the probe's kind is unknown or not enough on its own
        ((_p("node", "node", "server.js"),), None, "node"),
        ((_p("sshd", "sshd", "-D"),), "ssh", "sshd"),
        ((_p("postgres", "postgres: main"),), "postgresql", "postgresql"),
        ((_p("python3", "python3", "serve.py"),), "http.server", "generic"),
        ((Process(pid=None),), "ssh", "generic"),  # unreadable owner: --allow sshd cannot match
        # 5. generic
        ((), None, "generic"),
        ((Process(pid=None),), "nginx", "generic"),
        ((), "no-such-kind", "generic"),
    ],
)
def test_precedence(processes: tuple[Process, ...], kind: str | None, tool: str) -> None:
    assert fix_hint(processes, kind, "0.0.0.0", 8000).tool == tool


def test_docker_hint_names_the_container_port() -> None:
    hint = fix_hint((DOCKER,), None, "0.0.0.0", 8000)
    assert hint.text == (
        "publish the port on loopback only: docker run -p 127.0.0.1:8000:80 "
        '(Compose: ports: ["127.0.0.1:8000:80"])'
    )


@pytest.mark.parametrize(
    ("address", "port", "protocol", "text"),
    [
        ("0.0.0.0", 8000, "tcp", GENERIC),
        (
            "::",
            5353,
            "udp",
            "bind it to 127.0.0.1 (or ::1) instead of [::], or allow it: --allow 5353/udp",
        ),
    ],
)
def test_generic_hint(address: str, port: int, protocol: str, text: str) -> None:
    assert fix_hint((), None, address, port, protocol).text == text


@pytest.mark.parametrize(
    ("listener", "kind"),
    [
        (Listener("udp", "0.0.0.0", 5353, 4), None),
        (Listener("tcp", "::", 8000, 6, (_p("python3", "python3", "app.py"),)), "flask"),
        (Listener("tcp", "0.0.0.0", 8001, 4, (_p("node", "node", "server.js"),)), "vite"),
    ],
)
def test_the_assessment_hint_follows_the_probed_kind(listener: Listener, kind: str | None) -> None:
    """``check`` and the details screen both print ``Assessment``'s hint (the screen itself is
    checked in tests/test_hint_agreement.py); it comes from the probe's kind, not its display
    name."""
    from netdash.core.assess import Assessment
    from netdash.output.text import check_text

    results = [
        ProbeResult(
            listener=listener.key,
            via=Via.LAN,
            target="192.0.2.10",
            url="http://192.0.2.10/",
            outcome=Outcome.HTTP,
            elapsed_ms=1.0,
            status=200,
            identified="whatever the display name says",
            kind=kind,
        )
    ]
    snapshot = Snapshot("host", (), (listener,), 0.0)
    assessment = Assessment(snapshot, {listener.key: results}, udp=True)
    [exposure] = assessment.exposures
    li = listener
    expected = fix_hint(li.processes, kind, li.address, li.port, li.protocol)
    assert exposure.hint == expected
    [row] = [row for _, rows in assessment.rows() for row in rows]
    assert row.hint == expected
    assert f"fix: {expected.text}" in check_text(assessment)


def test_a_hostile_container_port_never_enters_the_hint() -> None:
    """A process named docker-proxy with escape sequences for its container port once had
    them written raw by `netdash check` (terminal title changed, screen cleared)."""
    from netdash.core.assess import Assessment
    from netdash.core.model import Snapshot
    from netdash.output.text import check_text

    hostile = "\x1b]0;PWNED\x07\x1b[2J"
    proxy = _p("docker-proxy", "/usr/bin/docker-proxy", "-container-port", hostile)
    hint = fix_hint((proxy,), None, "0.0.0.0", 8000)
    assert hint.tool == "docker" and "\x1b" not in hint.text and "PWNED" not in hint.text
    assert "-p 127.0.0.1:8000:8000" in hint.text
    snapshot = Snapshot("h", (), (Listener("tcp", "0.0.0.0", 8000, 4, (proxy,)),), 0.0)
    text = check_text(Assessment(snapshot))
    assert "\x1b" not in text and "\x07" not in text
