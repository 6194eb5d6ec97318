"""How to bind an exposed server to loopback instead: one hint per listener, in words.

Hints are keyed by *kind*, the stable key of a program (``"uvicorn"``, ``"vite"``, ``"ssh"``):
one table (:data:`FIXES`) holds each kind's hint, and what is known of the program is mapped
to a kind, most specific first:

1. the process name when it settles the matter (``docker-proxy``: the fix is the port
   mapping, whatever runs inside the container);
2. the command line (``uvicorn``, ``vite``, ``next dev``, ``manage.py runserver``, ``flask``,
   ``jupyter``, ``gunicorn``, ``python -m http.server`` …, as a word or a script's name);
3. the kind a probe identified (``ProbeResult.kind``, from :mod:`netdash.probe.identify`),
   for the kinds whose hint a probe's evidence is enough for (``Fix.by_probe``);
4. the process name again for daemons (``sshd``, ``postgres``, ``redis-server``, ``mysqld``)
   and plain ``node``;
5. else a generic hint naming the bind address.

Pure: nothing here performs I/O, so the TUI can call it for every row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netdash.core.model import Process

__all__ = ["FIXES", "Fix", "Hint", "fix_hint", "kind_from_names", "kind_from_words"]


@dataclass(frozen=True)
class Hint:
    """A fix hint. ``tool`` names what it is for (``"uvicorn"``, ``"generic"``); ``text`` is
    one sentence telling the user what to change, with the option or setting to use."""

    tool: str
    text: str


@dataclass(frozen=True)
class Fix:
    """The hint for one kind: ``tool`` is :attr:`Hint.tool`; ``text`` a :meth:`str.format`
    template over ``{port}``; ``by_probe`` whether a probe's identification of the kind alone
    chooses it (step 3). It does not for daemons, whose hints name settings of the program a
    readable owner shows (``--allow sshd`` matches by process name), nor for servers a
    ``Server`` header cannot tell from look-alikes (``SimpleHTTP`` is any
    ``http.server``-based program)."""

    tool: str
    text: str
    by_probe: bool = True

    def hint(self, port: int) -> Hint:
        return Hint(self.tool, self.text.format(port=port))


_UVICORN = "start uvicorn with --host 127.0.0.1 (its default) instead of 0.0.0.0"
_FLASK = (
    "run flask without --host 0.0.0.0 (flask run --host 127.0.0.1), or in code "
    'app.run(host="127.0.0.1")'
)
_MYSQL = "set bind-address = 127.0.0.1 in my.cnf"

FIXES: dict[str, Fix] = {
    "uvicorn": Fix("uvicorn", _UVICORN),
    "gunicorn": Fix("gunicorn", "start gunicorn with --bind 127.0.0.1:{port}"),
    "hypercorn": Fix("hypercorn", "start hypercorn with --bind 127.0.0.1:{port}", by_probe=False),
    "django": Fix("django", "run Django's dev server as: manage.py runserver 127.0.0.1:{port}"),
    "flask": Fix("flask", _FLASK),
    "vite": Fix("vite", "set server.host to '127.0.0.1' in vite.config (and drop --host)"),
    "next.js": Fix("next.js", "start Next.js with -H 127.0.0.1 (next dev -H 127.0.0.1)"),
    "jupyter": Fix("jupyter", "start Jupyter with --ip=127.0.0.1"),
    "webpack-dev-server": Fix(
        "webpack-dev-server", "set devServer.host to '127.0.0.1' in webpack.config"
    ),
    "http.server": Fix(
        "http.server", "run python -m http.server {port} --bind 127.0.0.1", by_probe=False
    ),
    "rails": Fix(
        "rails", "start the server with -b 127.0.0.1 (rails server -b 127.0.0.1)", by_probe=False
    ),
    "node": Fix("node", "listen on loopback only: server.listen({port}, '127.0.0.1')"),
    "ssh": Fix(
        "sshd", "set ListenAddress in sshd_config, or allow it: --allow sshd", by_probe=False
    ),
    "postgresql": Fix(
        "postgresql", "set listen_addresses = 'localhost' in postgresql.conf", by_probe=False
    ),
    "redis": Fix("redis", "set bind 127.0.0.1 ::1 in redis.conf", by_probe=False),
    "mysql": Fix("mysql", _MYSQL, by_probe=False),
    "mariadb": Fix("mysql", _MYSQL, by_probe=False),
    "memcached": Fix("memcached", "start memcached with -l 127.0.0.1", by_probe=False),
}
"""Kind → its fix hint. Kinds are those of :mod:`netdash.probe.identify` (``Identity.kind``)
plus ``"rails"``, which only a command line tells."""


def _words(processes: Sequence[Process]) -> list[str]:
    """Command-line words, lower case, by their base name without a script extension
    (``/x/node_modules/.bin/vite`` and ``vite.js`` both give ``vite``)."""
    out: list[str] = []
    for process in processes:
        for arg in process.cmdline:
            base = os.path.basename(arg.raw.rstrip("/")).lower()
            for ext in (".js", ".mjs", ".cjs", ".py", ".exe"):
                if base.endswith(ext):
                    base = base[: -len(ext)]
                    break
            out.append(base)
    return out


_Words = Callable[[set[str], list[str]], bool]

_WORD_KINDS: tuple[tuple[_Words, str], ...] = (
    (lambda has, words: "uvicorn" in has, "uvicorn"),
    (lambda has, words: "gunicorn" in has, "gunicorn"),
    (lambda has, words: "hypercorn" in has, "hypercorn"),
    (lambda has, words: "manage" in has and "runserver" in has, "django"),
    (lambda has, words: "flask" in has, "flask"),
    (lambda has, words: "vite" in has, "vite"),
    (
        lambda has, words: "next" in has or any(w.startswith("next-server") for w in words),
        "next.js",
    ),
    (lambda has, words: any(w.startswith("jupyter") for w in words), "jupyter"),
    (
        lambda has, words: "webpack-dev-server" in has or ("webpack" in has and "serve" in has),
        "webpack-dev-server",
    ),
    (lambda has, words: "http.server" in has, "http.server"),
    (lambda has, words: "rails" in has or "puma" in has, "rails"),
)
"""Command-line words → kind, in order: the first match wins."""


def kind_from_words(words: list[str]) -> str | None:
    """The kind a command line names (``words`` as :func:`_words` gives them), or ``None``."""
    has = set(words)
    for matches, kind in _WORD_KINDS:
        if matches(has, words):
            return kind
    return None


_NAME_KINDS = {
    "sshd": "ssh",
    "postgres": "postgresql",
    "redis-server": "redis",
    "mysqld": "mysql",
    "mariadbd": "mariadb",
    "memcached": "memcached",
    "node": "node",
    "nodejs": "node",
    "bun": "node",
    "deno": "node",
}
"""Process name (as the kernel reports it) → kind, for daemons and JavaScript runtimes."""


def kind_from_names(names: Sequence[str]) -> str | None:
    """The kind of the first process name (lower case) that names one, or ``None``."""
    for name in names:
        if name in _NAME_KINDS:
            return _NAME_KINDS[name]
    return None


def _docker(port: int, processes: Sequence[Process]) -> Hint:
    """docker-proxy's ``-container-port N`` names the port inside; only a port number is
    taken from the command line (any other word there, escape sequences included, is
    ignored for the host port), so no text from another program enters the hint."""
    words = [a.raw for p in processes for a in p.cmdline]
    inner = str(port)
    if "-container-port" in words:
        index = words.index("-container-port")
        if index + 1 < len(words):
            given = words[index + 1]
            if given.isascii() and given.isdigit() and 1 <= int(given) <= 65535:
                inner = str(int(given))
    return Hint(
        "docker",
        f"publish the port on loopback only: docker run -p 127.0.0.1:{port}:{inner} "
        f'(Compose: ports: ["127.0.0.1:{port}:{inner}"])',
    )


def fix_hint(
    processes: Sequence[Process],
    kind: str | None,
    address: str,
    port: int,
    protocol: str = "tcp",
) -> Hint:
    """The hint for an exposed listener bound to ``address``:``port``, held by ``processes``
    (as in :class:`netdash.core.model.Listener`; may be empty or unreadable), with ``kind``
    the stable key a probe identified (``ProbeResult.kind``; ``None`` when unknown or not
    probed); ``protocol`` is ``"tcp"`` or ``"udp"`` (UDP allow rules name it).
    Always returns a hint; ``tool == "generic"`` when nothing more is known.
    """
    names = [p.name.raw.lower() for p in processes if p.name]
    if "docker-proxy" in names:
        return _docker(port, processes)
    chosen = kind_from_words(_words(processes))
    if chosen is None and kind in FIXES and FIXES[kind].by_probe:
        chosen = kind
    if chosen is None:
        chosen = kind_from_names(names)
    if chosen is not None:
        return FIXES[chosen].hint(port)
    shown = f"[{address}]" if ":" in address else address
    rule = f"{port}/udp" if protocol == "udp" else str(port)
    return Hint(
        "generic",
        f"bind it to 127.0.0.1 (or ::1) instead of {shown}, or allow it: --allow {rule}",
    )
