"""TLS for the probe: an unverifying client context, and the decoding of a peer's certificate.

The probe looks at a certificate only to show it (its subject, whether it is self-signed), so
nothing here verifies anything, and the certificate is decoded in memory from its DER bytes
(ITU-T X.690; the X.509 layout of RFC 5280 §4.1) without a third-party library.
"""

from __future__ import annotations

import functools
import ssl

__all__ = ["decode_certificate", "unverified_context"]


@functools.cache
def unverified_context() -> ssl.SSLContext:
    """A client context that accepts any certificate and host name: the probe reads what a
    local server presents, it does not trust it. Made once, and without loading the trust
    store from disk (nothing is verified): a probe opens no files but its connections."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_NAME_OIDS = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
}


def _der(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``offset``
    (ITU-T X.690). Raises ``ValueError`` on truncated or oversized input."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F  # OpenSSL accepts leading zero bytes here, so up to 8 are read
        if count == 0 or count > 8 or start + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise ValueError("truncated")
    return tag, start, start + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        element = _der(data, start)
        out.append(element)
        start = element[2]
    return out


def _oid(raw: bytes) -> str:
    if not raw:
        return ""
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x12: "ascii",  # NumericString
    0x13: "ascii",  # PrintableString
    0x14: "latin-1",  # TeletexString (T61String): read as Latin-1, as OpenSSL prints it
    0x16: "ascii",  # IA5String
    0x1A: "ascii",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString (UCS-4)
    0x1E: "utf-16-be",  # BMPString (UCS-2)
}
"""The string types of X.520 attribute values (ITU-T X.680 §8.4 tags) and how each is decoded."""


def _string(tag: int, raw: bytes) -> str:
    """An attribute value as text, decoded by its string type (UTF-8 for a type not listed);
    bytes that do not decode (not UTF-8, a lone surrogate, an odd BMPString) are shown as
    ``\\xNN``, as netdash shows undecodable bytes everywhere, so the text is valid Unicode."""
    return raw.decode(_STRING_CODECS.get(tag, "utf-8"), "backslashreplace")


def _name(data: bytes, start: int, end: int) -> str:
    """An X.501 Name as ``CN=localhost, O=…`` (common attributes only)."""
    parts = []
    for _, set_start, set_end in _children(data, start, end):
        for _, seq_start, seq_end in _children(data, set_start, set_end):
            attrs = _children(data, seq_start, seq_end)
            if len(attrs) != 2:
                continue
            (_, oid_start, oid_end), (tag, value_start, value_end) = attrs
            key = _NAME_OIDS.get(_oid(data[oid_start:oid_end]))
            if key:
                parts.append(f"{key}={_string(tag, data[value_start:value_end])}")
    return ", ".join(parts)


def decode_certificate(der: bytes) -> tuple[str | None, bool | None]:
    """(subject, self-signed) of a DER X.509 certificate (RFC 5280 §4.1), read in memory:
    the subject as ``CN=…, O=…`` (each value decoded by its string type, see
    :func:`_string`), and whether the issuer is the subject. ``(None, None)`` for anything
    that does not parse. Nothing else is read: a negative serial, an impossible validity
    date or an extension of any content changes nothing. Linear in ``len(der)``; the
    probe's ``der`` is at most OpenSSL's 100 KiB certificate list."""
    try:
        _, cert_start, cert_end = _der(der, 0)
        _, tbs_start, tbs_end = _children(der, cert_start, cert_end)[0]
        fields = _children(der, tbs_start, tbs_end)
        if fields and fields[0][0] == 0xA0:  # [0] version
            fields = fields[1:]
        issuer, subject = fields[2], fields[4]
    except (ValueError, IndexError):
        return None, None
    subject_raw = der[subject[1] : subject[2]]
    issuer_raw = der[issuer[1] : issuer[2]]
    try:
        text = _name(der, subject[1], subject[2]) or None
    except ValueError:
        text = None
    return text, subject_raw == issuer_raw
