"""Issue 20's must-show: a campaign of 5 contacts dialled for real through the lab's Asterisk
by the twin's dialer, driven only through seed 001's API (insert, statusdiscador,
statusdetalhado, deletediscador). The operator is our registered agent 1012: it keeps the
call from 1190000600 (the lab's echo) 15 s and the one from 1190000601 5 s. Retry intervals
and ring time are short so the test stays short; the CONCLUIDO threshold is the seed's 10 s."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from sipclient.agent import Agent
from sipclient.http.client import HttpClient
from sipclient.http.dialects import dialer, pbx_api
from sipclient.http.dialects.dialer import CampaignRules
from sipclient.http.twin import Twin, TwinConfig
from sipclient.media.audio import dominant_frequency
from sipclient.media.codecs.gsm import GsmDecoder

from .util import agent_config, assert_lab_idle, credentials

pytestmark = pytest.mark.lab

HOLD = {"1190000600": 15.0, "1190000601": 5.0}


def campaign() -> CampaignRules:
    return CampaignRules("235", name="EP_TRAD_30.12", operators=("1012",), ring_timeout=2.0,
                         concurrency=4, retry_after={dialer.NOANSWER: 0.5, dialer.BUSY: None,
                                                     dialer.ANSWER: None})


@pytest.mark.asyncio
async def test_campaign_of_five_contacts(lab) -> None:
    async with asyncio.timeout(120):
        async with Twin(lab, TwinConfig(credentials=credentials(),
                                        campaigns=[campaign()])) as twin, \
                Agent(agent_config(lab, "1012", play="tone:1000")) as operator:
            assert (await operator.register()).ok
            client = HttpClient(ca_file=str(twin.ca_file))
            url = twin.url + pbx_api.API_PATH
            held: dict[str, float] = {}

            async def api(acao: str, **params: str):
                resp = await client.post_json(url, pbx_api.request(acao, credentials(),
                                                                   **params))
                assert resp.status == 200, resp.text
                return resp.json()

            async def take_calls() -> None:
                while True:
                    incoming = await operator.next_incoming(timeout=60)

                    async def talk(incoming=incoming) -> None:
                        number = next(n for n in HOLD if n in incoming.caller)
                        await incoming.answer()
                        t0 = time.monotonic()
                        await asyncio.sleep(HOLD[number])
                        await incoming.hangup()
                        held[number] = time.monotonic() - t0
                    operator.spawn(talk())

            taker = asyncio.get_running_loop().create_task(take_calls())
            assert await api("insert", idcampanha="999", cliente="X", ddd1="11",
                             tel1="90000600") == ["Status", "ID CAMPANHA NAO CADASTRADO"]
            contacts = {"talks 15 s": "90000600", "talks 5 s": "90000601",
                        "never answers": "90000604", "busy": "90000603"}
            for name, tel in contacts.items():
                assert await api("insert", idcampanha="235", idcrm="1234", cliente=name,
                                 cpf="346150521852", ddd1="11", tel1=tel, gen15="gen15",
                                 conta="CONTA") == ["Status", "OK"]
            rows = dialer.validate_statusdiscador(await api("statusdiscador",
                                                            idcampanha="235"))
            ids = {r["cliente"]: r["id"] for r in rows}
            assert set(ids) == set(contacts)
            final = (dialer.CONCLUIDO, dialer.DESCARTADO, dialer.EXCEDIDO)
            for name in contacts:
                await twin.dialer.wait_status("235", ids[name], final, timeout=45)
            # paused: a contact inserted now is not dialled
            twin.dialer.pause("235")
            assert await api("insert", idcampanha="235", cliente="waits", ddd1="11",
                             tel1="90000600") == ["Status", "OK"]
            await asyncio.sleep(3)
            rows = dialer.validate_statusdiscador(await api("statusdiscador",
                                                            idcampanha="235"))
            by_name = {r["cliente"]: r for r in rows}
            print({n: (r["status"], r["tentativas"], r["status_ligacao"])
                   for n, r in by_name.items()}, held)
            assert by_name["talks 15 s"]["status"] == "CONCLUIDO"
            assert by_name["talks 5 s"]["status"] == "Descartado"
            assert by_name["talks 5 s"]["status_ligacao"] == "ANSWER"
            assert (by_name["never answers"]["status"],
                    by_name["never answers"]["tentativas"]) == ("EXCEDIDO", "5")
            assert (by_name["busy"]["status"], by_name["busy"]["tentativas"],
                    by_name["busy"]["status_ligacao"]) == ("Descartado", "1", "BUSY")
            assert (by_name["waits"]["status"], by_name["waits"]["tentativas"]) == (
                "AGUARDANDO", "0")
            row = by_name["talks 15 s"]
            assert (row["ddd"], row["numero"], row["campanha"], row["gen15"], row["18"]) == (
                "11", "90000600", "EP_TRAD_30.12", "gen15", "EP_TRAD_30.12")

            detail = dialer.validate_statusdetalhado(await api(
                "statusdetalhado", idcampanha="235", idmailing=ids["talks 15 s"]))
            assert detail["statuschamada"] == "ANSWER" and detail["ramal"] == "1012"
            assert detail["id_mailing"] == ids["talks 15 s"] and detail["campanha"] == "235"
            assert detail["numero"] == "1190000600" and detail["sidehangup"] == "OPERADOR"
            assert abs(int(detail["duracao"]) - held["1190000600"]) <= 1
            assert int(detail["tamanho_gravacao"]) > 0
            assert await api("statusdetalhado", idcampanha="235",
                             idmailing=ids["talks 5 s"]) == []
            gsm = await client.request("GET", twin.url + pbx_api.record_path(
                detail["gravacao"]))
            assert gsm.status == 200 and len(gsm.body) % 33 == 0 and len(gsm.body) > 33 * 500
            decoder = GsmDecoder()
            pcm = np.concatenate([decoder.decode(gsm.body[i:i + 33])
                                  for i in range(0, len(gsm.body), 33)])
            assert dominant_frequency(pcm[8000:], 8000) == pytest.approx(1000, abs=15)

            assert await api("deletediscador", idcampanha="235") == ["Total Deletados", "5"]
            assert await api("statusdiscador", idcampanha="235") == []
            taker.cancel()
            await asyncio.gather(taker, return_exceptions=True)
    assert_lab_idle(lab)
