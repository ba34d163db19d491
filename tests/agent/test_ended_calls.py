"""What an ended call leaves in the agent (issue 18): for the 64*T1 it stays to absorb late
requests, the agent keeps its Call-ID and tags, not the parsed INVITE, the 200, the dialog,
the SDP or the media; the in-dialog requests a call keeps are bounded."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.agent.call import RECEIVED_KEPT
from sipclient.proto.dialog import Dialog
from sipclient.proto.timers import TimerConfig

from .fake_pbx import FakePbx
from .util import invite_agent

USERS = {"1001": "correct-horse-42"}


def _config(pbx: FakePbx, **kw) -> AgentConfig:
    return AgentConfig(user="1001", server=pbx.server, password=Secret(USERS["1001"]),
                       media_level="none", **kw)


async def _called(pbx: FakePbx, agent: Agent, call_id: str) -> tuple[object, object, object]:
    """The fake PBX calls the agent, which answers: (INVITE as sent, its 200, the call)."""
    agent.auto_answer = 0.0
    sent, handle = await invite_agent(pbx, agent, call_id=call_id)
    incoming = await agent.next_incoming(timeout=2)
    final = await handle.final_response(timeout=3)
    assert final.status == 200
    return sent, final, incoming


@pytest.mark.asyncio
async def test_an_unacked_call_that_ended_is_not_kept_whole_by_the_agent() -> None:
    """Before: the agent's session map held the ended IncomingCall (its INVITE, 200, dialog
    and media) for another 64*T1; a flood of un-ACKed INVITEs pinned hundreds of MB."""
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            t1 = 0.05
            async with Agent(_config(pbx, timers=TimerConfig(t1=t1, t2=0.2))) as agent:
                sent, final, incoming = await _called(pbx, agent, "slim-1@pbx")
                assert "no ACK" in await incoming.wait_ended(64 * t1 + 2)
                gone = weakref.ref(incoming)
                request = weakref.ref(incoming.request)
                del incoming
                await asyncio.sleep(0.2)  # the media close and the BYE's start
                gc.collect()
                assert "slim-1@pbx" in agent.sessions  # still there for late requests
                assert gone() is None and request() is None
                # a late in-dialog request is still answered 481 with the dialog's tag
                late = Dialog.from_uac(sent, final).create_request("INFO")
                answer = await pbx.endpoint.send_request(
                    late, agent.endpoint.transport.local_address).final_response(timeout=3)
                assert answer.status == 481 and answer.to.tag == final.to.tag
                await asyncio.sleep(64 * t1 + 0.3)
                assert "slim-1@pbx" not in agent.sessions


@pytest.mark.asyncio
async def test_a_long_call_keeps_a_bounded_number_of_in_dialog_requests() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            async with Agent(_config(pbx)) as agent:
                sent, final, incoming = await _called(pbx, agent, "long-1@pbx")
                dialog = Dialog.from_uac(sent, final)
                where = agent.endpoint.transport.local_address
                pbx.endpoint.send_ack(dialog.create_ack(sent), where)
                await asyncio.wait_for(incoming.acked.wait(), 2)
                for _ in range(RECEIVED_KEPT + 10):
                    resp = await pbx.endpoint.send_request(
                        dialog.create_request("OPTIONS"), where).final_response(timeout=3)
                    assert resp.status == 200
                assert len(incoming.received) == RECEIVED_KEPT
                assert incoming.received[-1].cseq.seq == dialog.local_seq
                await incoming.hangup()
