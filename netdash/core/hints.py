"""How to bind an exposed server to loopback instead: one hint per listener, in words.

The hint is chosen from what is known of the program, most specific first:

1. the process name when it settles the matter (``docker-proxy``: the fix is the port
   mapping, whatever runs inside the container);
2. the command line (``uvicorn``, ``vite``, ``next dev``, ``manage.py runserver``, ``flask``,
   ``jupyter``, ``gunicorn``, ``python -m http.server`` …, as a word or a script's name);
3. what a probe identified (``identified`` from :mod:`netdash.probe.identify`: ``"Vite"``,
   ``"Flask (Werkzeug)"`` …);
4. the process name again for daemons (``sshd``, ``postgres``, ``redis-server``, ``mysqld``)
   and plain ``node``;
5. else a generic hint naming the bind address.

Pure: nothing here performs I/O, so the TUI can call it for every row.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from netdash.core.model import Process

__all__ = ["Hint", "fix_hint"]


@dataclass(frozen=True)
class Hint:
    """A fix hint. ``tool`` names what it is for (``"uvicorn"``, ``"generic"``); ``text`` is
    one sentence telling the user what to change, with the option or setting to use."""

    tool: str
    text: str


def _words(processes: Sequence[Process]) -> list[str]:
    """Command-line words, lower case, by their base name without a script extension
    (``/x/node_modules/.bin/vite`` and ``vite.js`` both give ``vite``)."""
    out: list[str] = []
    for process in processes:
        for arg in process.cmdline:
            base = os.path.basename(arg.rstrip("/")).lower()
            for ext in (".js", ".mjs", ".cjs", ".py", ".exe"):
                if base.endswith(ext):
                    base = base[: -len(ext)]
                    break
            out.append(base)
    return out


def _names(processes: Sequence[Process]) -> list[str]:
    return [p.name.lower() for p in processes if p.name]


def _docker(port: int, processes: Sequence[Process]) -> Hint:
    words = [a for p in processes for a in p.cmdline]
    inner = str(port)
    if "-container-port" in words:
        index = words.index("-container-port")
        if index + 1 < len(words):
            inner = words[index + 1]
    return Hint(
        "docker",
        f"publish the port on loopback only: docker run -p 127.0.0.1:{port}:{inner} "
        f'(Compose: ports: ["127.0.0.1:{port}:{inner}"])',
    )


def _from_words(words: list[str], port: int) -> Hint | None:
    has = set(words)
    if "uvicorn" in has:
        return Hint(
            "uvicorn", "start uvicorn with --host 127.0.0.1 (its default) instead of 0.0.0.0"
        )
    if "gunicorn" in has:
        return Hint("gunicorn", f"start gunicorn with --bind 127.0.0.1:{port}")
    if "hypercorn" in has:
        return Hint("hypercorn", f"start hypercorn with --bind 127.0.0.1:{port}")
    if "manage" in has and "runserver" in has:
        return Hint("django", f"run Django's dev server as: manage.py runserver 127.0.0.1:{port}")
    if "flask" in has:
        return Hint(
            "flask",
            "run flask without --host 0.0.0.0 (flask run --host 127.0.0.1), or in code "
            'app.run(host="127.0.0.1")',
        )
    if "vite" in has:
        return Hint("vite", "set server.host to '127.0.0.1' in vite.config (and drop --host)")
    if "next" in has or any(w.startswith("next-server") for w in words):
        return Hint("next.js", "start Next.js with -H 127.0.0.1 (next dev -H 127.0.0.1)")
    if any(w.startswith("jupyter") for w in words):
        return Hint("jupyter", "start Jupyter with --ip=127.0.0.1")
    if "webpack-dev-server" in has or ("webpack" in has and "serve" in has):
        return Hint("webpack-dev-server", "set devServer.host to '127.0.0.1' in webpack.config")
    if "http.server" in has:
        return Hint("http.server", f"run python -m http.server {port} --bind 127.0.0.1")
    if "rails" in has or "puma" in has:
        return Hint("rails", "start the server with -b 127.0.0.1 (rails server -b 127.0.0.1)")
    return None


def _from_identified(identified: str, port: int) -> Hint | None:
    low = identified.lower()
    if "uvicorn" in low:
        return Hint(
            "uvicorn", "start uvicorn with --host 127.0.0.1 (its default) instead of 0.0.0.0"
        )
    if low.startswith("flask"):
        return Hint(
            "flask",
            "run flask without --host 0.0.0.0 (flask run --host 127.0.0.1), or in code "
            'app.run(host="127.0.0.1")',
        )
    if low.startswith("django"):
        return Hint("django", f"run Django's dev server as: manage.py runserver 127.0.0.1:{port}")
    if low == "vite":
        return Hint("vite", "set server.host to '127.0.0.1' in vite.config (and drop --host)")
    if low.startswith("next.js"):
        return Hint("next.js", "start Next.js with -H 127.0.0.1 (next dev -H 127.0.0.1)")
    if low == "jupyter":
        return Hint("jupyter", "start Jupyter with --ip=127.0.0.1")
    if low == "webpack-dev-server":
        return Hint("webpack-dev-server", "set devServer.host to '127.0.0.1' in webpack.config")
    if low.startswith("node.js"):
        return Hint("node", f"listen on loopback only: server.listen({port}, '127.0.0.1')")
    if low == "gunicorn":
        return Hint("gunicorn", f"start gunicorn with --bind 127.0.0.1:{port}")
    return None


_DAEMONS = {
    "sshd": Hint("sshd", "set ListenAddress in sshd_config, or allow it: --allow sshd"),
    "postgres": Hint("postgresql", "set listen_addresses = 'localhost' in postgresql.conf"),
    "redis-server": Hint("redis", "set bind 127.0.0.1 ::1 in redis.conf"),
    "mysqld": Hint("mysql", "set bind-address = 127.0.0.1 in my.cnf"),
    "mariadbd": Hint("mysql", "set bind-address = 127.0.0.1 in my.cnf"),
    "memcached": Hint("memcached", "start memcached with -l 127.0.0.1"),
}


def fix_hint(
    processes: Sequence[Process],
    identified: str | None,
    address: str,
    port: int,
    protocol: str = "tcp",
) -> Hint:
    """The hint for an exposed listener bound to ``address``:``port``, held by ``processes``
    (as in :class:`netdash.core.model.Listener`; may be empty or unreadable), with ``identified``
    the name a probe gave what answered (``ProbeResult.identified``; ``None`` when unknown or
    not probed); ``protocol`` is ``"tcp"`` or ``"udp"`` (UDP allow rules name it).
    Always returns a hint; ``tool == "generic"`` when nothing more is known.
    """
    names = _names(processes)
    if "docker-proxy" in names:
        return _docker(port, processes)
    hint = _from_words(_words(processes), port)
    if hint is None and identified:
        hint = _from_identified(identified, port)
    if hint is not None:
        return hint
    for name in names:
        if name in _DAEMONS:
            return _DAEMONS[name]
        if name in ("node", "nodejs", "bun", "deno"):
            return Hint("node", f"listen on loopback only: server.listen({port}, '127.0.0.1')")
    shown = f"[{address}]" if ":" in address else address
    rule = f"{port}/udp" if protocol == "udp" else str(port)
    return Hint(
        "generic",
        f"bind it to 127.0.0.1 (or ::1) instead of {shown}, or allow it: --allow {rule}",
    )
