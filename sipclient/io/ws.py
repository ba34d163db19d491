"""SIP over WebSocket, WS and WSS (RFC 7118), on top of the ``websockets`` client.

    t = await WsTransport.connect("wss://pbx.example:8089/ws", on_event=queue,
                                  tls=TlsOptions(insecure=True))
    ident = await t.identity()          # Via: SIP/2.0/WSS k3j9x0a1b2c3.invalid
    await t.send(bytes(request))        # addr is optional: one transport = one connection
    await t.close()

The handshake offers the ``sip`` subprotocol (RFC 7118 sec. 4.1) and refuses a server that does
not select it. Each WebSocket message carries exactly one SIP message (sec. 5.1), so there is
no Content-Length framing: every frame goes through
``sipclient.proto.framer.frame_websocket_message``. Whitespace-only frames -- the ``"\\r\\n\\r\\n"``
keep-alives Asterisk sends -- are counted in ``keepalives_received`` and skipped. The reader
survives anything a frame or the ``on_event`` callback can throw: garbage becomes
``Received(error=ParseError)`` and the next frame is read (a reader that died silently would
lose the BYE that comes later). Only the end of the connection stops it, with
``ConnectionLost``.

Messages go out as text frames when they are valid UTF-8 (sec. 5.1 allows both; text is what
browsers and Asterisk use) and as binary frames otherwise, so broken bytes still go out as
given.

Via and Contact use a random ``<token>.invalid`` host (sec. 5.2: the client has no reachable
address); :meth:`WsTransport.identity` returns it with Via token ``WS``/``WSS`` and Contact
parameter ``transport=ws``/``wss``. TLS for ``wss://`` follows
:class:`~sipclient.io.transport.TlsOptions`: verification on by default, SNI = the URL host.
No proxy is ever used (websockets would otherwise honour ``*_proxy`` environment variables).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from sipclient.io.transport import (
    Address,
    ConnectionLost,
    EventCallback,
    LocalIdentity,
    Received,
    TlsOptions,
    Transport,
    TransportError,
    normalize_address,
    random_invalid_host,
    register_transport,
    tls_error,
)
from sipclient.proto.errors import ParseError
from sipclient.proto.framer import frame_websocket_message

__all__ = ["WsTransport", "SUBPROTOCOL", "KEEPALIVE_FRAME", "deliver_frame", "frame_payload"]

log = logging.getLogger(__name__)

SUBPROTOCOL = "sip"
KEEPALIVE_FRAME = "\r\n\r\n"


class WsTransport(Transport):
    """One WebSocket connection carrying SIP (``name`` is ``ws`` or ``wss``)."""

    reliable = True

    def __init__(self, on_event: EventCallback, url: str, secure: bool) -> None:
        super().__init__(on_event)
        self.url = url
        self.name = "wss" if secure else "ws"
        self.via_host = random_invalid_host()
        self.keepalives_received = 0
        self.keepalives_sent = 0
        self.frames_received = 0
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._local: Address = ("0.0.0.0", 0)
        self._remote: Address = ("0.0.0.0", 0)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        on_event: EventCallback,
        tls: TlsOptions | None = None,
        local: Address | None = None,
        open_timeout: float = 10.0,
        ping_interval: float | None = None,
        keepalive_interval: float | None = None,
        max_message_size: int = 1 << 20,
        headers: dict[str, str] | None = None,
    ) -> WsTransport:
        """Open ``ws://`` or ``wss://`` ``url`` with subprotocol ``sip``.

        ``local`` binds the client socket; ``ping_interval`` enables WebSocket pings;
        ``keepalive_interval`` sends ``"\\r\\n\\r\\n"`` text frames like Asterisk does.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("ws", "wss") or not parts.hostname:
            raise TransportError(f"not a WebSocket URL: {url!r} (expected ws://host[:port]/path "
                                 "or wss://host[:port]/path)")
        secure = scheme == "wss"
        self = cls(on_event, url, secure)
        kwargs: dict[str, Any] = {}
        server_name = parts.hostname
        if secure:
            opts = tls or TlsOptions()
            kwargs["ssl"] = opts.client_context()
            server_name = opts.server_name or parts.hostname
            kwargs["server_hostname"] = server_name
        if local is not None:
            kwargs["local_addr"] = local
        port = parts.port or (443 if secure else 80)
        addr = (parts.hostname, port)
        try:
            ws = await ws_connect(
                url,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                open_timeout=open_timeout,
                ping_interval=ping_interval,
                compression=None,
                proxy=None,
                max_size=max_message_size,
                additional_headers=headers,
                **kwargs,
            )
        except ssl.SSLError as exc:
            raise tls_error(exc, server_name, addr) from exc
        except (InvalidHandshake, InvalidURI) as exc:
            raise TransportError(f"WebSocket handshake with {url} failed: {exc}") from exc
        except (OSError, asyncio.TimeoutError) as exc:
            raise TransportError(f"cannot connect to {url}: {exc or 'timeout'}") from exc
        if ws.subprotocol != SUBPROTOCOL:
            await ws.close(1002, "SIP subprotocol required")
            raise TransportError(
                f"{url} did not accept the 'sip' WebSocket subprotocol (RFC 7118 sec. 4.1); "
                f"it answered {ws.subprotocol!r}"
            )
        self._ws = ws
        self._local = normalize_address(ws.local_address)
        self._remote = normalize_address(ws.remote_address)
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read_loop(), name=f"sip-{self.name}-reader")
        if keepalive_interval:
            self._keepalive = loop.create_task(self._keepalive_loop(keepalive_interval))
        return self

    # addresses and identity ---------------------------------------------------------------

    @property
    def local_address(self) -> Address:
        return self._local

    @property
    def remote_address(self) -> Address:
        return self._remote

    async def local_address_for(self, addr: Address | None = None) -> Address:
        return self._local

    async def identity(self, addr: Address | None = None) -> LocalIdentity:
        """Via ``SIP/2.0/WS(S) <random>.invalid``; Contact ``<random>.invalid;transport=ws(s)``."""
        return LocalIdentity(
            self.name.upper(), self.via_host, None, self.via_host, None, (("transport", self.name),)
        )

    # I/O ----------------------------------------------------------------------------------

    async def send(self, data: bytes, addr: Address | None = None) -> None:
        """Send ``data`` as one frame (text if UTF-8, else binary); ``addr`` is ignored."""
        if self._closed or self._ws is None:
            raise TransportError(f"{self!r} is closed")
        try:
            await self._ws.send(frame_payload(data))
        except ConnectionClosed as exc:
            raise TransportError(f"WebSocket {self.url} is closed: {exc}") from exc

    async def _read_loop(self) -> None:
        assert self._ws is not None
        reason = "closed by peer"
        error: BaseException | None = None
        try:
            while True:
                try:
                    frame = await self._ws.recv()
                except ConnectionClosed as exc:
                    reason = "closed locally" if self._closed else _closed_reason(exc)
                    break
                self.frames_received += 1
                self._handle_frame(frame)
        except asyncio.CancelledError:
            reason = "closed locally"
            raise
        except Exception as exc:  # noqa: BLE001 - report, never die silently
            log.exception("%r: reader failed", self)
            reason, error = f"reader failed: {exc!r}", exc
        finally:
            self.emit(ConnectionLost(self._remote, self, reason, error))

    def _handle_frame(self, frame: str | bytes) -> None:
        if not deliver_frame(self, frame, self._remote):
            self.keepalives_received += 1

    async def _keepalive_loop(self, interval: float) -> None:
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                await self.send(KEEPALIVE_FRAME.encode())
            except TransportError:
                return
            self.keepalives_sent += 1

    async def close(self) -> None:
        if not self._begin_close():
            return
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 2.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        if self._keepalive is not None:
            try:
                await self._keepalive
            except asyncio.CancelledError:
                pass


def frame_payload(data: bytes) -> str | bytes:
    """A SIP message as one frame: text when it is valid UTF-8 (RFC 7118 5.1), else binary."""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return bytes(data)


def deliver_frame(transport: Transport, frame: str | bytes, remote: Address) -> bool:
    """Emit the SIP message one frame carries (or the ParseError it raised) from ``remote``;
    False for a whitespace-only keep-alive frame (RFC 7118 6, Asterisk)."""
    raw = frame.encode("utf-8") if isinstance(frame, str) else bytes(frame)
    try:
        msg = frame_websocket_message(raw)
    except ParseError as exc:
        transport.emit(Received(None, exc, raw, remote, transport))
        return True
    except Exception as exc:  # noqa: BLE001 - a framer bug is garbage, not a dead reader
        log.exception("%r: framer crashed", transport)
        transport.emit(Received(None, ParseError(f"framer crashed: {exc!r}"), raw, remote,
                                transport))
        return True
    if msg is None:
        return False
    transport.emit_parsed(raw, remote, lambda _raw: msg)
    return True


def _closed_reason(exc: ConnectionClosed) -> str:
    rcvd = exc.rcvd
    if rcvd is None:
        return "connection dropped without a close frame"
    text = f" ({rcvd.reason})" if rcvd.reason else ""
    return f"closed by peer with code {rcvd.code}{text}"


async def open_ws(*, on_event: EventCallback, url: str, **options: Any) -> WsTransport:
    return await WsTransport.connect(url, on_event=on_event, **options)


register_transport("ws", open_ws)
register_transport("wss", open_ws)
