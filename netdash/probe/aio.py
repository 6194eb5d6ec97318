"""A time limit on one await, without a task of its own where Python allows it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["within"]

_T = TypeVar("_T")

if sys.version_info >= (3, 11):

    async def within(awaitable: Awaitable[_T], seconds: float | None) -> _T:
        """``await awaitable``, raising :class:`asyncio.TimeoutError` (``TimeoutError``) after
        ``seconds`` (``None``: no limit). On Python 3.11+ the await runs in the caller's own
        task (:func:`asyncio.timeout`); :func:`asyncio.wait_for` makes a task per call, and a
        probe makes several calls per target."""
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # Python 3.10

    async def within(awaitable: Awaitable[_T], seconds: float | None) -> _T:
        return await asyncio.wait_for(awaitable, seconds)
