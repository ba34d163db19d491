"""Listening for SIP over WebSocket, WS and WSS (RFC 7118), on the ``websockets`` server.

    t = await WsListener.create(on_event=queue, local=("127.0.0.1", 5080), path="/ws")
    ident = await t.identity()          # Via/Contact: 127.0.0.1:5080;transport=ws
    await t.send(bytes(response), addr) # over the connection that peer opened

The handshake must select the ``sip`` subprotocol (RFC 7118 4.1): a client that does not
offer it is refused. Each connection is kept by its remote address; every frame is one SIP
message (``frame_websocket_message``; whitespace-only frames are keep-alives). A message to
an address with no open connection is an error (a WebSocket server cannot connect back,
RFC 7118 5). ``wss`` needs ``TlsOptions(cert_file=..., key_file=...)``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from sipclient.io.transport import (Address, ConnectionLost, EventCallback, LocalIdentity,
                                    TlsOptions, Transport, TransportError, format_hostport,
                                    normalize_address)
from sipclient.io.ws import SUBPROTOCOL, deliver_frame, frame_payload

__all__ = ["WsListener"]

log = logging.getLogger(__name__)


class WsListener(Transport):
    """Accepts WebSocket connections carrying SIP (``name`` is ``ws`` or ``wss``)."""

    reliable = True

    def __init__(self, on_event: EventCallback, secure: bool, path: str) -> None:
        super().__init__(on_event)
        self.name = "wss" if secure else "ws"
        self.path = path or "/"
        self.keepalives_received = 0
        self._server: Server | None = None
        self._local: Address = ("0.0.0.0", 0)
        self._conns: dict[Address, ServerConnection] = {}

    @classmethod
    async def create(cls, *, on_event: EventCallback, local: Address, path: str = "/",
                     tls: TlsOptions | None = None, max_message_size: int = 1 << 20
                     ) -> "WsListener":
        secure = tls is not None
        self = cls(on_event, secure, path)
        context = None
        if secure:
            assert tls is not None
            if not (tls.cert_file and tls.key_file):
                raise TransportError("a WSS listener needs TlsOptions(cert_file=..., "
                                     "key_file=...)")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            try:
                context.load_cert_chain(tls.cert_file, tls.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise TransportError(f"cannot load {tls.cert_file}: {exc}") from exc
        host, port = local
        try:
            self._server = await serve(self._handle, host, port, ssl=context,
                                       subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                                       compression=None, max_size=max_message_size,
                                       process_request=self._check_path)
        except OSError as exc:
            raise TransportError(f"cannot listen on {self.name} "
                                 f"{format_hostport(host, port)}: {exc.strerror}") from exc
        self._local = normalize_address(next(iter(self._server.sockets)).getsockname())
        return self

    def _check_path(self, conn: ServerConnection, request: Any) -> Any:
        if self.path not in ("", "/") and request.path.split("?", 1)[0] != self.path:
            return conn.respond(404, f"SIP over WebSocket is served on {self.path}\n")
        return None

    # addresses and identity ---------------------------------------------------------------

    @property
    def local_address(self) -> Address:
        return self._local

    async def local_address_for(self, addr: Address | None = None) -> Address:
        return self._local

    async def identity(self, addr: Address | None = None) -> LocalIdentity:
        host, port = self._local
        return LocalIdentity(self.name.upper(), host, port, host, port,
                             (("transport", self.name),))

    @property
    def connections(self) -> list[Address]:
        return list(self._conns)

    # I/O ----------------------------------------------------------------------------------

    async def send(self, data: bytes, addr: Address | None = None) -> None:
        """One frame (text if UTF-8, else binary) over the connection from ``addr``."""
        if self._closed:
            raise TransportError(f"{self!r} is closed")
        conn = self._conns.get(normalize_address(addr)) if addr is not None else None
        if conn is None:
            raise TransportError(f"no {self.name} connection from {addr} (a WebSocket server "
                                 "cannot connect to a client, RFC 7118 5)")
        try:
            await conn.send(frame_payload(data))
        except ConnectionClosed as exc:
            raise TransportError(f"{self.name} connection from {addr} is closed: {exc}") from exc

    async def _handle(self, conn: ServerConnection) -> None:
        remote = normalize_address(conn.remote_address)
        if conn.subprotocol != SUBPROTOCOL:
            await conn.close(1002, "SIP subprotocol required (RFC 7118)")
            return
        self._conns[remote] = conn
        reason = "closed by peer"
        try:
            while True:
                try:
                    frame = await conn.recv()
                except ConnectionClosed:
                    reason = "closed locally" if self._closed else "closed by peer"
                    break
                self._frame(frame, remote)
        finally:
            self._conns.pop(remote, None)
            self.emit(ConnectionLost(remote, self, reason, None))

    def _frame(self, frame: str | bytes, remote: Address) -> None:
        if not deliver_frame(self, frame, remote):  # a keep-alive frame (RFC 7118 6)
            self.keepalives_received += 1

    async def close(self) -> None:
        if not self._begin_close():
            return
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 3.0)
            except asyncio.TimeoutError:
                log.warning("%r: connections still open after 3 s", self)
