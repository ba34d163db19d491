"""The asyncio driver around the sans-I/O core: one :class:`SipCore`, one transport.

Shaped like aioquic's asyncio ``QuicConnectionProtocol``: everything the core needs comes in
through three doors and everything it produces goes out through two::

    UDP bytes        -> core.receive_datagram(bytes, addr, now=loop.time())  (raw_sink)
    a framed message -> core.receive_message (TCP/TLS/WS framers cut and parse it)
    user call        -> core.send_request / send_response / send_ack / send_cancel
    loop.call_at     -> core.handle_timer(now)            (armed from core.get_timer())
    core.messages_to_send()   -> transport.send_nowait, or one writer task that keeps the
                                 order when the transport has only a coroutine ``send``
    core.next_event()         -> futures of waiting callers, or the application's callbacks

Only the core parses what a UDP transport receives, once; the trace (``on_wire``) gets the
message the core parsed and, for what is sent, the message the core serialised, never a
second parse of either.

The endpoint hands events to the application without interpreting them (RFC 3261 8, 12 and
13 live in :mod:`sipclient.agent`):

* responses of a client transaction go to its :class:`ClientTransaction` handle
  (``await handle.response()``), as do its timeout (timer B/F) and transport errors;
* new requests go to ``on_request(RequestReceived)``, ACKs to ``on_ack(AckReceived)``,
  everything else (server timeouts, drops, rejections) to ``on_other(event)``;
* every message that is sent or received is reported to ``on_wire(...)`` for the trace.

:meth:`Endpoint.send_raw` puts bytes on the wire untouched (no Via, no transaction): the
harness uses it for deliberately broken messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from sipclient.io.transport import Address, ConnectionLost, Received, Transport, TransportError
from sipclient.proto.core import (AckReceived, CoreConfig, Event, RequestReceived,
                                  ResponseReceived, SipCore, TransactionTimeout)
from sipclient.proto.core import TransportError as CoreTransportError
from sipclient.proto.message import Request, Response
from sipclient.proto.transaction import ClientKey, ServerKey

__all__ = ["ClientTransaction", "Endpoint", "TransactionFailed", "WireCallback"]

log = logging.getLogger(__name__)

#: ``on_wire(direction, data, local, remote, message)``; direction is "out" or "in".
WireCallback = Callable[[str, bytes, Address, Address, "Request | Response | None"], None]


class TransactionFailed(Exception):
    """A client transaction ended without a final response: ``timer`` is "B"/"F" for a
    timeout (17.1.1.2, 17.1.2.2) or None for a transport error (17.1.4)."""

    def __init__(self, reason: str, timer: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timer = timer


class ClientTransaction:
    """The caller's handle on one client transaction: ``await handle.response()``."""

    def __init__(self, endpoint: Endpoint, key: ClientKey, request: Request, addr: Address):
        self.endpoint = endpoint
        self.key = key
        #: the request as sent (with the Via the core added); what ``authenticate`` needs
        self.request = request
        self.addr = addr
        self.final: Response | None = None
        # a deque and one waiter future: an asyncio.Queue per transaction costs more
        self._items: deque[Response | TransactionFailed] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def _put(self, item: Response | TransactionFailed) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def response(self, timeout: float | None = None) -> Response:
        """The next response (provisional or final); raises :class:`TransactionFailed`
        when the transaction timed out or the transport failed, TimeoutError after
        ``timeout`` seconds of silence."""
        if not self._items:
            waiter = self._waiter = self.endpoint._loop.create_future()
            try:
                await (waiter if timeout is None else asyncio.wait_for(waiter, timeout))
            finally:
                self._waiter = None
        item = self._items.popleft()
        if isinstance(item, TransactionFailed):
            raise item
        if item.status >= 200 and self.final is None:
            self.final = item
        return item

    async def final_response(self, on_provisional: Callable[[Response], None] | None = None,
                             timeout: float | None = None) -> Response:
        """Skip (or hand to ``on_provisional``) 1xx until the final response arrives."""
        while True:
            resp = await self.response(timeout)
            if resp.status >= 200:
                return resp
            if on_provisional is not None:
                on_provisional(resp)

    def close(self) -> None:
        """Stop routing responses to this handle (late 2xx retransmissions are absorbed
        by the core, which re-sends the ACK on its own)."""
        self.endpoint._handles.pop(self.key, None)


class Endpoint:
    """Drives one :class:`SipCore` over one :class:`Transport` (see module docstring).

    Create the transport with ``on_event=endpoint.on_transport_event`` (or call
    :meth:`attach`), then use the ``send_*`` methods. All ``now`` values are
    ``loop.time()``.
    """

    def __init__(self, config: CoreConfig, *,
                 on_request: Callable[[RequestReceived], None] | None = None,
                 on_ack: Callable[[AckReceived], None] | None = None,
                 on_other: Callable[[Event], None] | None = None,
                 on_wire: WireCallback | None = None) -> None:
        self.core = SipCore(config)
        self.transport: Transport | None = None
        self.on_request = on_request
        self.on_ack = on_ack
        self.on_other = on_other
        self.on_wire = on_wire
        self._loop = asyncio.get_running_loop()
        self._handles: dict[ClientKey, ClientTransaction] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._arm_pending = False
        #: addresses whose failed sends were logged: a peer cut off (one that does not read)
        #: fails every answer still owed to it, and one line says so, not thousands
        self._failing: set[Address] = set()
        self._outbox: asyncio.Queue[tuple[bytes, Address, Request | Response | None] | None]
        self._outbox = asyncio.Queue()
        self._queued = 0  # items put in the outbox and not yet handed to the transport
        self._drained = asyncio.Event()
        self._drained.set()
        self._send_now: Callable[[bytes, Address], None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------------ wiring

    def attach(self, transport: Transport) -> None:
        """Use ``transport`` (its ``on_event`` is pointed at this endpoint)."""
        self.transport = transport
        transport.on_event = self.on_transport_event
        # a datagram transport that can hand over raw bytes and send without a coroutine
        # (UdpTransport) is driven directly: no parse there, no writer task in between
        self._send_now = getattr(transport, "send_nowait", None)
        if hasattr(transport, "raw_sink"):
            transport.raw_sink = self.datagram_received
        if self._writer is None:
            self._writer = self._loop.create_task(self._write_loop(), name="sip-endpoint-writer")

    def now(self) -> float:
        return self._loop.time()

    @property
    def transport_name(self) -> str:
        return self.core.config.transport

    # ------------------------------------------------------------------ sending

    def send_request(self, request: Request, addr: Address) -> ClientTransaction:
        """Start a client transaction (17.1); the core adds Via and Max-Forwards."""
        key = self.core.send_request(request, addr, self.now())
        tx = self.core.transaction(key)
        sent = tx.request if tx is not None else request
        handle = ClientTransaction(self, key, sent, addr)
        self._handles[key] = handle
        self._pump()
        return handle

    def send_cancel(self, invite: ClientTransaction) -> ClientTransaction | None:
        """CANCEL ``invite`` (9.1); None when it already has a final response. The core
        holds the CANCEL until a provisional response arrived."""
        key = self.core.send_cancel(invite.key, self.now())
        if key is None:
            return None
        tx = self.core.transaction(key)
        handle = self._handles.get(key) or ClientTransaction(
            self, key, tx.request if tx is not None else invite.request, invite.addr)
        self._handles[key] = handle
        self._pump()
        return handle

    def send_ack(self, ack: Request, addr: Address) -> None:
        """The ACK of a 2xx (13.2.2.4); the core re-sends it for 2xx retransmissions."""
        self.core.send_ack(ack, addr, self.now())
        self._pump()

    def send_response(self, response: Response, key: ServerKey | None = None) -> None:
        self.core.send_response(response, self.now(), key)
        self._pump()

    async def send_raw(self, data: bytes, addr: Address) -> None:
        """Put ``data`` on the wire exactly as given (no transaction, no Via, no timers)."""
        if self.transport is None:
            raise TransportError("endpoint has no transport")
        self._wire("out", data, addr)
        await self.transport.send(data, addr)

    # ------------------------------------------------------------------ receiving

    def on_transport_event(self, event: Any) -> None:
        """The transports' ``on_event`` callback."""
        if self._closed:
            return
        if isinstance(event, ConnectionLost):
            log.info("connection to %s lost: %s", event.addr, event.reason)
            self._fail_towards(event.addr, f"connection lost: {event.reason}")
            return
        if not isinstance(event, Received):
            return
        self._wire("in", event.raw, event.addr, event.message)
        now = self.now()
        if event.message is not None:
            self.core.receive_message(event.message, event.addr, now, event.transport.name)
        elif (self.transport is not None and not self.transport.reliable
              and event.error is not None):  # garbage on a datagram: 400 or drop, no re-parse
            self.core.receive_unparsable(event.raw, event.addr, event.error)
        self._pump()

    def datagram_received(self, data: bytes, addr: Address) -> None:
        """Raw bytes from a datagram transport (its ``raw_sink``): the core parses them."""
        if self._closed:
            return
        message = self.core.receive_datagram(data, addr, self._loop.time(),
                                             self.core.config.transport)
        if self.on_wire is not None:
            self._wire("in", data, addr, message)
        self._pump()

    # ------------------------------------------------------------------ the pump

    def _pump(self) -> None:
        """Flush datagrams, dispatch events, re-arm the timer."""
        if self._closed:
            return
        out = self.core.messages_to_send(self._loop.time())
        if out:
            if self._send_now is not None and self._queued == 0:
                for data, addr, message in out:
                    self._send_direct(data, addr, message)
            else:
                for item in out:
                    self._enqueue(item)
        while (event := self.core.next_event()) is not None:
            self._dispatch(event)
        if not self._arm_pending:  # once per loop iteration, however many pumps ran in it
            self._arm_pending = True
            self._loop.call_soon(self._arm_timer)

    def _send_direct(self, data: bytes, addr: Address,
                     message: Request | Response | None) -> None:
        if self.on_wire is not None:
            self._wire("out", data, addr, message)
        try:
            self._send_now(data, addr)  # type: ignore[misc]
        except (TransportError, OSError) as exc:
            self._log_failed(addr, exc)
            self._loop.call_soon(self._fail_towards, addr, str(exc))

    def _enqueue(self, item: tuple[bytes, Address, Request | Response | None]) -> None:
        self._queued += 1
        self._drained.clear()
        self._outbox.put_nowait(item)

    def _dispatch(self, event: Event) -> None:
        try:
            if isinstance(event, ResponseReceived):
                handle = self._handles.get(event.key)
                if handle is not None and not event.retransmission:
                    handle._put(event.response)
            elif isinstance(event, (TransactionTimeout, CoreTransportError)) and isinstance(
                    event.key, ClientKey):
                handle = self._handles.pop(event.key, None)
                if handle is not None:
                    if isinstance(event, TransactionTimeout):
                        handle._put(TransactionFailed(
                            f"no final response to {event.key.method} (timer {event.timer})",
                            event.timer))
                    else:
                        handle._put(TransactionFailed(event.reason or "transport error"))
            elif isinstance(event, RequestReceived):
                if self.on_request is not None:
                    self.on_request(event)
            elif isinstance(event, AckReceived):
                if self.on_ack is not None:
                    self.on_ack(event)
            elif self.on_other is not None:
                self.on_other(event)
        except Exception:  # noqa: BLE001 - an application bug must not stop the pump
            log.exception("endpoint: handler failed for %s", type(event).__name__)

    def _arm_timer(self) -> None:
        self._arm_pending = False
        if self._closed:
            return
        deadline = self.core.get_timer()  # cheap (a deadline heap): not after each message
        if deadline == self._timer_at or deadline is None:
            return  # an armed timer with nothing due is harmless: it finds nothing to do
        if self._timer is not None:
            if self._timer_at is not None and self._timer_at <= deadline:
                return  # it fires first and re-arms: no cancelled handle left in the heap
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._closed:
            return
        self.core.handle_timer(self.now())
        self._pump()

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if item is None:
                return
            data, addr, message = item
            try:
                if self.transport is None:
                    continue
                if self.on_wire is not None:
                    self._wire("out", data, addr, message)
                try:
                    await self.transport.send(data, addr)
                except (TransportError, OSError) as exc:
                    self._log_failed(addr, exc)
                    self._fail_towards(addr, str(exc))
                except Exception:  # noqa: BLE001 - keep writing whatever happens
                    log.exception("send to %s crashed", addr)
            finally:
                self._queued -= 1
                if self._queued == 0:
                    self._drained.set()

    def _log_failed(self, addr: Address, exc: Exception) -> None:
        """A warning for the first failed send to ``addr``, debug lines for the rest (a
        hostile peer must not turn into a log storm; at most 1,000 addresses remembered)."""
        if addr in self._failing:
            log.debug("send to %s failed: %s", addr, exc)
            return
        if len(self._failing) >= 1000:
            self._failing.clear()
        self._failing.add(addr)
        log.warning("send to %s failed: %s (further failures to it are not shown)", addr, exc)

    def _fail_towards(self, addr: Address, reason: str) -> None:
        """Report a transport failure to every client transaction sending to ``addr``."""
        now = self.now()
        for key in list(self._handles):
            tx = self.core.transaction(key)
            if tx is not None and tuple(tx.addr) == tuple(addr):
                self.core.report_transport_error(key, now, reason)
        self._pump()

    def _wire(self, direction: str, data: bytes, addr: Address,
              message: Request | Response | None = None) -> None:
        if self.on_wire is None:
            return
        local: Address = ("", 0)
        if self.transport is not None:
            try:
                local = self.transport.local_address
            except Exception:  # noqa: BLE001
                pass
        try:
            self.on_wire(direction, data, local, addr, message)
        except Exception:  # noqa: BLE001
            log.exception("on_wire callback failed")

    # ------------------------------------------------------------------ closing

    async def drain(self, timeout: float = 1.0) -> None:
        """Wait (at most ``timeout`` s) until everything queued so far was handed to the
        transport: an event the writer sets, no polling."""
        if self._queued == 0:
            return
        try:
            await asyncio.wait_for(self._drained.wait(), timeout)
        except TimeoutError:
            log.debug("endpoint: %d messages still queued after %s s", self._queued, timeout)

    async def close(self) -> None:
        """Stop timers and the writer, close the transport."""
        if self._closed:
            return
        await self.drain(0.5)
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for handle in list(self._handles.values()):
            handle._put(TransactionFailed("endpoint closed"))
        self._handles.clear()
        self._outbox.put_nowait(None)
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer, 1.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._writer.cancel()
        if self.transport is not None:
            await self.transport.close()

