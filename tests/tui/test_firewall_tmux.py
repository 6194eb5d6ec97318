"""The real dashboard in a real terminal (tmux) with a firewall rule dropping one wide
listener's port from the LAN (issue 13): its row reads ⊘ shielded, the header counts it, the
diagram marks it on v0 and the verdict line names the rule, at 80x24 and 200x60."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.ci import require
from tests.support.servers import bound_socket, close_listening, serve_in_thread
from tests.support.tmux import Tmux

pytestmark = pytest.mark.netns

SHIELDED, OPEN = 1070, 1071  # low ports sort first: on screen at 80x24 too


@pytest.fixture(params=[(80, 24), (200, 60)], ids=["80x24", "200x60"])
def tmux(request: pytest.FixtureRequest) -> Iterator[Tmux]:
    require(shutil.which("tmux") is not None, "tmux is not installed")
    require(shutil.which("nft") is not None, "nft is not installed")
    rules = (
        "table inet shield {\n chain input {\n  type filter hook input priority 0;\n"
        f'  iifname "v0" tcp dport {SHIELDED} drop comment "dev only"\n }}\n}}\n'
    )
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)
    session = Tmux(*request.param)
    try:
        yield session
    finally:
        session.kill()
        subprocess.run(["nft", "delete", "table", "inet", "shield"], check=False)


def test_a_shielded_row_reads_right(tmux: Tmux) -> None:
    sockets = [bound_socket("0.0.0.0", SHIELDED), bound_socket("0.0.0.0", OPEN)]
    for s in sockets:
        serve_in_thread(s)
    python = shlex.quote(sys.executable)
    tmux.start(f"unset COLUMNS LINES; {python} -m netdash --interval 1")
    try:
        screen = tmux.wait_for("shielded")
        row = next(line for line in screen.splitlines() if f" {SHIELDED} " in line)
        assert row.lstrip().startswith("⊘"), screen
        other = next(line for line in screen.splitlines() if f" {OPEN} " in line)
        assert other.lstrip().startswith("‼"), screen  # the firewall lets it in: exposed
        if tmux.height >= 40:  # at 80x24 other tests' servers can fill the lines above it
            assert f"{SHIELDED}*⊘" in screen or f"{SHIELDED}⊘" in screen, screen  # the diagram
        # move the cursor onto the shielded row: the verdict line names the rule
        for _ in range(5):
            if "the firewall drops it on v0" in tmux.screen():
                break
            tmux.run("send-keys", "-t", "t", "Down")
        screen = tmux.wait_for(f"{SHIELDED} bound to 0.0.0.0; the firewall drops it on v0")
        assert 'comment "dev only"' in " ".join(line.strip() for line in screen.splitlines())
        tmux.run("send-keys", "-t", "t", "q")
    finally:
        for s in sockets:
            close_listening(s)
