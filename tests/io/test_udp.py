"""UDP transport on loopback: real SIP messages, binding rules of the seed's port conflict."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.io.transport import EventQueue, Received, TransportError
from sipclient.io.udp import UdpTransport
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

from .util import ok, register


@pytest.mark.asyncio
async def test_register_and_200_between_two_transports():
    async with asyncio.timeout(10):
        phone_q, pbx_q = EventQueue(), EventQueue()
        phone = await UdpTransport.bind(("127.0.0.2", 0), on_event=phone_q)
        pbx = await UdpTransport.bind(("127.0.0.1", 0), on_event=pbx_q)
        try:
            req = register()
            await phone.send(req, pbx.local_address)
            got = await pbx_q.received(timeout=2)
            assert isinstance(got.message, Request)
            assert got.message.method == "REGISTER"
            assert got.raw == req and bytes(got.message) == req
            assert got.addr == phone.local_address and got.transport is pbx

            await pbx.send(ok(req), got.addr)
            answer = await phone_q.received(timeout=2)
            assert isinstance(answer.message, Response)
            assert answer.message.status == 200
            assert answer.addr == pbx.local_address
        finally:
            await phone.close()
            await pbx.close()


@pytest.mark.asyncio
async def test_garbage_is_reported_not_raised_and_keepalives_ignored():
    async with asyncio.timeout(10):
        q = EventQueue()
        rx = await UdpTransport.bind(("127.0.0.1", 0), on_event=q)
        tx = await UdpTransport.bind(("127.0.0.1", 0), on_event=EventQueue())
        try:
            await tx.send(b"\r\n\r\n", rx.local_address)  # CRLF keep-alive: ignored
            await tx.send(b"HELLO WORLD\r\n\r\n", rx.local_address)
            await tx.send(register(), rx.local_address)
            bad = await q.received(timeout=2)
            assert bad.message is None and isinstance(bad.error, ParseError)
            assert bad.raw == b"HELLO WORLD\r\n\r\n" and not bad.ok
            good = await q.received(timeout=2)
            assert good.ok and good.message.method == "REGISTER"
            assert rx.keepalives_received == 1
        finally:
            await tx.close()
            await rx.close()


@pytest.mark.asyncio
async def test_a_raising_callback_does_not_kill_the_transport():
    seen = []

    def callback(event):
        seen.append(event)
        if len(seen) == 1:
            raise RuntimeError("consumer bug")

    async with asyncio.timeout(10):
        rx = await UdpTransport.bind(("127.0.0.1", 0), on_event=callback)
        tx = await UdpTransport.bind(("127.0.0.1", 0), on_event=EventQueue())
        try:
            for n in (1, 2):
                await tx.send(register(n), rx.local_address)
            for _ in range(100):
                if len(seen) == 2:
                    break
                await asyncio.sleep(0.01)
        finally:
            await tx.close()
            await rx.close()
    assert [e.message.cseq.seq for e in seen] == [1, 2]


@pytest.mark.asyncio
async def test_two_agents_on_different_loopback_addresses_share_a_port():
    async with asyncio.timeout(10):
        a = await UdpTransport.bind(("127.0.0.2", 5099), on_event=EventQueue())
        try:
            b = await UdpTransport.bind(("127.0.0.3", 5099), on_event=EventQueue())
            assert a.local_address == ("127.0.0.2", 5099)
            assert b.local_address == ("127.0.0.3", 5099)
            await b.close()
        finally:
            await a.close()


@pytest.mark.asyncio
async def test_same_address_and_port_at_the_same_time_is_a_clear_error():
    async with asyncio.timeout(10):
        a = await UdpTransport.bind(("127.0.0.4", 0), on_event=EventQueue())
        try:
            with pytest.raises(TransportError, match="already in use"):
                await UdpTransport.bind(a.local_address, on_event=EventQueue())
        finally:
            await a.close()


@pytest.mark.asyncio
async def test_same_address_and_port_rebinds_right_after_close():
    """Two agents reproduce the seed's port conflict one after the other."""

    async with asyncio.timeout(10):
        first = await UdpTransport.bind(("127.0.0.5", 0), on_event=EventQueue())
        addr = first.local_address
        await first.close()
        q = EventQueue()
        second = await UdpTransport.bind(addr, on_event=q)
        tx = await UdpTransport.bind(("127.0.0.1", 0), on_event=EventQueue())
        try:
            assert second.local_address == addr
            await tx.send(register(), addr)
            assert (await q.received(timeout=2)).message.method == "REGISTER"
        finally:
            await tx.close()
            await second.close()


@pytest.mark.asyncio
async def test_identity_for_a_wildcard_bind_names_a_real_address():
    async with asyncio.timeout(10):
        t = await UdpTransport.bind(("0.0.0.0", 0), on_event=EventQueue())
        try:
            ident = await t.identity(("127.0.0.1", 5060))
            assert ident.via_transport == "UDP"
            assert ident.sent_by == f"127.0.0.1:{t.local_address[1]}"
            port = t.local_address[1]
            assert ident.contact_uri("6961") == f"sip:6961@127.0.0.1:{port};transport=udp"
        finally:
            await t.close()


@pytest.mark.asyncio
async def test_send_after_close_raises():
    async with asyncio.timeout(10):
        t = await UdpTransport.bind(("127.0.0.1", 0), on_event=EventQueue())
        await t.close()
        with pytest.raises(TransportError, match="closed"):
            await t.send(b"x", ("127.0.0.1", 9))


@pytest.mark.asyncio
async def test_ipv6_loopback():
    async with asyncio.timeout(10):
        q = EventQueue()
        try:
            rx = await UdpTransport.bind(("::1", 0), on_event=q)
        except TransportError:
            pytest.skip("no IPv6 loopback here")
        tx = await UdpTransport.bind(("::1", 0), on_event=EventQueue())
        try:
            await tx.send(register(), rx.local_address)
            got = await q.received(timeout=2)
            assert got.addr == tx.local_address and got.addr[0] == "::1"
            assert isinstance(got, Received)
        finally:
            await tx.close()
            await rx.close()


@pytest.mark.asyncio
async def test_a_message_too_big_for_one_datagram_is_refused():
    async with asyncio.timeout(10):
        t = await UdpTransport.bind(("127.0.0.1", 0), on_event=EventQueue())
        try:
            with pytest.raises(TransportError, match="does not fit in one UDP datagram"):
                await t.send(b"x" * 70000, ("127.0.0.1", 9))
        finally:
            await t.close()
