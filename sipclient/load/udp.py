"""The UDP transport of load runs: batched reads, direct sends, large socket buffers.

asyncio's datagram transport reads ONE datagram per readiness event, and due timers run in
the same loop iteration. Under a backlog (thousands of responses queued in the socket), the
SIP core's retransmission timers (A, E: 500 ms) then fire before the responses already
received are read, and INVITEs are sent again after their 200 - which SIPp's UAS, for one,
treats as an unexpected message and aborts the call. This transport drains up to
:data:`BATCH` datagrams per readiness event (like SIPp's ``-max_recv_loops``), sends with
one ``sendto`` (no task, no queue), and asks for :data:`SOCKET_BUFFER` bytes of socket
buffers. Otherwise it is a :class:`~sipclient.io.udp.UdpTransport` (same events, same
parser, same errors).
"""

from __future__ import annotations

import asyncio
import errno
import socket

from sipclient.io.transport import (Address, EventCallback, Transport, TransportError,
                                    format_hostport, normalize_address)
from sipclient.proto.message import parse_message

__all__ = ["BatchUdpTransport", "BATCH", "SOCKET_BUFFER"]

#: datagrams read per readiness event at most (then the loop runs timers and tasks)
BATCH = 512
#: socket buffers asked for (the kernel caps them at net.core.rmem_max / wmem_max)
SOCKET_BUFFER = 4 * 1024 * 1024


class BatchUdpTransport(Transport):
    name = "udp"
    reliable = False

    def __init__(self, on_event: EventCallback, sock: socket.socket) -> None:
        super().__init__(on_event)
        self._sock = sock
        self._local = normalize_address(sock.getsockname())
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._read_ready)
        self.datagrams_sent = 0
        self.datagrams_received = 0

    @classmethod
    async def bind(cls, local: Address, *, on_event: EventCallback) -> "BatchUdpTransport":
        host, port = local
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            why = ("is already in use" if exc.errno == errno.EADDRINUSE
                   else f"cannot be bound: {exc.strerror}")
            raise TransportError(f"UDP {format_hostport(host, port)} {why}") from exc
        return cls(on_event, sock)

    @property
    def local_address(self) -> Address:
        return self._local

    def _read_ready(self) -> None:
        for _ in range(BATCH):
            try:
                data, addr = self._sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP errors of earlier sends: UDP has nothing to lose
                continue
            self.datagrams_received += 1
            if data.strip(b" \t\r\n"):
                self.emit_parsed(data, normalize_address(addr), parse_message)

    async def send(self, data: bytes, addr: Address) -> None:
        self.send_now(data, addr)

    def send_now(self, data: bytes, addr: Address) -> None:
        if self._closed:
            raise TransportError(f"{self!r} is closed")
        try:
            self._sock.sendto(data, (addr[0], int(addr[1])))
        except BlockingIOError:
            raise TransportError("UDP send buffer full") from None
        self.datagrams_sent += 1

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
