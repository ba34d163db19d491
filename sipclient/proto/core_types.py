"""The values at the core's surface: its configuration (:class:`CoreConfig`) and the events
:meth:`SipCore.next_event` hands back (small frozen dataclasses). The core (:mod:`.core`)
re-exports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .errors import ParseError
from .ids import RandomSource
from .message import Request, Response
from .timers import TimerConfig
from .transaction import ClientKey, ServerKey, TransactionKey

__all__ = ["CoreConfig", "RELIABLE_TRANSPORTS", "RequestReceived", "ResponseReceived", "AckReceived", "TransactionTimeout",
           "TransportError", "MessageDropped", "RequestRejected", "Event"]

Addr = tuple[str, int]

#: Transports on which a message is delivered or an error is reported (RFC 3261 18).
RELIABLE_TRANSPORTS = frozenset({"TCP", "TLS", "SCTP", "TLS-SCTP", "WS", "WSS"})


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Local transport identity and timers.

    ``host``/``port``/``transport`` fill the sent-by of the Via the core adds (18.1.1);
    ``rport`` asks for symmetric response routing (RFC 3581); ``rng`` feeds branches and
    tags (seed it in tests).
    """

    host: str = "127.0.0.1"
    port: int | None = 5060
    transport: str = "UDP"
    timers: TimerConfig = field(default_factory=TimerConfig)
    rng: RandomSource | None = None
    rport: bool = True


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request (retransmissions are absorbed by its server transaction, 17.2).

    ``key`` identifies the server transaction to answer with :meth:`SipCore.send_response`.
    For a CANCEL, ``cancels`` is the INVITE server transaction it matches (9.2), or None
    (the application should then answer 481).
    """

    request: Request
    key: ServerKey
    addr: Addr
    transport: str
    cancels: ServerKey | None = None


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response matched to our client transaction ``key`` (17.1.3); ``request`` is the
    request as sent. ``retransmission`` marks a repeated 2xx to INVITE (the core has re-sent
    the ACK for it if one was given to :meth:`SipCore.send_ack`)."""

    response: Response
    key: ClientKey
    request: Request
    retransmission: bool = False


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK. ``key`` is the INVITE server transaction that absorbed it (ACK for a non-2xx,
    17.2.1, reported once), or None for the ACK of a 2xx (its own transaction, 17)."""

    request: Request
    addr: Addr
    key: ServerKey | None = None


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """Timer B, F or H fired (17.1.1.2, 17.1.2.2, 17.2.1), or ``timer == "2xx"``: our 2xx
    to an INVITE was never ACKed within 64*T1 (13.3.1.4; end the session with BYE)."""

    key: TransactionKey
    timer: str


@dataclass(frozen=True, slots=True)
class TransportError:
    """The I/O layer reported a failure for transaction ``key`` (17.1.4, 17.2.4)."""

    key: TransactionKey
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MessageDropped:
    """Input ignored: unparsable (``error``), a stray response (17.1.3, 18.1.2) ..."""

    data: bytes
    addr: Addr
    reason: str
    error: ParseError | None = None


@dataclass(frozen=True, slots=True)
class RequestRejected:
    """The core answered a request itself with ``status`` (400 for garbage, 482 merged)."""

    status: int
    reason: str
    addr: Addr
    request: Request | None = None
    error: ParseError | None = None


Event = Union[RequestReceived, ResponseReceived, AckReceived, TransactionTimeout,
              TransportError, MessageDropped, RequestRejected]
