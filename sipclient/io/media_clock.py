"""One media clock per event loop: every RTP stream of the process is paced by it.

Instead of one timer per packet per call, the clock keeps the streams in slots of a fine grid
(:attr:`MediaClock.SLOT`, 1 ms) and arms ONE ``loop.call_at`` for the next slot that has
work. A stream with a ptime of 20 ms comes back every 20 slots; a new stream takes the least
busy slot of its period, so 500 calls are spread over the 20 ms instead of all falling due
at once (one pass of 500 sends would make the last one late by the whole pass). Streams of
different ptimes share the same grid.

When a slot falls due, the clock first calls ``send_due(now, deadline)`` of each of its
streams (the stream sends its packet and measures its send-time error against ``deadline``),
and only after every due packet is out, ``after_send(now)`` of the streams that analyse what
they receive (decode, jitter buffer, tone and DTMF detection): the analysis never delays a
due packet. Timers fire up to 1 ms late (epoll's resolution): the clock aims
:attr:`MediaClock.EARLY` before the slot.

A stream is anything with ``ptime`` (seconds), ``send_due(now, deadline) -> None`` and
``after_send(now) -> None`` (:class:`sipclient.io.rtp_session.RtpSession`).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["MediaClock", "Paced"]

log = logging.getLogger(__name__)


class Paced(Protocol):
    ptime: float

    def send_due(self, now: float, deadline: float) -> None: ...
    def after_send(self, now: float) -> None: ...


class MediaClock:
    """The pacing of every stream on one loop (see the module docstring)."""

    SLOT = 0.001
    EARLY = 0.0005

    _clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock] = (
        weakref.WeakKeyDictionary())

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop | None = None) -> MediaClock:
        """The clock of ``loop`` (the running loop by default), created on first use."""
        loop = loop or asyncio.get_running_loop()
        clock = cls._clocks.get(loop)
        if clock is None:
            clock = cls._clocks[loop] = cls(loop)
        return clock

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 precise: Callable[[], float] | None = None) -> None:
        self.loop = loop
        # the time each packet is really sent, for its send-time error: uvloop's time() is
        # the loop iteration's cached millisecond, CLOCK_MONOTONIC as time.monotonic() is
        # (the default loop's time() is time.monotonic() too, one Python call further)
        if precise is None:
            precise = (time.monotonic if type(loop).__module__.startswith(("uvloop", "asyncio"))
                       else loop.time)
        self.precise = precise
        self.epoch = loop.time()
        # streams of one (period, phase) fall due together: they form a group that moves
        # through the grid as one list (no per-stream bookkeeping in the tick)
        self._groups: dict[tuple[int, int], list[Any]] = {}
        self._next: dict[tuple[int, int], int] = {}  # group -> its next slot
        self._heap: list[tuple[int, tuple[int, int]]] = []  # (slot, group); lazy: may be stale
        self._key: dict[int, tuple[int, int]] = {}  # id(stream) -> its group
        self._removals = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot: int | None = None
        self.ticks = 0  #: times the clock fired (one pass each)

    def __len__(self) -> int:
        return len(self._key)

    # ------------------------------------------------------------------ streams

    def add(self, stream: Paced) -> float:
        """Pace ``stream`` from its next slot on; returns its first deadline (loop time)."""
        if id(stream) in self._key:
            self.remove(stream)
        period = max(1, round(stream.ptime / self.SLOT))
        now_slot = int((self.loop.time() - self.epoch) / self.SLOT) + 1
        groups = self._groups
        # the least busy phase of this period (ties: the soonest)
        phase = min(range(period), key=lambda p: (len(groups.get((period, p), ())),
                                                  (p - now_slot) % period))
        key = (period, phase)
        self._key[id(stream)] = key
        group = groups.get(key)
        if group is not None:
            group.append(stream)
            return self.epoch + self._next[key] * self.SLOT
        groups[key] = [stream]
        first = now_slot + (phase - now_slot) % period
        self._next[key] = first
        heapq.heappush(self._heap, (first, key))
        if self._timer_slot is None or first < self._timer_slot:
            self._arm(first)
        return self.epoch + first * self.SLOT

    def remove(self, stream: Paced) -> None:
        key = self._key.pop(id(stream), None)
        if key is None:
            return
        self._removals += 1
        group = self._groups[key]
        group.remove(stream)
        if not group:  # its heap entry goes stale
            del self._groups[key]
            del self._next[key]

    # ------------------------------------------------------------------ the tick

    def _arm(self, slot: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = self.loop.call_at(self.epoch + slot * self.SLOT - self.EARLY, self._tick)

    def _tick(self) -> None:
        fired = self._timer_slot
        self._timer = self._timer_slot = None
        self.ticks += 1
        now = self.loop.time()
        # the slot the timer was armed for is due even when the loop fires it a little
        # early (uvloop rounds timers to whole ms): never spin on a timer that finds nothing
        due_slot = int((now + self.EARLY - self.epoch) / self.SLOT + 1e-6)
        if fired is not None and fired > due_slot:
            due_slot = fired
        heap, groups, nexts, keys = self._heap, self._groups, self._next, self._key
        precise = self.precise
        analyse: list[list[Any]] = []
        while heap and heap[0][0] <= due_slot:
            slot, key = heapq.heappop(heap)
            if nexts.get(key) != slot:
                continue  # stale: the group emptied (and maybe came back elsewhere)
            group = groups[key]
            deadline = self.epoch + slot * self.SLOT
            removals = self._removals
            for stream in tuple(group):
                if self._removals != removals and keys.get(id(stream)) != key:
                    continue  # removed (or re-added) by an earlier stream of this pass
                try:
                    stream.send_due(precise(), deadline)
                except Exception:  # noqa: BLE001 - one broken stream must not stop the rest
                    log.exception("media clock: send_due of %r", stream)
            if key in groups:  # not emptied by its own streams
                period = key[0]
                nxt = slot + period
                behind = (due_slot - nxt) // period
                if behind > 1:  # the loop stalled: skip, the receiver sees loss
                    nxt += behind * period
                nexts[key] = nxt
                heapq.heappush(heap, (nxt, key))
                analyse.append(group)
        for group in analyse:  # every due packet is out: now the analysis
            for stream in tuple(group):
                stream.after_send(now)
        while heap and nexts.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0][0])
