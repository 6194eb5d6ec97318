"""Make text written by other programs safe to show.

Process names, command lines, user names, project directories, HTTP headers, page titles,
banners and certificate subjects come from outside. They enter netdash wrapped in
:class:`Untrusted` at the source (:mod:`netdash.sources.processes`, :mod:`netdash.probe`), and
the wrapper is not a ``str``: the only text it gives a terminal output is its display form
(``str(u)``, ``f"{u}"``), made by :func:`clean`, which neutralises control characters (ESC,
BEL, backspace, carriage return, C1 controls, bidirectional overrides, line separators) by
showing them as escapes and bounds the length. Concatenating or joining it as a ``str`` raises
``TypeError``, so a new code path cannot write it raw by forgetting a call. Only the machine
outputs read :attr:`Untrusted.raw` (JSON keeps the text whole, the Prometheus writer escapes
it for its format; ``tests/unit/test_untrusted.py`` checks which modules read it). Markup is
never interpreted because callers wrap display text in ``rich.text.Text`` /
``textual.content.Content`` rather than parsing it; a markup context asks for
``f"{u:markup}"``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import final

__all__ = [
    "EMPTY",
    "Untrusted",
    "as_untrusted",
    "clean",
    "interface_name",
    "plural",
    "untrusted",
    "visible_bytes",
    "wrap_outside",
]

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Control (C0, C1, DEL), format (bidi overrides and isolates, zero-width characters),
surrogates, and the line and paragraph separators."""


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape), as visible_bytes
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean(text: str | Untrusted | None, limit: int = 200) -> str:
    """``text`` with control, format and separator characters shown as ``\\xNN``,
    ``\\uNNNN`` or ``\\UNNNNNNNN`` escapes (a byte that was not UTF-8, decoded with
    ``surrogateescape``, as ``\\xNN`` like :func:`visible_bytes`), cut to at most ``limit``
    characters (the last one an ellipsis when cut; an escape is never cut in half). ``None``
    becomes ``""``; an :class:`Untrusted` is read whole (its :attr:`~Untrusted.raw`).
    """
    if isinstance(text, Untrusted):
        text = text.raw
    if not text or limit <= 0:
        return ""
    pieces = [_escape(ch) if unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch for ch in text]
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    out: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + "…"


def visible_bytes(text: str) -> str:
    """``text`` with the bytes that were not UTF-8 shown as ``\\xNN``, as valid Unicode.

    Python decodes file names, ``/proc`` and ``pwd`` data with ``surrogateescape``: a byte
    that is not UTF-8 becomes a lone surrogate (U+DC80-U+DCFF), which no UTF-8 encoder or
    strict JSON parser accepts. Here each becomes the four characters ``\\xNN`` (so a name
    that really contains those characters looks the same); any other lone surrogate becomes
    ``\\uNNNN``. Text without surrogates is returned as it is (the common case, one scan).
    """
    if text.isascii() or not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def interface_name(name: str) -> str:
    """An interface name as netdash holds and shows it in every output, JSON included: the
    kernel's name, with what :func:`clean` escapes shown as escapes. A name is at most 15
    bytes and holds no ``/``, ``:`` or white space, but whoever may create interfaces (root,
    or a container's root in its own namespace) can put ESC or BEL in one, and it appears
    inside addresses (``fe80::1%eth0``, a socket bound to a device). The sources
    (:mod:`netdash.sources.interfaces`, :mod:`netdash.sources.sock_diag`, the firewall's
    interfaces and rules) all apply it, so names still match one another."""
    if name.isascii() and name.isprintable():
        return name  # every ordinary name: eth0, wlp2s0, br-1f2e3d, veth1234@if5
    return clean(visible_bytes(name), 64)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``"1 listener"``, ``"2 listeners"``: ``count`` and the noun in the number it needs
    (``nouns`` for an irregular plural; default ``noun + "s"``)."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


_MARKUP_TAG = re.compile(r"(\\*)(\[[a-zA-Z@#/].*?\])")
"""What Rich reads as a markup tag (as ``rich.markup.escape``: a bracket opening a style, a
link or a closing tag), with the backslashes before it."""


@final
class Untrusted:
    """Text written by another program: a process name, a command-line word, a header.

    ``raw`` holds the whole text as valid Unicode (bytes that were not UTF-8 already shown as
    ``\\xNN`` by :func:`visible_bytes`). The display form, the only one terminal outputs
    get, is ``str(u)`` / ``f"{u}"``: :func:`clean` (escapes shown, at most 200 characters);
    :meth:`shown` bounds it differently; ``f"{u:markup}"`` is the display form with Rich
    markup escaped, for the rare text parsed as markup. There is no ``__add__``, no
    ``__iter__`` and no ``str`` base class, so ``"x" + u`` and ``"".join([u])`` raise
    ``TypeError`` (``rich.text.Text(u)`` ``AttributeError``) instead of writing the raw
    text. Equality and order follow ``raw``; an ``Untrusted`` equals a ``str`` with the same
    raw text (``name == "docker-proxy"``).
    """

    __slots__ = ("raw",)

    raw: str

    def __init__(self, raw: str) -> None:
        self.raw = visible_bytes(raw)

    def __str__(self) -> str:
        return clean(self.raw)

    def __format__(self, spec: str) -> str:
        if spec == "markup":
            return _MARKUP_TAG.sub(lambda m: f"{m[1]}{m[1]}\\{m[2]}", clean(self.raw))
        return format(clean(self.raw), spec)

    def shown(self, limit: int) -> str:
        """The display form cut to at most ``limit`` characters (:func:`clean`)."""
        return clean(self.raw, limit)

    def __repr__(self) -> str:
        return f"Untrusted({self.raw!r})"

    def __bool__(self) -> bool:
        return bool(self.raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Untrusted):
            return self.raw == other.raw
        if isinstance(other, str):
            return self.raw == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.raw)

    def __lt__(self, other: Untrusted) -> bool:
        return self.raw < other.raw

    def __reduce__(self) -> tuple[type[Untrusted], tuple[str]]:
        return (Untrusted, (self.raw,))


def as_untrusted(text: Untrusted | str) -> Untrusted:
    """``text`` itself when already wrapped, else ``Untrusted(text)``."""
    return text if isinstance(text, Untrusted) else Untrusted(text)


def wrap_outside(obj: object, *fields: str) -> None:
    """Wrap in :class:`Untrusted` each of a frozen dataclass's ``fields`` given as a plain
    ``str`` (by a source or a test): outside text is never held unwrapped in the model.
    Called from ``__post_init__``."""
    for field in fields:
        value = getattr(obj, field)
        if isinstance(value, str):
            object.__setattr__(obj, field, Untrusted(value))


def untrusted(raw: str | None) -> Untrusted | None:
    """``Untrusted(raw)``, or ``None`` for ``None``."""
    return None if raw is None else Untrusted(raw)


EMPTY = Untrusted("")
"""The empty outside text (no answer came)."""
