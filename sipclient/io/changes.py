"""``Changes``: something that changes wakes whoever waits for its next change (no polling).

    changes = Changes()
    ...                      # the owner, whenever it changed:
    changes.wake()
    ...                      # a waiter:
    if not await changes.wait(timeout): ...   # False: nothing changed within timeout

Waking with nobody waiting costs one truth test; a waiter that timed out or was cancelled
leaves a done future behind, dropped at the next wake.
"""

from __future__ import annotations

import asyncio

__all__ = ["Changes"]


class Changes:
    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def wake(self) -> None:
        """Wake every waiter (they run once the caller's callback is done)."""
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the next :meth:`wake`; False when ``timeout`` seconds passed first."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        return True
