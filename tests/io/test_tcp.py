"""TCP transport on loopback: framing, keep-alives (RFC 5626 3.5.1), connection reuse."""

from __future__ import annotations

import asyncio
import socket

import pytest

from sipclient.io.stream import PING, PONG, TcpTransport
from sipclient.io.transport import ConnectionLost, EventQueue, Received, TransportError

from .util import invite, ok, register


async def _wait_for(predicate, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def _raw_client(addr):
    reader, writer = await asyncio.open_connection(*addr)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def _close_writer(writer):
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass


@pytest.mark.asyncio
async def test_message_split_across_many_small_writes():
    async with asyncio.timeout(10):
        q = EventQueue()
        server = await TcpTransport.create(on_event=q, local=("127.0.0.1", 0), listen=True)
        reader, writer = await _raw_client(server.local_address)
        try:
            data = invite(1)
            for i in range(0, len(data), 7):
                writer.write(data[i : i + 7])
                await writer.drain()
                await asyncio.sleep(0.001)
            got = await q.received(timeout=2)
            assert got.ok and got.message.method == "INVITE"
            assert got.raw == data and got.message.body.startswith(b"v=0")
            assert got.addr == writer.get_extra_info("sockname")[:2]
            assert q.empty()
        finally:
            await _close_writer(writer)
            await server.close()


@pytest.mark.asyncio
async def test_several_messages_in_one_write():
    async with asyncio.timeout(10):
        q = EventQueue()
        server = await TcpTransport.create(on_event=q, local=("127.0.0.1", 0), listen=True)
        reader, writer = await _raw_client(server.local_address)
        try:
            msgs = [invite(1), register(2, via="SIP/2.0/TCP 127.0.0.2:5099"), invite(3)]
            writer.write(b"".join(msgs))
            await writer.drain()
            got = [await q.received(timeout=2) for _ in msgs]
            assert [g.raw for g in got] == msgs
            assert [g.message.method for g in got] == ["INVITE", "REGISTER", "INVITE"]
        finally:
            await _close_writer(writer)
            await server.close()


@pytest.mark.asyncio
async def test_received_ping_is_answered_with_pong():
    async with asyncio.timeout(10):
        server = await TcpTransport.create(
            on_event=EventQueue(), local=("127.0.0.1", 0), listen=True
        )
        reader, writer = await _raw_client(server.local_address)
        try:
            writer.write(PING)
            await writer.drain()
            assert await asyncio.wait_for(reader.readexactly(2), 2) == PONG
            (conn,) = server.connections.values()
            assert conn.pings_received == 1
        finally:
            await _close_writer(writer)
            await server.close()


@pytest.mark.asyncio
async def test_keepalive_interval_sends_pings_and_counts_pongs():
    pings = []

    async with asyncio.timeout(10):
        async def handle(reader, writer):
            while True:
                data = await reader.read(100)
                if not data:
                    break
                pings.append(data)
                writer.write(PONG)
            writer.close()

        raw_server = await asyncio.start_server(handle, "127.0.0.1", 0)
        addr = raw_server.sockets[0].getsockname()[:2]
        client = await TcpTransport.create(on_event=EventQueue(), keepalive_interval=0.02)
        try:
            conn = await client.connect(addr)
            await _wait_for(lambda: conn.pongs_received >= 2)
            assert conn.pings_sent >= 2
        finally:
            await client.close()
            raw_server.close()
            await raw_server.wait_closed()
    assert set(b"".join(pings).split(PING)) == {b""}  # nothing but double CRLFs


@pytest.mark.asyncio
async def test_connection_reuse_both_ways():
    """We connect once; the PBX answers and sends its own request over our connection."""

    async with asyncio.timeout(10):
        phone_q, pbx_q = EventQueue(), EventQueue()
        pbx = await TcpTransport.create(on_event=pbx_q, local=("127.0.0.1", 0), listen=True)
        phone = await TcpTransport.create(on_event=phone_q, local=("127.0.0.2", 0))
        try:
            await phone.send(register(1, via="SIP/2.0/TCP 127.0.0.2:5099"), pbx.local_address)
            await phone.send(register(2, via="SIP/2.0/TCP 127.0.0.2:5099"), pbx.local_address)
            first = await pbx_q.received(timeout=2)
            second = await pbx_q.received(timeout=2)
            assert phone.connects == 1 and len(phone.connections) == 1
            assert first.addr == second.addr
            assert first.addr[0] == "127.0.0.2"
            ident = await phone.identity(pbx.local_address)
            assert ident.via_transport == "TCP" and ident.sent_by_port == first.addr[1]
            assert ident.contact_params == (("transport", "tcp"),)

            # the PBX answers and then sends an INVITE on the connection it accepted
            await pbx.send(ok(first.raw), first.addr)
            await pbx.send(invite(7), first.addr)
            answer = await phone_q.received(timeout=2)
            incoming = await phone_q.received(timeout=2)
            assert answer.message.status == 200
            assert incoming.message.method == "INVITE" and incoming.addr == pbx.local_address
            assert pbx.connects == 0 and phone.connects == 1
        finally:
            await phone.close()
            await pbx.close()


@pytest.mark.asyncio
async def test_concurrent_sends_share_one_new_connection():
    async with asyncio.timeout(10):
        pbx_q = EventQueue()
        pbx = await TcpTransport.create(on_event=pbx_q, local=("127.0.0.1", 0), listen=True)
        phone = await TcpTransport.create(on_event=EventQueue())
        try:
            await asyncio.gather(*(phone.send(register(n), pbx.local_address) for n in range(5)))
            got = [await pbx_q.received(timeout=2) for _ in range(5)]
            assert phone.connects == 1
            assert len({g.addr for g in got}) == 1
        finally:
            await phone.close()
            await pbx.close()


@pytest.mark.asyncio
async def test_framing_error_reports_and_closes_the_connection():
    async with asyncio.timeout(10):
        q = EventQueue()
        server = await TcpTransport.create(on_event=q, local=("127.0.0.1", 0), listen=True)
        reader, writer = await _raw_client(server.local_address)
        try:
            writer.write(b"THIS IS NOT SIP AT ALL\r\n\r\n")
            await writer.drain()
            bad = await q.get(timeout=2)
            assert isinstance(bad, Received) and bad.error is not None
            lost = await q.get(timeout=2)
            assert isinstance(lost, ConnectionLost) and "framing error" in lost.reason
            assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the server
            assert server.connections == {}

            # the listener keeps accepting
            r2, w2 = await _raw_client(server.local_address)
            w2.write(register())
            assert (await q.received(timeout=2)).ok
            await _close_writer(w2)
        finally:
            await _close_writer(writer)
            await server.close()


@pytest.mark.asyncio
async def test_a_malformed_but_framed_message_is_reported_and_the_stream_goes_on():
    async with asyncio.timeout(10):
        q = EventQueue()
        server = await TcpTransport.create(on_event=q, local=("127.0.0.1", 0), listen=True)
        reader, writer = await _raw_client(server.local_address)
        try:
            bad = b"HELLO sip:x SIP/9.9 EXTRA\r\nContent-Length: 3\r\n\r\nabc"
            writer.write(register(1) + PING + bad + register(2))
            await writer.drain()
            events = [await q.get(timeout=2) for _ in range(3)]
            assert [e.ok for e in events] == [True, False, True]
            assert events[0].raw == register(1) and events[2].raw == register(2)
            assert events[1].raw == bad and events[1].error is not None
            assert await asyncio.wait_for(reader.readexactly(2), 2) == PONG
            (conn,) = server.connections.values()
            assert conn.is_open and conn.messages_received == 2
        finally:
            await _close_writer(writer)
            await server.close()


@pytest.mark.asyncio
async def test_an_oversized_message_closes_the_connection():
    async with asyncio.timeout(10):
        q = EventQueue()
        server = await TcpTransport.create(
            on_event=q, local=("127.0.0.1", 0), listen=True, max_message_size=300
        )
        reader, writer = await _raw_client(server.local_address)
        try:
            writer.write(invite(1))
            await writer.drain()
            bad = await q.get(timeout=2)
            assert isinstance(bad, Received) and bad.error.status_hint == 513
            lost = await q.get(timeout=2)
            assert isinstance(lost, ConnectionLost) and "bigger than the limit" in lost.reason
        finally:
            await _close_writer(writer)
            await server.close()


@pytest.mark.asyncio
async def test_peer_close_is_reported():
    async with asyncio.timeout(10):
        q = EventQueue()
        server = await TcpTransport.create(on_event=q, local=("127.0.0.1", 0), listen=True)
        reader, writer = await _raw_client(server.local_address)
        try:
            writer.write(register())
            await q.received(timeout=2)
            await _close_writer(writer)
            lost = await q.get(timeout=2)
            assert isinstance(lost, ConnectionLost) and lost.reason == "closed by peer"
        finally:
            await server.close()


@pytest.mark.asyncio
async def test_connect_refused_is_a_clear_error():
    async with asyncio.timeout(10):
        with socket.socket() as s:  # find a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        client = await TcpTransport.create(on_event=EventQueue())
        try:
            with pytest.raises(TransportError, match=f"127.0.0.1:{port}"):
                await client.send(register(), ("127.0.0.1", port))
        finally:
            await client.close()


@pytest.mark.asyncio
async def test_listener_port_is_reusable_right_after_close():
    async with asyncio.timeout(10):
        q = EventQueue()
        first = await TcpTransport.create(on_event=q, local=("127.0.0.7", 0), listen=True)
        addr = first.local_address
        client = await TcpTransport.create(on_event=EventQueue())
        await client.send(register(), addr)
        await q.received(timeout=2)
        await first.close()  # the server side closes first: its port enters TIME_WAIT
        await client.close()
        second = await TcpTransport.create(on_event=EventQueue(), local=addr, listen=True)
        assert second.local_address == addr
        await second.close()


@pytest.mark.asyncio
async def test_outgoing_connection_from_a_chosen_local_address_and_port():
    async with asyncio.timeout(10):
        q = EventQueue()
        pbx = await TcpTransport.create(on_event=q, local=("127.0.0.1", 0), listen=True)
        with socket.socket() as s:
            s.bind(("127.0.0.8", 0))
            port = s.getsockname()[1]
        phone = await TcpTransport.create(on_event=EventQueue(), local=("127.0.0.8", port))
        try:
            await phone.send(register(), pbx.local_address)
            assert (await q.received(timeout=2)).addr == ("127.0.0.8", port)
            assert await phone.local_address_for(pbx.local_address) == ("127.0.0.8", port)
        finally:
            await phone.close()
            await pbx.close()
