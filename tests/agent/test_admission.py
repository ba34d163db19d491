"""Two quotas for incoming calls (sipclient.agent.admission, issues 13 and 18): INVITEs that
are never ACKed churn a bounded pool of unconfirmed calls and cannot lock out a caller that
ACKs (before: they held every place of calls_per_agent and a real call got 503)."""

from __future__ import annotations

import asyncio
import socket

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.lab.probe import port_in_use
from sipclient.proto.dialog import Dialog
from sipclient.proto.timers import TimerConfig

from .fake_pbx import FakePbx
from .util import invite_agent, run

USERS = {"1001": "correct-horse-42"}
T1 = 0.05


def _agent(pbx: FakePbx, **kw) -> Agent:
    return Agent(AgentConfig(user="1001", server=pbx.server, password=Secret(USERS["1001"]),
                             timers=TimerConfig(t1=T1, t2=0.4), **kw))


async def _invited(pbx: FakePbx, agent: Agent, call_id: str):
    """An INVITE from the PBX to ``agent``: what was sent, its handle, its final response
    and the call the agent got."""
    sent, handle = await invite_agent(pbx, agent, call_id=call_id)
    final = await handle.final_response(timeout=3)
    return sent, handle, final, await agent.next_incoming(timeout=2)


def _ack(pbx: FakePbx, sent, final, handle) -> None:
    """The PBX ACKs the final response ``final`` to its INVITE ``sent``."""
    pbx.endpoint.send_ack(Dialog.from_uac(sent, final).create_ack(sent), handle.addr)


def test_unacked_invites_are_parked_and_an_acked_call_still_gets_through() -> None:
    async def main() -> None:
        async with FakePbx(USERS) as pbx:
            async with _agent(pbx, max_calls=2, max_unconfirmed=3) as agent:
                agent.auto_answer = 0.0
                calls = []
                for n in range(6):  # never ACKed: 3 of them have to make room
                    _, handle = await invite_agent(pbx, agent, call_id=f"flood-{n}@pbx")
                    assert (await handle.final_response(timeout=3)).status == 200
                    calls.append(await agent.next_incoming(timeout=2))
                parked = [c for c in calls if c.parked]
                assert [c.call_id for c in parked] == [f"flood-{n}@pbx" for n in range(3)]
                assert len(agent.admission.pending) == 3
                await asyncio.sleep(0.1)
                for call in parked:  # media stopped, ports closed, still no BYE (RFC 3261 15)
                    assert not port_in_use(agent.local_ip, call.media.port, socket.SOCK_DGRAM)
                    assert not call.is_ended
                assert not [r for r in pbx.received if r.method == "BYE"]
                # a caller that ACKs gets its call, beyond max_calls' worth of floods
                sent, handle, final, legit = await _invited(pbx, agent, "legit@pbx")
                assert final.status == 200
                _ack(pbx, sent, final, handle)
                await asyncio.wait_for(legit.acked.wait(), 2)
                assert legit in agent.admission.confirmed and not legit.parked
                # every un-ACKed dialog ends with its BYE after 64*T1 (13.3.1.4)
                for call in calls:
                    assert "no ACK" in await call.wait_ended(64 * T1 + 2)
                byes = {r.call_id for r in pbx.received if r.method == "BYE"}
                assert byes == {c.call_id for c in calls}
                assert not legit.is_ended
    run(main())


def test_a_late_ack_for_a_parked_call_gets_its_bye_at_once() -> None:
    async def main() -> None:
        async with FakePbx(USERS) as pbx:
            async with _agent(pbx, max_unconfirmed=1) as agent:
                agent.auto_answer = 0.0
                sent, handle, final, first = await _invited(pbx, agent, "late@pbx")
                _, other = await invite_agent(pbx, agent, call_id="newer@pbx")
                assert (await other.final_response(timeout=3)).status == 200
                assert first.parked
                t0 = agent.now()
                _ack(pbx, sent, final, handle)
                assert await first.wait_ended(2) == "local BYE"
                assert agent.now() - t0 < 64 * T1 / 2
                assert any(r.method == "BYE" and r.call_id == "late@pbx" for r in pbx.received)
    run(main())


def test_confirmed_calls_beyond_max_calls_get_503_with_retry_after() -> None:
    async def main() -> None:
        async with FakePbx(USERS) as pbx:
            async with _agent(pbx, max_calls=1) as agent:
                agent.auto_answer = 0.0
                sent, handle, final, up = await _invited(pbx, agent, "up@pbx")
                _ack(pbx, sent, final, handle)
                await asyncio.wait_for(up.acked.wait(), 2)
                _, handle = await invite_agent(pbx, agent, call_id="more@pbx")
                refused = await handle.final_response(timeout=3)
                assert refused.status == 503 and refused.headers.get("Retry-After") == "5"
    run(main())


def test_a_ringing_call_makes_room_with_503_and_says_why() -> None:
    async def main() -> None:
        async with FakePbx(USERS) as pbx:
            async with _agent(pbx, max_unconfirmed=1) as agent:  # nobody answers: all ring
                _, first = await invite_agent(pbx, agent, call_id="ring-1@pbx")
                call = await agent.next_incoming(timeout=2)
                await call.ringing()
                _, second = await invite_agent(pbx, agent, call_id="ring-2@pbx")
                dropped = await first.final_response(timeout=3)
                assert dropped.status == 503 and dropped.headers.get("Retry-After") == "5"
                assert call.is_ended and call.end_reason.startswith("dropped:")
                assert "unconfirmed_calls" in call.end_reason
                assert not (await agent.next_incoming(timeout=2)).is_ended
                second.close()
    run(main())


def test_a_second_invite_on_a_live_call_id_is_482_and_orphans_nothing() -> None:
    """Before: the second INVITE replaced the first call in the agent's map; the first one
    kept its RTP sockets for ever (the fuzzer found it)."""
    async def main() -> None:
        async with FakePbx(USERS) as pbx:
            async with _agent(pbx) as agent:
                agent.auto_answer = 0.0
                _, handle = await invite_agent(pbx, agent, call_id="same@pbx")
                assert (await handle.final_response(timeout=3)).status == 200
                first = await agent.next_incoming(timeout=2)
                _, again = await invite_agent(pbx, agent, call_id="same@pbx",
                                              from_tag="another-dialog")
                assert (await again.final_response(timeout=3)).status == 482
                assert agent.sessions["same@pbx"] is first
    run(main())
