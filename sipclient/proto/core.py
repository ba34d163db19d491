"""The sans-I/O SIP core: transactions, transport rules and events (RFC 3261 17, 18).

Shaped like aioquic's ``QuicConnection``. Three things drive it:
* the user asks to send: :meth:`SipCore.send_request`, :meth:`~SipCore.send_response`,
  :meth:`~SipCore.send_ack` (ACK for a 2xx, 13.2.2.4), :meth:`~SipCore.send_cancel` (9.1);
* bytes arrive: :meth:`~SipCore.receive_datagram` (UDP) or :meth:`~SipCore.receive_message`
  (a message a stream framer already cut out);
* a timer fires: :meth:`~SipCore.handle_timer`.
It hands back :meth:`~SipCore.datagrams_to_send` (wire data with its destination, including
retransmissions), :meth:`~SipCore.get_timer` (the next deadline) and
:meth:`~SipCore.next_event` (small frozen dataclasses, below). ``now`` is always a
parameter; the core never reads a clock and never touches a socket. What the core does
on its own (a UA core's duties that need no application decision):
* adds the top Via (sent-by from :class:`CoreConfig`, a fresh ``z9hG4bK`` branch, ``rport``)
  and Max-Forwards: 70 to outgoing requests that lack them (8.1.1.6, 8.1.1.7, RFC 3581);
* stamps ``received`` / ``rport`` on the top Via of incoming requests (18.2.1, RFC 3581) and
  sends responses where 18.2.2 / RFC 3581 say;
* answers unparsable requests with 400 (or the parser's status hint) when the request line
  and a Via can be read, merged requests with 482 (8.2.2.2) - :class:`RequestRejected`;
* sends the ACK for a non-2xx final response (17.1.1.3), re-sends the application's ACK when a
  2xx is retransmitted (13.2.2.4), retransmits its own 2xx until the ACK arrives (13.3.1.4);
* holds a CANCEL until a provisional response arrives (9.1).
Authentication, dialogs and the choice of responses stay with the application
(:mod:`sipclient.proto.dialog`, :mod:`sipclient.proto.uac`).
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

from .errors import LocalProtocolError, ParseError
from .fields import Via
from .ids import IdGenerator
from .message import Message, Request, Response, parse_message
from .builders import (build_cancel, build_rejection, build_response, replace_top_via,
                       response_addr, stamp_received)
from .core_types import (RELIABLE_TRANSPORTS, AckReceived, CoreConfig, Event, MessageDropped,
                         RequestReceived, RequestRejected, ResponseReceived,
                         TransactionTimeout, TransportError)
from .transaction import (ClientKey, ClientTransaction, Deliver, Kind, ServerKey,
                          ServerTransaction, State, TimedOut, Transaction, TransactionKey,
                          Transmit, TransportFailed, cancel_target_key, server_key)

Addr = tuple[str, int]


@dataclass
class _Pending2xx:
    """13.3.1.4: a 2xx to INVITE we retransmit until its ACK arrives."""

    key: ServerKey
    call_id: str
    seq: int
    data: bytes
    addr: Addr
    interval: float
    next: float | None
    give_up: float
    message: Response | None = None
    #: (From tag, To tag) of the 2xx: only an ACK of that dialog stops the job (12.2.2)
    tags: tuple[str | None, str | None] = (None, None)


class SipCore:
    """One SIP endpoint's transaction layer, driven by the caller (see module docstring)."""

    def __init__(self, config: CoreConfig | None = None) -> None:
        self.config = config or CoreConfig()
        self.timers = self.config.timers
        self.ids = IdGenerator(self.config.rng)
        self._clients: dict[ClientKey, ClientTransaction] = {}
        self._servers: dict[ServerKey, ServerTransaction] = {}
        # where each server transaction's request came from, over what, and its Call-ID
        self._server_info: dict[ServerKey, tuple[Addr, str, str]] = {}
        self._merge_index: dict[tuple, ServerKey] = {}
        self._pending_cancels: dict[ClientKey, Request] = {}
        self._uac_2xx: dict[ClientKey, dict[str | None, tuple[bytes, Addr, Request] | None]] = {}
        self._pending_2xx: dict[ServerKey, _Pending2xx] = {}
        self._events: deque[Event] = deque()
        # what to send: (bytes, destination, the message they serialise or None)
        self._out: list[tuple[bytes, Addr, Message | None]] = []
        #: requests and responses our transactions sent again (timers A, E, G; load reports)
        self.retransmissions = 0
        # "SIP/2.0/UDP host:port;branch=" per transport: the Via the core adds, rendered once
        self._via_prefix: dict[str, str] = {}
        # Indexes, so that no operation scans every transaction (kept in step with the
        # dicts above by _start_client, _receive_request, _forget and the 2xx jobs):
        # - a deadline heap with lazy invalidation: entries (deadline, seq, slot) where slot
        #   is a transaction key or ("2xx", server key); an entry is live only while
        #   _scheduled[slot] == (deadline, seq);
        self._heap: list[tuple[float, int, object]] = []
        self._scheduled: dict[object, tuple[float, int]] = {}
        self._seq = 0
        # - insertion order of transactions and 2xx jobs (handle_timer keeps the order a
        #   scan of the dicts would have: clients, then servers, then 2xx jobs);
        self._order: dict[object, int] = {}
        # - INVITE client transactions by (Call-ID, CSeq number), for send_ack (13.2.2.4);
        self._invites: dict[tuple[str, int], dict[ClientKey, None]] = {}
        self._invite_slot: dict[ClientKey, tuple[str, int]] = {}
        # - 2xx jobs by (Call-ID, CSeq number), for the ACK that stops them (13.3.1.4);
        self._2xx_by_seq: dict[tuple[str, int], dict[ServerKey, None]] = {}
        # - the merge tuple (8.2.2.2) each server transaction registered;
        self._merge_of: dict[ServerKey, tuple] = {}
        # - server transactions by Call-ID, for send_response() without a key.
        self._servers_by_call: dict[str, dict[ServerKey, None]] = {}

    # ------------------------------------------------------------------ driver surface

    def compact(self) -> None:
        """Copy every table to its current size (a dict keeps the room a burst grew it to)."""
        for name, table in list(vars(self).items()):
            if type(table) is dict:
                setattr(self, name, dict(table))

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Addr]]:
        out, self._out = self._out, []
        return [(data, addr) for data, addr, _ in out]

    def messages_to_send(self, now: float) -> list[tuple[bytes, Addr, Message | None]]:
        """Like :meth:`datagrams_to_send`, with the message each datagram serialises (None
        for bytes the core rendered itself, a 400 for garbage): what a driver records in its
        trace without parsing its own output again."""
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        heap, scheduled = self._heap, self._scheduled
        while heap:
            deadline, seq, slot = heap[0]
            if scheduled.get(slot) == (deadline, seq):
                tx = self._transaction_at(slot)
                if tx is None or tx.next_deadline() == deadline:
                    return deadline
                del scheduled[slot]  # changed behind the core's back: re-file it
                heapq.heappop(heap)
                self._schedule(tx)
                continue
            heapq.heappop(heap)  # stale: rescheduled, stopped or forgotten since
        return None

    def handle_timer(self, now: float) -> None:
        # Only what is due is touched; the order is the one a scan of every transaction
        # (clients, then servers, then 2xx jobs, each in creation order) would give.
        heap, scheduled = self._heap, self._scheduled
        due: list[tuple[int, int, object]] = []
        while heap and heap[0][0] <= now:
            deadline, seq, slot = heapq.heappop(heap)
            if scheduled.get(slot) == (deadline, seq):
                del scheduled[slot]
                group = (0 if isinstance(slot, ClientKey)
                         else 1 if isinstance(slot, ServerKey) else 2)  # 2: a 2xx job
                due.append((group, self._order.get(slot, 0), slot))
        due.sort(key=lambda item: item[:2])
        for group, _, slot in due:
            if group == 2:
                continue
            tx = self._transaction_at(slot)
            if tx is None:
                continue
            deadline = tx.next_deadline()
            if deadline is not None and deadline <= now:
                self._apply(tx, tx.handle_timer(now), now)
            else:
                self._schedule(tx)
        for group, _, slot in due:
            if group != 2:
                continue
            job = self._pending_2xx.get(slot[1])
            if job is None:
                continue
            while job.next is not None and job.next <= now and job.next < job.give_up:
                self._out.append((job.data, job.addr, job.message))
                job.interval = min(2 * job.interval, self.timers.t2)
                job.next += job.interval
            if job.give_up <= now:
                self._drop_2xx(job)
                self._events.append(TransactionTimeout(job.key, "2xx"))
            else:
                self._schedule_2xx(job)

    # ------------------------------------------------------------------ sending

    def send_request(self, request: Request, addr: Addr, now: float, *,
                     reliable: bool | None = None, transport: str | None = None) -> ClientKey:
        """Start a client transaction for ``request`` towards ``addr`` (17.1).

        A copy is sent, completed with a top Via and Max-Forwards when missing. ``reliable``
        defaults from ``transport`` (retransmission timers A/E run only when unreliable).
        """
        if request.method == "ACK":
            raise LocalProtocolError("ACK is not a transaction: use send_ack() (17.1.1.3)")
        transport = (transport or self.config.transport).upper()
        if reliable is None:
            reliable = transport in RELIABLE_TRANSPORTS
        prepared, branch = self._prepare(request, transport)
        return self._start_client(prepared, addr, now, reliable, branch)

    def send_ack(self, ack: Request, addr: Addr, now: float, *,
                 transport: str | None = None) -> None:
        """Send the ACK for a 2xx (13.2.2.4; build it with ``Dialog.create_ack``).

        It gets a new branch; the core re-sends it for each retransmission of that 2xx.
        """
        if ack.method != "ACK":
            raise LocalProtocolError(f"send_ack() wants an ACK, not {ack.method}")
        ack = self._prepare(ack, (transport or self.config.transport).upper())[0]
        data = bytes(ack)
        self._out.append((data, addr, ack))
        if not self._invites:
            return
        keys = self._invites.get((ack.call_id, ack.cseq.seq))
        for key in list(keys or ()):
            self._uac_2xx.setdefault(key, {})[ack.to.tag] = (data, addr, ack)

    def send_cancel(self, invite_key: ClientKey, now: float) -> ClientKey | None:
        """CANCEL a pending INVITE (9.1); returns the CANCEL's transaction key.

        Sent at once when a provisional response was received, else held until one arrives
        (9.1: a CANCEL must not be sent before). Returns None - nothing sent - when the
        INVITE already has a final response or is unknown.
        """
        tx = self._clients.get(invite_key)
        if tx is None or tx.kind is not Kind.INVITE_CLIENT or tx.state not in (
                State.CALLING, State.PROCEEDING):
            return None
        cancel = build_cancel(tx.request)
        key = ClientKey(invite_key.branch, "CANCEL")
        if tx.state is State.CALLING:
            self._pending_cancels[invite_key] = cancel
        elif key not in self._clients:
            self._start_client(cancel, tx.addr, now, tx.reliable)
        return key

    def send_response(self, response: Response, now: float,
                      key: ServerKey | None = None) -> None:
        """Send ``response`` on the server transaction of the request it answers (17.2).

        ``key`` is :attr:`RequestReceived.key`; without it the transaction is found from the
        response's top Via, Call-ID and CSeq.
        """
        tx = self._servers.get(key) if key is not None else self._find_server(response)
        if tx is None:
            raise LocalProtocolError("no server transaction for this response "
                                     "(terminated, or never received)")
        effects = tx.send_response(response, now)
        if (tx.kind is Kind.INVITE_SERVER and 200 <= response.status < 300):
            self._start_2xx_retransmit(tx, effects, now)
        self._apply(tx, effects, now)

    def report_transport_error(self, key: TransactionKey, now: float, reason: str = "") -> None:
        """The I/O layer could not send for transaction ``key`` (17.1.4, 17.2.4)."""
        tx = self._clients.get(key) if isinstance(key, ClientKey) else self._servers.get(key)
        if tx is not None:
            self._apply(tx, tx.transport_error(now), now, reason=reason)

    def transaction(self, key: TransactionKey) -> Transaction | None:
        """The live transaction for ``key`` (for inspection: ``.state``, timers)."""
        if isinstance(key, ClientKey):
            return self._clients.get(key)
        return self._servers.get(key)

    # ------------------------------------------------------------------ receiving

    def receive_datagram(self, data: bytes, addr: Addr, now: float,
                         transport: str = "udp") -> Message | None:
        """One UDP datagram (or any whole message) from ``addr`` (18.1.2, 18.2.1).

        The only place received bytes are parsed: returns the message (for the driver's
        trace and capture), or None for garbage (answered 400 or dropped) and keep-alives.
        """
        if not data.strip(b"\r\n"):
            return None  # keep-alive (RFC 5626 4.4.1)
        try:
            msg = parse_message(data)
        except ParseError as exc:
            self._reject(data, addr, exc)
            return None
        self.receive_message(msg, addr, now, transport)
        return msg

    def receive_unparsable(self, data: bytes, addr: Addr, error: ParseError) -> None:
        """Bytes a transport already failed to parse (``error``): answered 400 when the
        request line and a Via can be read (as :meth:`receive_datagram` does), else dropped."""
        if data.strip(b"\r\n"):
            self._reject(data, addr, error)

    def receive_message(self, msg: Request | Response, addr: Addr, now: float,
                        transport: str = "udp") -> None:
        """A parsed message from ``addr`` over ``transport`` (stream framers call this)."""
        if isinstance(msg, Response):
            self._receive_response(msg, addr, now)
        else:
            self._receive_request(msg, addr, now, transport)

    def _receive_response(self, msg: Response, addr: Addr, now: float) -> None:
        try:
            key = ClientKey(msg.top_via.branch or "", msg.cseq.method)
            msg.call_id, msg.from_, msg.to  # noqa: B018 - what every TU reads must parse
        except ParseError as exc:
            self._events.append(MessageDropped(bytes(msg), addr, f"bad response: {exc}", exc))
            return
        tx = self._clients.get(key)
        if tx is None:  # 17.1.3, 18.1.2, RFC 6026 8.8: no match -> dropped
            self._events.append(MessageDropped(bytes(msg), addr, "stray response: no "
                                               "client transaction matches (17.1.3)"))
            return
        self._apply(tx, tx.receive_response(msg, now), now)

    def _receive_request(self, msg: Request, addr: Addr, now: float, transport: str) -> None:
        try:
            via = msg.top_via
            cseq = msg.cseq
            call_id, from_tag, to_tag = msg.call_id, msg.from_.tag, msg.to.tag
            if cseq.method != msg.method:
                raise ParseError(f"CSeq method {cseq.method} does not match {msg.method}",
                                 header="CSeq")
            key = server_key(msg)
            target = cancel_target_key(msg) if msg.method == "CANCEL" else None
            rport = via.rport
        except ParseError as exc:
            self._reject(bytes(msg), addr, exc)
            return
        reliable = transport.upper() in RELIABLE_TRANSPORTS
        try:
            msg = stamp_received(msg, via, addr, rport)
        except LocalProtocolError as exc:  # a header that cannot be written back (a bare
            # CR the parser let through): no response can echo it, the request is dropped
            self._events.append(MessageDropped(bytes(msg), addr, f"unanswerable: {exc}"))
            return
        if msg.method == "ACK":
            tx = self._servers.get(key)
            if (tx is not None and tx.kind is Kind.INVITE_SERVER
                    and (not key.legacy or (tx.to_tag is not None and tx.to_tag == to_tag))):
                self._apply(tx, tx.receive_request(msg, now), now)
            else:
                self._ack_arrived(msg, addr, None)
            return
        tx = self._servers.get(key)
        if tx is not None and (not key.legacy or tx.request_to_tag == to_tag):
            self._apply(tx, tx.receive_request(msg, now), now)
            return
        reply_to = addr if reliable else response_addr(via, addr, rport)
        tx = ServerTransaction(msg, reply_to, reliable=reliable, timers=self.timers, key=key)
        merge = (from_tag, call_id, cseq.seq, cseq.method)
        other = self._merge_index.get(merge) if to_tag is None else None
        self._servers[key] = tx
        self._server_info[key] = (addr, transport, call_id)
        self._order[key] = self._next_seq()
        self._servers_by_call.setdefault(call_id, {})[key] = None
        if other is not None and other in self._servers:  # 8.2.2.2 merged request
            tx.start(now)  # its Deliver effect is dropped: the application never sees it
            self._events.append(RequestRejected(482, "merged request (8.2.2.2)", addr, msg))
            self.send_response(self._simple_response(msg, 482), now, key)
            return
        if to_tag is None:
            self._merge_index[merge] = key
            self._merge_of[key] = merge
        self._apply(tx, tx.start(now), now, cancels=target)

    # ------------------------------------------------------------------ internals

    def _transaction_at(self, slot: object) -> Transaction | None:
        if isinstance(slot, ClientKey):
            return self._clients.get(slot)
        if isinstance(slot, ServerKey):
            return self._servers.get(slot)
        return None  # a 2xx job

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _schedule(self, tx: Transaction) -> None:
        """Keep ``tx``'s heap entry in step with its next deadline (lazy invalidation)."""
        deadline = tx.next_deadline()
        slot = tx.key
        current = self._scheduled.get(slot)
        if deadline is None:
            if current is not None:
                del self._scheduled[slot]
            return
        if current is not None and current[0] == deadline:
            return
        self._push(slot, deadline)

    def _schedule_2xx(self, job: _Pending2xx) -> None:
        deadline = job.give_up if job.next is None else min(job.next, job.give_up)
        slot = ("2xx", job.key)
        current = self._scheduled.get(slot)
        if current is None or current[0] != deadline:
            self._push(slot, deadline)

    def _push(self, slot: object, deadline: float) -> None:
        seq = self._next_seq()
        self._scheduled[slot] = (deadline, seq)
        heap = self._heap
        heapq.heappush(heap, (deadline, seq, slot))
        if len(heap) > 64 and len(heap) > 4 * len(self._scheduled):
            # too many stale entries (deadlines that moved or ended): rebuild
            self._heap = [(d, s, k) for k, (d, s) in self._scheduled.items()]
            heapq.heapify(self._heap)

    def _drop_2xx(self, job: _Pending2xx) -> None:
        self._pending_2xx.pop(job.key, None)
        self._scheduled.pop(("2xx", job.key), None)
        self._order.pop(("2xx", job.key), None)
        seq_key = (job.call_id, job.seq)
        jobs = self._2xx_by_seq.get(seq_key)
        if jobs is not None:
            jobs.pop(job.key, None)
            if not jobs:
                del self._2xx_by_seq[seq_key]

    def _prepare(self, request: Request, transport: str) -> tuple[Request, str | None]:
        """Copy of ``request`` with a top Via (with a branch) and Max-Forwards (8.1.1), and
        the branch of its top Via when this added it (else None: read it from the Via)."""
        request = request.copy()
        headers = request.headers
        branch = None
        if "Via" not in headers:  # the common case: one string, no Via parsed
            prefix = self._via_prefix.get(transport)
            if prefix is None:
                prefix = self._via_prefix[transport] = (
                    f"{Via(transport, self.config.host, self.config.port)};branch=")
            branch = self.ids.branch()
            via = prefix + branch
            headers.insert(0, "Via", via + ";rport" if self.config.rport else via)
        else:
            try:
                vias = request.via
            except ParseError as exc:
                raise LocalProtocolError(f"bad Via in outgoing request: {exc}") from None
            if not vias[0].branch:
                replace_top_via(request, vias[0].with_param("branch", self.ids.branch()))
        if "Max-Forwards" not in headers:
            headers.add("Max-Forwards", "70")
        return request, branch

    def _start_client(self, request: Request, addr: Addr, now: float,
                      reliable: bool, branch: str | None = None) -> ClientKey:
        key = None if branch is None else ClientKey(branch, request.cseq.method)
        tx = ClientTransaction(request, addr, reliable=reliable, timers=self.timers, key=key)
        if tx.key in self._clients:
            raise LocalProtocolError(f"a client transaction {tx.key} is already running")
        self._clients[tx.key] = tx
        self._order[tx.key] = self._next_seq()
        if tx.kind is Kind.INVITE_CLIENT:
            try:
                slot = (request.call_id, request.cseq.seq)
            except ParseError:
                slot = None  # a malformed INVITE on purpose: no ACK can match it
            if slot is not None:
                self._invites.setdefault(slot, {})[tx.key] = None
                self._invite_slot[tx.key] = slot
        self._apply(tx, tx.start(now), now)
        return tx.key

    def _apply(self, tx: Transaction, effects: list, now: float, *, reason: str = "",
               cancels: ServerKey | None = None) -> None:
        """Turn a transaction's effects into datagrams and events."""
        for eff in effects:
            kind = eff.__class__  # the four effect classes have no subclasses: no isinstance
            if kind is Transmit:
                self._out.append((eff.data, eff.addr, eff.message))
                self.retransmissions += eff.retransmission
            elif kind is Deliver:
                self._deliver(tx, eff.message, cancels)
            elif kind is TimedOut:
                self._events.append(TransactionTimeout(tx.key, eff.timer))
            elif kind is TransportFailed:
                self._events.append(TransportError(tx.key, reason))
        if isinstance(tx, ClientTransaction) and tx.key in self._pending_cancels:
            if tx.state is State.PROCEEDING:
                self._start_client(self._pending_cancels.pop(tx.key), tx.addr, now,
                                   tx.reliable)
            elif tx.state is not State.CALLING:
                del self._pending_cancels[tx.key]  # final response first: no CANCEL
        if tx.terminated:
            self._forget(tx)
        else:
            self._schedule(tx)

    def _deliver(self, tx: Transaction, message, cancels: ServerKey | None) -> None:
        if isinstance(tx, ClientTransaction):
            retrans = False
            if tx.kind is Kind.INVITE_CLIENT and 200 <= message.status < 300:
                seen = self._uac_2xx.setdefault(tx.key, {})
                tag = message.to.tag
                if tag in seen:
                    retrans = True
                    if seen[tag] is not None:
                        self._out.append(seen[tag])  # 13.2.2.4: ACK every 2xx
                else:
                    seen[tag] = None
            self._events.append(ResponseReceived(message, tx.key, tx.request, retrans))
            return
        addr, transport, _ = self._server_info.get(tx.key, (tx.addr, "udp", ""))
        if message.method == "ACK":
            self._ack_arrived(message, addr, tx.key)
        else:
            if cancels is not None and cancels not in self._servers:
                cancels = None
            self._events.append(RequestReceived(message, tx.key, addr, transport, cancels))

    def _ack_arrived(self, ack: Request, addr: Addr, key: ServerKey | None) -> None:
        if self._2xx_by_seq:
            jobs = self._2xx_by_seq.get((ack.call_id, ack.cseq.seq))
            if jobs:
                tags = (ack.from_.tag, ack.to.tag)
                for job_key in list(jobs):
                    job = self._pending_2xx[job_key]
                    if job.tags == tags:
                        self._drop_2xx(job)
        self._events.append(AckReceived(ack, addr, key))

    def _forget(self, tx: Transaction) -> None:
        key = tx.key
        if isinstance(tx, ClientTransaction):
            if self._clients.get(key) is not tx:
                return
            del self._clients[key]
            self._uac_2xx.pop(key, None)
            self._pending_cancels.pop(key, None)
            slot = self._invite_slot.pop(key, None)
            if slot is not None:
                keys = self._invites.get(slot)
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del self._invites[slot]
        else:
            if self._servers.get(key) is not tx:
                return
            del self._servers[key]
            info = self._server_info.pop(key, None)
            merge = self._merge_of.pop(key, None)
            if merge is not None and self._merge_index.get(merge) == key:
                del self._merge_index[merge]
            call_id = info[2] if info is not None else tx.request.call_id
            keys = self._servers_by_call.get(call_id)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self._servers_by_call[call_id]
        self._scheduled.pop(key, None)
        self._order.pop(key, None)

    def _find_server(self, response: Response) -> ServerTransaction | None:
        try:
            via, call_id, cseq = str(response.top_via), response.call_id, response.cseq
        except ParseError as exc:
            raise LocalProtocolError(f"response cannot be matched: {exc}") from None
        for key in self._servers_by_call.get(call_id, ()):
            tx = self._servers[key]
            req = tx.request
            if req is None:  # slim: its final response is sent, it takes no other
                continue
            if (req.call_id == call_id and req.cseq == cseq and str(req.top_via) == via):
                return tx
        return None

    def _start_2xx_retransmit(self, tx: ServerTransaction, effects: list, now: float) -> None:
        sent = next((e for e in effects if isinstance(e, Transmit)), None)
        if sent is None or tx.key in self._pending_2xx:
            return
        t1 = self.timers.t1
        job = _Pending2xx(
            tx.key, tx.request.call_id, tx.request.cseq.seq, sent.data, sent.addr,
            interval=t1, next=None if tx.reliable else now + t1, give_up=now + 64 * t1,
            message=sent.message, tags=(tx.request.from_.tag, tx.to_tag))
        self._pending_2xx[tx.key] = job
        self._order[("2xx", tx.key)] = self._next_seq()
        self._2xx_by_seq.setdefault((job.call_id, job.seq), {})[tx.key] = None
        self._schedule_2xx(job)

    def _simple_response(self, request: Request, status: int) -> Response:
        return build_response(request, status, to_tag=self.ids.tag())

    def _reject(self, data: bytes, addr: Addr, exc: ParseError) -> None:
        """Answer an unparsable request with 400 when its start line and Via are readable
        (8.2.6.2: Via, From, To, Call-ID, CSeq copied); otherwise drop it."""
        try:
            rejected = build_rejection(data, exc, self.config.host, self.ids.tag())
        except LocalProtocolError as bad:  # a header the 400 would echo is unsendable (a CR)
            self._events.append(MessageDropped(data, addr, f"unparsable and unanswerable: "
                                               f"{exc}; {bad}", exc))
            return
        if rejected is None:
            self._events.append(MessageDropped(data, addr, f"unparsable: {exc}", exc))
            return
        response, via = rejected
        rport = True if "rport" in via.params else None
        self._out.append((bytes(response), response_addr(via, addr, rport), response))
        self._events.append(RequestRejected(response.status, str(exc), addr, None, exc))
