"""The fleet on the real thing: node_exporter's textfile collector reads the file netdash
writes, Prometheus scrapes node_exporter and evaluates the shipped alert rules
(contrib/prometheus/netdash.rules.yml), all on loopback in the test namespace; and
``promtool test rules`` proves the rules' timing (``for: 10m``, staleness) on the same file.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ci import require
from tests.support.cli import run_cli
from tests.support.servers import bound_socket, free_port

pytestmark = pytest.mark.netns

RULES = Path(__file__).resolve().parents[2] / "contrib" / "prometheus"
NODE_EXPORTER = ("prometheus-node-exporter", "node_exporter")


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    require(False, f"{names[0]} is not installed (Debian: {names[0]})")
    raise AssertionError  # unreachable: require skipped or failed


@contextmanager
def started(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(what: str, probe: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = probe()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.5)


def write_metrics(directory: Path, allow: int) -> None:
    """As the README's recipe: a temporary file in the same directory, then a rename."""
    result = run_cli("check", "--format", "prometheus", "--allow", str(allow))
    assert result.returncode in (0, 1, 3), result.stderr
    tmp = directory / "netdash.prom.tmp"
    tmp.write_text(result.stdout)
    tmp.rename(directory / "netdash.prom")


def test_promtool_passes_on_the_shipped_rules() -> None:
    promtool = _tool("promtool")
    checked = subprocess.run(
        [promtool, "check", "rules", "netdash.rules.yml"], cwd=RULES, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "netdash.rules.test.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_readme_rules_are_the_shipped_rules() -> None:
    readme = (RULES.parents[1] / "README.md").read_text(encoding="utf-8")
    rules = (RULES / "netdash.rules.yml").read_text(encoding="utf-8")
    block = rules[rules.index("groups:") :].strip()
    assert block in readme


def test_prometheus_scrapes_node_exporter_reading_netdash_and_the_alert_pends(
    tmp_path: Path,
) -> None:
    prometheus = _tool("prometheus")
    exporter = _tool(*NODE_EXPORTER)
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    exposed = bound_socket("0.0.0.0", 0)  # a new exposure
    allowed = bound_socket("0.0.0.0", 0)  # one the host allows
    local = bound_socket("127.0.0.1", 0)
    exposed_port, allowed_port = exposed.getsockname()[1], allowed.getsockname()[1]
    write_metrics(textfiles, allowed_port)
    ne_port, prom_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {RULES / 'netdash.rules.yml'}\n"
        "scrape_configs:\n  - job_name: node\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{ne_port}']\n"
    )
    node_args = [
        exporter,
        f"--web.listen-address=127.0.0.1:{ne_port}",
        "--collector.disable-defaults",
        "--collector.textfile",
        f"--collector.textfile.directory={textfiles}",
    ]
    prom_args = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    api = f"http://127.0.0.1:{prom_port}/api/v1"
    with (
        started(node_args, tmp_path / "node.log"),
        started(prom_args, tmp_path / "prom.log"),
        httpx.Client(trust_env=False, timeout=5) as client,
    ):

        def query(expr: str) -> list[dict[str, Any]]:
            response = client.get(f"{api}/query", params={"query": expr})
            response.raise_for_status()  # 503 while Prometheus starts: wait_for tries again
            body = response.json()
            result: list[dict[str, Any]] = body["data"]["result"]
            return result

        found = wait_for("netdash_exposed_listeners", lambda: query("netdash_exposed_listeners"))
        assert float(found[0]["value"][1]) >= 2
        assert found[0]["metric"]["instance"] == f"127.0.0.1:{ne_port}"
        ports = {s["metric"]["port"]: s["metric"] for s in query("netdash_listener_info")}
        assert ports[str(exposed_port)]["allowed"] == "false"
        assert ports[str(allowed_port)]["allowed"] == "true"
        assert ports[str(local.getsockname()[1])]["verdict"] == "local-only"

        def pending() -> list[dict[str, Any]]:
            alerts = client.get(f"{api}/alerts").json()["data"]["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "NewNetworkExposure"]

        alerts = wait_for("NewNetworkExposure", pending)
        time.sleep(2)  # two more evaluations: nothing else joins
        alerts = pending()
        # Prometheus has no data from an hour ago, so every unallowed exposure is new here;
        # the allowed one never is.
        alert_ports = {a["labels"]["port"] for a in alerts}
        assert str(exposed_port) in alert_ports
        assert str(allowed_port) not in alert_ports
        assert str(local.getsockname()[1]) not in alert_ports
        assert {a["state"] for a in alerts} == {"pending"}  # for: 10m
        # The staleness expression reads the file's time (NetdashStale's timing: promtool).
        age = float(query("time() - netdash_snapshot_timestamp_seconds")[0]["value"][1])
        assert 0 <= age < 120
    for sock in (exposed, allowed, local):
        sock.close()


def test_the_systemd_user_unit_verifies(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on the shipped unit, with ExecStart pointed at this
    install's netdash (the unit names pipx's place, ``%h/.local/bin``)."""
    import sys

    analyze = _tool("systemd-analyze")
    unit = RULES.parent / "systemd" / "netdash-watch.service"
    text = unit.read_text(encoding="utf-8")
    assert "ExecStart=%h/.local/bin/netdash watch\n" in text
    netdash = Path(sys.executable).parent / "netdash"
    require(netdash.exists(), f"no netdash script beside {sys.executable}")
    mine = tmp_path / "netdash-watch.service"
    mine.write_text(text.replace("%h/.local/bin/netdash", str(netdash)), encoding="utf-8")
    done = subprocess.run([analyze, "verify", str(mine)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    readme = (RULES.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "systemctl --user enable --now netdash-watch" in readme
