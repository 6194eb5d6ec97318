"""The certificate decoder takes any bytes a peer sends without raising."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netdash.probe.tls import decode_certificate


@given(st.binary(max_size=400))
def test_certificate_decoder_never_raises(data: bytes) -> None:
    subject, self_signed = decode_certificate(data)
    assert subject is None or isinstance(subject, str)
    assert self_signed in (None, True, False)
