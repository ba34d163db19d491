"""UDP transport (RFC 3261 sec. 18.1.1 / 18.2.1): one datagram is one SIP message.

    t = await UdpTransport.bind(("127.0.0.5", 5070), on_event=queue)   # port 0 = ephemeral
    await t.send(bytes(request), ("127.0.0.1", 5060))
    await t.close()

Binding is exclusive: no ``SO_REUSEADDR``/``SO_REUSEPORT``, so two agents that try to hold the
same (address, port) *at the same time* get a clear :class:`TransportError` (on Linux,
``SO_REUSEADDR`` would let a second UDP socket silently steal the first one's traffic). A
closed UDP port has no TIME_WAIT, so the same (address, port) can be bound again right after
:meth:`close` -- which is how two agents reproduce the "same public address and source port"
conflict one after the other on 127.0.0.x addresses.

Every datagram goes through ``sipclient.proto.message.parse_message``; garbage is emitted as
``Received(error=ParseError)``, never raised. Whitespace-only datagrams (CRLF keep-alives
that many phones send over UDP) are counted in ``keepalives_received`` and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import Any

from sipclient.io.transport import (
    Address,
    EventCallback,
    Transport,
    TransportError,
    format_hostport,
    normalize_address,
    register_transport,
)
from sipclient.proto.message import parse_message

__all__ = ["UdpTransport", "open_udp"]

log = logging.getLogger(__name__)

MAX_DATAGRAM_V4 = 65507  # 65535 - 20 (IPv4 header) - 8 (UDP header)
MAX_DATAGRAM_V6 = 65527  # 65535 - 8: the IPv6 payload length does not count its header


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner._datagram_received(data, normalize_address(addr))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: UDP has no connection to lose; log only.
        log.debug("udp %s: %s", self.owner, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.owner._closed_future.done():
            self.owner._closed_future.set_result(None)


class UdpTransport(Transport):
    """An unreliable datagram transport bound to one local (address, port)."""

    name = "udp"
    reliable = False

    def __init__(self, on_event: EventCallback) -> None:
        super().__init__(on_event)
        self._dgram: asyncio.DatagramTransport | None = None
        self._local: Address = ("0.0.0.0", 0)
        self._closed_future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.keepalives_received = 0
        self.datagrams_sent = 0
        self.datagrams_received = 0

    @classmethod
    async def bind(
        cls, local: Address = ("0.0.0.0", 0), *, on_event: EventCallback
    ) -> UdpTransport:
        """Bind to ``local`` = (ip, port); raises TransportError if it is taken."""
        self = cls(on_event)
        host, port = local
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise TransportError(
                    f"UDP {format_hostport(host, port)} is already in use by another socket "
                    "(two agents cannot share an address and port at the same time)"
                ) from exc
            raise TransportError(
                f"cannot bind UDP {format_hostport(host, port)}: {exc.strerror}"
            ) from exc
        loop = asyncio.get_running_loop()
        dgram, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=sock)
        self._dgram = dgram
        self._local = normalize_address(sock.getsockname())
        return self

    @property
    def local_address(self) -> Address:
        return self._local

    async def send(self, data: bytes, addr: Address) -> None:
        """Send ``data`` as one datagram to ``addr`` (bytes exactly as given)."""
        if self._closed or self._dgram is None:
            raise TransportError(f"{self!r} is closed")
        limit = MAX_DATAGRAM_V6 if ":" in self._local[0] else MAX_DATAGRAM_V4
        if len(data) > limit:
            # asyncio would only log EMSGSIZE; say it (RFC 3261 sec. 18.1.1: use TCP instead)
            raise TransportError(
                f"a {len(data)}-byte message does not fit in one UDP datagram (max {limit}); "
                "send it over TCP"
            )
        self._dgram.sendto(bytes(data), (addr[0], int(addr[1])))
        self.datagrams_sent += 1

    def _datagram_received(self, data: bytes, addr: Address) -> None:
        if self._closed:
            return
        self.datagrams_received += 1
        if not data.strip(b" \t\r\n"):
            self.keepalives_received += 1
            return
        self.emit_parsed(data, addr, parse_message)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._dgram is not None:
            self._dgram.close()
            await self._closed_future


async def open_udp(*, on_event: EventCallback, local: Address = ("0.0.0.0", 0)) -> UdpTransport:
    return await UdpTransport.bind(local, on_event=on_event)


register_transport("udp", open_udp)
