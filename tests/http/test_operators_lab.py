"""Issue 20: statusoperacoes from real operator events: agents log in to the lab's queue
"operadores", pause, end the pause and log out by calling 6091-6094 (app_queue), and the
twin reports each as a row with its time. A dialer campaign handing its answered calls to that
queue reaches the one operator logged in (CONCLUIDO threshold shortened to 1 s here)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from sipclient.agent import Agent
from sipclient.http.client import HttpClient
from sipclient.http.dialects import operators, pbx_api
from sipclient.http.dialects.dialer import CampaignRules
from sipclient.http.twin import Twin, TwinConfig

from .util import agent_config, assert_lab_idle, credentials

pytestmark = pytest.mark.lab


@pytest.mark.asyncio
async def test_login_pause_logout_rows(lab) -> None:
    async def main():
        rules = CampaignRules("300", queue="operadores", ring_timeout=5, concluded_after=1.0)
        async with Twin(lab, TwinConfig(credentials=credentials(), campaigns=[rules])) as twin, \
                Agent(agent_config(lab, "1014")) as ana, \
                Agent(agent_config(lab, "1015")) as bia:
            assert (await ana.register()).ok and (await bia.register()).ok
            client = HttpClient(ca_file=str(twin.ca_file))
            start = datetime.now().replace(microsecond=0)

            async def code(agent: Agent, number: str) -> None:
                call = await agent.call(number)
                assert (await call.wait_final(timeout=10)).status == 200
                await call.wait_ended(timeout=10)

            await code(ana, "6091")
            await code(bia, "6091")
            await code(ana, "6093")
            await asyncio.sleep(1.0)
            await code(ana, "6094")
            await code(bia, "6092")
            await asyncio.sleep(0.3)
            rows = (await client.post_json(twin.url + pbx_api.API_PATH, pbx_api.request(
                "statusoperacoes", credentials(),
                datainicial=start.strftime("%Y-%m-%d %H:%M:%S")))).json()
            # the campaign's answered contact goes to the queue: ana (1014) is its one member
            assert (await client.post_json(twin.url + pbx_api.API_PATH, pbx_api.request(
                "insert", credentials(), idcampanha="300", cliente="Q", ddd1="11",
                tel1="90000600"))).json() == ["Status", "OK"]
            incoming = await ana.next_incoming(timeout=15)
            await incoming.answer()
            await asyncio.sleep(2.0)
            await incoming.hangup()
            [contact] = twin.dialer.campaigns["300"].contacts
            done = await twin.dialer.wait_status("300", contact, ("CONCLUIDO",), timeout=10)
            await code(ana, "6092")      # leave the queue empty for the next test
            return rows, start, done
    rows, start, done = await asyncio.wait_for(main(), 90)
    assert done.concluded.operator == "1014"
    assert done.concluded.side == "OPERADOR" and 1.5 <= done.concluded.talk <= 3
    operators.validate(rows)
    got = [(r["ramal"], r["acao"], r["fila"]) for r in rows]
    assert got == [("1014", "LOGIN", "operadores"), ("1015", "LOGIN", "operadores"),
                   ("1014", "PAUSA", "operadores"), ("1014", "FIMPAUSA", "operadores"),
                   ("1015", "LOGOUT", "operadores")]
    assert rows[2]["motivo"] == "pausa" and rows[0]["nomeoperador"] == "Operador 1014"
    assert int(rows[3]["duracao"]) >= 1
    for row in rows:
        assert datetime.strptime(row["datahora"], "%Y-%m-%d %H:%M:%S") >= start
    assert_lab_idle(lab)
