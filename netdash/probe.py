"""Probe listeners over HTTP with httpx and sort each answer into an :class:`Outcome`.

Safety rules, enforced here rather than left to callers:

* only this machine's own addresses are contacted (any other target is ``not-applicable``);
* ``GET /`` only, redirects never followed, proxy variables ignored (``trust_env=False``);
* every probe is bounded: connect and read timeouts, a total deadline, a byte cap on what is
  read, and a cap on concurrent connections. A peer that accepts and never answers costs one
  read timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

import httpx

from netdash import __version__
from netdash.classify import IPAddress, LanAddresses, parse_address, probe_targets
from netdash.model import Listener, Outcome, ProbeResult, Via

__all__ = ["ProbeLimits", "build_url", "probe_listeners"]

USER_AGENT = f"netdash/{__version__} (+local exposure check)"
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ProbeLimits:
    """Bounds on probing. Times in seconds, sizes in bytes.

    ``connect_timeout``: TCP (and TLS) connect; ``read_timeout``: each read;
    ``greeting_wait``: how long to listen for a server-first greeting (SSH, SMTP…) before
    sending anything;
    ``deadline``: one target, all attempts included; ``max_bytes``: body bytes read per
    response; ``concurrency``: targets probed at once.
    """

    connect_timeout: float = 1.0
    read_timeout: float = 1.0
    greeting_wait: float = 0.15
    deadline: float = 3.0
    max_bytes: int = 64 * 1024
    concurrency: int = 64


def build_url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port/`` with IPv6 literals in brackets (RFC 3986 §3.2.2)."""
    return str(httpx.URL(scheme=scheme, host=host, port=port, path="/"))


@dataclass
class _Answer:
    outcome: Outcome
    status: int | None = None
    server: str | None = None
    title: str | None = None
    detail: str | None = None


def _has_errno(exc: BaseException, number: int) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == number:
            return True
        current = current.__cause__ or current.__context__
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


async def _get(client: httpx.AsyncClient, url: str, limits: ProbeLimits) -> _Answer:
    """One ``GET /``; raises httpx errors for the caller to classify."""
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
    async with client.stream("GET", url, headers=headers) as response:
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) >= limits.max_bytes:
                break
        title = None
        match = _TITLE.search(bytes(body[: limits.max_bytes]))
        if match:
            text = html.unescape(match.group(1).decode("utf-8", "replace"))
            title = " ".join(text.split()) or None
        answer = _Answer(
            Outcome.HTTP,
            status=response.status_code,
            server=response.headers.get("server"),
            title=title,
        )
        if response.status_code == 400 and b"HTTPS" in bytes(body).upper():
            answer.outcome = Outcome.NOT_HTTP  # "plain HTTP request sent to HTTPS port"
            answer.detail = "plain HTTP refused by an HTTPS port"
        return answer


async def _attempt_http(client: httpx.AsyncClient, url: str, limits: ProbeLimits) -> _Answer:
    try:
        return await _get(client, url, limits)
    except httpx.ConnectTimeout:
        return _Answer(
            Outcome.TIMEOUT, detail=f"connect timed out after {limits.connect_timeout:g} s"
        )
    except httpx.ConnectError as exc:
        if _has_errno(exc, errno.ECONNREFUSED):
            return _Answer(Outcome.REFUSED, detail="connection refused")
        return _Answer(Outcome.ERROR, detail=_reason(exc))
    except httpx.ReadTimeout:
        return _Answer(
            Outcome.SILENT, detail=f"accepted, no answer within {limits.read_timeout:g} s"
        )
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        return _Answer(Outcome.NOT_HTTP, detail=f"not an HTTP answer: {_reason(exc)}")
    except httpx.HTTPError as exc:
        return _Answer(Outcome.ERROR, detail=_reason(exc))


async def _attempt_tls(client: httpx.AsyncClient, url: str, limits: ProbeLimits) -> _Answer | None:
    """HTTPS with verification off; ``None`` when no TLS handshake completed."""
    try:
        answer = await _get(client, url, limits)
    except (httpx.ConnectError, httpx.ConnectTimeout):
        return None  # the handshake itself failed: not TLS
    except httpx.HTTPError as exc:
        return _Answer(Outcome.TLS, detail=f"TLS handshake done, then: {_reason(exc)}")
    answer.outcome = Outcome.TLS
    answer.detail = None
    return answer


async def _listen_first(host: str, port: int, limits: ProbeLimits) -> _Answer | None:
    """Connect and listen before speaking: server-first protocols (SSH, SMTP, FTP, MySQL…)
    greet at once and must not be sent HTTP. ``None`` means the peer stayed quiet, so an HTTP
    request is the next step; otherwise the outcome is already known."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), limits.connect_timeout
        )
    except asyncio.TimeoutError:
        return _Answer(
            Outcome.TIMEOUT, detail=f"connect timed out after {limits.connect_timeout:g} s"
        )
    except ConnectionRefusedError:
        return _Answer(Outcome.REFUSED, detail="connection refused")
    except OSError as exc:
        return _Answer(Outcome.ERROR, detail=_reason(exc))
    try:
        try:
            data = await asyncio.wait_for(reader.read(512), limits.greeting_wait)
        except asyncio.TimeoutError:
            return None
        except OSError as exc:
            return _Answer(
                Outcome.NOT_HTTP, detail=f"connection reset before any request ({_reason(exc)})"
            )
        if not data:
            return _Answer(Outcome.NOT_HTTP, detail="closed the connection before any request")
        first_line = data.splitlines()[0] if data.splitlines() else data
        greeting = first_line[:120].decode("utf-8", "replace")
        return _Answer(Outcome.NOT_HTTP, detail=f"speaks first: {greeting}")
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), limits.read_timeout)


class _Prober:
    def __init__(self, limits: ProbeLimits) -> None:
        self.limits = limits
        timeout = httpx.Timeout(
            connect=limits.connect_timeout,
            read=limits.read_timeout,
            write=limits.read_timeout,
            pool=None,
        )
        pool = httpx.Limits(max_connections=limits.concurrency, max_keepalive_connections=0)
        common = dict(trust_env=False, follow_redirects=False, timeout=timeout, limits=pool)
        self.plain = httpx.AsyncClient(**common)  # type: ignore[arg-type]
        self.tls = httpx.AsyncClient(verify=False, **common)  # type: ignore[arg-type]
        self.gate = asyncio.Semaphore(limits.concurrency)

    async def close(self) -> None:
        await self.plain.aclose()
        await self.tls.aclose()

    async def probe(self, listener: Listener, via: Via, target: str) -> ProbeResult:
        url = build_url("http", target, listener.port)
        async with self.gate:
            start = time.perf_counter()
            accepted: list[bool] = []
            try:
                answer = await asyncio.wait_for(
                    self._answer(target, listener.port, url, accepted), self.limits.deadline
                )
            except asyncio.TimeoutError:
                answer = _Answer(
                    Outcome.SILENT if accepted else Outcome.TIMEOUT,
                    detail=f"no result within {self.limits.deadline:g} s",
                )
            except Exception as exc:  # a probe must never take the caller down
                answer = _Answer(Outcome.ERROR, detail=_reason(exc))
            elapsed_ms = (time.perf_counter() - start) * 1000.0
        return ProbeResult(
            listener=listener.key,
            via=via,
            target=target,
            url=url,
            outcome=answer.outcome,
            elapsed_ms=round(elapsed_ms, 1),
            status=answer.status,
            server=answer.server,
            title=answer.title,
            detail=answer.detail,
        )

    async def _answer(self, target: str, port: int, url: str, accepted: list[bool]) -> _Answer:
        """The outcome at one target; appends to ``accepted`` once a connection was accepted."""
        first = await _listen_first(target, port, self.limits)
        if first is None or first.outcome.accepted:
            accepted.append(True)
        if first is not None:
            return first
        answer = await _attempt_http(self.plain, url, self.limits)
        if answer.outcome is Outcome.NOT_HTTP:
            tls = await _attempt_tls(self.tls, build_url("https", target, port), self.limits)
            if tls is not None:
                return tls
        return answer


def _is_own(target: str, own: Collection[IPAddress]) -> bool:
    ip = parse_address(target)
    return ip.is_loopback or type(ip)(ip.packed) in own


async def probe_listeners(
    listeners: Iterable[Listener],
    lan: LanAddresses,
    own: Collection[IPAddress],
    limits: ProbeLimits | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Probe every TCP listener at each of its targets (``classify.probe_targets``), concurrently.

    ``lan`` maps family to this machine's LAN address; ``own`` is the set of this machine's
    addresses (``classify.own_addresses``). Every target is checked against it before any
    connection is made: one that is not this machine's (a listener bound to an address the
    machine no longer holds) is never contacted and gets a ``not-applicable`` result.
    ``on_result`` is called with each result as it arrives, in the caller's event loop.
    Returns all results, in target order per listener. A failing probe becomes an ``error``
    result; nothing is raised.
    """
    limits = limits or ProbeLimits()
    jobs: list[tuple[Listener, Via, str]] = []
    seen: set[tuple[str, str, int]] = set()
    for listener in listeners:
        if listener.protocol != "tcp" or listener.key in seen:
            continue  # UDP is never sent HTTP; SO_REUSEPORT siblings share one endpoint
        seen.add(listener.key)
        for via, target in probe_targets(listener, lan):
            jobs.append((listener, via, target))
    prober = _Prober(limits)

    async def run(job: tuple[Listener, Via, str]) -> ProbeResult:
        listener, via, target = job
        if _is_own(target, own):
            result = await prober.probe(listener, via, target)
        else:
            result = ProbeResult(
                listener=listener.key,
                via=via,
                target=target,
                url=build_url("http", target, listener.port),
                outcome=Outcome.NOT_APPLICABLE,
                elapsed_ms=0.0,
                detail=f"{target} is not an address of this machine; not contacted",
            )
        if on_result is not None:
            on_result(result)
        return result

    try:
        results: Sequence[ProbeResult] = await asyncio.gather(*(run(job) for job in jobs))
    finally:
        await prober.close()
    return list(results)
