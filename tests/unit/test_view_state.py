"""Unit tests for the dashboard's view state (``netdash.tui.state``): the filter and the
toggles pick listeners from an Assessment; pure, no Textual app, no sockets."""

from __future__ import annotations

import pytest

from netdash.core.assess import Assessment
from netdash.core.model import Listener, Snapshot
from netdash.tui.state import SORTS, ViewState, ipv6_only, matches
from tests.support.fixed import SNAPSHOT


def ports(view: ViewState, udp: bool = False) -> list[int]:
    return [li.port for li in view.shown(Assessment(SNAPSHOT, udp=udp))]


def test_default_view_shows_every_tcp_listener_in_snapshot_order() -> None:
    tcp = [li.port for li in SNAPSHOT.listeners if li.protocol == "tcp"]
    assert ports(ViewState()) == tcp
    assert 5353 not in tcp and 5353 in ports(ViewState(udp=True), udp=True)


def test_filter_matches_port_address_process_command_line_pid_and_user() -> None:
    assert ports(ViewState(filter_text="8000")) == [8000]
    assert set(ports(ViewState(filter_text="GUNICORN"))) == {5000}  # case-insensitive name
    assert set(ports(ViewState(filter_text="vite"))) == {5173}  # command line
    assert set(ports(ViewState(filter_text="4242"))) == {8000}  # pid
    assert set(ports(ViewState(filter_text="postgres"))) == {5432}  # user, owner unknown
    assert ports(ViewState(filter_text="no such thing")) == []
    uvicorn = next(li for li in SNAPSHOT.listeners if li.port == 8000)
    assert matches(uvicorn, "0.0.0.0") and not matches(uvicorn, "::1")


def test_exposed_only_and_ipv6_toggles_narrow_the_view() -> None:
    assessment = Assessment(SNAPSHOT)
    exposed = ViewState(exposed_only=True).shown(assessment)
    assert exposed and all(assessment.of(li).exposed for li in exposed)
    assert 5000 not in [li.port for li in exposed]  # loopback only
    assert not any(ipv6_only(li) for li in ViewState(show_ipv6=False).shown(assessment))
    assert 5173 not in ports(ViewState(show_ipv6=False))  # ::1 only


@pytest.mark.parametrize(
    ("address", "dual_stack", "hidden"),
    [
        ("::", True, False),  # dual-stack wildcard: accepts IPv4 too
        ("::", None, False),  # unknown: Linux's default is dual-stack
        ("::", False, True),  # IPV6_V6ONLY
        ("::1", None, True),
        ("2001:db8::1", None, True),
        ("fe80::1%v0", None, True),
        ("::ffff:127.0.0.1", None, False),  # an IPv4 address in IPv6 clothing
        ("0.0.0.0", None, False),
    ],
)
def test_the_ipv6_toggle_never_hides_an_ipv4_reachable_listener(
    address: str, dual_stack: bool | None, hidden: bool
) -> None:
    family = 4 if address == "0.0.0.0" else 6
    listener = Listener("tcp", address, 8000, family, dual_stack=dual_stack)
    assessment = Assessment(
        Snapshot(hostname="h", interfaces=(), listeners=(listener,), taken_at=0.0)
    )
    view = ViewState(show_ipv6=False)
    assert (view.shown(assessment) == []) is hidden
    assert view.hidden_ipv6(assessment) == int(hidden)
    assert view.describe(view.hidden_ipv6(assessment)) == f"{int(hidden)} IPv6-only hidden"


def test_sort_cycles_and_a_clicked_column_sorts_by_itself_or_scope() -> None:
    view = ViewState()
    seen = []
    for _ in SORTS:
        view.cycle_sort()
        seen.append(view.sort)
    assert seen == ["port", "process", "scope"]
    view.sort_by_column("process")
    assert view.sort == "process"
    view.sort_by_column("address")
    assert view.sort == "scope"


def test_describe_names_only_the_narrowed_views() -> None:
    assert ViewState().describe() == ""
    assert ViewState(paused=True, udp=True).describe() == ""  # said elsewhere in the header
    view = ViewState(filter_text="80", exposed_only=True, show_ipv6=False, sort="port")
    assert view.describe() == "filter '80' · exposed only · IPv6-only hidden · sorted by port"
    assert view.describe(2).startswith("filter '80' · exposed only · 2 IPv6-only hidden")


def test_a_long_command_line_shared_by_many_listeners_is_held_and_searched_once() -> None:
    """Bench at 20,000 listeners (issue 18): 20 processes of 1,000 sockets each, command lines
    of 54 KB, took 1.2 GB and seconds per key when each listener kept its own copy."""
    from netdash.core.model import Process

    arg = "x" * 50_000
    holders = [
        Process(pid=100 + n, name="java", user="dev", cmdline=("java", "-cp", arg, f"App{n}"))
        for n in range(20)
    ]
    listeners = tuple(
        Listener("tcp", "127.0.0.1", 2000 + i, 4, (holders[i % 20],), inode=i) for i in range(4000)
    )
    snapshot = Snapshot(hostname="h", interfaces=(), listeners=listeners, taken_at=0.0)
    assessment = Assessment(snapshot)
    view = ViewState(filter_text="app7")
    assert {li.processes[0].pid for li in view.shown(assessment)} == {107}
    view.filter_text = "2001"
    assert [li.port for li in view.shown(assessment)] == [2001]
    assert view._index is not None
    held = sum(len(text) for _, text in view._index.texts.values())
    assert held < 25 * 50_000  # each process's text once, not once per listener
    view.filter_text = "zzz"
    assert view.shown(assessment) == []


def test_the_filter_index_agrees_with_matches_for_every_substring() -> None:
    """The filter searches an index made once per snapshot (issue 18); what it keeps must be
    what :func:`matches` says of each listener, in snapshot order, for any needle, with the
    toggles on or off and across another assessment of the same snapshot."""
    texts = {f"{li.port} {li.address}" for li in SNAPSHOT.listeners}
    texts |= {p.name.raw if p.name else "" for li in SNAPSHOT.listeners for p in li.processes}
    needles = {t[i : i + n].lower() for t in texts for n in (1, 2, 4) for i in range(len(t))}
    views = (ViewState(), ViewState(exposed_only=True, show_ipv6=False))
    for udp in (False, True, True):
        assessment = Assessment(SNAPSHOT, udp=udp)
        for view in views:
            plain = view.shown(assessment)
            for needle in sorted(needles - {""}):
                view.filter_text = needle
                assert view.shown(assessment) == [li for li in plain if matches(li, needle)]
            view.filter_text = ""
