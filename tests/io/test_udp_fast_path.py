"""The UDP fast path (issue 14): a burst is drained in one readiness, raw bytes go to a
sink that parses them itself, sends need no coroutine, and the agent runs on uvloop too."""

from __future__ import annotations

import asyncio
import socket

import pytest

from sipclient.io import udp
from sipclient.io.loop import loop_name, run as run_loop
from sipclient.io.transport import EventQueue, TransportError
from sipclient.io.udp import UdpTransport

from .util import register


@pytest.mark.asyncio
async def test_a_burst_reaches_the_raw_sink_in_one_readiness() -> None:
    async with asyncio.timeout(10):
        q = EventQueue()
        rx = await UdpTransport.bind(("127.0.0.1", 0), on_event=q)
        got: list[tuple[bytes, tuple[str, int]]] = []
        all_in = asyncio.get_running_loop().create_future()

        def sink(data: bytes, addr: tuple[str, int]) -> None:
            got.append((data, addr))
            if len(got) == 40:
                all_in.set_result(None)
        rx.raw_sink = sink
        reads = 0
        inner = rx._read_ready

        def counting() -> None:
            nonlocal reads
            reads += 1
            inner()
        loop = asyncio.get_running_loop()
        loop.remove_reader(rx._sock.fileno())
        loop.add_reader(rx._sock.fileno(), counting)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            msgs = [register(n=i) for i in range(1, 41)]
            for m in msgs:
                tx.sendto(m, rx.local_address)
            tx.sendto(b"\r\n\r\n", rx.local_address)  # a keep-alive: counted, not handed over
            await asyncio.wait_for(all_in, 5)
            await asyncio.sleep(0)  # the keep-alive, sent last, is read in the same pass
            assert [d for d, _ in got] == msgs  # raw, in order, nothing parsed here
            assert got[0][1] == ("127.0.0.1", tx.getsockname()[1])
            assert reads < 40 and q.empty() and rx.keepalives_received == 1
        finally:
            tx.close()
            await rx.close()


@pytest.mark.asyncio
async def test_send_nowait_sends_at_once_and_refuses_oversize_and_closed() -> None:
    async with asyncio.timeout(10):
        q = EventQueue()
        a = await UdpTransport.bind(("127.0.0.1", 0), on_event=EventQueue())
        b = await UdpTransport.bind(("127.0.0.1", 0), on_event=q)
        try:
            a.send_nowait(register(), b.local_address)
            got = await q.received(timeout=2)
            assert got.message.method == "REGISTER" and a.datagrams_sent == 1
            with pytest.raises(TransportError, match="does not fit in one UDP datagram"):
                a.send_nowait(b"x" * (udp.MAX_DATAGRAM_V4 + 1), b.local_address)
        finally:
            await a.close()
            await b.close()
        with pytest.raises(TransportError, match="closed"):
            a.send_nowait(register(), b.local_address)


def test_loop_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIPCLIENT_LOOP", "asyncio")
    assert loop_name() == "asyncio"
    with pytest.raises(ValueError, match="expected one of"):
        loop_name("trio")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_an_agent_calls_on_either_loop(loop: str, transport: str) -> None:
    # tcp on uvloop: its TCP transport is no asyncio.Transport subclass (sipclient run and
    # every command use uvloop when it is installed; an isinstance check broke TCP there)
    pytest.importorskip("uvloop") if loop == "uvloop" else None
    from sipclient.agent import Agent, AgentConfig, Secret
    from tests.agent.fake_pbx import FakePbx

    async def main() -> tuple[str, list[str]]:
        async with FakePbx({"1001": "pw-123456"}, transport=transport) as pbx:
            cfg = AgentConfig(user="1001", password=Secret("pw-123456"), server=pbx.server)
            async with Agent(cfg) as agent:
                await agent.register()
                resp = await agent.options()
                assert resp.status == 200
                return type(asyncio.get_running_loop()).__module__, agent.flow()

    module, flow = run_loop(main(), loop=loop)
    assert module.startswith("uvloop" if loop == "uvloop" else "asyncio")
    assert flow == ["REGISTER", "401", "REGISTER", "200", "OPTIONS", "200"]


def test_run_tunes_the_collector_only_while_it_runs() -> None:
    import gc

    from sipclient.io import loop as loop_module

    before = gc.get_threshold()

    async def inside() -> tuple[int, int, int]:
        return gc.get_threshold()

    during = run_loop(inside(), loop="asyncio")
    assert during[0] == loop_module.GC_GEN0 and gc.get_threshold() == before
    assert run_loop(inside(), loop="asyncio", tune_gc=False) == before
