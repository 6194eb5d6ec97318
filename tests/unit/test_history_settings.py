"""Where history goes: the default state directory, root's own under sudo, ``--history``,
the config key and ``NETDASH_HISTORY``, ``--no-history``; and ``--since`` mistakes."""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from netdash.cli.parser import build_parser
from netdash.config import resolve_settings
from netdash.history.paths import _file_name, default_history_path


def settings(argv: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    return resolve_settings(vars(build_parser().parse_args(argv)), env)


def test_default_is_the_user_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert default_history_path() == tmp_path / "netdash" / _file_name()
    got = settings(["watch"], {"NETDASH_CONFIG": "/dev/null"})
    assert (got.history, got.history_own_dir) == (tmp_path / "netdash" / _file_name(), True)


def test_under_sudo_roots_own_state_dir_whatever_the_environment(tmp_path: Path) -> None:
    env = {"SUDO_USER": "ada", "XDG_STATE_HOME": str(tmp_path), "HOME": "/home/ada"}
    root = Path(pwd.getpwuid(0).pw_dir)
    assert default_history_path(env, euid=0) == root / ".local/state/netdash" / _file_name()


def test_precedence_no_history_then_flag_then_env_then_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('history = "/srv/from-file.sqlite3"\n')
    env = {"NETDASH_CONFIG": str(config)}
    assert settings(["history"], env).history == Path("/srv/from-file.sqlite3")
    env_h = {**env, "NETDASH_HISTORY": "/srv/env.sqlite3"}
    assert settings(["history"], env_h).history == Path("/srv/env.sqlite3")
    assert settings(["history", "--history", "/srv/x"], env_h).history == Path("/srv/x")
    assert settings(["--no-history"], env_h).history is None
    assert settings(["watch", "--no-history"], env_h).history is None
    assert settings([], {**env, "NETDASH_HISTORY": "off"}).history is None
    config.write_text("history = false\n")
    assert settings([], env).history is None
    assert settings(["list"], env_h).history is None  # only dashboard, watch, history use it


def test_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from netdash.config import ConfigError

    config = tmp_path / "c.toml"
    config.write_text("history = 3\n")
    with pytest.raises(ConfigError, match=r"c.toml:1: history: must be a file path or false"):
        settings([], {"NETDASH_CONFIG": str(config)})
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["history", "--since", "yesterday"])
    assert caught.value.code == 2
    assert "not a duration" in capsys.readouterr().err
