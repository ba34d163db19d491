"""A small asyncio HTTP/1.1 server for the twin and the webhook receivers.

One request per connection (``Connection: close``). With an SSL context it still accepts
plain HTTP on the same port: it peeks at the first byte (a TLS handshake starts with 0x16)
and hands plain requests to ``plain_handler``, so the twin can answer ``http://`` with seed
001's ``["Status","Erro de Protocolo"]`` as the document says.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Awaitable, Callable

from sipclient.http.wire import (MAX_HEAD, HttpRequest, HttpResponse, WireError, body_length,
                                 build_response, parse_head, text_response)
from sipclient.proto.limits import limit

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]
log = logging.getLogger("sipclient.http.server")


class HttpServer:
    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None,
                 plain_handler: Handler | None = None, read_timeout: float | None = None) -> None:
        self.handler = handler
        self.plain_handler = plain_handler
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        #: seconds each read of a request (head, body) may take: slowloris is bounded
        self.read_timeout = read_timeout if read_timeout is not None else \
            limit("http_header_seconds")
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._conns: set[asyncio.Task[None]] = set()

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context else "http"

    def url(self, path: str = "", scheme: str | None = None) -> str:
        return f"{scheme or self.scheme}://{self.host}:{self.port}{path}"

    async def start(self) -> "HttpServer":
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        sock.listen(64)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._task = asyncio.get_running_loop().create_task(self._accept_loop())
        return self

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        if self._sock:
            self._sock.close()
            self._sock = None

    async def __aenter__(self) -> "HttpServer":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._sock is not None
        while True:
            conn, addr = await loop.sock_accept(self._sock)
            task = loop.create_task(self._serve(conn, addr))
            self._conns.add(task)
            task.add_done_callback(self._conns.discard)

    async def _serve(self, conn: socket.socket, addr: tuple) -> None:
        loop = asyncio.get_running_loop()
        writer: asyncio.StreamWriter | None = None
        try:
            conn.setblocking(False)
            use_tls = False
            if self.ssl_context is not None:
                first = await self._peek(conn)
                use_tls = first[:1] == b"\x16"
            reader = asyncio.StreamReader(limit=MAX_HEAD * 2)
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, conn, ssl=self.ssl_context if use_tls else None,
                ssl_handshake_timeout=self.read_timeout if use_tls else None)
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            handler = self.handler
            if self.ssl_context is not None and not use_tls:
                handler = self.plain_handler or _plain_refused
            response = await self._one_request(reader, (addr[0], addr[1]), use_tls, handler)
            writer.write(build_response(response))
            await writer.drain()
        except (ConnectionError, asyncio.TimeoutError, ssl.SSLError, asyncio.IncompleteReadError,
                OSError) as exc:
            log.debug("connection from %s dropped: %s", addr, exc)
        finally:
            if writer is not None:
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 2)
                except (Exception, asyncio.CancelledError):  # noqa: BLE001 - best effort close
                    pass
            else:
                conn.close()

    async def _peek(self, conn: socket.socket) -> bytes:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = conn.fileno()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, self.read_timeout)
        finally:
            loop.remove_reader(fd)
        return conn.recv(1, socket.MSG_PEEK)

    async def _one_request(self, reader: asyncio.StreamReader, peer: tuple[str, int],
                           tls: bool, handler: Handler) -> HttpResponse:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.read_timeout)
            method, target, headers = parse_head(head[:-4])
            length = body_length(headers)
            body = await asyncio.wait_for(reader.readexactly(length), self.read_timeout)
        except WireError as exc:
            return text_response(f"{exc}\n", exc.status)
        except asyncio.LimitOverrunError:
            return text_response("request head too large\n", 431)
        request = HttpRequest(method, target, headers, body, peer, tls)
        try:
            return await handler(request)
        except WireError as exc:
            return text_response(f"{exc}\n", exc.status)
        except Exception:  # noqa: BLE001 - a handler bug must answer 500, not kill the server
            log.exception("handler failed for %s %s", method, target)
            return text_response("internal error\n", 500)


async def _plain_refused(request: HttpRequest) -> HttpResponse:
    return text_response("this port speaks HTTPS only\n", 400)
