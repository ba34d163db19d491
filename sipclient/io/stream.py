"""TCP and TLS transports (RFC 3261 sec. 18.3, RFC 5626 sec. 3.5.1 keep-alives, RFC 5922 TLS).

    t = await TcpTransport.create(on_event=queue, local=("127.0.0.5", 0), listen=True)
    await t.send(bytes(request), ("127.0.0.1", 5060))   # opens, or reuses, the connection
    await t.close()

One transport object holds every connection of its kind, keyed by the remote address:
``send(data, addr)`` reuses the open connection to ``addr`` -- whether we opened it or
accepted it -- and only connects when there is none (RFC 3261 sec. 18.1.1 / 18.2.2, the
connection reuse of RFC 5626 and RFC 5923). With ``listen=True`` the transport also accepts
connections on ``local``, so a PBX can open its own connection to us; a PBX that reuses our
outgoing connection needs no listener at all.

Bytes received on a connection go through ``sipclient.proto.framer.StreamFramer``
(Content-Length framing, RFC 3261 sec. 18.3). A double CRLF ping is answered with a single
CRLF pong (RFC 5626 sec. 3.5.1); with ``keepalive_interval`` set, we send the ping ourselves
on every connection (each wait 80-100 % of the interval, RFC 5626 sec. 4.4.1). A framing
error (garbage, oversize) is reported as ``Received(error=...)`` (``raw`` is the chunk that
could not be framed), then the connection is closed and ``ConnectionLost`` is emitted: after
garbage a stream cannot be re-synchronised.

TLS: ``TlsTransport`` verifies the server certificate and host name by default
(:class:`~sipclient.io.transport.TlsOptions`); the SNI and the name checked are the
``server_name`` passed to :meth:`StreamTransport.connect` (a driver passes the target's host
name there, or to ``send``), else ``tls.server_name``, else the host of the address. A failed
verification raises :class:`TlsVerificationError` whose message says how to trust the lab
certificate.

Outgoing connections bind to ``local`` (ip, port); port 0 is an ephemeral port per connection.
Sockets set ``SO_REUSEADDR`` so a fixed port is usable again right after close (TIME_WAIT).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
import ssl
from typing import Any

from sipclient.io.transport import (
    Address,
    ConnectionLost,
    EventCallback,
    Received,
    TlsOptions,
    Transport,
    TransportError,
    WILDCARDS,
    format_hostport,
    normalize_address,
    register_transport,
    tls_error,
)
from sipclient.proto.errors import ParseError
from sipclient.proto.framer import KeepAlivePing, KeepAlivePong, StreamFramer
from sipclient.proto.limits import limit

__all__ = ["StreamConnection", "StreamTransport", "TcpTransport", "TlsTransport", "PING", "PONG"]

log = logging.getLogger(__name__)

PING = b"\r\n\r\n"  # RFC 5626 sec. 3.5.1: "ping" is a double CRLF ...
PONG = b"\r\n"  # ... and the "pong" that answers it is a single CRLF

DEFAULT_MAX_MESSAGE_SIZE = 65536


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection: framing, keep-alive answers, flow control."""

    def __init__(self, owner: StreamTransport, *, incoming: bool) -> None:
        self.owner = owner
        self.incoming = incoming
        self.remote: Address = ("", 0)
        self.local: Address = ("", 0)
        self.pings_received = 0
        self.pongs_received = 0
        self.pings_sent = 0
        self.messages_received = 0
        self._framer = StreamFramer(max_message_size=owner.max_message_size)
        self._unframed = bytearray()  # our copy of what the framer holds, to name raw bytes
        self._owed: list[tuple[bytes, ParseError]] = []
        self._transport: asyncio.Transport | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._keepalive: asyncio.Task[None] | None = None
        self._close_reason: str | None = None
        self._close_error: BaseException | None = None
        #: an incoming connection must bring each message whole within tcp_message_seconds
        #: (a slowloris, or a connection that never sends, is closed; docs/limits.md)
        self._message_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is no subclass of asyncio.Transport: no isinstance check here
        self._transport = transport  # type: ignore[assignment]
        self.remote = normalize_address(transport.get_extra_info("peername"))
        self.local = normalize_address(transport.get_extra_info("sockname"))
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # SIP sends small messages back to back (ACK then INVITE): Nagle would hold the
            # second one for a delayed ACK (~40 ms on Linux).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.incoming:
            self._arm_message_timer()
            self.owner._adopt(self)

    def _arm_message_timer(self) -> None:
        if self._message_timer is None:
            self._message_timer = asyncio.get_running_loop().call_later(
                limit("tcp_message_seconds"), self._message_too_slow)

    def _message_too_slow(self) -> None:
        self._message_timer = None
        what = "a message begun" if self._framer.buffered else "any message"
        self.cut(f"{format_hostport(*self.remote)} did not send {what} whole within "
                   f"{limit('tcp_message_seconds'):g} s (tcp_message_seconds)")

    def data_received(self, data: bytes) -> None:
        before = self.messages_received
        try:
            self._feed(data)
        finally:
            if self.incoming and self.is_open:
                if self._message_timer is not None and self.messages_received > before:
                    self._message_timer.cancel()  # messages came whole: the clock restarts
                    self._message_timer = None
                if self._framer.buffered:  # a message begun: it must end in time
                    self._arm_message_timer()

    def _feed(self, data: bytes) -> None:
        self._unframed += data
        chunk = data
        while True:
            try:
                items = self._framer.feed(chunk)
            except ParseError as exc:
                if self._framer.broken:  # cannot re-synchronise: report and close
                    raw = bytes(self._unframed)
                    self._unframed.clear()
                    self.owner.emit(Received(None, exc, raw, self.remote, self.owner))
                    self.abort(f"framing error from {format_hostport(*self.remote)}: {exc}", exc)
                    return
                # Framed but malformed: the framer dropped it and hands back what came
                # before it on the next feed. Remember the bytes it consumed.
                self._owed.append((self._consumed(), exc))
                chunk = b""
                continue
            self._deliver(items)
            return

    def _consumed(self) -> bytes:
        n = len(self._unframed) - self._framer.buffered
        out = bytes(self._unframed[:n])
        del self._unframed[:n]
        return out

    def _deliver(self, items: list[Any]) -> None:
        region = self._consumed()
        pos = 0
        # Items owed from failed feeds come first, in order; each failed region is the
        # bytes of the items framed before the bad message followed by the bad message.
        for owed, exc in self._owed:
            while pos < len(items) and owed.startswith(tok := _token(items[pos], owed)):
                self._item(items[pos], tok)
                owed = owed[len(tok) :]
                pos += 1
            self.owner.emit(Received(None, exc, owed, self.remote, self.owner))
        self._owed.clear()
        for item in items[pos:]:
            tok = _token(item, region)
            region = region[len(tok) :]
            self._item(item, tok)

    def _item(self, item: Any, raw: bytes) -> None:
        if self._close_reason is not None and self.incoming:
            return  # disconnected (a limit): what it sent before is not served any more
        if isinstance(item, KeepAlivePing):
            self.pings_received += 1
            if self.is_open:
                self.write(PONG)
        elif isinstance(item, KeepAlivePong):
            self.pongs_received += 1
        else:
            self.messages_received += 1
            self.owner.emit(Received(item, None, raw, self.remote, self.owner))

    def eof_received(self) -> bool | None:
        self._close_reason = self._close_reason or "closed by peer"
        return None  # let asyncio close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._message_timer is not None:
            self._message_timer.cancel()
            self._message_timer = None
        self._can_write.set()
        reason = self._close_reason or (f"connection error: {exc}" if exc else "closed by peer")
        self.owner._forget(self)
        if not self._closed.done():
            self._closed.set_result(None)
        self.owner.emit(ConnectionLost(self.remote, self.owner, reason, self._close_error or exc))

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # API ----------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.is_open:
            raise TransportError(
                f"{self.owner.name} connection to {format_hostport(*self.remote)} is closed"
            )
        assert self._transport is not None
        self._transport.write(data)
        if self._transport.get_write_buffer_size() > limit("tcp_write_buffer_bytes"):
            # the peer does not read: what we owe it would grow without bound
            self.cut(f"{format_hostport(*self.remote)} does not read: more than "
                       f"{limit('tcp_write_buffer_bytes'):g} bytes waiting "
                       "(tcp_write_buffer_bytes)")

    async def send(self, data: bytes) -> None:
        self.write(data)
        if not self.incoming:  # our own connection: flow control (wait while the peer reads)
            await self._can_write.wait()
        # an accepted one never makes the sender wait: a peer that does not read would stall
        # the answers to every other peer; write() disconnects it beyond
        # tcp_write_buffer_bytes instead

    def ping(self) -> None:
        """Send one RFC 5626 double-CRLF ping."""
        self.write(PING)
        self.pings_sent += 1

    def start_keepalive(self, interval: float) -> None:
        if self._keepalive is None and interval > 0:
            self._keepalive = asyncio.get_running_loop().create_task(self._keepalive_loop(interval))

    async def _keepalive_loop(self, interval: float) -> None:
        # RFC 5626 sec. 4.4.1: each wait is a random 80-100 % of the interval, so that many
        # clients started together do not ping in lockstep.
        while self.is_open:
            await asyncio.sleep(interval * random.uniform(0.8, 1.0))
            if self.is_open:
                self.ping()

    def cut(self, reason: str) -> None:
        """Disconnect an accepted peer that broke a limit; answers still owed to it are
        dropped, not sent on a new connection (sipclient.io.stream.StreamTransport.send)."""
        self.owner._cut_off(self.remote, reason)
        self.abort(reason)

    def abort(self, reason: str, error: BaseException | None = None) -> None:
        self._close_reason = reason
        self._close_error = error
        if self._transport is not None:
            self._transport.abort()

    async def close(self, reason: str = "closed locally", timeout: float = 1.0) -> None:
        if self._transport is None:
            return
        self._close_reason = self._close_reason or reason
        self._transport.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._closed), timeout)
        except asyncio.TimeoutError:  # e.g. a TLS peer that never answers close_notify
            self._transport.abort()
            await self._closed

    def __repr__(self) -> str:
        way = "in" if self.incoming else "out"
        return (
            f"<StreamConnection {self.owner.name} {way} "
            f"{format_hostport(*self.local)} <-> {format_hostport(*self.remote)}>"
        )


def _token(item: Any, region: bytes) -> bytes:
    """The bytes ``item`` was framed from, given the bytes that start with them."""
    if isinstance(item, KeepAlivePing):
        return PING
    if isinstance(item, KeepAlivePong):
        return PONG if region.startswith(PONG) else b"\n"  # the framer accepts a bare LF
    return bytes(item)  # a received message serialises to its bytes, byte for byte


class StreamTransport(Transport):
    """Connections of one stream kind (TCP or TLS), keyed by remote address."""

    reliable = True

    def __init__(
        self,
        on_event: EventCallback,
        *,
        local: Address = ("0.0.0.0", 0),
        tls: TlsOptions | None = None,
        keepalive_interval: float | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(on_event)
        self.bind_address: Address = local
        self.tls = tls
        self.keepalive_interval = keepalive_interval
        self.max_message_size = max_message_size
        self.connect_timeout = connect_timeout
        self.connections: dict[Address, StreamConnection] = {}
        #: accepted connections, oldest first (bounded by tcp_connections)
        self._incoming: dict[StreamConnection, None] = {}
        #: peers disconnected for a limit -> why (the newest 1024): nothing is sent to them
        #: on a new connection until they connect again
        self._cut: dict[Address, str] = {}
        self.connects = 0  # outgoing connections opened so far (for tests and reports)
        self._connecting: dict[Address, asyncio.Future[StreamConnection]] = {}
        self._server: asyncio.base_events.Server | None = None
        self._listen_address: Address | None = None
        self._client_ctx: ssl.SSLContext | None = None

    @classmethod
    async def create(
        cls,
        *,
        on_event: EventCallback,
        local: Address = ("0.0.0.0", 0),
        listen: bool = False,
        tls: TlsOptions | None = None,
        keepalive_interval: float | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        connect_timeout: float = 10.0,
    ) -> StreamTransport:
        """A transport that connects from ``local`` and, with ``listen=True``, accepts on it."""
        self = cls(
            on_event,
            local=local,
            tls=tls,
            keepalive_interval=keepalive_interval,
            max_message_size=max_message_size,
            connect_timeout=connect_timeout,
        )
        if listen:
            await self.listen(local)
        return self

    # addresses ----------------------------------------------------------------------------

    @property
    def local_address(self) -> Address:
        """The listening address, else the local end of the newest connection, else the bind
        address. Use :meth:`local_address_for` for the address toward one peer."""
        if self._listen_address is not None:
            return self._listen_address
        for conn in reversed(list(self.connections.values())):
            return conn.local
        return self.bind_address

    async def local_address_for(self, addr: Address | None = None) -> Address:
        """The local end of the connection to ``addr`` (opened now if needed)."""
        if addr is None:
            return await super().local_address_for(None)
        return (await self.connect(addr)).local

    # listening ----------------------------------------------------------------------------

    async def listen(self, local: Address | None = None) -> Address:
        """Accept connections on ``local`` (default: the bind address); returns the address."""
        if self._server is not None:
            raise TransportError(f"{self!r} is already listening")
        host, port = local or self.bind_address
        ssl_ctx = self._server_context()
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: StreamConnection(self, incoming=True),
                host,
                port,
                ssl=ssl_ctx,
                reuse_address=True,
            )
        except OSError as exc:
            raise TransportError(
                f"cannot listen on {self.name} {format_hostport(host, port)}: {exc.strerror}"
            ) from exc
        self._listen_address = normalize_address(self._server.sockets[0].getsockname())
        return self._listen_address

    def _server_context(self) -> ssl.SSLContext | None:
        return None

    def _adopt(self, conn: StreamConnection) -> None:
        # An accepted connection is reusable for sending back to its peer (RFC 3261 18.2.2).
        if self._closed:
            conn.abort("transport closed")
            return
        self.connections.setdefault(conn.remote, conn)
        self._cut.pop(conn.remote, None)
        self._incoming[conn] = None
        most = int(limit("tcp_connections"))
        if len(self._incoming) > most:
            # a flood of connections: the oldest that never sent a message makes room (as a
            # TCP stack drops its oldest half-open connection), else the newcomer is refused
            victim = next((c for c in self._incoming if not c.messages_received), conn)
            victim.cut(f"more than {most} incoming connections (tcp_connections)")
            self._incoming.pop(victim, None)
            if victim is conn:
                return
        if self.keepalive_interval:
            conn.start_keepalive(self.keepalive_interval)

    def _cut_off(self, addr: Address, reason: str) -> None:
        self._cut[addr] = reason
        if len(self._cut) > 1024:
            del self._cut[next(iter(self._cut))]

    def _forget(self, conn: StreamConnection) -> None:
        self._incoming.pop(conn, None)
        if self.connections.get(conn.remote) is conn:
            del self.connections[conn.remote]

    # connecting ---------------------------------------------------------------------------

    def _client_context(self) -> ssl.SSLContext | None:
        return None

    def _server_name(self, addr: Address, server_name: str | None) -> str | None:
        return None

    async def connect(self, addr: Address, *, server_name: str | None = None) -> StreamConnection:
        """The open connection to ``addr``, or a new one (concurrent callers share it)."""
        addr = (addr[0], int(addr[1]))
        if self._closed:
            raise TransportError(f"{self!r} is closed")
        conn = self.connections.get(addr)
        if conn is not None and conn.is_open:
            return conn
        pending = self._connecting.get(addr)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[StreamConnection] = asyncio.get_running_loop().create_future()
        self._connecting[addr] = fut
        try:
            conn = await self._open(addr, server_name)
        except BaseException as exc:
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: nobody else may be waiting
            raise
        else:
            fut.set_result(conn)
            return conn
        finally:
            self._connecting.pop(addr, None)

    async def _open(self, addr: Address, server_name: str | None) -> StreamConnection:
        loop = asyncio.get_running_loop()
        host, port = self.bind_address
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if host not in WILDCARDS or port:
                if (":" in host) != (family == socket.AF_INET6):
                    raise TransportError(
                        f"cannot reach {format_hostport(*addr)} from {format_hostport(host, port)}:"
                        " address families differ"
                    )
                sock.bind((host, port))
            await asyncio.wait_for(loop.sock_connect(sock, addr), self.connect_timeout)
        except TransportError:
            sock.close()
            raise
        except asyncio.TimeoutError:
            sock.close()
            raise TransportError(
                f"{self.name} connect to {format_hostport(*addr)} timed out "
                f"after {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            sock.close()
            what = "bind" if exc.errno == errno.EADDRINUSE else "connect"
            raise TransportError(
                f"cannot {what} {self.name} {format_hostport(host, port)} -> "
                f"{format_hostport(*addr)}: {exc.strerror or exc}"
            ) from exc

        ssl_ctx = self._client_context()
        name = self._server_name(addr, server_name)
        conn = StreamConnection(self, incoming=False)
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: conn,
                    sock=sock,
                    ssl=ssl_ctx,
                    server_hostname=name if ssl_ctx is not None else None,
                    ssl_handshake_timeout=self.connect_timeout if ssl_ctx is not None else None,
                ),
                self.connect_timeout + 1,
            )
        except ssl.SSLError as exc:
            sock.close()
            raise tls_error(exc, name or addr[0], addr) from exc
        except (OSError, asyncio.TimeoutError) as exc:
            sock.close()
            raise TransportError(
                f"{self.name} connection to {format_hostport(*addr)} failed: {exc or 'timeout'}"
            ) from exc
        self.connects += 1
        if self._closed:  # closed while we were connecting
            await conn.close("transport closed")
            raise TransportError(f"{self!r} is closed")
        self.connections[addr] = conn
        if self.keepalive_interval:
            conn.start_keepalive(self.keepalive_interval)
        return conn

    # sending and closing ------------------------------------------------------------------

    async def send(self, data: bytes, addr: Address, *, server_name: str | None = None) -> None:
        """Write ``data`` (raw bytes) on the connection to ``addr``, opening it if needed
        (``server_name``: the TLS SNI and name to verify when a connection is opened)."""
        if addr in self._cut and not getattr(self.connections.get(addr), "is_open", False):
            raise TransportError(f"{format_hostport(*addr)} was disconnected: {self._cut[addr]}")
        conn = await self.connect(addr, server_name=server_name)
        await conn.send(bytes(data))

    async def ping(self, addr: Address) -> None:
        """Send one RFC 5626 double-CRLF ping to ``addr`` (connecting if needed)."""
        (await self.connect(addr)).ping()

    async def close(self) -> None:
        if not self._begin_close():
            return
        if self._server is not None:
            self._server.close()
        conns = list(self.connections.values())
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


class TcpTransport(StreamTransport):
    """SIP over TCP (RFC 3261 sec. 18)."""

    name = "tcp"


class TlsTransport(StreamTransport):
    """SIP over TLS (RFC 3261 sec. 26.2.1, RFC 5922): verification on by default."""

    name = "tls"

    def __init__(self, on_event: EventCallback, **kwargs: Any) -> None:
        if kwargs.get("tls") is None:
            kwargs["tls"] = TlsOptions()
        super().__init__(on_event, **kwargs)

    def _client_context(self) -> ssl.SSLContext:
        if self._client_ctx is None:
            assert self.tls is not None
            self._client_ctx = self.tls.client_context()
        return self._client_ctx

    def _server_context(self) -> ssl.SSLContext:
        assert self.tls is not None
        return self.tls.server_context()

    def _server_name(self, addr: Address, server_name: str | None) -> str:
        assert self.tls is not None
        return server_name or self.tls.server_name or addr[0]


async def open_tcp(*, on_event: EventCallback, **options: Any) -> StreamTransport:
    return await TcpTransport.create(on_event=on_event, **options)


async def open_tls(*, on_event: EventCallback, **options: Any) -> StreamTransport:
    return await TlsTransport.create(on_event=on_event, **options)


register_transport("tcp", open_tcp)
register_transport("tls", open_tls)
