"""WS and WSS (RFC 7118) against a local websockets server that speaks subprotocol "sip"."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from sipclient.io.transport import (
    ConnectionLost,
    EventQueue,
    TlsOptions,
    TlsVerificationError,
    TransportError,
)
from sipclient.io.ws import WsTransport

from .util import invite, ok, register


@contextlib.asynccontextmanager
async def asterisk_like_server(ssl_context=None, subprotocols=("sip",)):
    """Answers every request with 200 OK, sending "\\r\\n\\r\\n" keep-alive frames first,
    then sends garbage and a BYE-like INVITE, like a PBX that keeps talking."""
    received: list[str | bytes] = []

    async def handler(ws):
        with contextlib.suppress(ConnectionClosed):
            await answer(ws)

    async def answer(ws):
        async for frame in ws:
            received.append(frame)
            data = frame.encode() if isinstance(frame, str) else frame
            await ws.send("\r\n\r\n")  # Asterisk's keep-alive frame
            await ws.send("\r\n")
            await ws.send(ok(data).decode())
            await ws.send("garbage that is not SIP\r\n\r\n")
            await ws.send(invite(9, via="SIP/2.0/WSS 127.0.0.1:8089").decode())

    async with serve(
        handler, "127.0.0.1", 0, subprotocols=list(subprotocols) or None, ssl=ssl_context
    ) as server:
        port = server.sockets[0].getsockname()[1]
        yield port, received


def _check_conversation(q: EventQueue, transport: WsTransport):
    async def check():
        answer = await q.received(timeout=3)
        assert answer.ok and answer.message.status == 200
        garbage = await q.received(timeout=3)
        assert garbage.error is not None and garbage.raw.startswith(b"garbage")
        later = await q.received(timeout=3)  # the reader survived both
        assert later.ok and later.message.method == "INVITE"
        assert later.transport is transport
        assert transport.keepalives_received == 2

    return check()


@pytest.mark.asyncio
async def test_ws_reader_survives_keepalive_frames_and_garbage():
    async with asyncio.timeout(10):
        async with asterisk_like_server() as (port, received):
            q = EventQueue()
            t = await WsTransport.connect(f"ws://127.0.0.1:{port}/ws", on_event=q)
            try:
                assert t.name == "ws" and t.reliable
                req = register(via="SIP/2.0/WS abc.invalid")
                await t.send(req)
                await _check_conversation(q, t)
                assert received == [req.decode()]  # sent as a text frame
            finally:
                await t.close()
            lost = await q.get(timeout=2)
            assert isinstance(lost, ConnectionLost) and lost.reason == "closed locally"


@pytest.mark.asyncio
async def test_wss_with_verification(self_signed):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(self_signed.cert, self_signed.key)

    async with asyncio.timeout(10):
        async with asterisk_like_server(server_ctx) as (port, received):
            url = f"wss://localhost:{port}/ws"
            with pytest.raises(TlsVerificationError, match="insecure=True"):
                await WsTransport.connect(url, on_event=EventQueue())
            for opts in (TlsOptions(insecure=True), TlsOptions(ca_file=self_signed.cert)):
                q = EventQueue()
                t = await WsTransport.connect(url, on_event=q, tls=opts)
                try:
                    assert t.name == "wss"
                    await t.send(register(via="SIP/2.0/WSS abc.invalid"))
                    await _check_conversation(q, t)
                finally:
                    await t.close()


@pytest.mark.asyncio
async def test_identity_uses_a_random_invalid_host():
    async with asyncio.timeout(10):
        async with asterisk_like_server() as (port, _):
            t = await WsTransport.connect(f"ws://127.0.0.1:{port}/ws", on_event=EventQueue())
            try:
                ident = await t.identity()
                assert ident.via_transport == "WS"
                assert ident.sent_by.endswith(".invalid") and ident.sent_by_port is None
                assert ident.via == f"SIP/2.0/WS {ident.sent_by}"
                assert ident.contact_uri("6961") == f"sip:6961@{ident.contact_host};transport=ws"
                assert t.local_address[0] == "127.0.0.1"
            finally:
                await t.close()


@pytest.mark.asyncio
async def test_server_without_sip_subprotocol_is_refused():
    async with asyncio.timeout(10):
        async with asterisk_like_server(subprotocols=()) as (port, _):
            with pytest.raises(TransportError, match="'sip' WebSocket subprotocol"):
                await WsTransport.connect(f"ws://127.0.0.1:{port}/ws", on_event=EventQueue())


@pytest.mark.asyncio
async def test_non_utf8_bytes_go_out_as_a_binary_frame():
    async with asyncio.timeout(10):
        async with asterisk_like_server() as (port, received):
            q = EventQueue()
            t = await WsTransport.connect(f"ws://127.0.0.1:{port}/ws", on_event=q)
            try:
                broken = register().replace(b"Telephone_TIP125", b"\xff\xfe")
                await t.send(broken)
                await q.received(timeout=3)
                assert received == [broken]
            finally:
                await t.close()


@pytest.mark.asyncio
async def test_server_close_is_reported():
    async with asyncio.timeout(10):
        async def handler(ws):
            await ws.close(1001, "going away")

        async with serve(handler, "127.0.0.1", 0, subprotocols=["sip"]) as server:
            port = server.sockets[0].getsockname()[1]
            q = EventQueue()
            t = await WsTransport.connect(f"ws://127.0.0.1:{port}/ws", on_event=q)
            try:
                lost = await q.get(timeout=3)
                assert isinstance(lost, ConnectionLost) and "1001" in lost.reason
                with pytest.raises(TransportError):
                    await t.send(register())
            finally:
                await t.close()


@pytest.mark.asyncio
async def test_bad_url_and_refused_connection():
    async with asyncio.timeout(10):
        with pytest.raises(TransportError, match="not a WebSocket URL"):
            await WsTransport.connect("http://127.0.0.1/ws", on_event=EventQueue())
        async with serve(lambda ws: asyncio.sleep(0), "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
        with pytest.raises(TransportError, match="cannot connect"):
            await WsTransport.connect(f"ws://127.0.0.1:{port}/ws", on_event=EventQueue())


@pytest.mark.asyncio
async def test_client_keepalive_frames():
    frames = []

    async with asyncio.timeout(10):
        async def handler(ws):
            async for frame in ws:
                frames.append(frame)

        async with serve(handler, "127.0.0.1", 0, subprotocols=["sip"]) as server:
            port = server.sockets[0].getsockname()[1]
            t = await WsTransport.connect(
                f"ws://127.0.0.1:{port}/ws", on_event=EventQueue(), keepalive_interval=0.02
            )
            try:
                for _ in range(200):
                    if len(frames) >= 2:
                        break
                    await asyncio.sleep(0.01)
            finally:
                await t.close()
            assert t.keepalives_sent >= 2
    assert set(frames) == {"\r\n\r\n"}


@pytest.mark.asyncio
async def test_open_for_target_with_a_ws_url():
    from sipclient.io.target import parse_target
    from sipclient.io.transport import open_for_target

    async with asyncio.timeout(10):
        async with asterisk_like_server() as (port, received):
            q = EventQueue()
            t, addr = await open_for_target(parse_target(f"ws://127.0.0.1:{port}/ws"), on_event=q)
            try:
                assert t.name == "ws" and addr == ("127.0.0.1", port)
                await t.send(register(), addr)
                assert (await q.received(timeout=3)).message.status == 200
            finally:
                await t.close()
