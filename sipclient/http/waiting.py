"""Waiting on a condition that an :class:`asyncio.Event` announces (no polling)."""

from __future__ import annotations

import asyncio
from typing import Callable

__all__ = ["wait_until"]


async def wait_until(event: asyncio.Event, done: Callable[[], bool],
                     timeout: float | None) -> bool:
    """Wait until ``done()`` holds, checking it each time ``event`` is set, or until
    ``timeout`` seconds passed (None: no limit); returns ``done()``. Whoever changes what
    ``done`` reads sets ``event``."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while not done():
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            return False
        event.clear()
        try:
            await asyncio.wait_for(event.wait(), left)
        except asyncio.TimeoutError:
            pass
    return True
