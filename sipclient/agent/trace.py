"""The agent's record of every SIP message it sent and received (:class:`TraceEntry`).

Outgoing messages are recorded when the agent hands them to its transport (before any
impairment decides to drop or delay them); incoming ones when they reach the agent (after
impairment). Retransmissions are recorded as they happen on the wire, so a flow over a
lossy UDP path shows the repeated REGISTER. Passwords never appear: the only trace of a
password is the digest response hash, which is not a secret.

The trace is an event stream with a bounded memory (:class:`Trace`): every ``append``
wakes what waits on it (``await trace.changed()``, :meth:`Trace.wait_for`) and calls its
subscribers, so the scenario steps, ``Endpoint`` users and the CLI's follower wait on
messages instead of polling. It keeps the last ``limit`` entries
(``AgentConfig(trace_limit=...)``); positions are absolute (``len(trace)`` counts every
message ever recorded, ``trace[start:]`` is what arrived since ``start``), so a cursor stays
valid when old entries leave the ring. The full record of a long run is the capture
(``AgentConfig(capture=...)``), written to disk as it happens.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import overload

from sipclient.io.changes import Changes
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response, parse_message

__all__ = ["DEFAULT_TRACE_LIMIT", "Trace", "TraceEntry", "label"]

#: entries an agent's trace keeps by default: more than a scenario exchanges, bounded for an
#: agent that lives for hours (an entry once cost about 5 KB with its parsed message: 20,000
#: grew a register/call soak by 100 MB; now its bytes; the capture keeps everything on disk)
DEFAULT_TRACE_LIMIT = 2_000

Address = tuple[str, int]


def label(message: Request | Response | None) -> str | None:
    """"INVITE" for a request, "200" for a response, None for garbage."""
    if message is None:
        return None
    if isinstance(message, Response):
        return str(message.status)
    return message.method


class TraceEntry:
    """One message on the wire. ``time`` is the event loop's clock (``loop.time()``).

    An entry keeps the bytes and a weak reference to the parsed message: while the message
    lives (a call, a scenario step holds it) :attr:`message` is that very object; once it is
    gone, :attr:`message` parses ``data`` again (a new, equal object each time). So the ring
    costs the bytes of its messages, not their parsed headers: kept for the life of an
    agent, those were small objects spread over everything a burst of calls had freed, and
    kept its memory (issue 18). ``message`` None (garbage, ``send_raw``) stays None.
    """

    __slots__ = ("time", "direction", "transport", "local", "remote", "data", "_ref")

    def __init__(self, time: float, direction: str, transport: str, local: Address,
                 remote: Address, data: bytes, message: Request | Response | None = None
                 ) -> None:
        self.time = time
        self.direction = direction  # "out" | "in"
        self.transport = transport
        self.local = local
        self.remote = remote
        self.data = data
        self._ref = None if message is None else weakref.ref(message)

    @property
    def message(self) -> Request | Response | None:
        ref = self._ref
        if ref is None:
            return None
        message = ref()
        if message is None:
            try:
                message = parse_message(self.data)
            except ParseError:  # pragma: no cover - it parsed when it was recorded
                return None
        return message

    def _fields(self) -> tuple:
        return (self.time, self.direction, self.transport, self.local, self.remote, self.data,
                self._ref is None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TraceEntry):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"TraceEntry(time={self.time!r}, direction={self.direction!r}, "
                f"transport={self.transport!r}, local={self.local!r}, remote={self.remote!r})")

    @property
    def label(self) -> str | None:
        return label(self.message)

    @property
    def call_id(self) -> str | None:
        try:
            return self.message.call_id if self.message is not None else None
        except Exception:  # noqa: BLE001 - a message without a Call-ID
            return None

    def __str__(self) -> str:
        arrow = "->" if self.direction == "out" else "<-"
        if self.message is not None:
            what = self.message.start_line
            try:
                cseq = f" ({self.message.cseq})"
            except Exception:  # noqa: BLE001
                cseq = ""
        else:
            what, cseq = f"<{len(self.data)} bytes unparsable>", ""
        return (f"{self.time:10.3f} {self.transport.upper():4} {self.local[0]}:{self.local[1]} "
                f"{arrow} {self.remote[0]}:{self.remote[1]} {what}{cseq}")


class Trace(Sequence[TraceEntry]):
    """The last ``limit`` :class:`TraceEntry` objects, with absolute positions, waiters and
    subscribers (see the module docstring), and :meth:`flow`."""

    def __init__(self, entries: Iterable[TraceEntry] = (), *,
                 limit: int | None = DEFAULT_TRACE_LIMIT) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"trace_limit must be at least 1 (or None), not {limit}")
        self.limit = limit
        self._entries: deque[TraceEntry] = deque(maxlen=limit)
        self._base = 0  # absolute position of _entries[0]
        self._changes = Changes()
        self._subscribers: list[Callable[[TraceEntry], None]] = []
        for entry in entries:
            self.append(entry)

    # -- the stream
    def append(self, entry: TraceEntry) -> None:
        entries = self._entries
        if len(entries) == self.limit:
            self._base += 1
        entries.append(entry)
        for callback in self._subscribers:
            callback(entry)
        self._changes.wake()

    def subscribe(self, callback: Callable[[TraceEntry], None]) -> Callable[[], None]:
        """Call ``callback(entry)`` for every new entry; returns the unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)
        return unsubscribe

    async def changed(self, timeout: float | None = None) -> bool:
        """Wait for the next entry; False when ``timeout`` seconds passed without one."""
        return await self._changes.wait(timeout)

    async def wait_for(self, predicate: Callable[[TraceEntry], bool], start: int = 0,
                       timeout: float | None = None) -> int | None:
        """The position of the first entry at or after ``start`` that ``predicate``
        accepts, waiting up to ``timeout`` seconds for it to arrive; None when none did."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        index = max(start, self._base)
        while True:
            for entry in self[index:]:
                if predicate(entry):
                    return index
                index += 1
            index = max(index, self._base)
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return None
            await self.changed(left)

    # -- a sequence with absolute positions
    @property
    def dropped(self) -> int:
        """How many of the oldest entries left the ring (``limit`` reached)."""
        return self._base

    def __len__(self) -> int:
        return self._base + len(self._entries)

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(self._entries)

    @overload
    def __getitem__(self, index: int) -> TraceEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[TraceEntry]: ...

    def __getitem__(self, index: int | slice) -> TraceEntry | list[TraceEntry]:
        total = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(total)
            start, stop = max(start - self._base, 0), max(stop - self._base, 0)
            return list(islice(self._entries, start, stop, step))
        if index < 0:
            index += total
        if not 0 <= index < total:
            raise IndexError("trace index out of range")
        if index < self._base:
            raise IndexError(f"trace entry {index} left the ring (trace_limit {self.limit})")
        return self._entries[index - self._base]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Trace, list)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"<Trace {len(self._entries)} entries, {self._base} dropped>"

    def flow(self, call_id: str | None = None) -> list[str]:
        """Requests by method, responses by status code: ``["REGISTER", "401", ...]``;
        only the messages of ``call_id`` when given. Retransmissions are included."""
        out = []
        for entry in self:
            if call_id is not None and entry.call_id != call_id:
                continue
            if (name := entry.label) is not None:
                out.append(name)
        return out

    def text(self) -> str:
        return "\n".join(str(e) for e in self)
