"""Network impairment on an agent's own transport: drop, delay, duplicate, drop the Nth.

    t = ImpairedTransport(await UdpTransport.bind(("127.0.0.5", 5070), on_event=q),
                          outgoing=Impairment(drop_nth=(2,)),           # lose the 2nd REGISTER
                          incoming=Impairment(drop=0.3, delay=0.2, jitter=0.1),
                          seed=7)
    ...
    t.log          # every decision: [Decision(direction='out', index=2, action='drop', ...)]

:class:`ImpairedTransport` wraps any :class:`~sipclient.io.transport.Transport` and has the same
interface. Outgoing: ``send`` decides before passing the bytes on. Incoming: the wrapper
takes the inner transport's ``on_event`` and decides for each ``Received`` before handing it
to the original callback (connection events pass untouched). On UDP a "message" is a
datagram; on TCP, TLS and WebSocket it is a whole framed message (bytes are never split).

Per message, in this order: counted (1-based, per direction, only messages matching
``methods``); dropped if its index is in ``drop_nth``; else dropped with probability ``drop``;
else duplicated with probability ``duplicate``; each copy is delayed with probability
``delay_share`` by ``delay`` seconds plus a uniform ``[-jitter, +jitter]`` (never below 0).
Delayed messages may overtake each other, as on a real network.

Randomness comes from one :class:`random.Random` per direction seeded from ``seed``, so a run
is reproducible and the outgoing decisions do not depend on how much traffic came in.
Every decision is appended to :attr:`ImpairedTransport.log` and logged at DEBUG.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from sipclient.io.transport import (
    Address,
    LocalIdentity,
    Received,
    Transport,
    TransportEvent,
)

__all__ = ["Decision", "ImpairedTransport", "Impairment"]

log = logging.getLogger(__name__)

_CSEQ = re.compile(rb"^(?:CSeq|cseq|CSEQ)[ \t]*:[ \t]*\d+[ \t]+([A-Za-z]+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Impairment:
    """What to do to one direction. Shares are probabilities in [0, 1]."""

    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0  # seconds
    jitter: float = 0.0  # seconds, +/- around delay
    delay_share: float = 1.0  # share of messages that get the delay (when delay/jitter set)
    drop_nth: tuple[int, ...] = ()  # 1-based indexes of messages to drop
    methods: tuple[str, ...] = ()  # only messages whose CSeq method is listed (empty = all)

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "delay_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Impairment.{name} must be within 0..1, not {value}")
        if self.delay < 0 or self.jitter < 0:
            raise ValueError("Impairment.delay and .jitter must not be negative")
        if any(n < 1 for n in self.drop_nth):
            raise ValueError("Impairment.drop_nth counts from 1")
        object.__setattr__(self, "methods", tuple(m.upper() for m in self.methods))

    @property
    def active(self) -> bool:
        return bool(self.drop or self.duplicate or self.delay or self.jitter or self.drop_nth)

    def matches(self, data: bytes) -> bool:
        if not self.methods:
            return True
        m = _CSEQ.search(data)
        return bool(m) and m.group(1).decode().upper() in self.methods


@dataclass(frozen=True, slots=True)
class Decision:
    """One impairment decision, for the report.

    ``action`` is ``pass``, ``drop``, ``drop-nth``, ``delay`` or ``duplicate`` (a duplicate
    logs one decision per copy, the copy with ``copy=1``).
    """

    direction: str  # "out" | "in"
    index: int  # 1-based among the counted messages of this direction
    action: str
    delay: float
    addr: Address
    size: int
    summary: str  # the start line, for humans
    copy: int = 0


def _first_line(data: bytes) -> str:
    return data.lstrip(b"\r\n").split(b"\r\n", 1)[0][:80].decode("utf-8", "replace")


class ImpairedTransport(Transport):
    """A Transport that impairs another one; see the module docstring."""

    def __init__(
        self,
        inner: Transport,
        *,
        outgoing: Impairment | None = None,
        incoming: Impairment | None = None,
        seed: int | str | None = 0,
    ) -> None:
        super().__init__(inner.on_event)
        self.inner = inner
        self.name = inner.name
        self.reliable = inner.reliable
        self.outgoing = outgoing or Impairment()
        self.incoming = incoming or Impairment()
        self.log: list[Decision] = []
        self._rng = {"out": random.Random(f"{seed}/out"), "in": random.Random(f"{seed}/in")}
        self._count = {"out": 0, "in": 0}
        self._pending: set[asyncio.Task[None]] = set()
        inner.on_event = self._incoming

    # contract -----------------------------------------------------------------------------

    @property
    def local_address(self) -> Address:
        return self.inner.local_address

    async def local_address_for(self, addr: Address | None = None) -> Address:
        return await self.inner.local_address_for(addr)

    async def identity(self, addr: Address | None = None) -> LocalIdentity:
        return await self.inner.identity(addr)

    def summary(self) -> dict[str, Counter[str]]:
        """Counts of actions per direction: ``{"out": Counter({"pass": 9, "drop": 1}), ...}``."""
        out: dict[str, Counter[str]] = {"out": Counter(), "in": Counter()}
        for d in self.log:
            out[d.direction][d.action] += 1
        return out

    # decisions ----------------------------------------------------------------------------

    def _decide(self, direction: str, data: bytes, addr: Address) -> list[float]:
        """The delays of the copies to deliver ([] = dropped, [0.0] = pass through)."""
        rule = self.outgoing if direction == "out" else self.incoming
        if not rule.matches(data):
            return [0.0]
        self._count[direction] += 1
        index = self._count[direction]
        rng = self._rng[direction]
        summary = _first_line(data)

        def record(action: str, delay: float = 0.0, copy: int = 0) -> None:
            d = Decision(direction, index, action, delay, addr, len(data), summary, copy)
            self.log.append(d)
            log.debug("impair %s #%d %s %.3fs %s", direction, index, action, delay, summary)

        if index in rule.drop_nth:
            record("drop-nth")
            return []
        if rule.drop and rng.random() < rule.drop:
            record("drop")
            return []
        copies = 2 if rule.duplicate and rng.random() < rule.duplicate else 1
        delays = []
        for copy in range(copies):
            delay = 0.0
            if (rule.delay or rule.jitter) and rng.random() < rule.delay_share:
                delay = max(0.0, rule.delay + rng.uniform(-rule.jitter, rule.jitter))
            action = "duplicate" if copy else ("delay" if delay else "pass")
            record(action, delay, copy)
            delays.append(delay)
        return delays

    # outgoing -----------------------------------------------------------------------------

    async def send(self, data: bytes, addr: Address) -> None:
        data = bytes(data)
        for delay in self._decide("out", data, addr):
            if delay <= 0:
                await self.inner.send(data, addr)
            else:
                self._later(self._send_later(delay, data, addr))

    async def _send_later(self, delay: float, data: bytes, addr: Address) -> None:
        await asyncio.sleep(delay)
        try:
            await self.inner.send(data, addr)
        except Exception as exc:  # noqa: BLE001 - nobody awaits this task
            log.warning("impair: delayed send to %s failed: %s", addr, exc)

    # incoming -----------------------------------------------------------------------------

    def _incoming(self, event: TransportEvent) -> None:
        if self._closed:
            return
        event = dataclasses.replace(event, transport=self)
        if not isinstance(event, Received):
            self.emit(event)
            return
        for delay in self._decide("in", event.raw, event.addr):
            if delay <= 0:
                self.emit(event)
            else:
                self._later(self._deliver_later(delay, event))

    async def _deliver_later(self, delay: float, event: Received) -> None:
        await asyncio.sleep(delay)
        if not self._closed:
            self.emit(event)

    def _later(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self.inner.close()
