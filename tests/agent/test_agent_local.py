"""The agent against the in-process fake PBX (no Asterisk): flows, auth, refresh, cleanup."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.agent import (Agent, AgentConfig, AuthenticationFailed, ImpairmentSettings,
                             Secret)
from sipclient.io.impair import Impairment
from sipclient.proto.dialog import Dialog
from sipclient.proto.message import Request

from .fake_pbx import FakePbx
from .util import invite_agent

PW = "correct-horse-42"
USERS = {"1001": PW, "1002": "other-pass-77"}


def config(pbx: FakePbx, user: str = "1001", **kw) -> AgentConfig:
    kw.setdefault("password", Secret(USERS.get(user, PW)))
    return AgentConfig(user=user, server=pbx.server, **kw)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.asyncio
async def test_register_flow_and_identity(transport: str) -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS, transport=transport) as pbx:
            async with Agent(config(pbx)) as agent:
                result = await agent.register()
                assert result.ok and result.status == 200
                assert result.flow == ["REGISTER", "401", "REGISTER", "200"]
                assert agent.flow() == ["REGISTER", "401", "REGISTER", "200"]
                assert result.expires == 3600
                reg = pbx.received[-1]
                via = reg.top_via
                assert via.transport == transport.upper() and "rport" in via.params
                local = agent.endpoint.transport.local_address
                assert (via.host, via.port) == local
                assert reg.headers["Contact"] == (
                    f"<sip:1001@{local[0]}:{local[1]};transport={transport}>")
                assert reg.cseq.seq == pbx.received[-2].cseq.seq + 1
            # the exit unregistered: Expires 0 with our Contact, challenged and answered
            assert pbx.received[-1].expires == 0 and "1001" not in pbx.bindings
            assert agent.flow()[-4:] == ["REGISTER", "401", "REGISTER", "200"]


@pytest.mark.asyncio
async def test_registrar_expires_is_followed_and_refreshed_early() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS, max_expires=2) as pbx:
            async with Agent(config(pbx, expires=60)) as agent:
                t0 = agent.now()
                result = await agent.register()
                assert result.expires == 2  # the Contact's expires param wins over the 60 asked
                await asyncio.sleep(1.5)
                times = [t for t, asked in pbx.register_times if asked]
                assert len(times) == 2, pbx.register_times
                assert times[1] - t0 < 2.0  # refreshed before the binding expired
                assert agent.registration.refreshes == 1
                assert agent.flow() == ["REGISTER", "401", "REGISTER", "200"] * 2


@pytest.mark.asyncio
async def test_registration_survives_30_percent_loss() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            imp = ImpairmentSettings(outgoing=Impairment(drop=0.3), incoming=Impairment(drop=0.3),
                                     seed=8)
            async with Agent(config(pbx, impairment=imp)) as agent:
                result = await agent.register()
                assert result.ok
                transport = agent.endpoint.transport
                assert any(d.action == "drop" for d in transport.log)
                # the flow shows the retransmissions that the losses forced
                assert agent.flow().count("REGISTER") > 2
                assert agent.flow()[-1] == "200"


@pytest.mark.asyncio
async def test_wrong_password_fails_without_leaking_it() -> None:
    secret = "Wr0ng-Pa55word!"

    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            cfg = config(pbx, password=Secret(secret))
            assert secret not in repr(cfg) and secret not in str(cfg)
            async with Agent(cfg) as agent:
                with pytest.raises(AuthenticationFailed) as info:
                    await agent.register()
                assert agent.flow() == ["REGISTER", "401", "REGISTER", "401"]
                text = agent.trace.text() + "".join(repr(e) for e in agent.trace)
                raw = b"".join(e.data for e in agent.trace)
                assert secret not in text and secret.encode() not in raw
                assert secret not in str(info.value) and secret not in repr(agent.digest)


@pytest.mark.asyncio
async def test_cancelled_task_still_unregisters() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            registered = asyncio.Event()

            async def user() -> None:
                async with Agent(config(pbx)) as agent:
                    await agent.register()
                    registered.set()
                    await asyncio.sleep(3600)

            task = asyncio.create_task(user())
            await registered.wait()
            assert "1001" in pbx.bindings
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert "1001" not in pbx.bindings
            assert pbx.received[-1].method == "REGISTER" and pbx.received[-1].expires == 0


@pytest.mark.asyncio
async def test_call_600_flow_with_challenged_bye() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            async with Agent(config(pbx)) as agent:
                call = await agent.call("600")
                final = await call.wait_final(timeout=5)
                assert final.status == 200 and call.is_confirmed
                await call.hangup()
                assert await call.wait_ended(1) == "local BYE"
                assert agent.flow(call.call_id) == [
                    "INVITE", "401", "ACK", "INVITE", "100", "200", "ACK",
                    "BYE", "401", "BYE", "200"]
                invite = [r for r in pbx.received if r.method == "INVITE"][-1]
                assert b"m=audio " in invite.body and b"a=sendrecv" in invite.body
                assert b"a=rtpmap:0 PCMU/8000" in invite.body and b"a=rtpmap:3 GSM/8000" in invite.body
                assert b"G729" not in invite.body  # opt-in: the lab cannot transcode it
                assert b"telephone-event/8000" in invite.body
                assert invite.headers["Contact"].startswith("<sip:1001@127.0.0.1:")


@pytest.mark.asyncio
async def test_busy_redirect_and_remote_bye() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            async with Agent(config(pbx)) as agent:
                busy = await agent.call("603")
                assert (await busy.wait_final(5)).status == 486
                assert agent.flow(busy.call_id) == ["INVITE", "401", "ACK", "INVITE", "100",
                                                    "486", "ACK"]
                moved = await agent.call("302")
                assert (await moved.wait_final(5)).status == 200
                assert moved.redirects and "sip:600@" in moved.redirects[0]
                assert agent.flow(moved.call_id)[:8] == [
                    "INVITE", "401", "ACK", "INVITE", "100", "302", "ACK", "INVITE"]
                await moved.hangup()
                hung = await agent.call("607")
                assert (await hung.wait_final(5)).status == 200
                assert await hung.wait_ended(3) == "remote BYE"
                assert agent.flow(hung.call_id)[-2:] == ["BYE", "200"]


@pytest.mark.asyncio
async def test_cancel_while_ringing() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            async with Agent(config(pbx)) as agent:
                call = await agent.call("604")
                for _ in range(100):
                    if call.state == "ringing":
                        break
                    await asyncio.sleep(0.01)
                final = await call.cancel()
                assert final is not None and final.status == 487
                flow = agent.flow(call.call_id)
                assert flow == ["INVITE", "401", "ACK", "INVITE", "100", "180",
                                "CANCEL", "200", "487", "ACK"]


@pytest.mark.asyncio
async def test_hold_unhold_info_refer_options() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS, challenge=("REGISTER", "INVITE")) as pbx:
            async with Agent(config(pbx)) as agent:
                call = await agent.call("600")
                await call.wait_final(5)
                await call.hold()
                assert b"a=sendonly" in pbx.received[-1].body and call.on_hold
                await call.unhold()
                assert b"a=sendrecv" in pbx.received[-1].body and not call.on_hold
                assert (await call.send_info("Signal=5\r\nDuration=160\r\n")).status == 200
                assert (await call.refer("1002")).status == 202
                assert pbx.received[-1].headers["Refer-To"].startswith("<sip:1002@")
                assert await call.wait_refer(2) == 200
                assert (await agent.options()).status == 200
                flow = agent.flow(call.call_id)
                reinvite = ["INVITE", "401", "ACK", "INVITE", "200", "ACK"]  # challenged too
                assert flow[7:] == [*reinvite, *reinvite,
                                    "INFO", "200", "REFER", "202", "NOTIFY", "200"]


async def _invite_agent(pbx: FakePbx, agent: Agent) -> tuple[Request, object]:
    """The PBX calls the agent; returns the INVITE as sent and its client handle."""
    return await invite_agent(pbx, agent)


@pytest.mark.asyncio
async def test_incoming_call_auto_answer_and_remote_bye() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            async with Agent(config(pbx)) as agent:
                agent.auto_answer = 0.1
                sent, handle = await _invite_agent(pbx, agent)
                incoming = await agent.next_incoming(timeout=2)
                final = await handle.final_response(timeout=3)
                assert final.status == 200 and b"m=audio" in final.body
                assert b"RTP/AVP 8 0" in final.body  # the offer's order is kept
                dialog = Dialog.from_uac(sent, final)
                pbx.endpoint.send_ack(dialog.create_ack(sent), handle.addr)
                await asyncio.wait_for(incoming.acked.wait(), 2)
                pbx.endpoint.send_request(dialog.create_request("BYE"), handle.addr)
                assert await incoming.wait_ended(2) == "remote BYE"
                assert agent.flow("incoming-1@pbx") == ["INVITE", "180", "200", "ACK",
                                                        "BYE", "200"]


@pytest.mark.asyncio
async def test_incoming_call_auto_reject() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            async with Agent(config(pbx)) as agent:
                agent.auto_reject = 486
                _, handle = await _invite_agent(pbx, agent)
                assert (await handle.final_response(timeout=3)).status == 486
                await asyncio.sleep(0.05)
                assert agent.flow("incoming-1@pbx") == ["INVITE", "486", "ACK"]


@pytest.mark.asyncio
async def test_same_address_and_port_reproduce_the_conflict() -> None:
    """Seed 001: two extensions registered from one address and source port share the
    binding; the PBX sees both at the same place."""
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            first = Agent(config(pbx, "1001", local_address="127.0.0.5"))
            await first.open()
            await first.register()
            port = first.endpoint.transport.local_address[1]
            await first.close(cleanup=False)  # gone without unregistering
            async with Agent(config(pbx, "1002", local_address="127.0.0.5",
                                    local_port=port)) as second:
                assert (await second.register()).ok
                assert pbx.bindings["1001"] == pbx.bindings["1002"] == ("127.0.0.5", port)


@pytest.mark.asyncio
async def test_exit_hangs_up_an_answered_incoming_call() -> None:
    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            async with Agent(config(pbx)) as agent:
                agent.auto_answer = 0.0
                sent, handle = await _invite_agent(pbx, agent)
                incoming = await agent.next_incoming(timeout=2)
                final = await handle.final_response(timeout=3)
                dialog = Dialog.from_uac(sent, final)
                pbx.endpoint.send_ack(dialog.create_ack(sent), handle.addr)
                await asyncio.wait_for(incoming.acked.wait(), 2)
            assert incoming.end_reason == "local BYE"
            assert agent.flow("incoming-1@pbx") == ["INVITE", "180", "200", "ACK",
                                                    "BYE", "401", "BYE", "200"]


@pytest.mark.asyncio
async def test_wildcard_bind_records_the_real_source_address() -> None:
    # bound to 0.0.0.0, the trace and the capture must still say which address was used
    import io

    from sipclient.pcap.writer import PcapWriter

    async with asyncio.timeout(60):
        async with FakePbx(USERS) as pbx:
            buf = io.BytesIO()
            cfg = config(pbx, local_address=None, capture=PcapWriter(buf))
            async with Agent(cfg) as agent:
                await agent.register()
                assert agent.trace and all(e.local[0] == "127.0.0.1" for e in agent.trace)
            assert b"\x7f\x00\x00\x01" in buf.getvalue() and agent.trace[0].local[1] != 0

