"""The risk checks against real servers (issue 16), in the test's private network namespace.

One probe run over every server at once (as ``netdash check --probe`` does), then, per server,
the risk the assessment reports (kind, severity, reach) or that it reports none; and the
servers' own logs (Jupyter's request log, Redis's MONITOR, memcached's ``-vv``) show that the
probe sent only the requests the README lists. Ollama and Elasticsearch cannot run here: small
stand-ins answer as their documentation says (tests/support/risky_apps.py).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netdash.core.addresses import own_addresses
from netdash.core.assess import Assessment, ListenerAssessment, host_check
from netdash.core.model import ProbeResult
from netdash.core.policy import Policy, parse_allow
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.sources.interfaces import read_interfaces
from netdash.sources.snapshot import collect_snapshot
from tests.support import netns, risky
from tests.support.ci import require
from tests.support.servers import Running, start_http_server, start_uvicorn

pytestmark = pytest.mark.netns

LAN = {4: netns.LAN_V4, 6: netns.LAN_V6}


@dataclass
class Lab:
    """The running servers by name, their logs, and one probe run over all of them."""

    servers: dict[str, Running] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    results: dict[tuple[str, str, int], list[ProbeResult]] = field(default_factory=dict)
    redis_seen: dict[str, list[str]] = field(default_factory=dict)
    vite_missing: str | None = None  # why Vite could not run (only its tests skip then)

    def assessment(self, *allow: str) -> Assessment:
        snapshot = collect_snapshot()
        policy = Policy.of(parse_allow(a) for a in allow)
        return Assessment(snapshot, self.results, policy)

    def of(self, name: str, assessment: Assessment | None = None) -> ListenerAssessment:
        server = self.servers[name]
        assessment = assessment or self.assessment()
        for listener in assessment.snapshot.listeners:
            if listener.port == server.port and listener.protocol == "tcp":
                return assessment.of(listener)
        raise AssertionError(f"{name} on port {server.port} is not listed")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    logs = tmp_path_factory.mktemp("risky")
    for tool in ("redis-server", "memcached"):
        require(shutil.which(tool) is not None, f"{tool} is not installed (.ci/run installs it)")
    require(risky.dockerd_ready() is None, f"dockerd cannot run: {risky.dockerd_ready()}")
    found = Lab()
    found.vite_missing = risky.vite_ready()
    s = found.servers
    monitors: dict[str, risky.RedisMonitor] = {}
    try:
        s["jupyter_open_any"], found.logs["jupyter_open_any"] = risky.start_jupyter(
            "0.0.0.0", "", logs
        )
        s["jupyter_open_lo"], found.logs["jupyter_open_lo"] = risky.start_jupyter(
            "127.0.0.1", "", logs
        )
        s["jupyter_token"], found.logs["jupyter_token"] = risky.start_jupyter(
            "127.0.0.1", "a-long-test-token", logs
        )
        s["redis_protected"] = risky.start_redis("0.0.0.0", logs)
        s["redis_unprotected"] = risky.start_redis("0.0.0.0", logs, protected=False)
        s["redis_password"] = risky.start_redis("0.0.0.0", logs, password="test-pw")
        s["memcached"], found.logs["memcached"] = risky.start_memcached("127.0.0.1", logs)
        s["docker"], found.logs["docker"] = risky.start_dockerd(logs)
        s["flask_debugger"] = risky.start_flask_debugger("127.0.0.1", logs)
        s["starlette_checked"] = risky.start_uvicorn_app("starlette_checked", "127.0.0.1", logs, {})
        s["starlette_open"] = risky.start_uvicorn_app("starlette_open", "127.0.0.1", logs, {})
        s["fastapi"] = start_uvicorn("127.0.0.1")
        s["http_server"] = start_http_server("127.0.0.1", directory=str(logs))
        s["ws_any"] = risky.start_websockets("127.0.0.1", logs, origins=False)
        s["ws_origins"] = risky.start_websockets("127.0.0.1", logs, origins=True)
        if found.vite_missing is None:
            s["vite"] = risky.start_vite("127.0.0.1", logs, any_host=False)
            s["vite_any_host"] = risky.start_vite("127.0.0.1", logs, any_host=True)
        s["ollama"] = risky.start_standin("ollama", "127.0.0.1", logs)
        s["elasticsearch"] = risky.start_standin("elasticsearch", "127.0.0.1", logs)
        for name, password in (
            ("redis_protected", None),
            ("redis_unprotected", None),
            ("redis_password", "test-pw"),
        ):
            monitors[name] = risky.RedisMonitor("127.0.0.1", s[name].port, password)
        ports = {server.port for server in s.values()}
        listeners = [
            li for li in collect_snapshot().listeners if li.protocol == "tcp" and li.port in ports
        ]
        own = own_addresses(read_interfaces())
        results = asyncio.run(probe_listeners(listeners, LAN, own, ProbeLimits()))
        for result in results:
            found.results.setdefault(result.listener, []).append(result)
        for name, monitor in monitors.items():
            found.redis_seen[name] = monitor.commands()
        yield found
    finally:
        for monitor in monitors.values():
            monitor.close()
        for server in s.values():
            server.stop()


def _risks(assessed: ListenerAssessment) -> list[tuple[str, str, str]]:
    return [(r.kind, r.severity, r.reach) for r in assessed.risks]


EXPECTED = [
    # Jupyter without a token on 0.0.0.0 accepts any Host (allow_remote_access follows --ip).
    ("jupyter_open_any", [("jupyter-no-token", "critical", "lan")]),
    # On loopback Jupyter refuses a foreign Host (403): only local programs get in.
    ("jupyter_open_lo", [("jupyter-no-token", "critical", "local")]),
    ("jupyter_token", []),
    # Protected mode: -DENIED through the LAN address, +PONG through loopback.
    ("redis_protected", [("redis-no-auth", "high", "local")]),
    ("redis_unprotected", [("redis-no-auth", "high", "lan")]),
    ("redis_password", []),
    ("memcached", [("memcached-open", "high", "local")]),
    # GET / is a 404 whatever the Host: rebinding unknown, so the reach stays local.
    ("docker", [("docker-api", "critical", "local")]),
    (
        "flask_debugger",
        [("werkzeug-debugger", "medium", "browser"), ("dns-rebinding", "low", "browser")],
    ),
    ("starlette_checked", []),
    ("starlette_open", [("dns-rebinding", "low", "browser")]),
    ("fastapi", [("dns-rebinding", "low", "browser")]),
    ("http_server", [("dns-rebinding", "low", "browser")]),
    ("ws_any", [("ws-any-origin", "medium", "browser")]),
    ("ws_origins", []),
    ("vite", [("dev-server", "medium", "local")]),
    ("vite_any_host", [("dev-server", "medium", "browser"), ("dns-rebinding", "low", "browser")]),
    ("ollama", [("ollama-open", "high", "browser"), ("dns-rebinding", "low", "browser")]),
    (
        "elasticsearch",
        [("elasticsearch-open", "high", "browser"), ("dns-rebinding", "low", "browser")],
    ),
]


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_each_real_server_gets_its_risk_or_none(
    lab: Lab, name: str, expected: list[tuple[str, str, str]]
) -> None:
    if name.startswith("vite"):
        require(lab.vite_missing is None, f"Vite cannot run: {lab.vite_missing}")
    assessed = lab.of(name)
    assert _risks(assessed) == expected, [r.__dict__ for r in assessed.results]
    for risk in assessed.risks:
        assert risk.evidence and " -> " in risk.evidence


def test_host_check_is_reported_as_protected_or_open(lab: Lab) -> None:
    assert host_check(lab.of("starlette_checked").results) == "host check (400)"
    if lab.vite_missing is None:  # its own test above says why when it cannot run
        assert host_check(lab.of("vite").results) == "host check (403)"
    assert host_check(lab.of("http_server").results) == "any Host accepted (200)"
    assert host_check(lab.of("docker").results) == "unknown (404)"


def test_tokenless_jupyter_on_all_interfaces_is_the_loudest_and_fails_check(lab: Lab) -> None:
    assessment = lab.assessment()
    loud = min((a for a in assessment.listeners if a.risk is not None), key=lambda a: a.risk.rank)
    assert loud.listener.port == lab.servers["jupyter_open_any"].port
    assert loud.risk_severity == "critical"
    assert loud.notes[0].startswith("critical: anyone who reaches it from the network can run")
    assert assessment.exit_code_for("exposed") == 1
    # Allowed as an exposure, it still fails by default: a critical risk from the LAN...
    port = lab.servers["jupyter_open_any"].port
    others = [str(a.listener.port) for a in assessment.exposures if a.listener.port != port]
    allowed = lab.assessment(str(port), *others)
    assert not allowed.findings
    assert [a.listener.port for a in allowed.risk_failures("exposed")] == [port]
    # ...until the risk itself is acknowledged by a rule naming it.
    both = lab.assessment(str(port), f"jupyter-no-token@{port}", *others)
    assert both.risk_failures("exposed") == []
    assert both.exit_code_for("exposed") in (0, 3)
    # A loopback-only tokenless Jupyter fails --fail-on critical, never the default.
    loopback_port = lab.servers["jupyter_open_lo"].port
    assert loopback_port in {a.listener.port for a in both.risk_failures("critical")}
    assert loopback_port in {a.listener.port for a in both.risk_failures("risk")}


def test_jupyter_saw_only_the_listed_requests(lab: Lab) -> None:
    pattern = re.compile(r"\b([1-5]\d\d) (GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\S+)")
    for name in ("jupyter_open_any", "jupyter_open_lo", "jupyter_token"):
        seen = pattern.findall(lab.logs[name].read_text(errors="replace"))
        assert seen, f"{name}: no request in the log"
        assert {(method, path.split("?")[0]) for _, method, path in seen} <= {
            ("GET", "/"),
            ("GET", "/api/status"),
        }, seen


def test_redis_saw_ping_only(lab: Lab) -> None:
    for name in ("redis_protected", "redis_unprotected", "redis_password"):
        seen = set(lab.redis_seen[name])
        assert seen <= {"ping", "get"}, (name, seen)  # "get": GET / of the HTTP attempt
    assert "ping" in lab.redis_seen["redis_unprotected"]


def test_memcached_saw_version_only(lab: Lab) -> None:
    log = lab.logs["memcached"].read_text(errors="replace")
    words = re.findall(r"^<\d+ (\S+)", log, re.MULTILINE)
    # Besides its own "server listening" and connection lines: the probe's plain GET /
    # HTTP/1.0 (memcached closes on it), its TLS ClientHello (binary: memcached logs pieces
    # of it split at spaces and newlines, any bytes), then "version". A memcached command
    # is a word of letters: those are what the probe sent as commands.
    skip = ("server", "new", "connection")
    commands = {w for w in words if w not in skip and re.fullmatch(r"[A-Za-z_]+", w)}
    assert commands == {"GET", "version"}, words


def _validator(name: str):  # type: ignore[no-untyped-def]
    import json

    import jsonschema

    schema = json.loads((Path(__file__).parents[2] / "schema" / name).read_text())
    return jsonschema.Draft202012Validator(schema)


def test_check_cli_fails_on_the_tokenless_jupyter_and_says_why(lab: Lab) -> None:
    import json

    from tests.support.cli import run_cli

    port = lab.servers["jupyter_open_any"].port
    loopback_port = lab.servers["jupyter_open_lo"].port
    exposed = [str(a.listener.port) for a in lab.assessment().exposures]
    allow = [arg for p in exposed for arg in ("--allow", p)]
    # Every exposure allowed: the tokenless Jupyter on 0.0.0.0 still fails the default...
    text = run_cli("check", "--probe", *allow, timeout=60)
    assert text.returncode == 1, text.stdout + text.stderr
    assert f"critical LAN: tcp 0.0.0.0:{port}" in text.stdout
    assert "[fails --fail-on exposed]" in text.stdout
    assert "JUPYTER_TOKEN" in text.stdout  # the fix
    assert "FAIL: 1 service with a risk that fails --fail-on exposed" in text.stdout
    # ...until its risk is acknowledged; the loopback one then fails only --fail-on critical.
    acknowledged = [*allow, "--allow", f"jupyter-no-token@{port}"]
    quiet = run_cli("check", "--probe", *acknowledged, timeout=60)
    assert quiet.returncode in (0, 3), quiet.stdout
    strict = run_cli("check", "--probe", "--fail-on", "critical", *acknowledged, "--json")
    assert strict.returncode == 1, strict.stdout
    document = json.loads(strict.stdout)
    _validator("netdash-check.schema.json").validate(document)
    failing = {g["port"] for g in document["risks"] if g["fails"]}
    assert failing == {loopback_port, lab.servers["docker"].port}  # the critical ones
    assert document["fail_on"] == "critical" and document["risk_failures"] == 2


def test_list_json_and_prometheus_carry_the_risks(lab: Lab) -> None:
    import json

    from tests.support.cli import run_cli

    port = lab.servers["jupyter_open_any"].port
    listing = run_cli("list", "--probe", "--json", timeout=60)
    assert listing.returncode == 0, listing.stderr
    document = json.loads(listing.stdout)
    _validator("netdash-list.schema.json").validate(document)
    mine = [li for li in document["listeners"] if li["port"] == port]
    assert mine and mine[0]["risk"] == "critical"
    assert mine[0]["risks"][0]["kind"] == "jupyter-no-token"
    assert mine[0]["risks"][0]["evidence"].startswith("GET /api/status -> 200")
    assert mine[0]["host_check"] == "any Host accepted (200)"
    prom = run_cli("check", "--probe", "--format", "prometheus", timeout=60)
    wanted = f'port="{port}",program="python",kind="jupyter-no-token",severity="critical"'
    assert any(
        line.startswith("netdash_listener_risk{") and wanted in line
        for line in prom.stdout.splitlines()
    ), prom.stdout


def test_who_names_the_risk(lab: Lab) -> None:
    from tests.support.cli import run_cli

    port = lab.servers["jupyter_open_any"].port
    who = run_cli("who", str(port), "--probe", timeout=60)
    assert who.returncode == 0, who.stderr
    assert "; risk critical LAN: anyone who reaches it from the network can run code" in who.stdout
