"""TLS transport on loopback with a self-signed certificate made by the openssl CLI."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.io.stream import TlsTransport
from sipclient.io.transport import EventQueue, TlsOptions, TlsVerificationError

from .util import ok, register


async def _server(cert, q=None):
    return await TlsTransport.create(
        on_event=q or EventQueue(),
        local=("127.0.0.1", 0),
        listen=True,
        tls=TlsOptions(cert_file=cert.cert, key_file=cert.key),
    )


@pytest.mark.asyncio
async def test_verification_is_on_by_default_and_fails_clearly(self_signed):
    async with asyncio.timeout(10):
        server = await _server(self_signed)
        client = await TlsTransport.create(on_event=EventQueue())
        try:
            with pytest.raises(TlsVerificationError) as info:
                await client.send(register(), server.local_address)
            message = str(info.value)
            assert "certificate verification failed" in message
            assert "self-signed" in message and "insecure=True" in message
            assert client.connections == {}
        finally:
            await client.close()
            await server.close()


@pytest.mark.parametrize("how", ["insecure", "ca_file"])
@pytest.mark.asyncio
async def test_handshake_succeeds_when_told_to_trust(self_signed, how):
    async with asyncio.timeout(10):
        server_q, client_q = EventQueue(), EventQueue()
        server = await _server(self_signed, server_q)
        opts = (
            TlsOptions(insecure=True) if how == "insecure" else TlsOptions(ca_file=self_signed.cert)
        )
        client = await TlsTransport.create(on_event=client_q, tls=opts)
        try:
            req = register(via="SIP/2.0/TLS 127.0.0.1:5061")
            await client.send(req, server.local_address)
            got = await server_q.received(timeout=3)
            assert got.raw == req and got.transport is server
            await server.send(ok(req), got.addr)  # back over the accepted connection
            answer = await client_q.received(timeout=3)
            assert answer.message.status == 200
            ident = await client.identity(server.local_address)
            assert ident.via_transport == "TLS" and client.connects == 1
        finally:
            await client.close()
            await server.close()


@pytest.mark.asyncio
async def test_ca_file_with_the_wrong_server_name_fails(self_signed):
    async with asyncio.timeout(10):
        server = await _server(self_signed)
        client = await TlsTransport.create(
            on_event=EventQueue(),
            tls=TlsOptions(ca_file=self_signed.cert, server_name="pbx.other.test"),
        )
        try:
            with pytest.raises(TlsVerificationError, match="pbx.other.test"):
                await client.connect(server.local_address)
        finally:
            await client.close()
            await server.close()


@pytest.mark.asyncio
async def test_sni_host_name_from_connect(self_signed):
    async with asyncio.timeout(10):
        server = await _server(self_signed)
        client = await TlsTransport.create(
            on_event=EventQueue(), tls=TlsOptions(ca_file=self_signed.cert)
        )
        try:
            conn = await client.connect(server.local_address, server_name="localhost")
            assert conn.is_open
        finally:
            await client.close()
            await server.close()
