"""The certificate decoder takes any bytes a peer sends without raising."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdash.probe.tls import decode_certificate


@given(st.binary(max_size=400))
def test_certificate_decoder_never_raises(data: bytes) -> None:
    subject, self_signed = decode_certificate(data)
    assert subject is None or isinstance(subject, str)
    assert self_signed in (None, True, False)


def tlv(tag: int, content: bytes, width: int = 0) -> bytes:
    """A DER element; ``width`` > 0 writes the length in that many bytes (long form)."""
    if width:
        return bytes([tag, 0x80 | width]) + len(content).to_bytes(width, "big") + content
    if len(content) < 0x80:
        return bytes([tag, len(content)]) + content
    size = (len(content).bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + len(content).to_bytes(size, "big") + content


CN_OID = tlv(0x06, b"\x55\x04\x03")


def cert(tag: int, value: bytes, issuer: bytes | None = None, width: int = 0) -> bytes:
    subject = tlv(0x30, tlv(0x31, tlv(0x30, CN_OID + tlv(tag, value, width))))
    tbs = (
        tlv(0xA0, tlv(0x02, b"\x02"))
        + tlv(0x02, b"\xfe\x5a")  # a negative serial: not read
        + tlv(0x30, b"")
        + (issuer if issuer is not None else subject)
        + tlv(0x30, tlv(0x18, b"00000000000000Z") * 2)  # year 0000: not read
        + subject
    )
    return tlv(0x30, tlv(0x30, tbs) + tlv(0x30, b"") + tlv(0x03, b"\x00"))


@pytest.mark.parametrize(
    ("tag", "value", "shown"),
    [
        (0x0C, "héllo".encode(), "héllo"),  # UTF8String
        (0x0C, b"ok\xff\xfe", "ok\\xff\\xfe"),  # not UTF-8: \xNN, as process names
        (0x13, b"ab\xff", "ab\\xff"),  # PrintableString over 127
        (0x16, b"a\x1b", "a\x1b"),  # IA5String: a control character is data, clean() shows it
        (0x14, b"caf\xe9", "café"),  # TeletexString read as Latin-1
        (0x1E, "héllo".encode("utf-16-be"), "héllo"),  # BMPString
        (0x1E, b"\x00a\x00", "a\\x00"),  # BMPString of an odd length
        (0x1E, b"\xd8\x00\x00a", "\\xd8\\x00a"),  # a lone surrogate: no surrogate in the text
        (0x1C, "x🙂".encode("utf-32-be"), "x🙂"),  # UniversalString
        (0x1C, b"\x00\x11\x00\x00", "\\x00\\x11\\x00\\x00"),  # beyond U+10FFFF
        (0x04, b"\xff", "\\xff"),  # not a string type at all
    ],
)
def test_a_subject_is_decoded_by_its_string_type(tag: int, value: bytes, shown: str) -> None:
    subject, self_signed = decode_certificate(cert(tag, value))
    assert (subject, self_signed) == (f"CN={shown}", True)
    assert subject is not None and subject.encode("utf-8")  # valid Unicode: JSON can carry it


def test_a_long_form_length_with_leading_zeros_is_read_as_openssl_reads_it() -> None:
    assert decode_certificate(cert(0x0C, b"zeros", width=8)) == ("CN=zeros", True)
    assert decode_certificate(cert(0x0C, b"nine", width=9)) == (None, True)  # 9: refused


def test_a_different_issuer_is_not_self_signed() -> None:
    other = tlv(0x30, tlv(0x31, tlv(0x30, CN_OID + tlv(0x0C, b"ca"))))
    assert decode_certificate(cert(0x0C, b"leaf", issuer=other)) == ("CN=leaf", False)
