"""The agent as a peer of proxies and other stacks (issue #13): Record-Route copied by the
answering side (RFC 3261 12.1.1), a 2xx that never gets its ACK (13.3.1.4)."""

from __future__ import annotations

import pytest
import asyncio
import socket

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.lab.probe import port_in_use
from sipclient.proto.dialog import Dialog
from sipclient.proto.message import Request
from sipclient.proto.timers import TimerConfig

from .fake_pbx import FakePbx
from .util import invite_agent

USERS = {"1001": "correct-horse-42"}
RR = ["<sip:127.0.0.2:5099;lr;ftag=caller1>", "<sip:proxy2.invalid;lr>"]


def _config(pbx: FakePbx, **kw) -> AgentConfig:
    return AgentConfig(user="1001", server=pbx.server, password=Secret(USERS["1001"]), **kw)


async def _invite(pbx: FakePbx, agent: Agent, call_id: str = "rr-1@pbx",
                  record_route: list[str] = RR) -> tuple[Request, object]:
    return await invite_agent(pbx, agent, call_id=call_id,
                              headers=[("Record-Route", rr) for rr in record_route])


@pytest.mark.asyncio
async def test_answering_side_copies_record_route_and_routes_its_bye() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            async with Agent(_config(pbx)) as agent:
                agent.auto_answer = 0.05
                provisional = []
                sent, handle = await _invite(pbx, agent)
                incoming = await agent.next_incoming(timeout=2)
                final = await handle.final_response(provisional.append, timeout=3)
                assert final.status == 200
                ringing = [r for r in provisional if r.status == 180]
                # 12.1.1: every Record-Route of the request, in order, in the 18x and the 2xx
                assert ringing and ringing[0].headers.get_all("Record-Route") == RR
                assert final.headers.get_all("Record-Route") == RR
                dialog = Dialog.from_uac(sent, final)
                assert dialog.route_set == list(reversed(RR))
                pbx.endpoint.send_ack(dialog.create_ack(sent), handle.addr)
                await asyncio.wait_for(incoming.acked.wait(), 2)
                await incoming.hangup()
            bye = next(r for r in pbx.received if r.method == "BYE")
            # the UAS's route set is the Record-Route in order (12.1.1), loose routing
            assert bye.headers.get_all("Route") == RR
            assert bye.uri == f"sip:1002@{pbx.host}:{pbx.port}"


@pytest.mark.asyncio
async def test_a_2xx_never_acked_ends_the_call_with_bye_after_64_t1() -> None:
    """13.3.1.4: the caller never ACKs; after 64*T1 the call ends, its media port closes and
    a BYE goes out (before: the call stayed up for ever, sending RTP)."""
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            cfg = _config(pbx, timers=TimerConfig(t1=0.05, t2=0.2))
            async with Agent(cfg) as agent:
                agent.auto_answer = 0.0
                sent, handle = await _invite(pbx, agent, call_id="noack-1@pbx")
                incoming = await agent.next_incoming(timeout=2)
                assert (await handle.final_response(timeout=3)).status == 200
                t0 = agent.now()
                await asyncio.sleep(0.3)
                port = incoming.media.port
                assert port_in_use(agent.local_ip, port, socket.SOCK_DGRAM)
                assert not incoming.is_ended
                reason = await incoming.wait_ended(64 * 0.05 + 2)
                took = agent.now() - t0
                assert "no ACK" in reason and 64 * 0.05 - 0.4 <= took <= 64 * 0.05 + 1, took
                await asyncio.sleep(0.3)
                flow = agent.flow("noack-1@pbx")
                assert flow.count("200") > 3 and "BYE" in flow, flow  # 2xx resent, then BYE
                assert not port_in_use(agent.local_ip, port, socket.SOCK_DGRAM)
                assert "noack-1@pbx" not in [c for c in agent.sessions if not
                                            agent.sessions[c].is_ended]
            bye = [r for r in pbx.received if r.method == "BYE" and r.call_id == "noack-1@pbx"]
            assert bye and bye[0].headers.get_all("Route") == RR
