"""Configuration as the real command line sees it: a broken file, and --lan's precedence
over the environment and the file (addresses added to the namespace's LAN interface).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import netns
from tests.support.cli import run_cli
from tests.support.config import write


@pytest.mark.parametrize("command", [[], ["list"], ["check"], ["who", "22"]])
def test_cli_broken_config_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    path = write(tmp_path, 'interval = 5\nallow = ["22", 7]\n')
    result = run_cli(*command, "--config", str(path))
    assert result.returncode == 2
    assert (
        result.stderr
        == f'netdash: error: {path}:2: allow: must be a rule such as "22" or a list of them\n'
    )
    result = run_cli(*command, NETDASH_CONFIG=str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"netdash: error: {path}:2: allow:")


@pytest.mark.netns
def test_cli_lan_precedence_file_environment_command_line(tmp_path: Path) -> None:
    extra = ["198.18.0.2", "198.18.0.3"]
    for address in extra:
        subprocess.run(["ip", "addr", "add", f"{address}/24", "dev", "v0"], check=True)
    try:
        path = write(tmp_path, f'lan = "{extra[0]}"\n')

        def lan(*args: str, **env: str) -> list[str]:
            result = run_cli("list", "--json", "--config", str(path), *args, **env)
            assert result.returncode == 0, result.stderr
            return list(json.loads(result.stdout)["lan_addresses"])

        assert lan() == [extra[0], netns.LAN_V6]
        assert lan(NETDASH_LAN=extra[1]) == [extra[1], netns.LAN_V6]
        assert lan("--lan", netns.LAN_V4, NETDASH_LAN=extra[1]) == [netns.LAN_V4, netns.LAN_V6]
    finally:
        for address in extra:
            subprocess.run(["ip", "addr", "del", f"{address}/24", "dev", "v0"], check=True)
    bad = write(tmp_path, 'interval = 3\nlan = "8.8.8.8"\n')
    result = run_cli("list", "--config", str(bad))
    assert result.returncode == 2
    assert result.stderr == (
        f"netdash: error: {bad}:2: lan: 8.8.8.8 is not an address of this machine; netdash "
        "only probes its own addresses (see `ip addr`)\n"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: Path("/dev/zero"), "not a regular file"),
        (lambda tmp: _fifo(tmp / "fifo"), "not a regular file"),
        (lambda tmp: _big(tmp / "big.toml"), "larger than 1 MiB"),
        (lambda tmp: tmp, "is a directory"),
    ],
    ids=["dev-zero", "fifo", "2-mib", "directory"],
)
def test_a_config_that_is_no_small_regular_file_is_one_line_and_exit_2(
    tmp_path: Path, make: Any, message: str
) -> None:
    """`--config /dev/zero` once read 3.7 GB and died with a MemoryError; a FIFO hung."""
    path = make(tmp_path)
    result = run_cli("list", "--json", "--config", str(path), timeout=20)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"netdash: error: {path}: {message}" + result.stderr.split(message)[1]
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_dev_null_as_config_reads_none() -> None:
    result = run_cli("list", "--json", "--config", "/dev/null")
    assert result.returncode == 0, result.stderr


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _big(path: Path) -> Path:
    path.write_text("# " + "x" * (2 << 20) + "\ninterval = 2\n")
    return path
