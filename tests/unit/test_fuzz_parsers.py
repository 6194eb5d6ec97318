"""Every parser of outside data, fed random bytes (hypothesis): none raises anything but its
documented error (issue 15). The sock_diag reader parses what the kernel sends; the probe's
identifications, title scan and certificate decoder parse what any local server sends; the
config reader parses whatever file the user names."""

from __future__ import annotations

import contextlib
import socket
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdash.config import ConfigError, load_config
from netdash.probe.engine import page_title
from netdash.probe.identify import identify_answer, identify_banner, identify_http
from netdash.probe.tls import decode_certificate
from netdash.sources.sock_diag import _MSG, _NLMSGHDR, NLMSG_DONE, parse_messages

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = {1: "lo", 2: "v0"}


@FUZZ
@given(st.binary(max_size=4096))
def test_sock_diag_messages_parse_or_raise_oserror(data: bytes) -> None:
    try:
        records, finished = parse_messages(data, "tcp", 4, NAMES)
    except OSError:
        return
    assert isinstance(finished, bool)
    for state, record in records:
        assert isinstance(state, int) and 0 <= record.port <= 65535


def _message(body: bytes, kind: int = 20) -> bytes:
    """One netlink message, padded to 4 bytes as the kernel aligns them (NLMSG_ALIGN)."""
    padding = b"\0" * (-len(body) % 4)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, 0, 1, 0) + body + padding


@FUZZ
@given(st.binary(min_size=_MSG.size, max_size=_MSG.size + 64), st.sampled_from([2, 10, 0, 255]))
def test_well_framed_messages_with_random_bodies(body: bytes, family: int) -> None:
    """Random bodies inside valid netlink framing reach the address and attribute parsers."""
    body = bytes([family]) + body[1:]
    data = _message(body) + _message(b"", NLMSG_DONE)
    try:
        records, finished = parse_messages(data, "tcp", 6, NAMES)
    except OSError:
        return
    assert finished and len(records) == 1


def test_a_real_looking_message_parses() -> None:
    src = socket.inet_pton(socket.AF_INET, "127.0.0.1") + b"\0" * 12
    body = _MSG.pack(2, 10, 0, 0, socket.htons(8000), 0, src, b"\0" * 16, 0, b"\0" * 8,
                     0, 0, 0, 1000, 4242)  # fmt: skip
    records, finished = parse_messages(_message(body), "tcp", 4, NAMES)
    [(state, record)] = records
    assert (state, record.address, record.port, record.uid, record.inode) == (
        10, "127.0.0.1", 8000, 1000, 4242,
    )  # fmt: skip
    assert not finished
    error = _NLMSGHDR.pack(_NLMSGHDR.size + 4, 2, 0, 1, 0) + struct.pack("=i", -1)
    try:
        parse_messages(error, "tcp", 4, NAMES)
    except OSError as exc:
        assert exc.errno == 1
    else:
        raise AssertionError("NLMSG_ERROR must raise")


headers = st.dictionaries(
    st.sampled_from(["server", "x-powered-by", "location", "content-type", "x-frame-options"]),
    st.text(max_size=200),
    max_size=5,
)


@FUZZ
@given(st.integers(0, 999), headers, st.binary(max_size=4096))
def test_http_identification_never_raises(status: int, seen: dict[str, str], body: bytes) -> None:
    identity = identify_http(status, seen, body)
    assert identity is None or (identity.name and identity.kind)
    title = page_title(body)
    assert title is None or isinstance(title, str)


@FUZZ
@given(st.binary(max_size=2048))
def test_banner_and_answer_identification_never_raise(data: bytes) -> None:
    for identify in (identify_banner, identify_answer):
        identity = identify(data)
        assert identity is None or (identity.name and identity.kind)


@FUZZ
@given(st.binary(max_size=4096))
def test_certificate_decoder_never_raises(der: bytes) -> None:
    subject, self_signed = decode_certificate(der)
    assert subject is None or isinstance(subject, str)
    assert self_signed in (None, True, False)


@FUZZ
@given(st.binary(max_size=2048))
def test_config_reader_raises_only_config_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(data)
        try:
            load_config(path, environ={})
        except ConfigError as exc:
            assert str(exc).startswith(str(path))


@FUZZ
@given(st.text(max_size=300))
def test_config_reader_on_random_text_raises_only_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with contextlib.suppress(ConfigError):
            load_config(path, environ={})
