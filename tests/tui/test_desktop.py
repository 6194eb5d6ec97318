"""Opening a URL and copying it (``netdash.tui.desktop``): the desktop is a true boundary, so
the opener is a small script of the test's own on ``PATH``; tmux is the real one, on a
private server socket."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netdash.tui.desktop import clipboard_note, open_in_browser
from tests.support.ci import require


def fake_opener(tmp_path: Path, name: str) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / f"{name}.args"
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {record}\n')
    script.chmod(0o755)
    return {"PATH": str(bin_dir)}, record


def wait_for_file(path: Path) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written")


def test_open_goes_through_xdg_open_only_with_a_desktop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, record = fake_opener(tmp_path, "xdg-open")
    monkeypatch.setenv("PATH", env["PATH"])
    assert open_in_browser("http://localhost:8000/", env={}, platform="linux") == (
        "no desktop session (DISPLAY and WAYLAND_DISPLAY are unset)"
    )
    assert not record.exists()
    assert (
        open_in_browser("http://localhost:8000/", env={"DISPLAY": ":0"}, platform="linux") is None
    )
    assert wait_for_file(record) == "http://localhost:8000/"


def test_open_without_xdg_open_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = open_in_browser("http://x/", env={"WAYLAND_DISPLAY": "wayland-0"}, platform="linux")
    assert reason == "xdg-open is not installed"


def test_open_on_macos_uses_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env, record = fake_opener(tmp_path, "open")
    monkeypatch.setenv("PATH", env["PATH"])
    assert open_in_browser("http://localhost:1/", env={}, platform="darwin") is None
    assert wait_for_file(record) == "http://localhost:1/"


def test_copy_outside_tmux_says_osc52() -> None:
    note, likely = clipboard_note("http://localhost:8000/", env={})
    assert likely and "OSC 52" in note and "http://localhost:8000/" in note


@pytest.fixture
def tmux_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], list[str]]]:
    tmux = shutil.which("tmux")
    if tmux is None:
        require(False, "tmux is not installed")
    assert tmux is not None
    sock = str(tmp_path / "tmux.sock")
    base = [tmux, "-S", sock, "-f", "/dev/null"]
    subprocess.run([*base, "new-session", "-d", "-s", "t", "sleep 60"], check=True)
    pid = subprocess.run(
        [*base, "display-message", "-p", "#{pid}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = dict(os.environ, TMUX=f"{sock},{pid},0")
    try:
        yield env, base
    finally:
        subprocess.run([*base, "kill-server"], check=False)


def test_copy_under_tmux_follows_set_clipboard(tmux_env: tuple[dict[str, str], list[str]]) -> None:
    env, base = tmux_env
    note, likely = clipboard_note("http://localhost:8000/", env=env)  # tmux's default: external
    assert not likely and "Not copied" in note and "'external'" in note
    assert "http://localhost:8000/" in note
    subprocess.run([*base, "set-option", "-g", "set-clipboard", "on"], check=True)
    note, likely = clipboard_note("http://localhost:8000/", env=env)
    assert likely and "set-clipboard on" in note
