"""Probe listeners and sort each answer into an :class:`Outcome`, naming what answered.

Per target: connect and listen first (server-first protocols greet and are never sent
anything); if the peer stays quiet, ``GET /`` with httpx on that same connection
(:mod:`netdash.probe.stream`); if that is not HTTP, one plain
``GET / HTTP/1.0`` on a raw connection to read what it does say (PostgreSQL, Redis, a TLS
alert); if the port speaks TLS, HTTPS with verification off and a look at the certificate.
When the identification that matched ``GET /`` declares a follow-up request
(:class:`netdash.probe.identify.FollowUp`: uvicorn's ``GET /openapi.json`` tells FastAPI
apart), that one request is made too.

Safety rules, enforced here rather than left to callers:

* only this machine's own addresses are contacted (any other target is ``not-applicable``);
* ``GET`` only (``/`` and at most the one follow-up path the matched identification
  declares), redirects never followed, no cookies (no cookie jar: requests go to httpx's
  transport, not through a client) or credentials, proxy variables ignored (a transport
  reads none), a ``User-Agent`` naming netdash and its version;
* every probe is bounded: connect and read timeouts, a total deadline, a byte cap on what is
  read, and a cap on concurrent connections (lowered to fit the open-file limit). Cancelling
  the caller's task stops every in-flight probe at once;
* what a peer sends is parsed in time linear in its size (never a backtracking pattern over
  the body), so one hostile peer cannot hold the event loop and starve its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import html
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from netdash import __version__
from netdash.core.addresses import IPAddress, parse_address
from netdash.core.lan import LanAddresses, probe_targets
from netdash.core.model import Listener, Outcome, ProbeResult, RiskFact, Via
from netdash.core.text import Untrusted, untrusted
from netdash.probe.aio import connect_tcp, open_tls, recv_within, within
from netdash.probe.identify import (
    FollowUp,
    Identity,
    identify_answer,
    identify_banner,
    identify_http,
)
from netdash.probe.risks import (
    FOREIGN_HOST,
    FOREIGN_ORIGIN,
    HTTP_CHECKS,
    PORT_HINTS,
    RAW_CHECKS,
    WEBSOCKET_CHECKS,
    RawCheck,
    WebSocketCheck,
    first_line,
    foreign_host_facts,
)
from netdash.probe.tls import decode_certificate, unverified_context

if TYPE_CHECKING:
    import httpx  # imported where used: ~50 ms, which the dashboard's start need not pay

__all__ = ["ProbeLimits", "build_url", "descriptor_budget", "page_title", "probe_listeners"]

USER_AGENT = f"netdash/{__version__} (+local exposure check)"


def page_title(body: bytes) -> str | None:
    """The text of the first ``<title…>…</title`` in ``body`` (case-insensitive; entities
    decoded, white space collapsed), or ``None``.

    Three forward searches over one lower-cased copy: time linear in ``len(body)`` whatever
    the peer sent (a backtracking pattern took seconds on 64 KiB of repeated ``<title>``).
    Only the first ``<title`` can match: a later one's ``>`` and ``</title`` come later still.
    """
    low = body.lower()
    start = low.find(b"<title")
    if start < 0:
        return None
    open_end = low.find(b">", start + 6)
    if open_end < 0:
        return None
    close = low.find(b"</title", open_end + 1)
    if close < 0:
        return None
    text = html.unescape(body[open_end + 1 : close].decode("utf-8", "replace"))
    return " ".join(text.split()) or None


@dataclass(frozen=True)
class ProbeLimits:
    """Bounds on probing. Times in seconds, sizes in bytes.

    ``connect_timeout``: TCP (and TLS) connect; ``read_timeout``: each read;
    ``risk_checks``: whether the risk checks of :mod:`netdash.probe.risks` run after the
    answer is known (within what is left of the deadline);
    ``greeting_wait``: how long to listen for a server-first greeting (SSH, SMTP…) before
    sending anything; ``deadline``: one target, all attempts included; ``max_bytes``: body
    bytes read per response; ``concurrency``: targets probed at once, all child processes of
    a run together (:mod:`netdash.probe.child` splits it between them). A target holds one
    connection at a time, so this is also the cap on connections at once that the README
    promises; each process lowers it further to fit its open-file limit
    (:func:`descriptor_budget`).
    """

    connect_timeout: float = 1.0
    read_timeout: float = 1.0
    greeting_wait: float = 0.15
    deadline: float = 3.0
    max_bytes: int = 64 * 1024
    # 200, the README's promise: below it the bench's 2,000 targets take longer (each waits
    # the greeting, silent ones a read timeout); a listener still sees at most one connection
    # per target of its own, and the open-file limit lowers it (descriptor_budget).
    concurrency: int = 200
    # The risk checks (netdash.probe.risks): off only to measure what they cost (bench/).
    risk_checks: bool = True


DESCRIPTORS_PER_TARGET = 2
"""Open files one probed target may need at once: its connection, and the one before it while
that is still being closed (a TLS shutdown)."""

DESCRIPTORS_RESERVED = 16
"""Open files kept free for everything else a probing process opens meanwhile (the event loop,
a child's pipes, the dashboard's reads of ``/proc`` in another thread)."""


def _open_descriptors() -> int:
    for directory in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return len(os.listdir(directory))
    return 0


def descriptor_budget() -> int | None:
    """How many targets this process can probe at once within its open-file limit: the soft
    ``RLIMIT_NOFILE``, minus the descriptors open now and :data:`DESCRIPTORS_RESERVED`, over
    :data:`DESCRIPTORS_PER_TARGET`; at least 1. ``None`` when there is no limit (or no way to
    read it)."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    free = soft - _open_descriptors() - DESCRIPTORS_RESERVED
    return max(1, free // DESCRIPTORS_PER_TARGET)


class _OutOfDescriptors(Exception):
    """A connection could not be opened: this process (EMFILE) or the system (ENFILE) is out
    of open files. Not an outcome of the target: the probe is tried again."""


_NO_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)
_EMFILE_ATTEMPTS = 12
"""Attempts of one target that ran out of descriptors (waits of 0.05 s doubling to 1 s
between them: about 8 s in all) before it is reported as an ``error``."""


def build_url(scheme: str, host: str, port: int, path: str = "/") -> str:
    """``scheme://host:port/path`` with IPv6 literals in brackets (RFC 3986 §3.2.2)."""
    return str(_url(scheme, host, port, path))


def _url(scheme: str, host: str, port: int, path: str = "/") -> httpx.URL:
    """:func:`build_url` as httpx's URL, parsed once (a request given a string parses it
    again)."""
    import httpx

    return httpx.URL(scheme=scheme, host=host, port=port, path=path)


@dataclass
class _Answer:
    outcome: Outcome
    status: int | None = None
    server: str | None = None
    title: str | None = None
    detail: str | None = None
    location: str | None = None
    banner: str | None = None
    certificate: str | None = None
    self_signed: bool | None = None
    identity: Identity | None = None
    headers: httpx.Headers | None = None
    body: bytes = b""
    raw: bytes = b""
    rejected: str | None = None  # why httpx rejected an answer, for when it was HTTP after all
    peer_der: bytes | None = None  # the certificate the TLS connection of a GET presented
    risks: tuple[RiskFact, ...] = ()


def _has_errno(exc: BaseException, *numbers: int) -> bool:
    """Whether ``exc``, its causes or (for an exception group) its members carry an
    ``OSError`` with one of these errno ``numbers``."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 64:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in numbers:
            return True
        members = getattr(current, "exceptions", None)  # an exception group (3.11+)
        if isinstance(members, tuple):
            todo.extend(m for m in members if isinstance(m, BaseException))
        following = current.__cause__ or current.__context__
        if following is not None:
            todo.append(following)
    return False


def _out_of_descriptors(exc: BaseException) -> None:
    """Raise :class:`_OutOfDescriptors` if ``exc`` says this process or system ran out of
    open files."""
    if _has_errno(exc, *_NO_DESCRIPTORS):
        raise _OutOfDescriptors(_reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _printable(data: bytes, limit: int = 80) -> str:
    """The first line of raw bytes as text, non-printable bytes as ``\\xNN``."""
    line = data.split(b"\n", 1)[0].rstrip(b"\r")[:limit]
    return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in line)


class _Client:
    """One httpx transport (:class:`httpx.AsyncHTTPTransport`) and the timeouts its requests
    carry. Requests go to httpx's transport API (``handle_async_request``), not through an
    ``AsyncClient``: a probe needs none of what a client adds (redirects are never followed,
    nothing is authenticated), and a client's cookie jar would send a cookie one listener set
    to every other listener on the same address (cookies ignore the port: RFC 6265 §8.5).
    It also spends a third less CPU per request (bench/RESULTS.md, issue 18)."""

    __slots__ = ("extensions", "transport")

    def __init__(self, transport: httpx.AsyncHTTPTransport, timeout: httpx.Timeout) -> None:
        self.transport = transport
        self.extensions = {"timeout": timeout.as_dict()}


async def _get(
    client: _Client,
    url: httpx.URL,
    limits: ProbeLimits,
    extra: Mapping[str, str] | None = None,
) -> _Answer:
    """One ``GET`` (with the ``extra`` headers, if any: the rebinding check's ``Host`` and
    ``Origin``); raises httpx errors for the caller to classify."""
    import httpx

    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
    if extra:
        headers.update(extra)
    request = httpx.Request("GET", url, headers=headers, extensions=client.extensions)
    response = await client.transport.handle_async_request(request)
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    peer_der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    body = bytearray()

    async def read_body() -> None:
        async for chunk in response.aiter_raw():
            body.extend(chunk)
            if len(body) >= limits.max_bytes:
                break

    try:
        # The status line and headers are the answer: a body that stalls or trickles is
        # read for one read timeout at most, and what came of it is kept.
        await within(read_body(), limits.read_timeout)
    except (asyncio.TimeoutError, httpx.ReadTimeout):
        pass
    finally:
        await response.aclose()
    data = bytes(body[: limits.max_bytes])
    return _Answer(
        Outcome.HTTP,
        status=response.status_code,
        server=response.headers.get("server"),
        title=page_title(data),
        location=response.headers.get("location"),
        headers=response.headers,
        body=data,
        peer_der=peer_der,
    )


class _Raw:
    """One connection for what httpx does not send (a plain ``GET / HTTP/1.0``, a raw risk
    check, the foreign-``Host`` request, a WebSocket handshake, the certificate look): plain
    TCP on the event loop's socket calls, TLS on asyncio's streams. Reads wait at most the
    read timeout (raising :class:`asyncio.TimeoutError`); errors are ``OSError``
    (``ssl.SSLError`` among them)."""

    def __init__(
        self,
        limits: ProbeLimits,
        sock: socket.socket | None = None,
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None,
    ) -> None:
        self._limits = limits
        self._sock = sock
        self._streams = streams

    async def send(self, data: bytes) -> None:
        if self._streams is not None:
            self._streams[1].write(data)
            await self._streams[1].drain()
        elif self._sock is not None:
            await asyncio.get_running_loop().sock_sendall(self._sock, data)

    async def recv(self, size: int) -> bytes:
        """At most ``size`` bytes; ``b""`` once the peer has closed."""
        if self._streams is not None:
            return await within(self._streams[0].read(size), self._limits.read_timeout)
        assert self._sock is not None
        return await recv_within(self._sock, size, self._limits.read_timeout)

    def ssl_object(self) -> ssl.SSLObject | None:
        if self._streams is None:
            return None
        found = self._streams[1].get_extra_info("ssl_object")
        return found if isinstance(found, ssl.SSLObject) else None

    async def close(self) -> None:
        """Close; a TLS close that does not finish within the read timeout (a peer that
        never answers our close_notify), or that is cancelled (the target's deadline, the
        caller), drops the connection: a target holds one connection at a time, and none
        outlives its probe (asyncio would keep it until its 30 s SSL shutdown timeout)."""
        if self._sock is not None:
            self._sock.close()
        if self._streams is None:
            return
        writer = self._streams[1]
        writer.close()
        try:
            await within(writer.wait_closed(), self._limits.read_timeout)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            writer.transport.abort()
        except BaseException:
            writer.transport.abort()
            raise


async def _connect(
    host: str, port: int, limits: ProbeLimits, tls: ssl.SSLContext | None = None
) -> _Raw | _Answer:
    """Open a connection (TLS with ``tls``), or the outcome that explains why not."""
    try:
        if tls is None:
            return _Raw(limits, sock=await connect_tcp(host, port, limits.connect_timeout))

        async def tls_connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await open_tls(await connect_tcp(host, port, None), tls)

        return _Raw(limits, streams=await within(tls_connect(), limits.connect_timeout))
    except asyncio.TimeoutError:
        return _Answer(
            Outcome.TIMEOUT, detail=f"connect timed out after {limits.connect_timeout:g} s"
        )
    except ConnectionRefusedError:
        return _Answer(Outcome.REFUSED, detail="connection refused")
    except ConnectionResetError:
        # The kernel completed the handshake (the socket listens), then the peer reset it.
        return _Answer(Outcome.RESET, detail="accepted, then reset at once")
    except OSError as exc:
        _out_of_descriptors(exc)
        return _Answer(Outcome.ERROR, detail=_reason(exc))


class _Early(Exception):
    """The outcome was known before ``GET /`` was written (a greeting, a close, a reset):
    raised from the greeting wait inside httpx's connect, caught by :meth:`_Prober._find`."""

    def __init__(self, answer: _Answer) -> None:
        super().__init__(answer.outcome.value)
        self.answer = answer


_ACCEPTED: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "netdash_probe_accepted", default=None
)
"""The probe attempt's list that :func:`_greeting` appends to once its connection is accepted
(what :meth:`_Prober.probe` needs to say ``silent`` rather than ``timeout`` at its deadline)."""


async def _greeting(sock: socket.socket, limits: ProbeLimits) -> None:
    """Listen before speaking, on the connection httpx has just opened for ``GET /``
    (:func:`netdash.probe.stream.one_shot_transport`'s hook): return if the peer stays quiet
    for ``greeting_wait`` (httpx then writes the request on this connection), else raise
    :class:`_Early` with the outcome (a banner, a close or a reset)."""
    accepted = _ACCEPTED.get()
    if accepted is not None:
        accepted.append(True)
    try:
        data = await recv_within(sock, 512, limits.greeting_wait)
    except asyncio.TimeoutError:
        return
    except OSError as exc:
        raise _Early(
            _Answer(Outcome.RESET, detail=f"reset before any request ({_reason(exc)})")
        ) from None
    if not data:
        raise _Early(_Answer(Outcome.RESET, detail="closed the connection before any request"))
    identity = identify_banner(data)
    raise _Early(_Answer(Outcome.BANNER, banner=_printable(data, 120), identity=identity))


async def _raw_get(host: str, port: int, limits: ProbeLimits) -> _Answer:
    """A plain ``GET / HTTP/1.0`` on its own connection, to read what a non-HTTP peer says."""
    opened = await _connect(host, port, limits)
    if isinstance(opened, _Answer):
        return opened
    try:
        await opened.send(f"GET / HTTP/1.0\r\nUser-Agent: {USER_AGENT}\r\n\r\n".encode())
        data = await opened.recv(512)
    except asyncio.TimeoutError:
        return _Answer(Outcome.SILENT, detail="accepted, no answer to a plain request")
    except OSError as exc:
        return _Answer(Outcome.RESET, detail=f"reset after the request ({_reason(exc)})")
    finally:
        await opened.close()
    if not data:
        return _Answer(Outcome.RESET, detail="closed the connection without answering")
    return _Answer(
        Outcome.NOT_HTTP,
        detail=f"answered {_printable(data)!r}",
        identity=identify_answer(data),
        raw=data,
    )


_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9][0-9])(?: [^\r\n]*)?\r?\n")


def _http_head(data: bytes, why: str) -> _Answer | None:
    """An HTTP answer httpx gave up on, from the first bytes (at most 512) the peer sent to a
    plain ``GET / HTTP/1.0``: ``http`` with its status and whatever ``Server`` and
    ``Location`` arrived whole, ``why`` as the detail; ``None`` unless ``data`` starts with an
    HTTP/1 status line."""
    import httpx

    match = _STATUS_LINE.match(data[:512])
    if match is None:
        return None
    found: dict[bytes, bytes] = {}
    for line in data[match.end() : 512].split(b"\n")[:-1]:  # the last line may be cut
        name, colon, value = line.partition(b":")
        key = name.strip().lower()
        if colon and key in (b"server", b"location") and key not in found:
            found[key] = value.strip()
    # Bytes in, as httpx keeps them; text out decoded as httpx does (UTF-8, else Latin-1).
    headers = httpx.Headers(list(found.items()))
    return _Answer(
        Outcome.HTTP,
        status=int(match.group(1)),
        server=headers.get("server"),
        location=headers.get("location"),
        detail=why,
        headers=headers,
    )


def _headers_cut(exc: BaseException) -> str | None:
    """ "the headers were cut…" when httpx gave up on an answer because its headers exceed
    httpcore's limit (h11's hint 431, "Request Header Fields Too Large"); else ``None``."""
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            break
        if getattr(current, "error_status_hint", None) == 431:
            from httpcore._async.http11 import AsyncHTTP11Connection

            limit = AsyncHTTP11Connection.MAX_INCOMPLETE_EVENT_SIZE // 1024
            return f"the headers were cut: longer than the {limit} KiB httpx reads"
        current = current.__cause__ or current.__context__
    return None


async def _attempt_http(client: _Client, url: httpx.URL, limits: ProbeLimits) -> _Answer:
    import httpx

    try:
        return await _get(client, url, limits)
    except httpx.ConnectTimeout:
        return _Answer(
            Outcome.TIMEOUT, detail=f"connect timed out after {limits.connect_timeout:g} s"
        )
    except httpx.ConnectError as exc:
        _out_of_descriptors(exc)
        if _has_errno(exc, errno.ECONNREFUSED):
            return _Answer(Outcome.REFUSED, detail="connection refused")
        if _has_errno(exc, errno.ECONNRESET):
            # The kernel completed the handshake (the socket listens), then the peer reset it.
            return _Answer(Outcome.RESET, detail="accepted, then reset at once")
        return _Answer(Outcome.ERROR, detail=_reason(exc))
    except httpx.ReadTimeout:
        return _Answer(
            Outcome.SILENT, detail=f"accepted, no answer within {limits.read_timeout:g} s"
        )
    except httpx.ReadError as exc:
        return _Answer(Outcome.RESET, detail=f"reset during the request ({_reason(exc)})")
    except httpx.RemoteProtocolError as exc:
        cut = _headers_cut(exc)
        return _Answer(
            Outcome.NOT_HTTP,
            detail=cut or f"not an HTTP answer: {_reason(exc)}",
            rejected=cut or f"an HTTP answer httpx rejects: {_reason(exc)}",
        )
    except httpx.HTTPError as exc:
        _out_of_descriptors(exc)
        return _Answer(Outcome.ERROR, detail=_reason(exc))


async def _certificate(host: str, port: int, limits: ProbeLimits) -> tuple[str | None, bool | None]:
    """(subject, self-signed) of the certificate the peer presents (:mod:`netdash.probe.tls`);
    ``(None, None)`` when no TLS connection opens or nothing decodes."""
    opened = await _connect(host, port, limits, tls=unverified_context())
    if isinstance(opened, _Answer):
        return None, None
    try:
        ssl_object = opened.ssl_object()
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        await opened.close()
    return decode_certificate(der) if der else (None, None)


_TLS_EXPLAINED = {
    "EXCESSIVE_MESSAGE_SIZE": "its certificate chain is over OpenSSL's 100 KiB limit",
    "NO_SHARED_CIPHER": "no cipher in common",
    "UNSUPPORTED_PROTOCOL": "only TLS versions this machine's OpenSSL refuses",
}
_UNPARSABLE_CERTIFICATE = "its certificate does not parse (an ASN.1 error in OpenSSL)"
_NOT_TLS = ("WRONG_VERSION_NUMBER", "UNEXPECTED_EOF", "RECORD_LAYER_FAILURE", "HTTP_REQUEST",
            "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL")  # fmt: skip


def _tls_spoken(exc: BaseException) -> str | None:
    """When a failed HTTPS connect still shows that the peer speaks TLS (it sent a TLS alert
    or a handshake message OpenSSL refused: a 1 MB certificate chain, a certificate that does
    not parse, no common cipher), the reason in words; ``None`` when the failure says nothing
    of TLS (a plain-text peer, a reset, a timeout). Read from the ``ssl.SSLError`` in the
    exception's chain."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            reason = (seen.reason or "").upper()
            if "ASN1" in reason or (not reason and "ASN1 LIB" in str(seen).upper()):
                # OpenSSL 3 gives no reason code for a certificate that does not parse, only
                # the library ("[SSL] ASN1 lib"); only a TLS handshake carries one
                return _UNPARSABLE_CERTIFICATE
            if not reason or any(marker in reason for marker in _NOT_TLS):
                return None
            if reason in _TLS_EXPLAINED:
                return _TLS_EXPLAINED[reason]
            if "ALERT" in reason or reason.startswith(("TLSV", "SSLV3")):
                return f"the peer sent a TLS alert ({reason.lower()})"
            return reason.lower().replace("_", " ")
        seen = seen.__cause__ or seen.__context__
    return None


async def _attempt_tls(
    client: _Client, host: str, port: int, limits: ProbeLimits
) -> _Answer | None:
    """HTTPS with verification off; ``None`` when no TLS handshake completed."""
    import httpx

    try:
        answer = await _get(client, _url("https", host, port), limits)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        _out_of_descriptors(exc)
        spoke = _tls_spoken(exc)
        if spoke is None:
            return None  # the handshake itself failed: not TLS
        return _Answer(Outcome.TLS, detail=f"speaks TLS, but the handshake failed: {spoke}")
    except httpx.HTTPError as exc:
        _out_of_descriptors(exc)
        answer = _Answer(Outcome.TLS, detail=f"TLS handshake done, then: {_reason(exc)}")
    answer.outcome = Outcome.TLS
    if answer.peer_der:  # the GET's own connection presented it: no second handshake
        answer.certificate, answer.self_signed = decode_certificate(answer.peer_der)
    else:
        answer.certificate, answer.self_signed = await _certificate(host, port, limits)
    return answer


async def _raw_command(host: str, port: int, check: RawCheck, limits: ProbeLimits) -> RiskFact:
    """Send ``check.command`` on a fresh connection and read the first answer (at most 512
    bytes, one read timeout): the fact of :mod:`netdash.probe.risks`'s raw check."""
    opened = await _connect(host, port, limits)
    if isinstance(opened, _Answer):
        return RiskFact(
            check.check, False, check.request, Untrusted(f"(no connection: {opened.detail})")
        )
    try:
        await opened.send(check.command)
        data = await opened.recv(512)
    except (OSError, asyncio.TimeoutError) as exc:
        return RiskFact(
            check.check, False, check.request, Untrusted(f"(no answer: {_reason(exc)})")
        )
    finally:
        await opened.close()
    return check.fact(data)


_WS_STATUS = re.compile(rb"HTTP/1\.1 ([1-9][0-9][0-9])")
_ANY_STATUS = re.compile(rb"HTTP/1\.[01] ([1-9][0-9][0-9])")

_HEAD_LIMIT = 16 * 1024  # bytes of status line and headers read for the rebinding check


async def _foreign_get(
    host: str, port: int, tls: bool, limits: ProbeLimits
) -> tuple[int, dict[str, str]] | None:
    """``GET /`` with ``Host:`` :data:`~netdash.probe.risks.FOREIGN_HOST` and ``Origin:``
    :data:`~netdash.probe.risks.FOREIGN_ORIGIN` on a connection of its own, written and read
    directly (a third of httpx's CPU per request: bench/RESULTS.md): the status and the
    lower-case headers that arrived whole within 16 KiB, the body never read; ``None`` when
    no HTTP status line came (within one read timeout)."""
    opened = await _connect(host, port, limits, tls=unverified_context() if tls else None)
    if isinstance(opened, _Answer):
        return None
    request = (
        f"GET / HTTP/1.1\r\nHost: {FOREIGN_HOST}\r\nOrigin: {FOREIGN_ORIGIN}\r\n"
        f"User-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    data = b""
    try:
        await opened.send(request.encode())
        while b"\r\n\r\n" not in data and len(data) < _HEAD_LIMIT:
            chunk = await opened.recv(4096)
            if not chunk:
                break
            data += chunk
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        pass
    finally:
        await opened.close()
    match = _ANY_STATUS.match(data)
    if match is None:
        return None
    head = data[: data.find(b"\r\n\r\n")] if b"\r\n\r\n" in data else data
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            key = name.strip().lower().decode("latin-1")
            headers.setdefault(key, value.strip().decode("latin-1"))
    return int(match.group(1)), headers


async def _websocket(
    host: str, port: int, check: WebSocketCheck, tls: bool, limits: ProbeLimits
) -> RiskFact:
    """A WebSocket handshake (RFC 6455 §4.1) to ``check.path`` with ``Origin`` a foreign
    origin, closed as soon as the status line is read: ``ws-any-origin`` is found on a 101."""
    import base64

    request = f"WebSocket handshake {check.path} (Origin: {FOREIGN_ORIGIN})"
    opened = await _connect(host, port, limits, tls=unverified_context() if tls else None)
    if isinstance(opened, _Answer):
        return RiskFact(
            "ws-any-origin", False, request, Untrusted(f"(no connection: {opened.detail})")
        )
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [
        f"GET {check.path} HTTP/1.1",
        f"Host: {authority}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {FOREIGN_ORIGIN}",
        f"User-Agent: {USER_AGENT}",
    ]
    if check.subprotocol:
        lines.append(f"Sec-WebSocket-Protocol: {check.subprotocol}")
    try:
        await opened.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = await opened.recv(512)
    except (OSError, asyncio.TimeoutError) as exc:
        return RiskFact("ws-any-origin", False, request, Untrusted(f"(no answer: {_reason(exc)})"))
    finally:
        await opened.close()
    match = _WS_STATUS.match(data)
    status = int(match.group(1)) if match else None
    return RiskFact("ws-any-origin", status == 101, request, Untrusted(first_line(data)), status)


class _Prober:
    def __init__(self, limits: ProbeLimits) -> None:
        import httpx

        self.limits = limits
        timeout = httpx.Timeout(
            connect=limits.connect_timeout,
            read=limits.read_timeout,
            write=limits.read_timeout,
            pool=None,
        )
        budget = descriptor_budget()
        self.concurrency = min(limits.concurrency, budget or limits.concurrency)
        # One client per kind, each request on its own connection (stream.OneShot: no pool
        # to scan, no connection kept alive). The gate caps the connections of them all.
        # One unverified SSL context serves them all (httpx would load the trust store once
        # per client).
        context = unverified_context()

        from netdash.probe.stream import one_shot_transport

        async def greet(sock: socket.socket) -> None:
            await _greeting(sock, limits)

        # GET / first (listening for a greeting on its connection); every other request,
        # http:// and https:// alike.
        self._first = _Client(one_shot_transport(context, greet), timeout)
        self._plain = _Client(one_shot_transport(context), timeout)
        self.gate = asyncio.Semaphore(self.concurrency)

    async def close(self) -> None:
        for client in (self._first, self._plain):
            await client.transport.aclose()

    async def probe(self, listener: Listener, via: Via, target: str) -> ProbeResult:
        try:
            parsed = _url("http", target, listener.port)
        except Exception as exc:  # an address httpx refuses: a zone holding odd characters
            return ProbeResult(
                listener=listener.key,
                via=via,
                target=target,
                url=f"http://[{target}]:{listener.port}/",
                outcome=Outcome.ERROR,
                elapsed_ms=0.0,
                detail=f"not probed: no URL can name this address ({_reason(exc)})",
                probed_at=time.time(),
            )
        url = str(parsed)
        async with self.gate:
            for attempt in range(_EMFILE_ATTEMPTS):
                started_at = time.time()
                start = time.perf_counter()
                accepted: list[bool] = []
                try:
                    answer = await within(
                        self._answer(target, listener.port, parsed, accepted),
                        self.limits.deadline,
                    )
                except asyncio.TimeoutError:
                    answer = _Answer(
                        Outcome.SILENT if accepted else Outcome.TIMEOUT,
                        detail=f"no result within {self.limits.deadline:g} s",
                    )
                except Exception as exc:  # a probe must never take the caller down
                    if not (
                        isinstance(exc, _OutOfDescriptors) or _has_errno(exc, *_NO_DESCRIPTORS)
                    ):
                        answer = _Answer(Outcome.ERROR, detail=_reason(exc))
                        break
                    # Out of open files (a connect, or a file a library opened meanwhile):
                    # not the target's outcome. Wait for other probes to close theirs, and
                    # probe it again from the start (its deadline starts again too).
                    answer = _Answer(
                        Outcome.ERROR,
                        detail=f"out of open files after {attempt + 1} tries ({_reason(exc)})",
                    )
                    if attempt + 1 < _EMFILE_ATTEMPTS:
                        await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
                    continue
                break
            elapsed_ms = (time.perf_counter() - start) * 1000.0
        identity = answer.identity
        return ProbeResult(
            listener=listener.key,
            via=via,
            target=target,
            url=url,
            outcome=answer.outcome,
            elapsed_ms=round(elapsed_ms, 1),
            status=answer.status,
            server=untrusted(answer.server),
            title=untrusted(answer.title),
            detail=answer.detail,
            location=untrusted(answer.location),
            banner=untrusted(answer.banner),
            certificate=untrusted(answer.certificate),
            self_signed=answer.self_signed,
            identified=identity.name if identity else None,
            evidence=identity.evidence if identity else None,
            docs=identity.docs if identity else None,
            kind=identity.kind if identity else None,
            probed_at=started_at,
            risks=answer.risks,
        )

    async def _answer(
        self, target: str, port: int, url: httpx.URL, accepted: list[bool]
    ) -> _Answer:
        """The outcome at one target, then its risk checks (in what is left of the deadline:
        a check that runs out of time is left out, the outcome is kept); appends to
        ``accepted`` once a connection was accepted."""
        start = time.perf_counter()
        answer = await self._find(target, port, url, accepted)
        hinted = answer.identity is None and answer.outcome.accepted and port in PORT_HINTS
        asked = answer.identity is not None or answer.outcome in (Outcome.HTTP, Outcome.TLS)
        if not self.limits.risk_checks or not (asked or hinted):
            return answer
        left = self.limits.deadline - (time.perf_counter() - start) - 0.05
        facts: list[RiskFact] = []
        if left > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await within(self._risks(target, port, answer, facts), left)
        answer.risks = tuple(facts)
        return answer

    async def _risks(self, target: str, port: int, answer: _Answer, facts: list[RiskFact]) -> None:
        """The risk checks of :mod:`netdash.probe.risks` for one answered target, one request
        at a time (a target holds one connection at a time), each fact appended to ``facts``
        as it is known: the foreign-``Host`` ``GET /`` for an HTTP answer, the identified
        kind's HTTP or raw check, and its WebSocket handshake."""
        import httpx

        kind = answer.identity.kind if answer.identity else None
        tls = answer.outcome is Outcome.TLS
        scheme = "https" if tls else "http"
        client = self._plain
        if answer.status is not None:
            foreign = await _foreign_get(target, port, tls, self.limits)
            if foreign is not None:
                facts.extend(foreign_host_facts(*foreign))
        if kind in HTTP_CHECKS and answer.status is not None:
            check = HTTP_CHECKS[kind]
            if check.path is None:
                headers = {k.lower(): v for k, v in (answer.headers or {}).items()}
                facts.append(check.fact(answer.status, headers, answer.body))
            else:
                try:
                    got = await _get(client, _url(scheme, target, port, check.path), self.limits)
                    headers = {k.lower(): v for k, v in (got.headers or {}).items()}
                    facts.append(check.fact(got.status or 0, headers, got.body))
                except httpx.HTTPError as exc:
                    _out_of_descriptors(exc)
        if kind in RAW_CHECKS and answer.status is None:
            facts.append(await _raw_command(target, port, RAW_CHECKS[kind], self.limits))
        elif kind is None and answer.status is None and port in PORT_HINTS:
            hint = PORT_HINTS[port]
            fact = await _raw_command(target, port, RAW_CHECKS[hint], self.limits)
            if fact.found:  # it is what the port suggests: say so, with the answer as evidence
                answer.identity = Identity(
                    hint, f"answers {fact.request!r} with {fact.answer!r}", hint
                )
                facts.append(fact)
        if kind in WEBSOCKET_CHECKS and answer.status is not None:
            facts.append(await _websocket(target, port, WEBSOCKET_CHECKS[kind], tls, self.limits))

    async def _find(self, target: str, port: int, url: httpx.URL, accepted: list[bool]) -> _Answer:
        """The outcome at one target; appends to ``accepted`` once a connection was accepted."""
        # One connection: the greeting wait (_greeting), then GET / if the peer stayed quiet.
        _ACCEPTED.set(accepted)
        try:
            answer = await _attempt_http(self._first, url, self.limits)
        except _Early as early:
            return early.answer
        if answer.outcome is Outcome.HTTP:
            if answer.status == 400 and b"HTTPS" in answer.body.upper():
                # "The plain HTTP request was sent to HTTPS port" (nginx), Go's equivalent.
                return await _attempt_tls(self._plain, target, port, self.limits) or answer
            answer.identity = await self._identify(target, port, answer)
            return answer
        if answer.outcome in (Outcome.NOT_HTTP, Outcome.RESET):
            tls = await _attempt_tls(self._plain, target, port, self.limits)
            if tls is not None:
                tls.identity = await self._identify(target, port, tls, scheme="https")
                return tls
            if answer.outcome is Outcome.NOT_HTTP:
                raw = await _raw_get(target, port, self.limits)
                if raw.outcome is Outcome.NOT_HTTP:
                    # An answer that starts like HTTP is HTTP httpx gave up on (2 MB of
                    # headers): say so, never "not-http: answered 'HTTP/1.1 200 OK'".
                    head = _http_head(raw.raw, answer.rejected or "")
                    if head is None:
                        return raw
                    head.identity = await self._identify(target, port, head)
                    return head
        return answer

    async def _identify(
        self, target: str, port: int, answer: _Answer, scheme: str = "http"
    ) -> Identity | None:
        """What answered ``GET /``, refined by the one follow-up request the matched
        identification declares (:mod:`netdash.probe.identify`), if any."""
        headers = {k.lower(): v for k, v in (answer.headers or {}).items()}
        identity = identify_http(answer.status or 0, headers, answer.body)
        if identity is None or identity.follow_up is None:
            return identity
        follow_up = identity.follow_up
        confirmed = await self._confirms(_url(scheme, target, port, follow_up.path), follow_up)
        return follow_up.refine(identity) if confirmed else replace(identity, follow_up=None)

    async def _confirms(self, url: httpx.URL, follow_up: FollowUp) -> bool:
        """``GET url`` (same client, limits and headers as ``GET /``); whether its answer
        confirms ``follow_up``. An HTTP error counts as not confirmed."""
        import httpx

        client = self._plain
        try:
            answer = await _get(client, url, self.limits)
        except httpx.HTTPError as exc:
            _out_of_descriptors(exc)
            return False
        return follow_up.confirmed_by(answer.status or 0, answer.body)


def _is_own(target: str, own: Collection[IPAddress]) -> bool:
    ip = parse_address(target)
    return ip.is_loopback or type(ip)(ip.packed) in own


def probe_jobs(listeners: Iterable[Listener], lan: LanAddresses) -> list[tuple[Listener, Via, str]]:
    """``(listener, via, target)`` for every target of every TCP listener, in target order per
    listener (``lan.probe_targets``). UDP listeners are skipped (never sent HTTP), and so
    are SO_REUSEPORT siblings after the first: they share one endpoint."""
    jobs: list[tuple[Listener, Via, str]] = []
    seen: set[tuple[str, str, int]] = set()
    for listener in listeners:
        if listener.protocol != "tcp" or listener.key in seen:
            continue
        seen.add(listener.key)
        for via, target in probe_targets(listener, lan):
            jobs.append((listener, via, target))
    return jobs


def uncontacted(
    key: tuple[str, str, int], via: Via, target: str, outcome: Outcome, detail: str
) -> ProbeResult:
    """A result for a target that was not (or no longer) probed: ``outcome`` and why."""
    return ProbeResult(
        listener=key,
        via=via,
        target=target,
        url=build_url("http", target, key[2]),
        outcome=outcome,
        elapsed_ms=0.0,
        detail=detail,
        probed_at=time.time(),
    )


async def probe_listeners(
    listeners: Iterable[Listener],
    lan: LanAddresses,
    own: Collection[IPAddress],
    limits: ProbeLimits | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Probe every TCP listener at each of its targets (``lan.probe_targets``), concurrently.

    ``lan`` maps family to this machine's LAN address; ``own`` is the set of this machine's
    addresses (``own_addresses``). Every target is checked against it before any
    connection is made: one that is not this machine's (a listener bound to an address the
    machine no longer holds) is never contacted and gets a ``not-applicable`` result.
    ``on_result`` is called with each result as it arrives, in the caller's event loop.
    Returns all results, in target order per listener. A failing probe becomes an ``error``
    result; nothing is raised. Cancelling the awaiting task cancels every probe.
    """
    limits = limits or ProbeLimits()
    jobs = probe_jobs(listeners, lan)
    prober = _Prober(limits)

    async def run(job: tuple[Listener, Via, str]) -> ProbeResult:
        listener, via, target = job
        if _is_own(target, own):
            result = await prober.probe(listener, via, target)
        else:
            result = uncontacted(
                listener.key,
                via,
                target,
                Outcome.NOT_APPLICABLE,
                f"{target} is not an address of this machine; not contacted",
            )
        if on_result is not None:
            on_result(result)
        return result

    try:
        results: Sequence[ProbeResult] = await asyncio.gather(*(run(job) for job in jobs))
    finally:
        await prober.close()
    return list(results)
