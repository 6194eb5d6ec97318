"""`netdash` (the dashboard) reads its first snapshot before loading the dashboard's modules
and hands it to the first poll; later polls read afresh with one process cache."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import netdash.tui.app
from netdash import cli
from netdash.cli.commands import dashboard
from netdash.core.model import Interface, Snapshot
from netdash.sources.processes import ProcessCache


def snapshot(n: int) -> Snapshot:
    return Snapshot(
        hostname=f"poll{n}",
        interfaces=(Interface("lo", True, ("127.0.0.1",), True),),
        listeners=(),
        taken_at=float(n),
    )


class FakeApp:
    """Stands in for NetdashApp: records its arguments; ``run`` polls three times."""

    seen: ClassVar[dict[str, Any]] = {}
    return_code = 0  # ran and quit; no unhandled error
    crash = None

    def __init__(self, **kwargs: Any) -> None:
        FakeApp.seen = dict(kwargs)

    def run(self) -> None:
        FakeApp.seen["polls"] = [FakeApp.seen["collector"]() for _ in range(3)]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[ProcessCache | None]:
    """Every collect_snapshot call's cache; the n-th call answers snapshot(n), n from 0."""
    caches: list[ProcessCache | None] = []

    def collect(cache: ProcessCache | None = None, firewall: object = None) -> Snapshot:
        caches.append(cache)
        return snapshot(len(caches) - 1)

    monkeypatch.setattr(dashboard, "collect_snapshot", collect)
    monkeypatch.setattr(netdash.tui.app, "NetdashApp", FakeApp)
    return caches


def test_the_first_poll_gets_the_snapshot_read_at_start(reads: list[Any]) -> None:
    assert cli.main(["--config", "/dev/null"]) == 0
    assert FakeApp.seen["polls"] == [snapshot(0), snapshot(1), snapshot(2)]
    assert len(reads) == 3  # one read per poll, the first before the app started
    assert reads[0] is not None and all(cache is reads[0] for cache in reads)


def test_a_failed_first_read_is_left_to_the_dashboard(
    reads: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's own first poll reads again and, if that fails too, says why."""
    real = dashboard.collect_snapshot
    failures = [OSError("netlink refused")]

    def flaky(cache: ProcessCache | None = None, firewall: object = None) -> Snapshot:
        if failures:
            raise failures.pop()
        return real(cache)

    monkeypatch.setattr(dashboard, "collect_snapshot", flaky)
    assert cli.main(["--config", "/dev/null"]) == 0
    assert FakeApp.seen["polls"] == [snapshot(0), snapshot(1), snapshot(2)]
