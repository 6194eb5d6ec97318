"""``netdash list --json`` to a pipe: the compact encoder is ``json.dumps`` byte for byte."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdash.output.json import SHARED_KEYS, compact_json, listing_pieces

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


LISTINGS = st.fixed_dictionaries(
    {
        "listeners": st.lists(
            st.dictionaries(st.sampled_from([*SHARED_KEYS, "port", "\x00"]), DOCUMENTS),
            max_size=6,
        ),
        "hostname": st.text(),
    }
)


@given(LISTINGS, st.data())
def test_listing_pieces_join_to_json_dumps(
    document: dict[str, object], data: st.DataObject
) -> None:
    """Shared lists (the same object under several listeners), placeholders' look-alikes
    (strings with NULs) and entries without the keys: the pieces join to json.dumps."""
    listeners = document["listeners"]
    assert isinstance(listeners, list)
    pool = [["\x00", "\x000\x00", {"pid": 1}], [1, 2], []]
    for entry in listeners:
        for key in SHARED_KEYS:
            if data.draw(st.booleans()):
                entry[key] = pool[data.draw(st.integers(0, len(pool) - 1))]
    text = b"".join(listing_pieces(document)).decode("ascii")
    assert text == dumps(document) + "\n"


def test_a_shared_list_is_encoded_once() -> None:
    procs = [{"pid": 1, "cmdline": ["x" * 5000]}]
    reach = [{"interface": "v0", "outcome": "open"}]
    document = {"listeners": [{"port": p, "processes": procs, "reach": reach} for p in range(100)]}
    pieces = listing_pieces(document, end="")
    assert b"".join(pieces).decode() == dumps(document)
    assert len({id(p) for p in pieces if b"xxxx" in p}) == 1  # one encoding, written 100 times


def test_writev_all_resumes_after_short_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from netdash.cli.common import _writev_all

    real = os.writev
    calls = []

    def short(fd: int, buffers: list[memoryview]) -> int:
        calls.append(len(buffers))
        return real(fd, [bytes(b"".join(buffers)[:97])])  # at most 97 bytes a call

    monkeypatch.setattr(os, "writev", short)
    pieces = [b"abc", b"", b"defghijklmno", b"p" * 3000] * 400
    r, w = os.pipe()
    try:
        out = bytearray()
        import threading

        def drain() -> None:
            while chunk := os.read(r, 65536):
                out.extend(chunk)

        reader = threading.Thread(target=drain)
        reader.start()
        _writev_all(w, pieces)
        os.close(w)
        reader.join()
    finally:
        os.close(r)
    assert bytes(out) == b"".join(pieces)
    assert max(calls) <= 1024


@pytest.mark.parametrize("writev", [True, False])
def test_write_json_to_a_buffer_and_without_writev(
    writev: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from netdash.cli.common import write_json

    if not writev:
        monkeypatch.delattr(os, "writev")
    procs = [{"pid": 1, "cmdline": ["x" * 100]}]
    document = {"listeners": [{"port": p, "processes": procs} for p in range(3)]}
    write_json(document)
    assert capsys.readouterr().out == dumps(document) + "\n"
