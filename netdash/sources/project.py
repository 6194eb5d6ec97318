"""Which project a server runs from: the git repository holding its working directory, and
the branch checked out there, read from ``.git`` directly (no ``git`` process).

A working directory is walked up at most :data:`MAX_DEPTH` directories to the first one with
a ``.git`` entry: a directory (a repository), or a file ``gitdir: PATH`` (a linked worktree,
``git worktree add``, or a submodule). Its ``HEAD`` names the branch (``ref: refs/heads/NAME``)
or a detached commit (shown as its first 12 hex digits). At most :data:`MAX_READ` bytes are
read from each file. Directories on network filesystems (NFS, SMB/CIFS, sshfs, AFS, Ceph,
GlusterFS, 9p) are not walked: a stat there can hang on an unreachable server.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import PurePosixPath

from netdash.core.model import Project
from netdash.core.text import Untrusted, untrusted, visible_bytes

__all__ = ["MAX_DEPTH", "MAX_READ", "NETWORK_FILESYSTEMS", "find_project", "network_mounts"]

MAX_DEPTH = 16
"""Directories walked up from the working directory, itself included."""

MAX_READ = 4096
"""Bytes read at most from a ``.git`` file or a ``HEAD``."""

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "sshfs", "afs", "ceph",
        "glusterfs", "fuse.glusterfs", "9p", "fuse.rclone", "davfs", "fuse.s3fs", "lustre",
    }
)  # fmt: skip
"""Filesystem types (``/proc/self/mounts``, third field) whose directories are not walked."""

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_mounts_lock = threading.Lock()
_mounts: tuple[float, tuple[str, ...]] | None = None  # (mtime of /proc/self/mounts, points)


def network_mounts(mounts_file: str = "/proc/self/mounts") -> tuple[str, ...]:
    """Mount points of network filesystems, longest first, from ``mounts_file`` (Linux;
    empty elsewhere or when unreadable). Mount points are octal-escaped there
    (``\\040`` for a space) and unescaped here."""
    try:
        with open(mounts_file, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return ()
    points = []
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] in NETWORK_FILESYSTEMS:
            points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1]))
    return tuple(sorted(points, key=len, reverse=True))


def _network_points() -> tuple[str, ...]:
    """:func:`network_mounts`, read again only when the mount table may have changed (this
    process's mount namespace; polled with a cheap stat of ``/proc/self/mountinfo``)."""
    global _mounts
    try:
        stamp = os.stat("/proc/self/mountinfo").st_mtime
    except OSError:
        return ()
    with _mounts_lock:
        if _mounts is None or _mounts[0] != stamp:
            _mounts = (stamp, network_mounts())
        return _mounts[1]


def _on_network(path: str, points: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in points)


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_READ).decode("utf-8", "replace")
    except OSError:
        return None


def _branch(git_dir: str) -> str | None:
    head = _read(os.path.join(git_dir, "HEAD"))
    if head is None:
        return None
    head = head.strip()
    if head.startswith("ref:"):
        ref = head[4:].strip()
        return visible_bytes(ref.removeprefix("refs/heads/"))[:100]
    if _SHA.match(head):
        return head[:12]  # detached HEAD: the commit
    return None


def find_project(cwd: str | None, points: tuple[str, ...] | None = None) -> Project | None:
    """The repository holding ``cwd`` (an absolute path, as ``/proc/PID/cwd`` gives it):
    ``Project(root, name, branch)``, where ``root`` is the directory holding ``.git``,
    ``name`` its last component and ``branch`` the checked-out branch (or detached commit,
    ``None`` when ``HEAD`` is unreadable). ``None`` when no repository is found within
    :data:`MAX_DEPTH` directories, ``cwd`` is unknown, or it is on a network filesystem
    (``points``: mount points to avoid, default those of :func:`network_mounts`). Never
    raises: an unreadable directory ends the walk."""
    if not cwd or not cwd.startswith("/"):
        return None
    points = _network_points() if points is None else points
    if _on_network(cwd, points):
        return None
    path = PurePosixPath(cwd.removesuffix(" (deleted)"))
    for depth, directory in enumerate((path, *path.parents)):
        if depth >= MAX_DEPTH:
            return None
        dot_git = os.path.join(str(directory), ".git")
        try:
            is_dir = os.path.isdir(dot_git)
            is_file = not is_dir and os.path.isfile(dot_git)
        except OSError:
            return None
        if not (is_dir or is_file):
            continue
        git_dir = dot_git
        if is_file:
            text = _read(dot_git) or ""
            if not text.startswith("gitdir:"):
                return None
            target = text[len("gitdir:") :].strip().splitlines()[0] if text.strip() else ""
            git_dir = os.path.normpath(os.path.join(str(directory), target))
        root = str(directory)
        name = visible_bytes(directory.name or root)
        return Project(
            root=Untrusted(root), name=Untrusted(name), branch=untrusted(_branch(git_dir))
        )
    return None
