"""Real ufw, run so that nothing of this machine's configuration changes.

Each command runs in its own mount namespace (``unshare -m``, inside the caller's network
namespace) where ``/etc/ufw``, ``/lib/ufw`` and ``/etc/default/ufw`` are bind-mounted from
temporary copies, ``/run`` is a fresh tmpfs (ufw's lock), and the copied defaults say
``IPT_MODULES=""`` (load no kernel module) and point ``IPT_SYSCTL`` at an empty file (set no
sysctl). The copies keep ufw's state between commands.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCES = {"etc_ufw": "/etc/ufw", "lib_ufw": "/lib/ufw", "default_ufw": "/etc/default/ufw"}


def available() -> str | None:
    """Why ufw cannot run here, or ``None``."""
    for tool in ("ufw", "unshare", "iptables-nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    for path in SOURCES.values():
        if not Path(path).exists():
            return f"{path} is missing"
    return None


class UfwSandbox:
    """Temporary copies of ufw's configuration; :meth:`run` runs ``ufw ARGS`` on them."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="netdash-ufw-"))
        for name, src in SOURCES.items():
            if Path(src).is_dir():
                shutil.copytree(src, self.dir / name, symlinks=True)
            else:
                shutil.copy2(src, self.dir / name)
        (self.dir / "sysctl.conf").write_text("")
        defaults = self.dir / "default_ufw"
        text = defaults.read_text()
        text = re.sub(r"(?m)^IPT_MODULES=.*$", 'IPT_MODULES=""', text)
        text = re.sub(r"(?m)^IPT_SYSCTL=.*$", f"IPT_SYSCTL={self.dir / 'sysctl.conf'}", text)
        defaults.write_text(text)
        self.prefix: list[str] = []
        """Run before ``unshare`` (``nsenter -t PID -n``: ufw in another network namespace)."""

    def run(self, *args: str) -> str:
        """Run ``ufw ARGS`` in the sandbox; returns its output, raises
        ``subprocess.CalledProcessError`` when it fails."""
        script = " && ".join(
            [
                "mount --make-rprivate /",
                *(f"mount --bind {self.dir / name} {dest}" for name, dest in SOURCES.items()),
                "mount -t tmpfs netdash-run /run",
                'exec ufw "$@"',
            ]
        )
        done = subprocess.run(
            [*self.prefix, "unshare", "-m", "sh", "-c", script, "ufw", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
