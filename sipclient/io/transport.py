"""The transport contract, the events transports hand up, TLS options and the registry.

A transport moves bytes out and framed SIP messages in (RFC 3261 sec. 18). It runs no
transaction and no timer except a keep-alive (RFC 5626 sec. 3.5.1); the sans-I/O core in
``sipclient.proto.core`` does the rest, and an endpoint driver connects the two.

Contract (every adapter in this package follows it)::

    class Transport:
        name: str                    # "udp" | "tcp" | "tls" | "ws" | "wss"
        reliable: bool               # False only for UDP (RFC 3261 sec. 17.1.1.2, timer A)
        local_address: Address       # (ip, port) we are bound to / connected from
        on_event: EventCallback      # set at creation, may be replaced (see impair.py)
        async def send(data: bytes, addr: Address) -> None
        async def close() -> None
        async def local_address_for(addr: Address) -> Address
        async def identity(addr: Address | None = None) -> LocalIdentity

``send`` takes raw bytes, never a message object: the harness must be able to put
deliberately broken messages on the wire. ``bytes(msg)`` turns a message into bytes.

Incoming traffic is delivered, in arrival order, to one *synchronous* callback
``on_event(event)`` given when the transport is created. ``event`` is one of:

* :class:`Received` -- a message (``event.message``) or remote garbage (``event.error``, a
  :class:`~sipclient.proto.errors.ParseError`), with the raw bytes, the remote address and
  the transport it came in on. Garbage is reported, never raised.
* :class:`ConnectionLost` -- a connection-oriented transport lost the connection to ``addr``
  (peer closed, framing error, local close). UDP never emits it.

The callback must not block; :class:`EventQueue` is a ready-made callback that puts events on
an :class:`asyncio.Queue` for code that prefers ``await queue.get()``. An exception raised by
the callback is logged and swallowed, so it can never kill a transport's reader.

Addresses are always normalised ``(host, port)`` pairs (IPv6 flow info and scope dropped).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import ssl
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from sipclient.proto.errors import LocalProtocolError, ParseError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from sipclient.proto.message import Message

__all__ = [
    "Address",
    "ConnectionLost",
    "EventCallback",
    "EventQueue",
    "LocalIdentity",
    "Received",
    "TlsOptions",
    "TlsVerificationError",
    "Transport",
    "TransportError",
    "TransportEvent",
    "format_host",
    "format_hostport",
    "local_identity",
    "normalize_address",
    "open_for_target",
    "open_transport",
    "register_transport",
    "registered_transports",
]

log = logging.getLogger(__name__)

Address = tuple[str, int]

TRANSPORT_NAMES = ("udp", "tcp", "tls", "ws", "wss")


# --- errors -------------------------------------------------------------------------------


class TransportError(ConnectionError):
    """A transport could not do what was asked (bind, connect, send) -- a local I/O failure."""


class TlsVerificationError(TransportError):
    """The peer's TLS certificate did not verify (unknown CA, wrong host name, expired)."""


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Received:
    """One SIP message (or one piece of garbage) that arrived on a transport.

    Exactly one of ``message`` and ``error`` is set. ``raw`` holds the bytes as received
    (for a framing error on a stream: the bytes that could not be framed).
    """

    message: Message | None
    error: ParseError | None
    raw: bytes
    addr: Address
    transport: Transport

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """A connection to ``addr`` is gone; ``reason`` says why in words a user can act on."""

    addr: Address
    transport: Transport
    reason: str
    error: BaseException | None = None


TransportEvent = Union[Received, ConnectionLost]
EventCallback = Callable[[TransportEvent], None]


class EventQueue:
    """An ``on_event`` callback that queues events: ``event = await q.get(timeout=2)``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[TransportEvent] = asyncio.Queue()

    def __call__(self, event: TransportEvent) -> None:
        self.queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> TransportEvent:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def received(self, timeout: float | None = None) -> Received:
        """The next :class:`Received`, skipping other events."""
        while True:
            event = await self.get(timeout)
            if isinstance(event, Received):
                return event

    def empty(self) -> bool:
        return self.queue.empty()

    def drain(self) -> list[TransportEvent]:
        """Everything queued so far, without waiting."""
        out = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


# --- addresses ----------------------------------------------------------------------------


def normalize_address(addr: Any) -> Address:
    """``(host, port)`` from a socket address (drops IPv6 flowinfo/scope_id)."""
    return (str(addr[0]), int(addr[1]))


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def format_host(host: str) -> str:
    """``host`` as written in a URI or Via: IPv6 references in brackets (RFC 3261 sec. 25.1)."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def format_hostport(host: str, port: int | None) -> str:
    return format_host(host) if port is None else f"{format_host(host)}:{port}"


def _family_for(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


#: hosts of a wildcard bind
WILDCARDS = frozenset({"0.0.0.0", "::"})


def concrete_address(local: Address, remote: Address) -> Address:
    """``local`` with a wildcard host replaced by the IP the kernel uses toward ``remote``."""
    if local[0] not in WILDCARDS:
        return local
    return (source_ip_toward(remote), local[1])


def source_ip_toward(remote: Address) -> str:
    """The local IP the kernel would use to reach ``remote`` (connected-UDP trick; no packet)."""
    fam = _family_for(remote[0])
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.connect(remote)
            return s.getsockname()[0]
        except OSError:
            return "::1" if fam == socket.AF_INET6 else "127.0.0.1"


def random_invalid_host() -> str:
    """A random ``<token>.invalid`` host for Via/Contact over WebSocket (RFC 7118 sec. 5.2)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12)) + ".invalid"


# --- the identity a UA shows in Via and Contact -------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """What a UA writes in Via sent-by and Contact for one transport (RFC 3261 sec. 18.1.1,
    RFC 7118 sec. 5.2).

    >>> LocalIdentity("UDP", "127.0.0.5", 5070, "127.0.0.5", 5070, (("transport", "udp"),)).via
    'SIP/2.0/UDP 127.0.0.5:5070'
    """

    via_transport: str  # the Via transport token: "UDP", "TCP", "TLS", "WS", "WSS"
    sent_by_host: str
    sent_by_port: int | None  # None for WebSocket (the .invalid host has no port)
    contact_host: str
    contact_port: int | None
    contact_params: tuple[tuple[str, str], ...] = ()

    @property
    def sent_by(self) -> str:
        return format_hostport(self.sent_by_host, self.sent_by_port)

    @property
    def via(self) -> str:
        """The Via value without parameters: ``SIP/2.0/UDP 127.0.0.5:5070``."""
        return f"SIP/2.0/{self.via_transport} {self.sent_by}"

    def contact_uri(self, user: str | None = None, scheme: str = "sip") -> str:
        """``sip:user@host:port;transport=..`` for a Contact header."""
        userinfo = f"{user}@" if user else ""
        params = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.contact_params)
        return f"{scheme}:{userinfo}{format_hostport(self.contact_host, self.contact_port)}{params}"


async def local_identity(transport: Transport, addr: Address | None = None) -> LocalIdentity:
    """The Via/Contact identity a UA should use on ``transport`` toward ``addr``.

    For stream transports this may open the connection to ``addr`` (the local port of a TCP
    connection is only known once it exists).
    """
    return await transport.identity(addr)


# --- TLS ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """TLS settings shared by TLS and WSS (RFC 5246 via :mod:`ssl`; RFC 5922 host checks).

    Verification is ON by default (the system CA store and a host-name check).
    ``insecure=True`` disables both, for the lab's self-signed certificate; ``ca_file``
    trusts that CA bundle instead of the system store. ``server_name`` overrides the SNI and
    the name checked (default: the target host). ``cert_file``/``key_file`` present a client
    certificate, or are the server certificate for a listener.
    """

    insecure: bool = False
    ca_file: str | None = None
    server_name: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def client_context(self) -> ssl.SSLContext:
        if self.insecure:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def server_context(self) -> ssl.SSLContext:
        if not self.cert_file:
            raise TransportError("a TLS listener needs TlsOptions(cert_file=..., key_file=...)")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def tls_error(exc: ssl.SSLError, host: str, addr: Address) -> TransportError:
    """A clear, actionable error for a failed TLS handshake."""
    where = f"{host} ({format_hostport(*addr)})" if host != addr[0] else format_hostport(*addr)
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or str(exc)
        return TlsVerificationError(
            f"TLS certificate verification failed for {where}: {detail}. "
            "For the lab's self-signed certificate use insecure=True (--insecure), "
            "or trust its CA with ca_file=..."
        )
    return TransportError(f"TLS handshake with {where} failed: {exc}")


# --- the base class -----------------------------------------------------------------------


class Transport(ABC):
    """Base of every transport; see the module docstring for the contract."""

    name: str = ""
    reliable: bool = True

    def __init__(self, on_event: EventCallback) -> None:
        self.on_event: EventCallback = on_event
        self._closed = False

    @property
    @abstractmethod
    def local_address(self) -> Address: ...

    @abstractmethod
    async def send(self, data: bytes, addr: Address) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def local_address_for(self, addr: Address | None = None) -> Address:
        """The local (ip, port) used toward ``addr``; a wildcard bind becomes a real IP."""
        return self.local_address if addr is None else concrete_address(self.local_address, addr)

    async def identity(self, addr: Address | None = None) -> LocalIdentity:
        host, port = await self.local_address_for(addr)
        return LocalIdentity(
            self.name.upper(), host, port, host, port, (("transport", self.name),)
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def _begin_close(self) -> bool:
        """Mark the transport closed: True the first time, False when it already was (every
        ``close`` starts here, so closing twice is harmless)."""
        if self._closed:
            return False
        self._closed = True
        return True

    def emit(self, event: TransportEvent) -> None:
        """Hand ``event`` to ``on_event``; a failing callback is logged, never propagated."""
        try:
            self.on_event(event)
        except (ParseError, LocalProtocolError) as exc:
            if isinstance(event, Received):  # remote garbage the core refused: one line
                log.info("%s: dropped a malformed message from %s: %s", self.name,
                         event.addr, str(exc)[:200])
            else:
                log.exception("%s: on_event callback failed for %r", self.name,
                              type(event).__name__)
        except Exception:  # noqa: BLE001 - a consumer bug must not kill the reader
            log.exception("%s: on_event callback failed for %r", self.name, type(event).__name__)

    def emit_parsed(self, raw: bytes, addr: Address, parse: Callable[[bytes], Any]) -> None:
        """Parse ``raw`` with ``parse`` and emit the message, or the ParseError it raised."""
        try:
            msg = parse(raw)
        except ParseError as exc:
            self.emit(Received(None, exc, raw, addr, self))
        except Exception as exc:  # noqa: BLE001 - a parser bug is reported as garbage
            log.exception("%s: parser crashed on %d bytes from %s", self.name, len(raw), addr)
            self.emit(Received(None, ParseError(f"parser crashed: {exc!r}"), raw, addr, self))
        else:
            self.emit(Received(msg, None, raw, addr, self))

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        try:
            local = format_hostport(*self.local_address)
        except Exception:  # noqa: BLE001 - repr must never fail
            local = "?"
        state = " closed" if self._closed else ""
        return f"<{type(self).__name__} {self.name} {local}{state}>"


# --- registry -----------------------------------------------------------------------------

TransportFactory = Callable[..., Awaitable[Transport]]
_REGISTRY: dict[str, TransportFactory] = {}


def register_transport(name: str, factory: TransportFactory) -> None:
    """Register ``factory(**options) -> Transport`` under ``name`` (lower case)."""
    _REGISTRY[name.lower()] = factory


def _load_builtin() -> None:
    # Imported lazily: the adapters import this module.
    from sipclient.io import stream, udp, ws  # noqa: F401


def registered_transports() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


async def open_transport(name: str, *, on_event: EventCallback, **options: Any) -> Transport:
    """Create a transport by name.

    ``udp``: ``local=(ip, port)``. ``tcp``/``tls``: ``local``, ``listen``, ``keepalive_interval``,
    ``tls`` (TlsOptions). ``ws``/``wss``: ``url``, ``tls``, ``local``. See each adapter.
    """
    _load_builtin()
    try:
        factory = _REGISTRY[name.lower()]
    except KeyError:
        raise TransportError(
            f"unknown transport {name!r}; expected one of {', '.join(sorted(_REGISTRY))}"
        ) from None
    return await factory(on_event=on_event, **options)



async def open_for_target(
    target: Any,
    *,
    on_event: EventCallback,
    local: Address | None = None,
    tls: TlsOptions | None = None,
    resolver: Any = None,
    **options: Any,
) -> tuple[Transport, Address]:
    """Open the transport a :class:`~sipclient.io.target.Target` asks for; return it with the
    address to send to.

    The host is located with RFC 3263 (``resolver``: a :class:`~sipclient.io.resolve.Resolver`,
    default one using dnspython). Stream transports try the resolved hops in order until one
    connects (sec. 4.3); TLS verifies the target's host name, not the IP it resolved to.
    WebSocket targets connect to their URL. ``local`` is the (ip, port) to bind, default a
    wildcard address and an ephemeral port.
    """
    from sipclient.io.resolve import Resolver

    if target.transport in ("ws", "wss") and target.url:
        from sipclient.io.ws import WsTransport

        ws = await WsTransport.connect(
            target.url, on_event=on_event, tls=tls, local=local, **options
        )
        return ws, ws.remote_address
    hops = await (resolver or Resolver()).resolve(target)
    hops = [h for h in hops if h.transport == target.transport] or hops
    first = hops[0]
    wildcard = "::" if ":" in first.ip else "0.0.0.0"
    bind = local or (wildcard, 0)
    name = first.transport
    if name == "udp":
        return await open_transport("udp", on_event=on_event, local=bind), (first.ip, first.port)
    if name in ("ws", "wss"):  # a sip: URI with transport=ws: no path known, use "/"
        url = f"{name}://{format_hostport(first.ip, first.port)}{target.path or '/'}"
        from sipclient.io.ws import WsTransport

        ws = await WsTransport.connect(url, on_event=on_event, tls=tls, local=local, **options)
        return ws, ws.remote_address
    if tls is not None:
        options["tls"] = tls
    transport = await open_transport(name, on_event=on_event, local=bind, **options)
    server_name = None if is_ip_literal(target.host) else target.host
    errors = []
    for hop in hops:
        if hop.transport != name:
            continue
        try:
            await transport.connect((hop.ip, hop.port), server_name=server_name)  # type: ignore
        except TlsVerificationError:
            await transport.close()
            raise
        except TransportError as exc:
            errors.append(str(exc))
            continue
        return transport, (hop.ip, hop.port)
    await transport.close()
    raise TransportError("; ".join(errors) or f"no {name} address for {target}")
