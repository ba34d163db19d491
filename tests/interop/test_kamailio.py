"""Interoperability with Kamailio 5.6 as digest registrar and record-routing proxy
(sipclient/lab/kamailio.py, config docker/kamailio/kamailio.cfg.tmpl).

Two of our agents register at Kamailio (digest) and call each other through it, over UDP
and TCP, the caller or the callee hanging up. Kamailio record-routes the INVITE, so the
callee must copy Record-Route into its 180 and 200 (RFC 3261 12.1.1) and both sides must
send their in-dialog requests (ACK, BYE) with the route set: Kamailio logs each request it
routes by Route, and answers 404 to one without. Every call must end cleanly on both sides.
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.lab.kamailio import KamailioLab, find_kamailio, lab_accounts


ACCOUNTS = lab_accounts()


def near(value, target: float, share: float) -> bool:
    return value is not None and abs(value - target) <= target * share


def kamailio_version() -> str:
    out = subprocess.run([find_kamailio(), "-v"], capture_output=True, text=True).stdout
    return out.splitlines()[0].replace("version: ", "") if out else "kamailio"


def agent_config(lab: KamailioLab, user: str, transport: str, **kw) -> AgentConfig:
    return AgentConfig(user=user, password=Secret(ACCOUNTS[user]), server=lab.server(transport),
                       **kw)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("hangup_by", ["caller", "callee"])
@pytest.mark.asyncio
async def test_two_agents_call_through_kamailio(request, transport: str, hangup_by: str,
                                          family: str, matrix) -> None:
    kamailio: KamailioLab = request.getfixturevalue("kamailio6" if family == "ipv6"
                                                    else "kamailio")
    local = "::1" if family == "ipv6" else "127.0.0.1"
    cell = matrix.cell("Kamailio", "us -> us", f"{transport} ({family})", "PCMU",
                       version=kamailio_version(),
                       via=f"Kamailio (registrar, record-route); hang-up by {hangup_by}")

    async def main() -> None:
        caller_cfg = agent_config(kamailio, "1001", transport, play="tone:1000",
                                  local_address=local)
        callee_cfg = agent_config(kamailio, "1002", transport, play="tone:600",
                                  local_address=local)
        async with Agent(callee_cfg) as callee, Agent(caller_cfg) as caller:
            assert (await callee.register()).ok and (await caller.register()).ok
            callee.auto_answer = 0.1
            call = await caller.call("1002")
            incoming = await callee.next_incoming(timeout=5)
            final = await call.wait_final(timeout=5)
            assert final.status == 200, final
            await asyncio.wait_for(incoming.acked.wait(), 5)
            await asyncio.sleep(1.0)  # RTP flows straight between the agents
            heard = call.media.dominant_hz(), incoming.media.dominant_hz()
            if hangup_by == "caller":
                await call.hangup()
            else:
                await incoming.hangup()
            assert await call.wait_ended(5) in ("local BYE", "remote BYE")
            assert await incoming.wait_ended(5) in ("local BYE", "remote BYE")
            assert near(heard[0], 600, 0.02) and near(heard[1], 1000, 0.02), heard
            cid = call.call_id
            flows = caller.flow(cid), callee.flow(cid)
        # the ACK and the BYE went through Kamailio, none was refused for want of a Route
        routed = kamailio.routed(cid)
        assert "ACK" in routed and "BYE" in routed, (routed, kamailio.log_tail())
        assert not [r for r in kamailio.rejected() if cid in r]
        bye_sender = flows[0] if hangup_by == "caller" else flows[1]
        assert bye_sender[-2:] == ["BYE", "200"], flows
        # one 200 for the INVITE on the callee: no retransmissions for want of an ACK
        assert flows[1].count("200") <= 3, flows
    await asyncio.wait_for(main(), 30)
    cell.checked(audio="both ways", note="ACK and BYE routed by Kamailio")
