"""Policy: the exposures a user has acknowledged (allow rules) and the interfaces they ignore.

Allow rules are exposures a user has acknowledged, so ``netdash check`` does not fail on them.

A rule is written as text (``--allow SPEC``, the config file's ``allow`` list, or
``NETDASH_ALLOW``) in one of five forms:

* ``22``: port 22, TCP or UDP;
* ``5353/udp`` (or ``22/tcp``): that port over that protocol only;
* ``sshd``: any listener held by a process of that name (as ``ps -o comm`` shows it);
* ``192.168.1.100:8000``: a listener bound to exactly that address and port;
* ``[::]:8000`` (brackets for IPv6, as in URLs): likewise, ``[::]`` the IPv6 wildcard;
* ``jupyter-no-token@8888``: a risk kind (:data:`netdash.core.risk.RISK_KINDS`) at a port,
  which acknowledges that risk of that port's listeners (and not their exposure).

Address rules compare bind addresses, not reach: ``192.168.1.100:8000`` does not allow a
listener on ``0.0.0.0:8000`` (which every other interface reaches too); write
``0.0.0.0:8000`` for that.

Ignored interfaces (``ignore_interfaces``, ``--ignore-interface``): an exposure reachable only
through them (a listener on ``docker0``'s address, say) is *ignored*, not a finding.
Pure: nothing here performs I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from netdash.core.addresses import IPAddress, parse_address
from netdash.core.model import Listener
from netdash.core.risk import RISK_KINDS

__all__ = ["AllowRule", "Policy", "first_match", "parse_allow"]

_PORT = re.compile(r"^(\d{1,5})(?:/(tcp|udp))?$", re.IGNORECASE)
_RISK = re.compile(r"^([a-z][a-z-]*)@(\d{1,5})$")
_PROGRAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class AllowRule:
    """One parsed allow rule. ``spec`` is the text it came from (shown in reports).

    Exactly one of the forms is set: ``port`` (with ``protocol`` ``None`` for either, or
    ``"tcp"``/``"udp"``); ``program``; ``address`` together with ``port``; or ``risk``
    together with ``port`` (a risk rule: it allows that risk, never an exposure).
    """

    spec: str
    port: int | None = None
    protocol: str | None = None
    program: str | None = None
    address: IPAddress | None = None
    risk: str | None = None

    def matches(self, listener: Listener) -> bool:
        """True when this rule allows ``listener`` (see the module docstring for the forms);
        a risk rule allows no exposure."""
        if self.risk is not None:
            return False
        if self.program is not None:
            return any(p.name == self.program for p in listener.processes)
        if self.port != listener.port:
            return False
        if self.protocol is not None and self.protocol != listener.protocol:
            return False
        if self.address is not None:
            try:
                bound = parse_address(listener.address)
            except ValueError:
                return False
            return _same(bound, self.address)
        return True


def _same(a: IPAddress, b: IPAddress) -> bool:
    """Equal addresses; an IPv6 zone on only one side does not prevent a match."""
    if a.version != b.version or a.packed != b.packed:
        return False
    zone_a = getattr(a, "scope_id", None)
    zone_b = getattr(b, "scope_id", None)
    return not (zone_a and zone_b and zone_a != zone_b)


def _port(text: str, spec: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError(f"allow rule {spec!r}: port {value} is not between 1 and 65535")
    return value


def parse_allow(spec: str) -> AllowRule:
    """Parse one allow rule.

    Raises ``ValueError`` with a message fit for the user (it names the rule) when the text
    is none of the documented forms, a port is outside 1-65535 or an address is not an IP
    address.
    """
    text = spec.strip()
    if not text:
        raise ValueError("allow rule is empty")
    risk_match = _RISK.match(text)
    if risk_match and risk_match.group(1) in RISK_KINDS:
        return AllowRule(spec=text, port=_port(risk_match.group(2), text), risk=risk_match.group(1))
    if "@" in text:  # meant as risk@port: a typo must not become a rule that matches nothing
        kind, _, port_text = text.partition("@")
        if kind not in RISK_KINDS:
            known = ", ".join(sorted(RISK_KINDS))
            raise ValueError(f"allow rule {text!r}: {kind!r} is not a risk kind ({known})")
        raise ValueError(f"allow rule {text!r}: risk@port needs a port number after '@'")
    port_match = _PORT.match(text)
    if port_match:
        protocol = port_match.group(2)
        return AllowRule(
            spec=text,
            port=_port(port_match.group(1), text),
            protocol=protocol.lower() if protocol else None,
        )
    if ("/" not in text) and (":" in text or text[0].isdigit()):
        host, sep, port_text = text.rpartition(":")
        if not sep or not port_text.isdigit():
            raise ValueError(
                f"allow rule {text!r}: an address rule needs a port, e.g. 192.168.1.100:8000 "
                "or [::]:8000"
            )
        if host.startswith("["):
            if not host.endswith("]"):
                raise ValueError(f"allow rule {text!r}: unmatched '[' in the address")
            host = host[1:-1]
        elif ":" in host:
            raise ValueError(f"allow rule {text!r}: write IPv6 addresses in brackets: [{host}]:…")
        try:
            address = parse_address(host)
        except ValueError:
            raise ValueError(f"allow rule {text!r}: {host!r} is not an IP address") from None
        return AllowRule(spec=text, port=_port(port_text, text), address=address)
    if _PROGRAM.match(text):
        return AllowRule(spec=text, program=text)
    raise ValueError(
        f"allow rule {text!r} is not a port (22), port/protocol (5353/udp), program name "
        "(sshd), address:port (192.168.1.100:8000, [::]:8000) or risk@port "
        "(jupyter-no-token@8888)"
    )


def first_match(listener: Listener, rules: Sequence[AllowRule]) -> AllowRule | None:
    """The first rule that allows ``listener``, or ``None``."""
    for rule in rules:
        if rule.matches(listener):
            return rule
    return None


@dataclass(frozen=True)
class Policy:
    """What the user has said about exposures: ``rules`` (allow rules, in order: the first
    match is reported) and ``ignore_interfaces`` (interface names). One object, resolved once
    from the configuration and the command line, read by the assessment."""

    rules: tuple[AllowRule, ...] = ()
    ignore_interfaces: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, rules: Iterable[AllowRule] = (), ignore: Iterable[str] = ()) -> Policy:
        return cls(tuple(rules), frozenset(ignore))

    def allowing(self, listener: Listener) -> AllowRule | None:
        """The first rule that allows ``listener``, or ``None``."""
        return first_match(listener, self.rules) if self.rules else None

    def allowing_risk(self, listener: Listener, kind: str) -> AllowRule | None:
        """The first risk rule naming ``kind`` at ``listener``'s port, or ``None``."""
        for rule in self.rules:
            if rule.risk == kind and rule.port == listener.port:
                return rule
        return None

    def ignores(self, reach: Collection[str], loopback: Collection[str]) -> bool:
        """True when interfaces are ignored and every non-loopback interface in ``reach`` (the
        names a listener is reachable through) is one of them; a listener reachable through
        no non-loopback interface is not ignored."""
        if not self.ignore_interfaces:
            return False
        outside = [n for n in reach if n not in loopback]
        return bool(outside) and all(n in self.ignore_interfaces for n in outside)
