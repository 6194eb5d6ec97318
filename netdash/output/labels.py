"""Words for listeners and probe results, shared by every output (the CLI table, ``who``,
``check``, the dashboard) so they always say the same thing.

Plain strings, no Rich: text from other programs goes through :func:`netdash.core.text.clean`
here, and renderers wrap the result in ``rich.text.Text`` (never parsed as markup).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from netdash.core.addresses import scope_of
from netdash.core.assess import Risk, RowAssessment, findings
from netdash.core.model import Listener, Outcome, ProbeResult, Process, Scope, Verdict, Via
from netdash.core.reach import BLOCKED, OPEN, UNKNOWN, Decision, InterfaceReach
from netdash.core.services import ServiceRow
from netdash.core.text import Untrusted, clean

__all__ = [
    "RISK_STYLE",
    "SCOPE_TITLES",
    "VERDICT_MARK",
    "VERDICT_STYLE",
    "address_label",
    "answered_by",
    "endpoint",
    "firewall_phrases",
    "leading_program",
    "one_result",
    "owner_label",
    "pid_label",
    "port_label",
    "probe_label",
    "process_label",
    "program_name",
    "reach_phrase",
    "risk_label",
    "server_label",
    "stack_label",
    "verdict_sentence",
]

SCOPE_TITLES = {
    Scope.ALL_INTERFACES: "all-interfaces (wildcard): every device on every network can connect",
    Scope.SPECIFIC_INTERFACE: "specific-interface: devices on that interface's network can connect",
    Scope.LOOPBACK: "loopback: only this machine can connect",
}


def stack_label(listener: Listener, results: Sequence[ProbeResult] = ()) -> str:
    """For a ``::`` listener: ``dual-stack`` or ``IPv6 only`` as the kernel reported
    (IPV6_V6ONLY), else as IPv4 probes showed (``… (probed)``), else ``IPv4 unknown``.
    Empty for every other listener."""
    if listener.family != 6 or scope_of(listener.address) is not Scope.ALL_INTERFACES:
        return ""
    if listener.dual_stack is not None:
        return "dual-stack" if listener.dual_stack else "IPv6 only"
    v4 = [r for r in results if ":" not in r.target]
    if v4:
        return (
            "dual-stack (probed)" if any(r.outcome.accepted for r in v4) else "IPv6 only (probed)"
        )
    return "IPv4 unknown"


def address_label(row: ServiceRow, results: Sequence[ProbeResult] = ()) -> str:
    """The bind addresses of a row: ``0.0.0.0, :: (dual-stack)``; ``×4`` marks an address
    and port shared by 4 sockets (SO_REUSEPORT); ``%eth0`` a socket bound to a device."""
    parts: list[str] = []
    for listener, count in zip(row.listeners, row.sockets_on_endpoint, strict=True):
        text = listener.address
        if listener.bound_device and "%" not in text:
            text += f"%{listener.bound_device}"
        if count > 1:
            text += f" ×{count}"
        stack = stack_label(listener, results)
        if stack:
            text += f" ({stack})"
        if text not in parts:
            parts.append(text)
    return ", ".join(parts)


_PYTHON = re.compile(r"^(python|pypy)[0-9.]*$")
_PYTHON_OPTION_ARGS = frozenset({"-W", "-X", "-Q"})  # options that take the next word
_NODE = frozenset({"node", "nodejs", "bun", "deno"})
_PACKAGE_RUNNERS = frozenset({"npm", "npx", "pnpm", "yarn", "bunx"})
_SHELLS = frozenset({"sh", "bash", "dash", "zsh"})
PROGRAM_WIDTH = 32
"""The most terminal cells a derived program name takes (``python -m http.server``)."""


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _first_word(args: Sequence[str]) -> str | None:
    """The first argument that says what runs (``app:app``, ``run``, ``runserver``): not an
    option, not a bare number (a port), not a long path."""
    for arg in args:
        if arg.startswith("-"):
            return None  # options follow: the target, if any, is not plain to see
        if arg.isdigit() or len(arg) > 24:
            return None
        return _basename(arg) if "/" in arg else arg
    return None


def _python_program(name: str, argv: Sequence[str]) -> str | None:
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-m" and i + 1 < len(argv):
            module = argv[i + 1]
            word = _first_word(argv[i + 2 :])
            return f"{name} -m {module}" + (f" {word}" if word else "")
        if arg == "-c":
            return f"{name} -c"
        if arg in _PYTHON_OPTION_ARGS:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        script = _basename(arg)  # a console script (/venv/bin/flask) or a file (manage.py)
        word = _first_word(argv[i + 1 :])
        return script + (f" {word}" if word else "")
    return None


def _node_program(name: str, argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv[1:], start=1):
        if arg.startswith("-"):
            continue
        parts = arg.split("/")
        if "node_modules" in parts:  # node_modules/.bin/vite, node_modules/vite/bin/vite.js
            after = parts[parts.index("node_modules") + 1 :]
            package = after[1] if after and after[0] == ".bin" and len(after) > 1 else None
            if package is None and after:
                package = "/".join(after[:2]) if after[0].startswith("@") else after[0]
            if package:
                word = _first_word(argv[i + 1 :])
                return f"{name} {package}" + (f" {word}" if word else "")
        return f"{name} {_basename(arg)}"
    return None


def _java_program(name: str, argv: Sequence[str]) -> str | None:
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-jar" and i + 1 < len(argv):
            return f"{name} -jar {_basename(argv[i + 1])}"
        if arg in ("-cp", "-classpath", "--class-path", "-p", "--module-path"):
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return f"{name} {arg.rsplit('.', 1)[-1]}"  # the main class, without its package
    return None


def program_name(process: Process) -> str | None:
    """What a process runs, for a reader: its name, except for interpreters and launchers,
    whose name says little, where the command line says more: ``python -m http.server``,
    ``manage.py runserver``, ``flask run``, ``node vite``, ``npm run dev``,
    ``java -jar app.jar``. Derived from ``process.cmdline`` (``/proc/PID/cmdline``, via
    psutil); cleaned (no control characters or markup) and at most :data:`PROGRAM_WIDTH`
    cells. ``None`` when the name is unknown."""
    if not process.name:
        return None
    name, argv = process.name.raw, [a.raw for a in process.cmdline]  # parsed; shown cleaned
    derived: str | None = None
    if argv:
        if _PYTHON.match(name):
            derived = _python_program(name, argv)
        elif name in _NODE:
            derived = _node_program(name, argv)
        elif name == "java":
            derived = _java_program(name, argv)
        elif name in _PACKAGE_RUNNERS:
            words = [a for a in argv[1:3] if not a.startswith("-")]
            derived = " ".join([name, *words]) if words else None
        elif name in _SHELLS:
            derived = _python_program(name, argv)  # sh script.sh: the script's name
    return clean(derived or name, PROGRAM_WIDTH if derived else 40)


def process_label(processes: Listener | Sequence[Process]) -> str:
    """``uvicorn``; ``gunicorn +3 workers`` when the other holders are its children; ``+N``
    for other co-holders; ``unknown`` (with the owning user when known: ``unknown (postgres)``).
    Interpreters and launchers show what they run (:func:`program_name`:
    ``python -m http.server``, ``node vite``).
    """
    procs = processes.processes if isinstance(processes, Listener) else tuple(processes)
    named = [p for p in procs if p.name]
    if not named:
        users = [p.user for p in procs if p.user]
        return f"unknown ({clean(users[0], 20)})" if users else "unknown"
    first = named[0]
    label = program_name(first) or clean(first.name or "", 40)
    others = [p for p in procs if p is not first]
    if not others:
        return label
    if all(p.ppid == first.pid for p in others):
        noun = "worker" if len(others) == 1 else "workers"
        return f"{label} +{len(others)} {noun}"
    return f"{label} +{len(others)}"


def pid_label(processes: Listener | Sequence[Process]) -> str:
    procs = processes.processes if isinstance(processes, Listener) else tuple(processes)
    pids = [p.pid for p in procs if p.pid is not None]
    if not pids:
        return "?"
    return str(pids[0]) + (f" +{len(pids) - 1}" if len(pids) > 1 else "")


def one_result(result: ProbeResult) -> str:
    if result.outcome in (Outcome.HTTP, Outcome.TLS) and result.status is not None:
        return f"{result.outcome.value} {result.status}"
    return result.outcome.value


def _family(result: ProbeResult) -> str:
    return "v6" if ":" in result.target else "v4"


def probe_label(results: Sequence[ProbeResult], via: Via) -> str:
    """Short text for the results of one via: ``http 200``, ``refused``. A ``::`` listener
    tried over both families that answered over one only reads ``http 200 (v6 only)``; other
    mixed results are listed per family (``v6 refused · v4 timeout``).
    ``""`` when that via was not probed."""
    mine = [r for r in results if r.via is via]
    if not mine:
        return ""
    parts = [one_result(r) for r in mine]
    if len(set(parts)) == 1:
        return parts[0]
    accepted = [r for r in mine if r.outcome.accepted]
    if len(accepted) == 1:
        return f"{one_result(accepted[0])} ({_family(accepted[0])} only)"
    return " · ".join(f"{_family(r)} {part}" for r, part in zip(mine, parts, strict=True))


def answered_by(results: Sequence[ProbeResult]) -> str | Untrusted | None:
    """What answered, whole: the identified server or framework (or the protocol named by a
    greeting), else the peer's ``Server`` header as it sent it; ``None`` when nothing says.
    JSON writes it as it is; :func:`server_label` is its display form."""
    for result in results:
        if result.identified:
            return result.identified
    return next((r.server for r in results if r.server), None)


def server_label(results: Sequence[ProbeResult]) -> str:
    """:func:`answered_by`, cleaned and cut to 40 characters; ``""`` when nothing says."""
    return clean(answered_by(results), 40)


def verdict_sentence(assessed: RowAssessment) -> tuple[Verdict, str]:
    """The line a user reads first about a row: the verdict and what it rests on."""
    v = assessed.verdict
    row, results = assessed.row, assessed.results
    first = row.first
    what = server_label(results)
    docs = next((r.docs for r in results if r.docs), None)
    extra = findings(results, assessed.exposed)
    risk = assessed.risk
    if risk is not None:  # the loudest risk leads: it says what a reacher can do
        extra = [risk.sentence, *(e for e in extra if e != risk.sentence)]
    fw = [e for m in assessed.members for e in m.firewall]
    lan_hit = next((r for r in results if r.via is Via.LAN and r.outcome.accepted), None)
    if v is Verdict.EXPOSED and lan_hit is None:
        said = ", ".join(x for x in (what, f"docs at {docs}" if docs else "") if x)
        text = f"EXPOSED: {first.port} bound to {address_label(row, results)}; " + "; ".join(
            firewall_phrases(fw, OPEN)
        )
        if said:
            text += f" ({said})"
    elif v is Verdict.EXPOSED:
        lan = lan_hit
        assert lan is not None
        said = (
            one_result(lan) + (f", {what}" if what else "") + (f", docs at {docs}" if docs else "")
        )
        text = f"EXPOSED: accepts connections on the LAN address {lan.target} ({said})"
        if fw:
            text += "; " + "; ".join(firewall_phrases(fw, OPEN))
    elif v is Verdict.SHIELDED:
        text = f"shielded: {first.port} bound to {address_label(row, results)}; " + "; ".join(
            firewall_phrases(fw, BLOCKED)
        )
    elif v is Verdict.EXPOSED_UNVERIFIED and any(e.outcome == UNKNOWN for e in fw):
        text = f"exposed by bind ({address_label(row, results)}), not verified: " + "; ".join(
            firewall_phrases(fw, UNKNOWN)
        )
    elif v is Verdict.EXPOSED_UNVERIFIED:
        lan_results = [r for r in results if r.via is Via.LAN]
        if first.protocol == "udp":
            why = "UDP is not probed (netdash probes TCP only)"
        elif not results:
            why = "not probed yet (p)"
        elif not lan_results:
            why = "no LAN address to probe"
        else:
            why = "LAN probe: " + probe_label(results, Via.LAN)
        text = f"exposed by bind ({address_label(row, results)}), not verified: {why}"
    elif v is Verdict.IPV6_LOOPBACK_ONLY:
        port = first.port
        text = (
            f"IPv6 loopback only: http://127.0.0.1:{port} is refused, http://[::1]:{port} answers"
        )
    else:
        text = "local only: bound to loopback, only this machine can connect"
        if any(r.via is Via.LAN for r in results):
            text += f" (LAN probe: {probe_label(results, Via.LAN)})"
    if v not in (Verdict.EXPOSED, Verdict.SHIELDED) and what:
        text += f"; {what}"
    if risk is not None:
        return v, "; ".join([extra[0], text, *extra[1:]])
    return v, "; ".join([text, *extra])


def _verb(decision: Decision | None) -> str:
    if decision is None:
        return "drops"
    if decision.dnat is not None:
        return "redirects"
    if decision.rule is not None and decision.rule.verdict.kind == "reject":
        return "rejects"
    return "drops"


def firewall_phrases(entries: Sequence[InterfaceReach], outcome: str) -> list[str]:
    """What the firewall does on each interface with that ``outcome`` (``open``, ``blocked``
    or ``unknown``), interfaces sharing a reason named together, with the exceptions by
    source: ``the firewall drops it on v0: ufw: deny 8000/tcp (ip filter ufw-user-input
    #3)``, ``the firewall lets it in on v0: …; except from 198.18.0.2/32``. Rule texts come from
    the ruleset (root's configuration) and are cleaned like any outside text."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for e in entries:
        if e.decision is None:
            continue
        d = e.decision
        mine = e.outcome == outcome
        opened = [x for x in e.exceptions if x.decision.outcome == outcome]
        if not mine and not opened:
            continue
        if mine:
            if outcome == OPEN and d.rule is None:  # a policy, or no ruleset: nothing stops it
                head = "no firewall rule stops it"
            elif outcome == OPEN:
                head = "the firewall lets it in"
            elif outcome == BLOCKED:
                head = f"the firewall {_verb(d)} it"
            else:
                head = "the firewall's answer is unknown"
            tail = clean(d.reason, 160) if outcome != OPEN or d.rule is not None else ""
            unlike = [x.source for x in e.exceptions if x.decision.outcome != outcome]
            extra = f"; except from {', '.join(unlike)}" if unlike else ""
            grouped.setdefault((head, (f": {tail}" if tail else "") + extra), []).append(
                e.interface
            )
        for x in opened if not mine else ():
            words = {
                OPEN: "lets it in",
                BLOCKED: f"{_verb(x.decision)} it",
                UNKNOWN: "may let it in",
            }
            tail = f" from {x.source}: " + clean(x.decision.reason, 160)
            grouped.setdefault((f"the firewall {words[outcome]}", tail), []).append(e.interface)
    # A row of several sockets (SO_REUSEPORT) brings each interface once per socket.
    return [
        f"{head} on {', '.join(dict.fromkeys(names))}{tail}"
        for (head, tail), names in grouped.items()
    ]


def reach_phrase(entry: InterfaceReach) -> str:
    """One interface's reach for the details panel: ``v0: blocked: ufw: deny 8000/tcp (…)``,
    ``v0: open except from 198.18.0.2/32 (blocked)``, ``v9: not bound there``."""
    if entry.decision is None:
        return f"{entry.interface}: not bound there"
    text = f"{entry.interface}: {entry.outcome}"
    if entry.outcome != OPEN or entry.decision.rule is not None:
        text += f": {clean(entry.decision.reason, 160)}"
    for x in entry.exceptions:
        text += f"; from {x.source}: {x.decision.outcome} ({clean(x.decision.reason, 120)})"
    return text


_REACH_WORD = {"lan": "LAN", "browser": "web", "local": "local"}

RISK_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "dim yellow",
}
"""Rich style of a risk cell by severity."""


def risk_label(risk: Risk | None) -> str:
    """A risk in at most 12 cells: ``critical LAN``, ``high local``, ``medium web`` (web: a
    web page in the user's browser reaches it); ``""`` for none."""
    if risk is None:
        return ""
    return f"{risk.severity} {_REACH_WORD[risk.reach]}"


VERDICT_STYLE = {
    Verdict.EXPOSED: "bold red",
    Verdict.EXPOSED_UNVERIFIED: "yellow",
    Verdict.SHIELDED: "blue",
    Verdict.LOCAL_ONLY: "green",
    Verdict.IPV6_LOOPBACK_ONLY: "cyan",
}


VERDICT_MARK = {
    Verdict.EXPOSED: "‼",
    Verdict.EXPOSED_UNVERIFIED: "⚠",
    Verdict.SHIELDED: "⊘",
    Verdict.LOCAL_ONLY: "·",
    Verdict.IPV6_LOOPBACK_ONLY: "⁶",
}
"""The mark of each verdict (the dashboard's first column, ``check``'s lines); ``✓``
(:data:`ALLOWED_MARK`) replaces it for an exposure the user acknowledged."""

ALLOWED_MARK = "✓"


def port_label(listener: Listener) -> str:
    """``8000`` for TCP, ``5353/udp`` for UDP."""
    return str(listener.port) if listener.protocol == "tcp" else f"{listener.port}/udp"


def owner_label(processes: Listener | Sequence[Process]) -> str:
    """``uvicorn (pid 4242, user ada)``: program, pid and the first known user."""
    procs = processes.processes if isinstance(processes, Listener) else tuple(processes)
    user = next((p.user for p in procs if p.user), None)
    text = f"{process_label(procs)} (pid {pid_label(procs)}"
    return text + (f", user {clean(user, 30)})" if user else ")")


def no_lan_probe(row: ServiceRow) -> str:
    """Why a probed row has no LAN result: UDP is never probed, or there is no LAN address."""
    return "not probed (udp)" if row.first.protocol == "udp" else "no LAN address"


def endpoint(address: str, port: int) -> str:
    """``0.0.0.0:8000``, ``[::]:8000``: an address and port as a URL would write them."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def leading_program(listener: Listener) -> str:
    """The name of the first readable holder (the parent of a pre-fork family), else
    ``"unknown"``. Cleaned of control characters."""
    for process in listener.processes:
        if process.name:
            return clean(process.name, 60)
    return "unknown"
