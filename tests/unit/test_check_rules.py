"""Allow rules and fix hints as `netdash check` uses them: parsing, matching, hint text."""

from __future__ import annotations

import pytest

from netdash.core.hints import fix_hint
from netdash.core.model import Listener, Process
from netdash.core.policy import parse_allow


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("70000", "not between 1 and 65535"),
        ("0", "not between 1 and 65535"),
        ("::1:8000", "brackets"),
        ("[::1:8000", "unmatched"),
        ("example.com:80", "not an IP address"),
        ("22/sctp", "is not a port"),
        ("a b", "is not a port"),
    ],
)
def test_parse_allow_rejects(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_allow(spec)


def _listener(address: str, port: int, *procs: Process, protocol: str = "tcp") -> Listener:
    return Listener(protocol, address, port, 6 if ":" in address else 4, procs)


def test_address_rule_compares_bind_addresses_and_zones() -> None:
    rule = parse_allow("[fe80::1%eth0]:22")
    assert rule.matches(_listener("fe80::1%eth0", 22))
    assert rule.matches(_listener("fe80::1", 22))
    assert not rule.matches(_listener("fe80::1%eth1", 22))
    assert not rule.matches(_listener("::", 22))
    assert parse_allow("[::ffff:10.0.0.1]:22").matches(_listener("10.0.0.1", 22))


def _p(name: str, *cmdline: str) -> Process:
    return Process(pid=10, name=name, cmdline=cmdline)


@pytest.mark.parametrize(
    ("processes", "kind", "tool", "needle"),
    [
        (
            (_p("uvicorn", "/v/bin/uvicorn", "app:app", "--host", "0.0.0.0"),),
            None,
            "uvicorn",
            "--host 127.0.0.1",
        ),
        ((_p("python3", "python3", "-m", "uvicorn", "app:app"),), None, "uvicorn", "--host"),
        (
            (_p("python3", "python3", "app.py"),),
            "flask",
            "flask",
            'app.run(host="127.0.0.1")',
        ),
        (
            (_p("python3", "python3", "manage.py", "runserver", "0.0.0.0:8000"),),
            None,
            "django",
            "runserver 127.0.0.1:8000",
        ),
        (
            (_p("node", "node", "/app/node_modules/.bin/vite", "--host"),),
            None,
            "vite",
            "server.host",
        ),
        (
            (_p("node", "node", "/app/node_modules/.bin/next", "dev"),),
            None,
            "next.js",
            "-H 127.0.0.1",
        ),
        ((_p("next-server (v14.2.3)", "next-server (v14.2.3)"),), None, "next.js", "-H"),
        (
            (_p("python3", "/usr/bin/python3", "/usr/bin/jupyter-lab"),),
            None,
            "jupyter",
            "--ip=127.0.0.1",
        ),
        ((_p("node", "node", "server.js"),), None, "node", "listen(8000, '127.0.0.1')"),
        ((_p("node", "node", "server.js"),), "vite", "vite", "server.host"),
        (
            (
                _p(
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
                ),
            ),
            "uvicorn",
            "docker",
            "-p 127.0.0.1:8000:80",
        ),
        ((_p("sshd", "sshd", "-D"),), "ssh", "sshd", "ListenAddress"),
        ((), None, "generic", "--allow 8000"),
        ((Process(pid=None),), "nginx", "generic", "instead of 0.0.0.0"),
    ],
)
def test_fix_hints(
    processes: tuple[Process, ...], kind: str | None, tool: str, needle: str
) -> None:
    hint = fix_hint(processes, kind, "0.0.0.0", 8000)
    assert hint.tool == tool
    assert needle in hint.text


def test_generic_udp_hint_names_the_protocol() -> None:
    assert "--allow 5353/udp" in fix_hint((), None, "::", 5353, "udp").text
    assert "[::]" in fix_hint((), None, "::", 5353, "udp").text
