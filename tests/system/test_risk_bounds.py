"""The risk checks stay within the probe's bounds against hostile peers (issue 16): a peer
that answers ``GET /`` and then hangs, or drips endless headers, on the foreign-``Host``
request keeps its outcome (only the risk fact is missing) within the deadline; CORS with
credentials is read from the foreign-``Host`` answer's headers."""

from __future__ import annotations

import socket
import time

import pytest

from netdash.core.addresses import own_addresses
from netdash.core.model import Listener, Outcome, ProbeResult, Via
from netdash.probe.engine import ProbeLimits, probe_listeners
from netdash.probe.risks import FOREIGN_HOST
from netdash.sources.interfaces import read_interfaces
from tests.support import netns
from tests.support.peers import http_answer, raw_server, read_request

pytestmark = pytest.mark.netns

LAN = {4: netns.LAN_V4}
LIMITS = ProbeLimits(connect_timeout=0.5, read_timeout=0.5, deadline=2.0, greeting_wait=0.1)


async def probe(port: int) -> list[ProbeResult]:
    listener = Listener("tcp", "127.0.0.1", port, 4)
    return await probe_listeners([listener], LAN, own_addresses(read_interfaces()), LIMITS)


def _foreign(request: bytes) -> bool:
    return f"Host: {FOREIGN_HOST}".encode() in request


def _hang_on_foreign(conn: socket.socket) -> None:
    request = read_request(conn)
    if not request:
        return  # the listen-first connection
    if _foreign(request):
        time.sleep(5)  # never answers within the probe's bounds
        return
    conn.sendall(http_answer("200 OK", {"Server": "hostile"}, b"hello"))


def _drip_headers_on_foreign(conn: socket.socket) -> None:
    request = read_request(conn)
    if not request:
        return
    if not _foreign(request):
        conn.sendall(http_answer("200 OK", {"Server": "hostile"}, b"hello"))
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    deadline = time.monotonic() + 5
    try:
        while time.monotonic() < deadline:  # headers without end, never the blank line
            conn.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")
            time.sleep(0.01)
    except OSError:
        return  # the probe closed: what it should do


@pytest.mark.parametrize(
    ("handler", "status"),
    [(_hang_on_foreign, None), (_drip_headers_on_foreign, 200)],  # drip: its status line came
)
async def test_a_hostile_answer_to_the_foreign_host_keeps_the_outcome(handler, status) -> None:  # type: ignore[no-untyped-def]
    with raw_server(handler, "127.0.0.1") as port:
        start = time.perf_counter()
        [loop, _lan] = await probe(port)
        took = time.perf_counter() - start
    assert (loop.via, loop.outcome, loop.status) == (Via.LOOPBACK, Outcome.HTTP, 200)
    # No answer, no fact; endless headers: read up to 16 KiB, the status line is the fact.
    assert [f.status for f in loop.risks if f.check == "dns-rebinding"] == (
        [status] if status else []
    )
    assert took < LIMITS.deadline + 0.5
    assert loop.elapsed_ms < LIMITS.deadline * 1000 + 200


def _cors(conn: socket.socket) -> None:
    request = read_request(conn)
    if not request:
        return
    headers = {"Server": "api"}
    if _foreign(request):
        headers |= {
            "Access-Control-Allow-Origin": "http://attacker.invalid",
            "Access-Control-Allow-Credentials": "true",
        }
    conn.sendall(http_answer("200 OK", headers, b"{}"))


async def test_cors_with_credentials_for_a_foreign_origin_is_a_fact() -> None:
    with raw_server(_cors, "127.0.0.1") as port:
        [loop, _lan] = await probe(port)
    facts = {f.check: f for f in loop.risks}
    assert facts["dns-rebinding"].found and facts["dns-rebinding"].status == 200
    assert facts["cors-credentials"].found
    assert "Access-Control-Allow-Credentials: true" in facts["cors-credentials"].answer.raw
