"""SIP transactions as plain data tables (RFC 3261 section 17, updated by RFC 6026).

The four state machines of RFC 3261 17.1.1, 17.1.2, 17.2.1 and 17.2.2 (with the "Accepted"
state that RFC 6026 7.1/7.2 adds to both INVITE machines) are written down once, in
:data:`TABLES`: ``(state, input) -> Transition(target, actions)``. Everything else in this
module is the small interpreter that runs them, in the spirit of h11's ``_state.py``; docs can
draw the diagrams straight from the tables (see :func:`describe`).

* Inputs are what happens to a transaction: a response or request from the wire, a response
  from the TU (server side), a timer firing, a transport error.
* An input that has no row in a state is *absorbed* (ignored) when it came from the wire or a
  timer, and is a :class:`LocalProtocolError` when it came from the TU (e.g. a second final
  response, 17.2.2 "MUST be discarded" - we refuse it loudly instead).
* Actions are words: ``transmit`` (send the message at hand), ``retransmit`` (send the last
  message again, byte for byte), ``send_ack`` / ``resend_ack`` (17.1.1.3), ``send_trying``
  (the 200 ms rule of 17.2.1), ``deliver`` (hand it to the TU), ``timeout``,
  ``transport_error`` and timer words ``start X`` / ``rearm X`` (re-armed per its backoff
  in :mod:`sipclient.proto.timers`) / ``rearm_t2 X`` (re-armed with T2) / ``stop X``.
* Timers belong to states (:data:`STATE_TIMERS`): leaving a state stops its timers.

A transaction never does I/O: its methods return *effects* (:class:`Transmit`,
:class:`Deliver`, :class:`TimedOut`, :class:`TransportFailed`) that the core turns into
datagrams and events. ``now`` is always a parameter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, Union

from .errors import LocalProtocolError
from .builders import build_ack, build_cancel, build_response, replace_top_via  # noqa: F401
from .ids import is_rfc3261_branch
from .timers import TimerConfig


class Kind(enum.Enum):
    """The four transaction state machines (RFC 3261 17.1.1, 17.1.2, 17.2.1, 17.2.2)."""

    INVITE_CLIENT = "INVITE client"
    NON_INVITE_CLIENT = "non-INVITE client"
    INVITE_SERVER = "INVITE server"
    NON_INVITE_SERVER = "non-INVITE server"

    # Members are singletons compared by identity: hash them in C (Enum.__hash__ is a Python
    # call; the tables below are looked up by (State, Input) on every message)
    __hash__ = object.__hash__


class State(enum.Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"  # RFC 6026
    TERMINATED = "Terminated"

    __hash__ = object.__hash__  # see Kind


class Input(enum.Enum):
    __hash__ = object.__hash__  # see Kind

    # client side: responses from the wire (17.1.1.2, 17.1.2.2)
    RECV_1XX = "1xx"
    RECV_2XX = "2xx"
    RECV_FAILURE = "300-699"
    # server side: requests from the wire (17.2.1, 17.2.2)
    RECV_REQUEST = "request retransmission"
    RECV_ACK = "ACK"
    # server side: responses from the TU
    SEND_1XX = "1xx from TU"
    SEND_2XX = "2xx from TU"
    SEND_FAILURE = "300-699 from TU"
    # either side
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "timer A"
    TIMER_B = "timer B"
    TIMER_D = "timer D"
    TIMER_E = "timer E"
    TIMER_F = "timer F"
    TIMER_G = "timer G"
    TIMER_H = "timer H"
    TIMER_I = "timer I"
    TIMER_J = "timer J"
    TIMER_K = "timer K"
    TIMER_L = "timer L"
    TIMER_M = "timer M"
    TIMER_TRYING = "timer Trying"

    @classmethod
    def timer(cls, name: str) -> "Input":
        return cls(f"timer {name}")


TU_INPUTS = frozenset({Input.SEND_1XX, Input.SEND_2XX, Input.SEND_FAILURE})

#: a response's input by status class: received from the network / sent by the TU
RECEIVED = (Input.RECV_1XX, Input.RECV_2XX, Input.RECV_FAILURE)
SENT = (Input.SEND_1XX, Input.SEND_2XX, Input.SEND_FAILURE)


def response_input(status: int, inputs: tuple[Input, Input, Input]) -> Input:
    """``inputs[0]`` for 1xx, ``[1]`` for 2xx, ``[2]`` for 300-699."""
    return inputs[0] if status < 200 else inputs[1] if status < 300 else inputs[2]


@dataclass(frozen=True, slots=True)
class Transition:
    target: State
    actions: tuple[str, ...] = ()


S, I, T = State, Input, Transition

#: Where each machine starts and what it does on creation.
INITIAL: dict[Kind, Transition] = {
    Kind.INVITE_CLIENT: T(S.CALLING, ("transmit", "start A", "start B")),
    Kind.NON_INVITE_CLIENT: T(S.TRYING, ("transmit", "start E", "start F")),
    Kind.INVITE_SERVER: T(S.PROCEEDING, ("deliver", "start Trying")),
    Kind.NON_INVITE_SERVER: T(S.TRYING, ("deliver",)),
}

_NON_INVITE_FINALS = (I.RECV_2XX, I.RECV_FAILURE)
_TU_FINALS = (I.SEND_2XX, I.SEND_FAILURE)

TABLES: dict[Kind, dict[tuple[State, Input], Transition]] = {
    # RFC 3261 17.1.1.2 Figure 5, with RFC 6026 7.2 (2xx -> Accepted, timer M).
    Kind.INVITE_CLIENT: {
        (S.CALLING, I.TIMER_A): T(S.CALLING, ("retransmit", "rearm A")),
        (S.CALLING, I.TIMER_B): T(S.TERMINATED, ("timeout",)),
        (S.CALLING, I.TRANSPORT_ERROR): T(S.TERMINATED, ("transport_error",)),
        (S.CALLING, I.RECV_1XX): T(S.PROCEEDING, ("deliver",)),
        (S.CALLING, I.RECV_2XX): T(S.ACCEPTED, ("deliver", "start M")),
        (S.CALLING, I.RECV_FAILURE): T(S.COMPLETED, ("send_ack", "deliver", "start D")),
        (S.PROCEEDING, I.RECV_1XX): T(S.PROCEEDING, ("deliver",)),
        (S.PROCEEDING, I.RECV_2XX): T(S.ACCEPTED, ("deliver", "start M")),
        (S.PROCEEDING, I.RECV_FAILURE): T(S.COMPLETED, ("send_ack", "deliver", "start D")),
        (S.COMPLETED, I.RECV_FAILURE): T(S.COMPLETED, ("resend_ack",)),
        (S.COMPLETED, I.TRANSPORT_ERROR): T(S.TERMINATED, ("transport_error",)),
        (S.COMPLETED, I.TIMER_D): T(S.TERMINATED),
        (S.ACCEPTED, I.RECV_2XX): T(S.ACCEPTED, ("deliver",)),
        (S.ACCEPTED, I.TIMER_M): T(S.TERMINATED),
    },
    # RFC 3261 17.1.2.2 Figure 6.
    Kind.NON_INVITE_CLIENT: {
        (S.TRYING, I.TIMER_E): T(S.TRYING, ("retransmit", "rearm E")),
        (S.TRYING, I.TIMER_F): T(S.TERMINATED, ("timeout",)),
        (S.TRYING, I.TRANSPORT_ERROR): T(S.TERMINATED, ("transport_error",)),
        (S.TRYING, I.RECV_1XX): T(S.PROCEEDING, ("deliver",)),
        **{(S.TRYING, f): T(S.COMPLETED, ("deliver", "start K")) for f in _NON_INVITE_FINALS},
        (S.PROCEEDING, I.TIMER_E): T(S.PROCEEDING, ("retransmit", "rearm_t2 E")),
        (S.PROCEEDING, I.TIMER_F): T(S.TERMINATED, ("timeout",)),
        (S.PROCEEDING, I.TRANSPORT_ERROR): T(S.TERMINATED, ("transport_error",)),
        (S.PROCEEDING, I.RECV_1XX): T(S.PROCEEDING, ("deliver",)),
        **{(S.PROCEEDING, f): T(S.COMPLETED, ("deliver", "start K"))
           for f in _NON_INVITE_FINALS},
        (S.COMPLETED, I.TIMER_K): T(S.TERMINATED),
    },
    # RFC 3261 17.2.1 Figure 7, with RFC 6026 7.1 (2xx -> Accepted, timer L).
    Kind.INVITE_SERVER: {
        (S.PROCEEDING, I.RECV_REQUEST): T(S.PROCEEDING, ("retransmit",)),
        (S.PROCEEDING, I.TIMER_TRYING): T(S.PROCEEDING, ("send_trying",)),
        (S.PROCEEDING, I.SEND_1XX): T(S.PROCEEDING, ("transmit", "stop Trying")),
        (S.PROCEEDING, I.SEND_2XX): T(S.ACCEPTED, ("transmit", "start L")),
        (S.PROCEEDING, I.SEND_FAILURE): T(S.COMPLETED, ("transmit", "start G", "start H")),
        (S.PROCEEDING, I.TRANSPORT_ERROR): T(S.TERMINATED, ("transport_error",)),
        (S.COMPLETED, I.RECV_REQUEST): T(S.COMPLETED, ("retransmit",)),
        (S.COMPLETED, I.TIMER_G): T(S.COMPLETED, ("retransmit", "rearm G")),
        (S.COMPLETED, I.TIMER_H): T(S.TERMINATED, ("timeout",)),
        (S.COMPLETED, I.TRANSPORT_ERROR): T(S.TERMINATED, ("transport_error",)),
        (S.COMPLETED, I.RECV_ACK): T(S.CONFIRMED, ("deliver", "start I")),
        (S.CONFIRMED, I.RECV_ACK): T(S.CONFIRMED),  # absorbed
        (S.CONFIRMED, I.TIMER_I): T(S.TERMINATED),
        (S.ACCEPTED, I.RECV_REQUEST): T(S.ACCEPTED),  # absorbed (RFC 6026 7.1)
        (S.ACCEPTED, I.RECV_ACK): T(S.ACCEPTED, ("deliver",)),
        (S.ACCEPTED, I.SEND_2XX): T(S.ACCEPTED, ("transmit",)),
        (S.ACCEPTED, I.TIMER_L): T(S.TERMINATED),
    },
    # RFC 3261 17.2.2 Figure 8.
    Kind.NON_INVITE_SERVER: {
        (S.TRYING, I.RECV_REQUEST): T(S.TRYING),  # absorbed
        (S.TRYING, I.SEND_1XX): T(S.PROCEEDING, ("transmit",)),
        **{(S.TRYING, f): T(S.COMPLETED, ("transmit", "start J")) for f in _TU_FINALS},
        (S.PROCEEDING, I.RECV_REQUEST): T(S.PROCEEDING, ("retransmit",)),
        (S.PROCEEDING, I.SEND_1XX): T(S.PROCEEDING, ("transmit",)),
        **{(S.PROCEEDING, f): T(S.COMPLETED, ("transmit", "start J")) for f in _TU_FINALS},
        (S.PROCEEDING, I.TRANSPORT_ERROR): T(S.TERMINATED, ("transport_error",)),
        (S.COMPLETED, I.RECV_REQUEST): T(S.COMPLETED, ("retransmit",)),
        (S.COMPLETED, I.TRANSPORT_ERROR): T(S.TERMINATED, ("transport_error",)),
        (S.COMPLETED, I.TIMER_J): T(S.TERMINATED),
    },
}

# every action of the tables split once: "start A" -> ("start", "A") (Transaction._run)
_ACTION_PARTS: dict[str, tuple[str, str]] = {
    action: (action.partition(" ")[0], action.partition(" ")[2])
    for tr in [*INITIAL.values(), *(t for table in TABLES.values() for t in table.values())]
    for action in tr.actions
}
# the method of each verb, named once ("transmit" -> "_do_transmit"): a name built per call
# is a new string each time, and CPython's method cache (keyed by the name's address) keeps
# up to 4096 of them alive, scattered over memory a burst of calls then cannot give back
_DO: dict[str, str] = {verb: "_do_" + verb for verb, _ in _ACTION_PARTS.values()}

#: The timers that may run in each state; leaving the state stops the others.
STATE_TIMERS: dict[Kind, dict[State, frozenset[str]]] = {
    Kind.INVITE_CLIENT: {S.CALLING: frozenset("AB"), S.COMPLETED: frozenset("D"),
                         S.ACCEPTED: frozenset("M")},
    Kind.NON_INVITE_CLIENT: {S.TRYING: frozenset("EF"), S.PROCEEDING: frozenset("EF"),
                             S.COMPLETED: frozenset("K")},
    Kind.INVITE_SERVER: {S.PROCEEDING: frozenset({"Trying"}), S.COMPLETED: frozenset("GH"),
                         S.CONFIRMED: frozenset("I"), S.ACCEPTED: frozenset("L")},
    Kind.NON_INVITE_SERVER: {S.COMPLETED: frozenset("J")},
}
del S, I, T


def describe(kind: Kind) -> list[str]:
    """The machine as lines ``"State --input--> State: actions"`` (for docs and diagrams)."""
    init = INITIAL[kind]
    lines = [f"(start) --> {init.target.value}: {', '.join(init.actions)}"]
    for (state, inp), tr in TABLES[kind].items():
        acts = ", ".join(tr.actions) or ("absorb" if tr.target is state else "-")
        lines.append(f"{state.value} --{inp.value}--> {tr.target.value}: {acts}")
    return lines


# ----------------------------------------------------------------------------- keys


# The keys are named tuples: hashed and compared in C (a dataclass's __hash__ is a Python
# call, and a key is hashed about 40 times per call in the calls/s probe).
class ClientKey(NamedTuple):
    """RFC 3261 17.1.3: a response matches by top Via branch and CSeq method."""

    branch: str
    method: str


class ServerKey(NamedTuple):
    """RFC 3261 17.2.3: branch + sent-by + method (ACK counts as INVITE).

    For a peer without the magic cookie (RFC 2543), ``branch`` holds a synthetic id built
    from Request-URI, From tag, Call-ID, CSeq number and top Via; ``legacy`` is then True and
    the core also checks the To tag (see :func:`server_key`).
    """

    branch: str
    sent_by: str
    method: str
    legacy: bool = False


TransactionKey = Union[ClientKey, ServerKey]


def sent_by(via) -> str:
    """Normalised ``host:port`` of a Via (default port 5060, 5061 for TLS; RFC 3261 18.1)."""
    port = via.port
    if port is None:
        port = 5061 if str(via.transport).upper() in ("TLS", "WSS") else 5060
    return f"{str(via.host).lower()}:{port}"


def client_key(message) -> ClientKey:
    """Key of the client transaction a request creates or a response matches (17.1.3)."""
    return ClientKey(message.top_via.branch or "", message.cseq.method)


def server_key(request) -> ServerKey:
    """Key of the server transaction a request creates or matches (17.2.3).

    ACK maps to the INVITE transaction; CANCEL keeps its own method (9.2 matches CANCEL to
    the INVITE with :func:`cancel_target_key`).
    """
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    if is_rfc3261_branch(via.branch):
        return ServerKey(via.branch, sent_by(via), method)
    return _legacy_key(request, method)


def cancel_target_key(cancel) -> ServerKey:
    """The INVITE server transaction a CANCEL refers to (RFC 3261 9.2, 17.2.3)."""
    key = server_key(cancel)
    if key.legacy:
        return _legacy_key(cancel, "INVITE")
    return ServerKey(key.branch, key.sent_by, "INVITE")


def _legacy_key(request, method: str) -> ServerKey:
    """RFC 3261 17.2.3 fallback for RFC 2543 peers (the To tag is checked separately)."""
    via = request.top_via
    bare_via = str(via.without_param("received").without_param("rport"))
    ident = "|".join(("2543", str(request.uri), request.from_.tag or "", request.call_id,
                      str(request.cseq.seq), bare_via))
    return ServerKey(ident, sent_by(via), method, legacy=True)


# ----------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class Transmit:
    """Put ``data`` (the serialised ``message``) on the wire towards ``addr``."""

    message: object
    data: bytes
    addr: tuple[str, int]
    retransmission: bool = False


@dataclass(frozen=True, slots=True)
class Deliver:
    """Hand ``message`` to the TU."""

    message: object


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Timer ``timer`` (B, F or H) ended the transaction (17.1.1.2, 17.1.2.2, 17.2.1)."""

    timer: str


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """A transport error ended the transaction (17.1.4, 17.2.4)."""


Effect = Union[Transmit, Deliver, TimedOut, TransportFailed]


# ----------------------------------------------------------------------------- machines


class Transaction:
    """The interpreter shared by the four machines; see the tables above."""

    kind: Kind

    def __init__(self, kind: Kind, key: TransactionKey, request, addr: tuple[str, int], *,
                 reliable: bool, timers: TimerConfig | None = None) -> None:
        self.kind = kind
        self.key = key
        self.request = request
        self.addr = addr
        self.reliable = reliable
        self.timers = timers or TimerConfig()
        self.state: State | None = None
        self._deadlines: dict[str, float] = {}
        self._intervals: dict[str, float] = {}
        self._last: Transmit | None = None
        self.created: float | None = None
        self._fired_at = 0.0
        self._fired_name = ""

    # -- public

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def start(self, now: float) -> list[Effect]:
        """Enter the initial state and run its actions (send the request / deliver it)."""
        if self.state is not None:
            raise LocalProtocolError("transaction already started")
        self.created = now
        init = INITIAL[self.kind]
        self.state = init.target
        effects: list[Effect] = []
        self._run(init.actions, now, None, effects)
        self._fire_due(now, effects)
        return effects

    def next_deadline(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def running_timers(self) -> dict[str, float]:
        """Timer name -> deadline, for inspection in tests and traces."""
        return dict(self._deadlines)

    def handle_timer(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        self._fire_due(now, effects)
        return effects

    def transport_error(self, now: float) -> list[Effect]:
        return self._input(Input.TRANSPORT_ERROR, now, None)

    # -- interpreter

    def _input(self, inp: Input, now: float, message) -> list[Effect]:
        effects: list[Effect] = []
        self._step(inp, now, message, effects)
        self._fire_due(now, effects)
        return effects

    def _step(self, inp: Input, now: float, message, effects: list[Effect]) -> None:
        if self.state is None:
            raise LocalProtocolError("transaction not started")
        tr = TABLES[self.kind].get((self.state, inp))
        if tr is None:
            if inp in TU_INPUTS:
                raise LocalProtocolError(
                    f"{self.kind.value} transaction in state {self.state.value} "
                    f"cannot take {inp.value}")
            return  # absorbed: stray input for this state
        if tr.target is not self.state:
            keep = STATE_TIMERS[self.kind].get(tr.target, frozenset())
            for name in [n for n in self._deadlines if n not in keep]:
                self._stop(name)
        self.state = tr.target
        self._run(tr.actions, now, message, effects)

    def _run(self, actions: tuple[str, ...], now: float, message, effects: list[Effect]) -> None:
        parts = _ACTION_PARTS
        for action in actions:
            if action in parts:
                verb, arg = parts[action]
            else:
                verb, _, arg = action.partition(" ")
            if verb == "start":
                self._start(arg, now)
            elif verb == "stop":
                self._stop(arg)
            elif verb in ("rearm", "rearm_t2"):
                self._rearm(arg, verb == "rearm_t2")
            else:
                getattr(self, _DO[verb])(message, effects)

    def _start(self, name: str, now: float) -> None:
        duration = self.timers.duration(name, self.reliable)
        if duration is None:
            return
        self._intervals[name] = duration
        self._deadlines[name] = now + duration

    def _stop(self, name: str) -> None:
        self._deadlines.pop(name, None)
        self._intervals.pop(name, None)

    def _rearm(self, name: str, to_t2: bool) -> None:
        # Deadlines advance from the previous deadline, so the schedule is exact even when
        # handle_timer() is called late.
        previous = self._fired_at
        interval = self.timers.t2 if to_t2 else self.timers.next_interval(
            name, self._intervals[name])
        self._intervals[name] = interval
        self._deadlines[name] = previous + interval

    def _fire_due(self, now: float, effects: list[Effect]) -> None:
        while self._deadlines:
            name, deadline = min(self._deadlines.items(), key=lambda kv: kv[1])
            if deadline > now:
                return
            del self._deadlines[name]
            self._fired_at, self._fired_name = deadline, name
            self._step(Input.timer(name), now, None, effects)

    # -- actions

    def _send(self, message, effects: list[Effect], addr: tuple[str, int] | None = None) -> None:
        out = Transmit(message, bytes(message), addr or self.addr)
        self._last = out
        effects.append(out)

    def _do_retransmit(self, message, effects: list[Effect]) -> None:
        if self._last is not None:
            last = self._last
            effects.append(Transmit(last.message, last.data, last.addr, retransmission=True))

    def _do_deliver(self, message, effects: list[Effect]) -> None:
        effects.append(Deliver(message if message is not None else self.request))

    def _do_timeout(self, message, effects: list[Effect]) -> None:
        effects.append(TimedOut(self._fired_name))

    def _do_transport_error(self, message, effects: list[Effect]) -> None:
        effects.append(TransportFailed())

    def __repr__(self) -> str:
        state = self.state.value if self.state else "new"
        return f"<{self.kind.value} transaction {self.key} {state}>"


class ClientTransaction(Transaction):
    """An INVITE or non-INVITE client transaction (RFC 3261 17.1).

    ``request`` must already carry its top Via with a branch (the core adds it).
    """

    def __init__(self, request, addr: tuple[str, int], *, reliable: bool,
                 timers: TimerConfig | None = None, key: ClientKey | None = None) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("ACK never creates a client transaction (17.1)")
        kind = Kind.INVITE_CLIENT if request.method == "INVITE" else Kind.NON_INVITE_CLIENT
        # key: given by the core when it wrote the top Via itself (no Via to parse back)
        super().__init__(kind, client_key(request) if key is None else key, request, addr,
                         reliable=reliable, timers=timers)
        self.ack = None  # the ACK sent for a non-2xx final response (17.1.1.3)
        self.final_response = None

    def receive_response(self, response, now: float) -> list[Effect]:
        status = response.status
        inp = response_input(status, RECEIVED)
        if status >= 200 and self.final_response is None:
            self.final_response = response
        return self._input(inp, now, response)

    def _do_transmit(self, message, effects: list[Effect]) -> None:
        self._send(self.request, effects)

    def _do_send_ack(self, response, effects: list[Effect]) -> None:
        self.ack = build_ack(self.request, response)
        effects.append(Transmit(self.ack, bytes(self.ack), self.addr))

    def _do_resend_ack(self, response, effects: list[Effect]) -> None:
        if self.ack is not None:
            effects.append(Transmit(self.ack, bytes(self.ack), self.addr, retransmission=True))


class ServerTransaction(Transaction):
    """An INVITE or non-INVITE server transaction (RFC 3261 17.2).

    ``addr`` is where responses go (the core computes it per 18.2.2 / RFC 3581).
    """

    def __init__(self, request, addr: tuple[str, int], *, reliable: bool,
                 timers: TimerConfig | None = None, key: ServerKey | None = None) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("ACK never creates a server transaction (17.2.3)")
        kind = Kind.INVITE_SERVER if request.method == "INVITE" else Kind.NON_INVITE_SERVER
        super().__init__(kind, key or server_key(request), request, addr,
                         reliable=reliable, timers=timers)
        self.last_response = None
        self.final_response = None
        self.to_tag: str | None = None
        self._request_to_tag: str | None = None  # kept when _slim drops the request

    @property
    def request_to_tag(self) -> str | None:
        """The To tag of the request, also once :meth:`_slim` dropped it (RFC 2543 peers:
        their transactions are also matched by it, 17.2.3)."""
        return self.request.to.tag if self.request is not None else self._request_to_tag

    def receive_request(self, request, now: float) -> list[Effect]:
        """A retransmission of the request, or the ACK (17.2.1, 17.2.2)."""
        inp = Input.RECV_ACK if request.method == "ACK" else Input.RECV_REQUEST
        return self._input(inp, now, request)

    def send_response(self, response, now: float) -> list[Effect]:
        """The TU answers (17.2.1, 17.2.2); a response in the wrong state raises."""
        effects = self._input(response_input(response.status, SENT), now, response)
        self.last_response = response
        if response.status >= 200:
            self.final_response = self.final_response or response
            self.to_tag = response.to.tag
            if self.state is State.COMPLETED or self.state is State.TERMINATED:
                self._slim()
        return effects

    def _slim(self) -> None:
        """Drop the request once the final response is sent (Completed, 17.2.1/17.2.2):
        from then on the transaction only answers retransmissions of the request with the
        last response it sent (``_last``) and waits for its ACK or timer J/H, so the
        parsed request - often the largest thing it holds - goes now, not 32 s later. The
        core matches a slim transaction by key (and :attr:`request_to_tag`)."""
        request = self.request
        if request is None:
            return
        if self.key.legacy:
            self._request_to_tag = request.to.tag
        self.request = None

    def _do_transmit(self, response, effects: list[Effect]) -> None:
        self._send(response, effects)

    def _do_send_trying(self, message, effects: list[Effect]) -> None:
        if self._last is None:
            trying = build_response(self.request, 100, "Trying")
            self.last_response = trying
            self._send(trying, effects)
