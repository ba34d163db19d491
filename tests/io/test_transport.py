"""The registry, events and identity helpers shared by every transport."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.io.transport import (
    EventQueue,
    LocalIdentity,
    TransportError,
    format_hostport,
    local_identity,
    open_transport,
    registered_transports,
)

from .util import register


def test_registry_knows_every_transport():
    assert registered_transports() == ["tcp", "tls", "udp", "ws", "wss"]


@pytest.mark.asyncio
async def test_open_transport_by_name():
    async with asyncio.timeout(10):
        q = EventQueue()
        udp = await open_transport("udp", on_event=q, local=("127.0.0.1", 0))
        tcp = await open_transport("TCP", on_event=q, local=("127.0.0.1", 0), listen=True)
        try:
            assert (udp.name, udp.reliable) == ("udp", False)
            assert (tcp.name, tcp.reliable) == ("tcp", True)
            await udp.send(register(), udp.local_address)  # to ourselves
            assert (await q.received(timeout=2)).transport is udp
            ident = await local_identity(udp)
            assert ident.via == f"SIP/2.0/UDP 127.0.0.1:{udp.local_address[1]}"
            assert "udp 127.0.0.1" in repr(udp)
        finally:
            await udp.close()
            await tcp.close()
        assert "closed" in repr(udp)


@pytest.mark.asyncio
async def test_unknown_transport_name():
    async with asyncio.timeout(10):
        with pytest.raises(TransportError, match="unknown transport 'sctp'"):
            await open_transport("sctp", on_event=EventQueue())


def test_identity_formatting():
    ident = LocalIdentity("TCP", "::1", 5070, "::1", 5070, (("transport", "tcp"), ("ob", "")))
    assert ident.via == "SIP/2.0/TCP [::1]:5070"
    assert ident.contact_uri("6961") == "sip:6961@[::1]:5070;transport=tcp;ob"
    assert format_hostport("127.0.0.1", None) == "127.0.0.1"


class _Hops:
    """A resolver stand-in returning fixed hops (the first one refuses connections)."""

    def __init__(self, hops):
        self.hops = hops

    async def resolve(self, target):
        from sipclient.io.resolve import Resolved

        return [Resolved(*h) for h in self.hops]


@pytest.mark.asyncio
async def test_open_for_target_udp_tcp_with_failover():
    import socket

    from sipclient.io.stream import TcpTransport
    from sipclient.io.target import parse_target
    from sipclient.io.transport import open_for_target
    from sipclient.io.udp import UdpTransport

    async with asyncio.timeout(10):
        q = EventQueue()
        pbx_udp = await UdpTransport.bind(("127.0.0.1", 0), on_event=q)
        pbx_tcp = await TcpTransport.create(on_event=q, local=("127.0.0.1", 0), listen=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        try:
            port = pbx_udp.local_address[1]
            t, addr = await open_for_target(
                parse_target(f"udp:127.0.0.1:{port}"), on_event=EventQueue(),
                local=("127.0.0.2", 0))
            assert (t.name, addr, t.local_address[0]) == ("udp", ("127.0.0.1", port), "127.0.0.2")
            await t.send(register(), addr)
            assert (await q.received(timeout=2)).transport is pbx_udp
            await t.close()

            tcp_port = pbx_tcp.local_address[1]
            resolver = _Hops([("tcp", "127.0.0.1", dead), ("tcp", "127.0.0.1", tcp_port)])
            t, addr = await open_for_target(
                parse_target("sip:pbx.example.com;transport=tcp"), on_event=EventQueue(),
                resolver=resolver)
            assert (t.name, addr) == ("tcp", ("127.0.0.1", tcp_port))
            await t.send(register(), addr)
            assert (await q.received(timeout=2)).transport is pbx_tcp
            await t.close()

            with pytest.raises(TransportError, match=str(dead)):
                await open_for_target(parse_target(f"tcp:127.0.0.1:{dead}"), on_event=EventQueue())
        finally:
            await pbx_udp.close()
            await pbx_tcp.close()
