"""``netdash list --json`` to a pipe: the compact encoder is ``json.dumps`` byte for byte."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdash.output.json import compact_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()  # control characters, quotes, non-ASCII, lone surrogates
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)


def dumps(document: object) -> str:
    return json.dumps(document, separators=(",", ":"))


@given(DOCUMENTS)
def test_compact_json_is_json_dumps(document: object) -> None:
    assert compact_json(document) == dumps(document)


def test_repeated_strings_and_shared_lists_encode_alike() -> None:
    """Each distinct string is escaped once and reused; a list shared by several parents
    (not a cycle) is written out at each place, as json.dumps does."""
    cmdline = ["java", "-cp", '"/opt/app/lib/*"', "ünïcode\x1b[31m", "x" * 5000]
    shared = [{"pid": 1, "cmdline": cmdline}]
    document = {"listeners": [{"port": p, "processes": shared} for p in range(50)]}
    document["non-finite"] = [math.inf, -math.inf, math.nan, 1e300, -0.0]
    assert compact_json(document) == dumps(document)


def test_what_json_dumps_refuses_is_refused() -> None:
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        compact_json(looped)
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact_json({"a": {1, 2}})
    with pytest.raises(TypeError):
        compact_json({(1, 2): "tuple keys"})
