"""The agent against the real Asterisk lab (``lab`` fixture in tests/conftest.py).

Flows are asserted exactly as the seed documents show them for the cloud PBX.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from sipclient.agent import Agent, AgentConfig, AuthenticationFailed, Secret, SipTimeout

pytestmark = pytest.mark.lab

REGISTER_FLOW = ["REGISTER", "401", "REGISTER", "200"]
INVITE_FLOW = ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK"]


def cfg(lab, ext: str, transport: str = "udp", **kw) -> AgentConfig:
    c = lab.config
    if transport in ("ws", "wss"):
        port = c.wss_port if transport == "wss" else c.http_port
        server = f"{transport}://{c.probe_host}:{port}/ws"
        kw.setdefault("insecure", True)
    else:
        server = f"{transport}:{c.probe_host}:{c.sip_port}"
    kw.setdefault("password", Secret(lab.account(ext).password))
    return AgentConfig(user=ext, server=server, **kw)


async def _wait_no_contact(lab, ext: str, seconds: float = 3.0) -> list:
    deadline = time.monotonic() + seconds
    while True:
        left = await asyncio.to_thread(lab.contacts, ext)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("transport,ext", [("udp", "1001"), ("tcp", "1002"), ("wss", "2001")])
@pytest.mark.asyncio
async def test_register_and_leave_clean(lab, transport: str, ext: str) -> None:
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, ext, transport)) as agent:
            t0 = time.perf_counter()
            result = await agent.register()
            elapsed = time.perf_counter() - t0
            assert result.ok, result
            assert result.flow == REGISTER_FLOW
            assert result.expires and result.expires > 0
            contacts = await asyncio.to_thread(lab.contacts, ext)
            assert len(contacts) == 1, contacts
            print(f"{transport} REGISTER round trip (with challenge): {elapsed * 1000:.1f} ms")
        assert agent.flow() == REGISTER_FLOW * 2  # the un-REGISTER is challenged too
        assert await _wait_no_contact(lab, ext) == []


@pytest.mark.asyncio
async def test_wrong_password_is_an_authentication_failure(lab) -> None:
    async with asyncio.timeout(60.0):
        config = cfg(lab, "1003", password=Secret("not-the-password"))
        async with Agent(config) as agent:
            with pytest.raises(AuthenticationFailed):
                await agent.register()
            assert agent.flow() == ["REGISTER", "401", "REGISTER", "401"]
            assert "not-the-password" not in agent.trace.text()


@pytest.mark.parametrize("transport,ext", [("udp", "1004"), ("tcp", "1005")])
@pytest.mark.asyncio
async def test_call_600_answered_then_hung_up(lab, transport: str, ext: str) -> None:
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, ext, transport)) as agent:
            await agent.register()
            t0 = time.perf_counter()
            call = await agent.call("600")
            final = await call.wait_final(timeout=10)
            elapsed = time.perf_counter() - t0
            assert final.status == 200
            assert agent.flow(call.call_id) == INVITE_FLOW
            assert call.media.remote is not None and call.media.remote.port
            print(f"{transport} call setup to 600 (with challenge): {elapsed * 1000:.1f} ms")
            await asyncio.sleep(0.5)
            await call.hangup()
            assert agent.flow(call.call_id) == [*INVITE_FLOW, "BYE", "200"]
        assert await _wait_no_contact(lab, ext) == []


@pytest.mark.asyncio
async def test_602_early_media_then_answer(lab) -> None:
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, "1006")) as agent:
            call = await agent.call("602")
            final = await call.wait_final(timeout=15)
            assert final.status == 200
            assert call.early_media
            flow = agent.flow(call.call_id)
            assert flow[:5] == ["INVITE", "401", "ACK", "INVITE", "100"]
            assert "183" in flow and flow.index("183") < flow.index("200")
            assert flow[-2:] == ["200", "ACK"]
            await call.hangup()


@pytest.mark.asyncio
async def test_603_is_busy(lab) -> None:
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, "1007")) as agent:
            call = await agent.call("603")
            final = await call.wait_final(timeout=10)
            assert final.status == 486
            flow = agent.flow(call.call_id)
            assert flow[-2:] == ["486", "ACK"]


@pytest.mark.asyncio
async def test_604_cancelled_after_two_seconds(lab) -> None:
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, "1008")) as agent:
            call = await agent.call("604")
            await asyncio.sleep(2)
            final = await call.cancel()
            assert final is not None and final.status == 487
            flow = agent.flow(call.call_id)
            assert flow[-4:] == ["CANCEL", "200", "487", "ACK"], flow
            assert "180" in flow


@pytest.mark.asyncio
async def test_607_bye_from_the_pbx_is_answered(lab) -> None:
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, "1009")) as agent:
            call = await agent.call("607")
            assert (await call.wait_final(timeout=10)).status == 200
            assert await call.wait_ended(timeout=10) == "remote BYE"
            assert agent.flow(call.call_id) == [*INVITE_FLOW, "BYE", "200"]


@pytest.mark.asyncio
async def test_same_address_and_port_steal_calls(lab) -> None:
    """Seed 001: a second extension registered from the same address and source port gets
    the first one's calls."""
    async with asyncio.timeout(60.0):
        first = Agent(cfg(lab, "1010", local_address="127.0.0.5"))
        await first.open()
        assert (await first.register()).ok
        port = first.endpoint.transport.local_address[1]
        await first.close(cleanup=False)  # the phone goes away, its binding stays
        try:
            async with Agent(cfg(lab, "1011", local_address="127.0.0.5",
                                 local_port=port)) as second:
                assert (await second.register()).ok
                second.auto_reject = 486
                async with Agent(cfg(lab, "1012", local_address="127.0.0.6")) as caller:
                    call = await caller.call("1010")
                    incoming = await second.next_incoming(timeout=10)
                    assert "sip:1010@127.0.0.5" in incoming.request.uri  # 1010's call, to 1011
                    assert (await call.wait_final(timeout=10)).status == 486
        finally:  # remove 1010's stale binding: register from its place, then leave clean
            async with Agent(cfg(lab, "1010", local_address="127.0.0.5",
                                 local_port=port)) as again:
                await again.register()
        assert await _wait_no_contact(lab, "1010") == []
        assert await _wait_no_contact(lab, "1011") == []


@pytest.mark.asyncio
async def test_different_addresses_same_port_do_not_conflict(lab) -> None:
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, "1013", local_address="127.0.0.2")) as a:
            await a.register()
            port = a.endpoint.transport.local_address[1]
            async with Agent(cfg(lab, "1014", local_address="127.0.0.3",
                                 local_port=port)) as b:
                await b.register()
                a.auto_reject = 486
                b.auto_reject = 486
                async with Agent(cfg(lab, "1015", local_address="127.0.0.6")) as caller:
                    call = await caller.call("1013")
                    incoming = await a.next_incoming(timeout=10)
                    assert "sip:1013@127.0.0.2" in incoming.request.uri
                    assert (await call.wait_final(timeout=10)).status == 486
                    assert b._incoming.empty()
        for ext in ("1013", "1014"):
            assert await _wait_no_contact(lab, ext) == []


@pytest.mark.asyncio
async def test_hold_unhold_info_and_options_on_600(lab) -> None:
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, "1016")) as agent:
            assert (await agent.options()).status in (200, 401)  # OPTIONS ping to the PBX
            call = await agent.call("600")
            assert (await call.wait_final(timeout=10)).status == 200
            resp = await call.hold()
            assert resp.status == 200 and call.on_hold
            assert call.media.remote is not None
            assert call.media.remote.direction in ("recvonly", "inactive")
            resp = await call.unhold()
            assert resp.status == 200 and call.media.remote.direction == "sendrecv"
            info = await call.send_info("Signal=5\r\nDuration=160\r\n")
            assert info.status == 200
            await call.hangup()
            flow = agent.flow(call.call_id)
            assert flow[len(INVITE_FLOW):] == ["INVITE", "200", "ACK", "INVITE", "200", "ACK",
                                               "INFO", "200", "BYE", "200"], flow


@pytest.mark.asyncio
async def test_blind_transfer_notifies_are_answered(lab) -> None:
    """1018 calls 1019 (answered), REFERs it to 600 (202) and hangs up, as phones do for a
    blind transfer; 1019 is moved to 600. Asterisk 16 reports the transfer in sipfrag
    NOTIFYs (RFC 3515) of the implicit subscription, which outlives the call: here only when
    the transferee's channel ends (1019 was answered already, so no new answer is seen).
    Each NOTIFY is answered 200 although the dialog's call is over."""
    async with asyncio.timeout(60.0):
        async with Agent(cfg(lab, "1019")) as callee:
            await callee.register()
            callee.auto_answer = 0.0
            async with Agent(cfg(lab, "1018")) as agent:
                call = await agent.call("1019")
                assert (await call.wait_final(timeout=10)).status == 200
                incoming = await callee.next_incoming(timeout=5)
                await asyncio.sleep(0.5)  # let Asterisk bridge the two legs
                assert (await call.refer("600")).status == 202
                await asyncio.sleep(0.5)
                await call.hangup()
                channels = await asyncio.to_thread(lab.channels)
                assert any("1019" in c for c in channels), channels  # 1019 talks to 600
                await incoming.hangup()
                status = await call.wait_refer(timeout=5)
                assert status >= 200
                await asyncio.sleep(0.2)
                flow = agent.flow(call.call_id)
                assert flow[flow.index("REFER") + 1] == "202", flow
                notifies = [i for i, m in enumerate(flow) if m == "NOTIFY"]
                assert notifies and all(flow[i + 1] == "200" for i in notifies), flow
