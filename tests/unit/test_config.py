"""Configuration: the TOML file, the environment and the command line, in that order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netdash.cli.parser import build_parser
from netdash.config import (
    Config,
    ConfigError,
    Settings,
    default_config_path,
    load_config,
    resolve_settings,
)
from tests.support.config import write


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert (config.interval, config.lan, config.allow, config.auto_probe) == (2.0, (), (), False)
    assert config.path is None


def test_default_path_is_the_user_config_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "netdash" / "config.toml"
    (tmp_path / "netdash").mkdir()
    (tmp_path / "netdash" / "config.toml").write_text("interval = 7\n")
    assert load_config(environ={}).interval == 7.0


def test_every_key_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'interval = 5\nlan = ["198.18.0.1", "2001:db8::1"]\nallow = ["22", "sshd"]\n'
        'ignore_interfaces = "docker0"\nauto_probe = true\n',
    )
    config = load_config(path, environ={})
    assert config.interval == 5.0
    assert config.lan == ("198.18.0.1", "2001:db8::1")
    assert [r.spec for r in config.allow] == ["22", "sshd"]
    assert config.ignore_interfaces == ("docker0",)
    assert config.auto_probe is True
    assert config.sources["auto_probe"] == f"{path}:5"


def test_environment_beats_the_file_and_allow_adds_up(tmp_path: Path) -> None:
    path = write(tmp_path, 'interval = 5\nallow = ["22"]\nauto_probe = true\nlan = "198.18.0.1"\n')
    config = load_config(
        path,
        environ={
            "NETDASH_INTERVAL": "0.5",
            "NETDASH_ALLOW": "5353/udp, sshd",
            "NETDASH_AUTO_PROBE": "off",
            "NETDASH_LAN": "2001:db8::1",
            "NETDASH_IGNORE_INTERFACES": "docker0 virbr0",
        },
    )
    assert config.interval == 0.5
    assert [r.spec for r in config.allow] == ["22", "5353/udp", "sshd"]
    assert config.auto_probe is False
    assert config.lan == ("2001:db8::1",)
    assert config.ignore_interfaces == ("docker0", "virbr0")
    assert config.sources["interval"] == "NETDASH_INTERVAL"


def test_netdash_config_names_the_file_and_config_argument_beats_it(tmp_path: Path) -> None:
    one = write(tmp_path, "interval = 3\n")
    two = tmp_path / "two.toml"
    two.write_text("interval = 4\n")
    assert load_config(environ={"NETDASH_CONFIG": str(one)}).interval == 3.0
    assert load_config(two, environ={"NETDASH_CONFIG": str(one)}).interval == 4.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval = 5\nintervall = 3\n", ":2: intervall: unknown key"),
        ('\n\ninterval = "fast"\n', ":3: interval: must be a number of seconds"),
        ("interval = 0.01\n", ":1: interval: must be between 0.2 and 3600 seconds"),
        ('allow = ["22", "192.168.1.100"]\n', ":1: allow: allow rule '192.168.1.100'"),
        ("allow = [22]\n", ":1: allow: must be a rule"),
        ('auto_probe = "yes"\n', ":1: auto_probe: must be true or false"),
        ("lan = 5\n", ":1: lan: must be an IP address"),
        ('interval = 5\nallow = ["22"\n', ":2: allow: invalid TOML"),
        ("interval = \n", ":1: interval: invalid TOML"),
        ("[section]\nx = 1\n", ":1: section: unknown key"),
    ],
)
def test_broken_file_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert message.startswith(f"{path}{expected}"), message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NETDASH_INTERVAL", "soon", "environment NETDASH_INTERVAL: 'soon' is not a number"),
        ("NETDASH_AUTO_PROBE", "maybe", "environment NETDASH_AUTO_PROBE: 'maybe' is not a yes/no"),
        ("NETDASH_ALLOW", "22,x y:z", "environment NETDASH_ALLOW: allow rule 'y:z'"),
    ],
)
def test_broken_environment_names_the_variable(
    tmp_path: Path, name: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(os.devnull, environ={name: value})


def test_missing_named_file_is_an_error_but_missing_default_is_not(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml", environ={})
    assert load_config(environ={"XDG_CONFIG_HOME": str(tmp_path)}) == Config(sources={})


def settings(argv: list[str], environ: dict[str, str] | None = None) -> Settings:
    """The Settings of ``netdash ARGV`` with ``environ`` as the whole environment."""
    return resolve_settings(vars(build_parser().parse_args(argv)), environ or {})


def test_settings_command_line_beats_environment_beats_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'interval = 5\nlan = "198.18.0.1"\nallow = ["22"]\nignore_interfaces = "docker0"\n'
        "auto_probe = true\n",
    )
    env = {"NETDASH_INTERVAL": "3", "NETDASH_ALLOW": "sshd", "NETDASH_AUTO_PROBE": "0"}
    resolved = settings(["--config", str(path)], env)
    assert (resolved.command, resolved.interval, resolved.auto_probe) == (None, 3.0, False)
    assert (resolved.lan, resolved.lan_source) == (("198.18.0.1",), f"{path}:2")
    assert [r.spec for r in resolved.policy.rules] == ["22", "sshd"]
    assert resolved.policy.ignore_interfaces == {"docker0"}
    assert resolved.config_path == path
    resolved = settings(
        ["--config", str(path), "--interval", "1", "--auto-probe", "--lan", "2001:db8::1"], env
    )
    assert (resolved.interval, resolved.auto_probe) == (1.0, True)
    assert (resolved.lan, resolved.lan_source) == (("2001:db8::1",), None)


def test_settings_of_check_add_allow_rules_and_replace_ignored_interfaces(tmp_path: Path) -> None:
    path = write(tmp_path, 'allow = ["22"]\nignore_interfaces = ["docker0"]\n')
    argv = ["check", "--config", str(path), "--allow", "5353/udp", "--ignore-interface", "virbr0"]
    resolved = settings([*argv, "--udp", "--probe", "--timeout", "2", "--json"])
    assert [r.spec for r in resolved.policy.rules] == ["22", "5353/udp"]
    assert resolved.policy.ignore_interfaces == {"virbr0"}
    assert (resolved.udp, resolved.probe, resolved.timeout, resolved.output) == (
        True,
        True,
        2.0,
        "json",
    )
    assert settings(["check", "--config", str(path)]).policy.ignore_interfaces == {"docker0"}


@pytest.mark.parametrize(
    ("argv", "output"),
    [
        (["list"], "table"),
        (["list", "--format", "prometheus"], "prometheus"),
        (["check"], "text"),
        (["check", "--format", "json", "--json"], "json"),
        (["who", "22"], "text"),
        (["who", "22", "--json"], "json"),
        (["free"], "text"),
    ],
)
def test_settings_output_format(argv: list[str], output: str) -> None:
    assert settings([*argv, "--config", os.devnull] if argv[0] != "free" else argv).output == output


def test_settings_conflicting_outputs_and_free_reading_no_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--json and --format table ask for different outputs"):
        settings(["list", "--json", "--format", "table"])
    broken = write(tmp_path, "allow = [7]\n")
    resolved = settings(["--config", str(broken), "free", "8000", "--count", "2"])
    assert (resolved.command, resolved.port, resolved.count) == ("free", 8000, 2)
    with pytest.raises(ConfigError, match=":1: allow:"):
        settings(["--config", str(broken), "list"])


def test_an_unreadable_default_config_path_is_no_config_file(tmp_path: Path) -> None:
    """As a user who may not enter the default path's directory (HOME=/root under runuser or
    sudo -E), there is no config file; a path that user names stays an error. Checked by the
    kernel itself: a forked child drops to uid 65534 before it reads."""
    home = tmp_path / "home"
    (home / "netdash").mkdir(parents=True)
    (home / "netdash" / "config.toml").write_text("interval = 5\n")
    home.chmod(0o700)
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: unprivileged, then the two reads
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            out = []
            os.environ["XDG_CONFIG_HOME"] = str(home)  # where default_config_path() looks
            config = load_config(environ={})
            out.append(f"default:{config.interval}:{config.path}")
            try:
                load_config(home / "netdash" / "config.toml", environ={})
                out.append("named:read")
            except ConfigError as exc:
                out.append(f"named:{exc}")
            os.write(write_end, "\n".join(out).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read) as stream:
        lines = stream.read().splitlines()
    os.waitpid(pid, 0)
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    assert lines[0] == "default:2.0:None", lines
    assert lines[1].startswith("named:") and "cannot read: Permission denied" in lines[1], lines


def test_an_empty_or_impossible_interface_name_is_a_usage_error() -> None:
    """Break-it pass: `check --ignore-interface ''` was accepted and ignored nothing."""
    from netdash.cli.parser import build_parser

    for bad in ("", "x" * 16, "a/b", "eth 0"):
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args(["check", "--ignore-interface", bad])
        assert exited.value.code == 2
    assert build_parser().parse_args(["check", "--ignore-interface", "docker0"])
