"""Where the history database lives.

Default: ``history.sqlite3`` in ``platformdirs.user_state_dir("netdash")``
(``~/.local/state/netdash/`` on Linux, honouring ``XDG_STATE_HOME``). Under ``sudo``
(effective uid 0 and ``SUDO_USER`` set) it is root's own state directory, read from the
password database rather than ``HOME`` or ``XDG_STATE_HOME`` (which ``sudo -E`` may carry over
from the invoking user): root never writes into a user's home. ``--history PATH`` (or the
config key ``history``, or ``NETDASH_HISTORY``) names another file.

Run in a network namespace other than the host's (``ip netns exec``, ``unshare -n``), the
default file is ``history-net-INODE.sqlite3`` beside it: each namespace has its own
listeners, and one file for all would record another namespace's as having disappeared.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["FILE_NAME", "default_history_path"]

FILE_NAME = "history.sqlite3"


def default_history_path(env: Mapping[str, str] | None = None, euid: int | None = None) -> Path:
    """The history file when none is named (see the module's docstring)."""
    return _default_dir(env, euid) / _file_name()


def _file_name() -> str:
    from netdash.sources.namespaces import host_namespace, own_namespace

    own = own_namespace()
    if own is not None and host_namespace(own=own) is not None:
        return f"history-net-{own}.sqlite3"
    return FILE_NAME


def _default_dir(env: Mapping[str, str] | None, euid: int | None) -> Path:
    env = os.environ if env is None else env
    if euid is None:
        euid = os.geteuid() if hasattr(os, "geteuid") else -1
    if euid == 0 and env.get("SUDO_USER"):
        import pwd

        home = pwd.getpwuid(0).pw_dir or "/root"
        return Path(home) / ".local" / "state" / "netdash"
    import platformdirs

    return Path(platformdirs.user_state_dir("netdash"))
