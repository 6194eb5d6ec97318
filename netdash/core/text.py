"""Make text written by other programs safe to show.

Process names, command lines, HTTP headers and page titles come from outside. Before display
they pass through :func:`clean`, which neutralises control characters (ESC, BEL, backspace,
carriage return, C1 controls, bidirectional overrides, line separators) by showing them as
escapes, and bounds their length. Markup is never interpreted because callers wrap the result in
``rich.text.Text`` / ``textual.content.Content`` rather than parsing it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["clean", "plural", "visible_bytes"]

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Control (C0, C1, DEL), format (bidi overrides and isolates, zero-width characters),
surrogates, and the line and paragraph separators."""


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean(text: str | None, limit: int = 200) -> str:
    """``text`` with control, format and separator characters shown as ``\\xNN``,
    ``\\uNNNN`` or ``\\UNNNNNNNN`` escapes, cut to at most ``limit`` characters (the last
    one an ellipsis when cut; an escape is never cut in half). ``None`` becomes ``""``.
    """
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


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``"1 listener"``, ``"2 listeners"``: ``count`` and the noun in the number it needs
    (``nouns`` for an irregular plural; default ``noun + "s"``)."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"
