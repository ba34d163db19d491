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
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["MediaClock", "Paced"]


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
        if precise is None:
            precise = (time.monotonic if type(loop).__module__.startswith("uvloop")
                       else loop.time)
        self.precise = precise
        self.epoch = loop.time()
        self._slots: dict[int, list[Any]] = {}  # slot index -> streams due then
        self._heap: list[int] = []  # slot indexes that have streams (lazy: may be stale)
        self._where: dict[int, int] = {}  # id(stream) -> its next slot
        self._load: dict[tuple[int, int], int] = {}  # (period, phase) -> streams there
        self._phase: dict[int, tuple[int, int]] = {}  # id(stream) -> (period, phase)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot: int | None = None
        self.ticks = 0  #: times the clock fired (one pass each)

    def __len__(self) -> int:
        return len(self._where)

    # ------------------------------------------------------------------ streams

    def add(self, stream: Paced) -> float:
        """Pace ``stream`` from its next slot on; returns its first deadline (loop time)."""
        if id(stream) in self._where:
            self.remove(stream)
        period = max(1, round(stream.ptime / self.SLOT))
        now_slot = int((self.loop.time() - self.epoch) / self.SLOT) + 1
        # the least busy phase of this period (ties: the soonest)
        phase = min(range(period), key=lambda p: (self._load.get((period, p), 0),
                                                  (p - now_slot) % period))
        first = now_slot + (phase - now_slot) % period
        self._load[(period, phase)] = self._load.get((period, phase), 0) + 1
        self._phase[id(stream)] = (period, phase)
        self._put(stream, first)
        return self.epoch + first * self.SLOT

    def remove(self, stream: Paced) -> None:
        slot = self._where.pop(id(stream), None)
        if slot is None:
            return
        streams = self._slots.get(slot)
        if streams is not None:
            try:
                streams.remove(stream)
            except ValueError:
                pass
            if not streams:
                del self._slots[slot]
        key = self._phase.pop(id(stream))
        self._load[key] -= 1
        if not self._load[key]:
            del self._load[key]

    def _put(self, stream: Paced, slot: int) -> None:
        self._where[id(stream)] = slot
        streams = self._slots.get(slot)
        if streams is None:
            self._slots[slot] = [stream]
            heapq.heappush(self._heap, slot)
        else:
            streams.append(stream)
        if self._timer_slot is None or slot < self._timer_slot:
            self._arm(slot)

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
        heap, slots, precise = self._heap, self._slots, self.precise
        analyse: list[Any] = []
        while heap and heap[0] <= due_slot:
            slot = heapq.heappop(heap)
            streams = slots.pop(slot, None)
            if not streams:
                continue
            deadline = self.epoch + slot * self.SLOT
            for stream in streams:
                if self._where.get(id(stream)) != slot:
                    continue  # removed (or re-added) by an earlier stream of this pass
                period = self._phase[id(stream)][0]
                try:
                    stream.send_due(precise(), deadline)
                finally:
                    if id(stream) in self._where:  # not removed by its own send_due
                        nxt = slot + period
                        behind = (due_slot - nxt) // period
                        if behind > 1:  # the loop stalled: skip, the receiver sees loss
                            nxt += behind * period
                        self._where[id(stream)] = nxt
                        later = slots.get(nxt)
                        if later is None:
                            slots[nxt] = [stream]
                            heapq.heappush(heap, nxt)
                        else:
                            later.append(stream)
                analyse.append(stream)
        for stream in analyse:  # every due packet is out: now the analysis
            stream.after_send(now)
        while heap and heap[0] not in slots:
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0])
