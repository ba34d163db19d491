"""The agent as a peer of proxies and other stacks (issue #13): Record-Route copied by the
answering side (RFC 3261 12.1.1), a 2xx that never gets its ACK (13.3.1.4)."""

from __future__ import annotations

import asyncio

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.proto.dialog import Dialog
from sipclient.proto.message import Request

from .fake_pbx import FakePbx
from .util import run

USERS = {"1001": "correct-horse-42"}
RR = ["<sip:127.0.0.2:5099;lr;ftag=caller1>", "<sip:proxy2.invalid;lr>"]


def _config(pbx: FakePbx, **kw) -> AgentConfig:
    return AgentConfig(user="1001", server=pbx.server, password=Secret(USERS["1001"]), **kw)


async def _invite(pbx: FakePbx, agent: Agent, call_id: str = "rr-1@pbx",
                  record_route: list[str] = RR) -> tuple[Request, object]:
    contact = agent.contact_uri
    req = Request("INVITE", contact, headers=[
        *[("Record-Route", rr) for rr in record_route],
        ("From", f"<sip:1002@{pbx.host}>;tag=caller1"), ("To", f"<{contact}>"),
        ("Call-ID", call_id), ("CSeq", "1 INVITE"),
        ("Contact", f"<sip:1002@{pbx.host}:{pbx.port}>"), ("Content-Type", "application/sdp")],
        body=b"v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
             b"m=audio 4000 RTP/AVP 8 0\r\na=sendrecv\r\n")
    handle = pbx.endpoint.send_request(req, agent.endpoint.transport.local_address)
    return handle.request, handle


def test_answering_side_copies_record_route_and_routes_its_bye() -> None:
    async def main() -> None:
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
    run(main())
