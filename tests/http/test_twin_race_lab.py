"""Issue 20: click-to-calls for one extension that overlap each end on their own: every
call's events are keyed by its own channel id (Originate ChannelId), not by the extension."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.agent import Agent
from sipclient.http.client import HttpClient
from sipclient.http.dialects import pbx_api
from sipclient.http.receivers import WebhookReceiver
from sipclient.http.twin import Twin, TwinConfig, WebhookTarget

from .util import agent_config, assert_lab_idle, credentials

pytestmark = pytest.mark.lab


@pytest.mark.asyncio
async def test_five_click_to_calls_one_second_apart_each_end_with_its_own_cdr(lab) -> None:
    async with asyncio.timeout(90):
        async with WebhookReceiver() as rx, \
                Twin(lab, TwinConfig(credentials=credentials(), webhooks=[
                    WebhookTarget("seed000", rx.url("seed000"))])) as twin, \
                Agent(agent_config(lab, "1011")) as agent:
            assert (await agent.register()).ok
            client = HttpClient(ca_file=str(twin.ca_file))

            async def take_calls() -> None:
                # the phone answers the 1st, 3rd and 5th call (2.5 s each) and, being in a
                # call, answers the 2nd and 4th with 486 Busy Here
                for n in range(5):
                    incoming = await agent.next_incoming(timeout=15)

                    async def talk(incoming=incoming) -> None:
                        await incoming.answer()
                        await asyncio.sleep(2.5)
                        await incoming.hangup()
                    agent.spawn(talk() if n % 2 == 0 else incoming.reject(486))

            taker = asyncio.get_running_loop().create_task(take_calls())
            ids = []
            for _ in range(5):
                body = pbx_api.request("clicktocall", credentials(), origem="1011",
                                       destino="600")
                answer = (await client.post_json(twin.url + pbx_api.API_PATH, body)).json()
                ids.append(pbx_api.parse_click_to_call_answer(answer))
                await asyncio.sleep(1.0)
            records = [await twin.wait_ended(i, timeout=20) for i in ids]
            taker.cancel()
            await asyncio.gather(taker, return_exceptions=True)
            await twin.wait_delivered()
            assert len(set(ids)) == 5
            want = ["ANSWER", "BUSY", "ANSWER", "BUSY", "ANSWER"]
            assert [r.disposition for r in records] == want, records
            assert len({r.uniqueid for r in records}) == 5
            for rec, disposition in zip(records, want):
                cdr = await rx.expect("seed000", "cdr", callid=rec.key)
                assert cdr.fields["disposition"] == disposition
                assert (int(cdr.fields["billsec"]) >= 2) == (disposition == "ANSWER")
                # GRAVACAO carries the call's own id (seed 001's IDCHAMADA)
                assert rec.recording.endswith("-" + rec.uniqueid)
            assert len(rx.find("seed000", "cdr")) == 5
            assert not rx.rejected, rx.rejected
            assert not rx.warned, [w.warnings for w in rx.warned]
    assert_lab_idle(lab)
