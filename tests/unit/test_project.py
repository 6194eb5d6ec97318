"""The git project of a working directory (``netdash.sources.project``), read from real
repositories and worktrees made by the real ``git`` (files only: no sockets, no root)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from netdash.core.model import Project
from netdash.sources.project import MAX_DEPTH, find_project, network_mounts

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main",
         *args],
        cwd=cwd, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "src" / "api").mkdir(parents=True)
    git("init", "-q", cwd=root)
    (root / "README").write_text("x")
    git("add", ".", cwd=root)
    git("commit", "-qm", "init", cwd=root)
    return root


def test_a_repository_and_its_branch_from_a_subdirectory(repo: Path) -> None:
    project = find_project(str(repo / "src" / "api"), points=())
    assert project == Project(root=str(repo), name="shop", branch="main")
    assert project is not None and project.label == "shop@main"


def test_a_linked_worktree_names_its_own_branch(repo: Path, tmp_path: Path) -> None:
    git("worktree", "add", "-q", "-b", "feature/login", str(tmp_path / "shop-login"), cwd=repo)
    project = find_project(str(tmp_path / "shop-login"), points=())
    assert project == Project(str(tmp_path / "shop-login"), "shop-login", "feature/login")


def test_a_detached_head_shows_the_commit(repo: Path) -> None:
    git("checkout", "-q", "--detach", cwd=repo)
    project = find_project(str(repo), points=())
    assert project is not None and project.branch is not None
    assert len(project.branch.raw) == 12 and int(project.branch.raw, 16) >= 0


def test_no_repository_network_filesystems_and_depth_bound(tmp_path: Path, repo: Path) -> None:
    assert find_project(str(tmp_path), points=()) is None
    assert find_project(None) is None and find_project("relative/path") is None
    assert find_project(str(repo / "src"), points=(str(repo),)) is None  # on NFS: not walked
    deep = repo.joinpath(*["d"] * MAX_DEPTH)
    deep.mkdir(parents=True)
    assert find_project(str(deep), points=()) is None  # beyond the bound
    assert find_project(str(deep.parent), points=()) is not None


def test_hostile_names_are_data(tmp_path: Path) -> None:
    root = tmp_path / "x\x1b]0;PWNED\x07"
    root.mkdir()
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/\x1b[2Jevil\n")
    project = find_project(str(root), points=())
    assert project is not None and project.branch is not None
    from netdash.core.text import clean

    assert "\x1b" not in clean(project.label) and "\x07" not in clean(project.name)


def test_network_mounts_reads_the_mount_table(tmp_path: Path) -> None:
    table = tmp_path / "mounts"
    table.write_text(
        "server:/export /mnt/nfs nfs4 rw 0 0\n"
        "/dev/sda1 / ext4 rw 0 0\n"
        "//host/share /mnt/my\\040share cifs rw 0 0\n"
    )
    assert network_mounts(str(table)) == ("/mnt/my share", "/mnt/nfs")
    assert network_mounts(str(tmp_path / "missing")) == ()
