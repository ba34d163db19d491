"""Impairment on a UDP transport with a seeded RNG: drop, drop-Nth, duplicate, delay."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.io.impair import ImpairedTransport, Impairment
from sipclient.io.transport import EventQueue, Received
from sipclient.io.udp import UdpTransport

from .util import ok, register


async def _pair(outgoing=None, incoming=None, seed=1):
    rx_q = EventQueue()
    rx = await UdpTransport.bind(("127.0.0.1", 0), on_event=rx_q)
    tx_q = EventQueue()
    tx = ImpairedTransport(
        await UdpTransport.bind(("127.0.0.2", 0), on_event=tx_q),
        outgoing=outgoing, incoming=incoming, seed=seed,
    )
    return tx, tx_q, rx, rx_q


async def _collect(q: EventQueue, quiet: float = 0.1) -> list[Received]:
    """Everything that arrives until the line has been quiet for ``quiet`` seconds."""
    got = []
    while True:
        try:
            got.append(await q.received(timeout=quiet))
        except asyncio.TimeoutError:
            return got


@pytest.mark.asyncio
async def test_dropping_30_percent_of_1000_datagrams():
    async def scenario():
        tx, _, rx, rx_q = await _pair(outgoing=Impairment(drop=0.3), seed=2024)
        try:
            for n in range(1, 1001):
                await tx.send(register(n), rx.local_address)
                await asyncio.sleep(0)  # let the receiver keep up: no drops by the kernel
            got = await _collect(rx_q)
            dropped = {d.index for d in tx.log if d.action == "drop"}
            assert 250 <= len(dropped) <= 350
            assert len(got) == 1000 - len(dropped)
            assert {g.message.cseq.seq for g in got} == set(range(1, 1001)) - dropped
            assert tx.summary()["out"]["drop"] == len(dropped)
        finally:
            await tx.close()
            await rx.close()
        return sorted(dropped)

    async with asyncio.timeout(20):
        first = await scenario()
        assert await scenario() == first  # same seed, same decisions


@pytest.mark.asyncio
async def test_drop_the_second_outgoing_register_exactly():
    async with asyncio.timeout(10):
        tx, _, rx, rx_q = await _pair(outgoing=Impairment(drop_nth=(2,), methods=("register",)))
        try:
            await tx.send(b"OPTIONS sip:x SIP/2.0\r\nCSeq: 9 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                          rx.local_address)  # not counted: only REGISTER is
            for n in range(1, 6):
                await tx.send(register(n), rx.local_address)
            got = await _collect(rx_q)
            seqs = [g.message.cseq.seq for g in got if g.message.method == "REGISTER"]
            assert seqs == [1, 3, 4, 5]
            (d,) = [d for d in tx.log if d.action != "pass"]
            assert (d.direction, d.index, d.action) == ("out", 2, "drop-nth")
            assert d.summary.startswith("REGISTER sip:")
        finally:
            await tx.close()
            await rx.close()


@pytest.mark.asyncio
async def test_duplicate_everything_incoming():
    async with asyncio.timeout(10):
        tx, tx_q, rx, _ = await _pair(incoming=Impairment(duplicate=1.0))
        try:
            for n in (1, 2, 3):
                await rx.send(ok(register(n)), tx.local_address)
            got = await _collect(tx_q)
            assert [g.message.cseq.seq for g in got] == [1, 1, 2, 2, 3, 3]
            assert all(g.transport is tx for g in got)
            assert tx.summary()["in"] == {"pass": 3, "duplicate": 3}
        finally:
            await tx.close()
            await rx.close()


@pytest.mark.asyncio
async def test_delay_with_jitter_is_logged_and_delivered_late():
    async with asyncio.timeout(10):
        tx, _, rx, rx_q = await _pair(outgoing=Impairment(delay=0.05, jitter=0.02))
        loop = asyncio.get_running_loop()
        try:
            start = loop.time()
            await tx.send(register(1), rx.local_address)
            await rx_q.received(timeout=2)
            elapsed = loop.time() - start
            (d,) = tx.log
            assert d.action == "delay" and 0.03 <= d.delay <= 0.07
            assert elapsed >= d.delay - 0.005
        finally:
            await tx.close()
            await rx.close()


@pytest.mark.asyncio
async def test_close_cancels_delayed_messages():
    async with asyncio.timeout(10):
        tx, _, rx, rx_q = await _pair(outgoing=Impairment(delay=5.0))
        await tx.send(register(1), rx.local_address)
        await tx.close()
        assert tx.inner.closed
        assert await _collect(rx_q, quiet=0.05) == []
        await rx.close()


def test_bad_impairment_values():
    with pytest.raises(ValueError, match="drop"):
        Impairment(drop=1.5)
    with pytest.raises(ValueError, match="counts from 1"):
        Impairment(drop_nth=(0,))


@pytest.mark.asyncio
async def test_on_tcp_whole_messages_are_dropped():
    from sipclient.io.stream import TcpTransport

    async with asyncio.timeout(10):
        q = EventQueue()
        pbx = ImpairedTransport(
            await TcpTransport.create(on_event=q, local=("127.0.0.1", 0), listen=True),
            incoming=Impairment(drop_nth=(1,)),
        )
        phone = await TcpTransport.create(on_event=EventQueue())
        try:
            await phone.send(register(1) + register(2), pbx.local_address)  # one write
            got = await _collect(q)
            assert [g.message.cseq.seq for g in got] == [2]
            assert [d.action for d in pbx.log] == ["drop-nth", "pass"]
            assert pbx.reliable and pbx.name == "tcp"
        finally:
            await phone.close()
            await pbx.close()
