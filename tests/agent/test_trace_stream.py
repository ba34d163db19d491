"""The agent's trace as an event stream: waiters wake on a message, subscribers see each
entry, the ring keeps the newest ``trace_limit`` entries with absolute positions."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.agent.trace import Trace, TraceEntry
from sipclient.proto.message import parse_message

from .fake_pbx import FakePbx


PW = "correct-horse-42"


def entry(i: int, method: str = "OPTIONS") -> TraceEntry:
    data = (f"{method} sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK{i}\r\n"
            f"Call-ID: c{i}\r\nCSeq: {i} {method}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
            "Content-Length: 0\r\n\r\n").encode()
    return TraceEntry(float(i), "in", "udp", ("127.0.0.1", 1), ("127.0.0.1", 2), data,
                      parse_message(data))


def test_ring_keeps_the_newest_entries_with_absolute_positions() -> None:
    trace = Trace(limit=3)
    for i in range(5):
        trace.append(entry(i))
    assert len(trace) == 5 and trace.dropped == 2
    assert [e.time for e in trace] == [2.0, 3.0, 4.0]
    assert [e.time for e in trace[3:]] == [3.0, 4.0]  # a cursor taken earlier stays valid
    assert trace[-1].time == 4.0 and trace[2].time == 2.0
    with pytest.raises(IndexError, match="left the ring"):
        trace[1]
    assert trace.flow() == ["OPTIONS"] * 3
    with pytest.raises(ValueError):
        Trace(limit=0)


@pytest.mark.asyncio
async def test_waiters_wake_on_the_message_not_on_a_tick() -> None:
    async with asyncio.timeout(60):
        trace = Trace()
        seen: list[float] = []
        unsubscribe = trace.subscribe(lambda e: seen.append(e.time))
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, trace.append, entry(1, "INFO"))
        loop.call_later(0.10, trace.append, entry(2, "BYE"))
        t0 = loop.time()
        index = await trace.wait_for(lambda e: e.label == "BYE", 0, timeout=5)
        assert index == 1 and loop.time() - t0 < 1.0
        assert seen == [1.0, 2.0]
        unsubscribe()
        trace.append(entry(3))
        assert seen == [1.0, 2.0]
        assert await trace.wait_for(lambda e: e.label == "CANCEL", 0, timeout=0.05) is None
        assert await trace.changed(0.01) is False


@pytest.mark.asyncio
async def test_agent_trace_limit_bounds_a_long_lived_agent() -> None:
    async with asyncio.timeout(60):
        async with FakePbx({"1001": PW}) as pbx:
            cfg = AgentConfig(user="1001", password=Secret(PW), server=pbx.server,
                              trace_limit=4)
            async with Agent(cfg) as agent:
                for _ in range(3):
                    assert (await agent.options()).status == 200
                assert len(agent.trace) == 6 and agent.trace.dropped == 2
                assert agent.flow() == ["OPTIONS", "200", "OPTIONS", "200"]
                # each entry carries the message the core parsed or serialised
                assert all(e.message is not None for e in agent.trace)
                out = [e for e in agent.trace if e.direction == "out"]
                assert all(bytes(e.message) == e.data for e in out)


@pytest.mark.asyncio
async def test_registration_can_be_awaited() -> None:
    async with asyncio.timeout(60):
        async with FakePbx({"1001": PW}) as pbx:
            cfg = AgentConfig(user="1001", password=Secret(PW), server=pbx.server)
            async with Agent(cfg) as agent:
                assert await agent.registration.wait_registered(0.01) is False
                waiting = asyncio.ensure_future(agent.registration.wait_registered(5))
                await agent.register()
                assert await waiting is True


@pytest.mark.asyncio
async def test_ended_calls_leave_the_agent_after_64_t1_with_one_timer() -> None:
    from sipclient.proto.timers import TimerConfig

    async with asyncio.timeout(60):
        async with FakePbx({"1001": PW}) as pbx:
            cfg = AgentConfig(user="1001", password=Secret(PW), server=pbx.server,
                              timers=TimerConfig(t1=0.005), media_level="none")
            async with Agent(cfg) as agent:
                calls = []
                for _ in range(3):
                    call = await agent.call("600")
                    assert (await call.wait_final(timeout=5)).status == 200
                    await call.hangup()
                    calls.append(call)
                assert len(agent._leaving) == 3 and agent._leave_timer is not None
                assert all(c.call_id in agent.sessions for c in calls)  # a late CANCEL...
                await asyncio.sleep(64 * 0.005 + 0.2)
                assert not any(c.call_id in agent.sessions for c in calls)
                assert agent._leave_timer is None and not agent._leaving


def test_an_entry_keeps_the_bytes_not_the_parsed_message() -> None:
    # issue 18: the ring's parsed messages, kept for an agent's life, pinned the memory a
    # burst of hostile traffic had freed
    import gc
    import weakref

    data = entry(7).data
    message = parse_message(data)
    e = TraceEntry(1.0, "in", "udp", ("127.0.0.1", 1), ("127.0.0.1", 2), data, message)
    assert e.message is message  # while something holds it: the very object (position_of)
    gone = weakref.ref(message)
    del message
    gc.collect()
    assert gone() is None  # the trace did not keep it
    again = e.message  # parsed from the bytes on demand
    assert again.start_line == "OPTIONS sip:a@b SIP/2.0" and again.call_id == "c7"
    assert bytes(again) == data and e.label == "OPTIONS" and e.call_id == "c7"
    garbage = TraceEntry(1.0, "in", "udp", ("127.0.0.1", 1), ("127.0.0.1", 2), b"\x00junk", None)
    assert garbage.message is None and garbage.label is None and "unparsable" in str(garbage)
