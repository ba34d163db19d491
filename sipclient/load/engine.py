"""The asyncio loop of one load process: start instances on time, cap them, stop cleanly.

``run_load(spec, driver, stats, stopping)`` starts instance ``i`` (1, 2, ...) when the
:class:`~sipclient.load.pacer.Pacer` says it is due and fewer than ``--concurrency`` are in
flight, until ``--calls`` were started, ``--duration`` passed, or ``stopping`` is set
(Ctrl-C, SIGTERM, the parent process). It waits on events (the next due time, a freed slot,
the stop), never polls.

A *driver* knows one kind of instance (a call, a registration, a scenario) and has::

    async open()                    bind sockets, resolve the target
    async instance(i, stats, ending) -> (reason, detail) | None   one instance; None = passed
    async close()                   unregister, close sockets

``ending`` is an event the instance watches during its hold: when the run is stopped, held
calls hang up at once. After the last start the engine waits for the instances in flight,
at most ``spec.timeout`` seconds more, then cancels what is left (counted as ``timeout``):
a PBX that stops answering never hangs the run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from sipclient.load.pacer import Pacer
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats

__all__ = ["Driver", "run_load"]

log = logging.getLogger(__name__)


class Driver(Protocol):
    async def open(self) -> None: ...

    async def instance(self, i: int, stats: LoadStats,
                       ending: asyncio.Event) -> tuple[str, str] | None: ...

    async def close(self) -> None: ...


async def run_load(spec: LoadSpec, driver: Driver, stats: LoadStats,
                   stopping: asyncio.Event, *, first_index: int = 1,
                   index_step: int = 1) -> None:
    """Run instances ``first_index``, ``first_index + index_step``, ... (each process of a
    multi-process run takes every ``processes``-th index, so ``${i}`` never repeats)."""
    loop = asyncio.get_running_loop()
    pacer = Pacer(spec.rate, spec.ramp)
    tasks: set[asyncio.Task[Any]] = set()
    slot_free = asyncio.Event()
    ending = asyncio.Event()
    started = 0
    t0 = loop.time()
    deadline = t0 + spec.duration if spec.duration is not None else None
    limit = spec.calls

    async def one(i: int) -> None:
        stats.started(time.time())
        try:
            async with asyncio.timeout(spec.hold + 2 * spec.timeout + 5):  # no extra task
                outcome = await driver.instance(i, stats, ending)
        except TimeoutError:
            outcome = ("timeout", "instance took longer than hold + 2 x --timeout")
        except asyncio.CancelledError:
            outcome = ("timeout", "still running when the run ended")
            stats.ended(time.time(), *outcome)
            raise
        except Exception as exc:  # noqa: BLE001 - one instance's bug is one failure
            log.debug("instance %d crashed", i, exc_info=True)
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        if outcome is None:
            stats.ended(time.time())
        else:
            stats.ended(time.time(), *outcome)
        slot_free.set()

    stop_wait = asyncio.ensure_future(stopping.wait())
    try:
        while not stopping.is_set():
            now = loop.time()
            if limit is not None and started >= limit:
                break
            if deadline is not None and now >= deadline:
                break
            due = pacer.due(now - t0)
            while (started < due and len(tasks) < spec.concurrency
                   and (limit is None or started < limit)):
                index = first_index + started * index_step
                started += 1
                task = loop.create_task(one(index))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            # what to wait for: the next due start, a freed slot, the end of the run, the stop
            waits: list[asyncio.Future[Any]] = [stop_wait]
            timeout: float | None = None
            if len(tasks) >= spec.concurrency:
                slot_free.clear()
                waits.append(asyncio.ensure_future(slot_free.wait()))
            elif started < due:  # unreachable unless limit reached; loop ends above
                continue
            else:
                timeout = max(0.0, t0 + pacer.time_of(started + 1) - loop.time())
            if deadline is not None:
                left = max(0.0, deadline - loop.time())
                timeout = left if timeout is None else min(timeout, left)
            _, pending = await asyncio.wait(waits, timeout=timeout,
                                            return_when=asyncio.FIRST_COMPLETED)
            for fut in waits[1:]:
                fut.cancel()
    finally:
        stop_wait.cancel()
        if stopping.is_set():
            ending.set()
        if tasks:
            done, pending = await asyncio.wait(set(tasks), timeout=spec.hold + spec.timeout)
            if pending and not ending.is_set():
                ending.set()  # past the hold: ask the rest to hang up, then give them time
                done, pending = await asyncio.wait(pending, timeout=spec.timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
