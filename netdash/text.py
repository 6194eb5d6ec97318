"""Make text written by other programs safe to show.

Process names, command lines, HTTP headers and page titles come from outside. Before display
they pass through :func:`clean`, which neutralises control characters (ESC, BEL, backspace,
carriage return, C1 controls, bidirectional overrides) by showing them as escapes, and bounds
their length. Markup is never interpreted because callers wrap the result in
``rich.text.Text`` / ``textual.content.Content`` rather than parsing it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["clean"]

_BIDI = {
    "\u061c",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
}


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str | None, limit: int = 200) -> str:
    """``text`` with control and bidi characters shown as ``\\xNN``/``\\uNNNN`` escapes,
    cut to ``limit`` characters (with an ellipsis). ``None`` becomes ``""``.
    """
    if not text:
        return ""
    out = []
    for ch in text:
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            out.append(_escape(ch))
        else:
            out.append(ch)
    result = "".join(out)
    if len(result) > limit:
        result = result[: max(0, limit - 1)] + "…"
    return result
