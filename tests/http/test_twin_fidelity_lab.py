"""Issue 20's fidelity fixes on the lab: seed 003 over plain HTTP on its own port (3030 in the
document), seed 001's /discador.php with the example's Bearer header, a direct
extension-to-extension call recorded with GRAVACAO = its IDCHAMADA, MiniCRM's recording URL
template."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.agent import Agent
from sipclient.http.client import HttpClient
from sipclient.http.dialects import pbx_api, rest_c2c, minicrm
from sipclient.http.twin import Twin, TwinConfig

from .test_twin_lab import wav_tone
from .util import (LOGIN, SENHA, TOKEN, agent_config, assert_lab_idle, credentials,
                   twin_and_two_agents)

pytestmark = pytest.mark.lab


@pytest.mark.asyncio
async def test_seed003_on_plain_http_and_discador_php_with_bearer(lab) -> None:
    async def main() -> dict:
        async with Twin(lab, TwinConfig(credentials=credentials(), seed003_port=0,
                                        ring_timeout=2)) as twin, \
                Agent(agent_config(lab, "1016")) as agent:
            assert (await agent.register()).ok
            agent.auto_reject = 486
            plain, tls = HttpClient(), HttpClient(ca_file=str(twin.ca_file))
            base = twin.seed003_url
            assert base.startswith("http://")
            out = {"c2c": (await plain.request("GET", base + rest_c2c.call_path("1016", "600")
                                               )).json()}
            call_id = rest_c2c.parse_call_answer(out["c2c"])
            await twin.wait_ended(call_id, timeout=10)
            out["status"] = (await plain.request("GET", base + rest_c2c.status_path(call_id))
                             ).json()
            out["api_plain"] = (await plain.post_json(base + pbx_api.API_PATH, {})).json()
            out["other_plain"] = (await plain.request("GET", base + "/gravador28/x.gsm")).status
            # seed 001's click-to-call example: /discador.php, the token only in the Bearer
            bearer = ('{"acao":"clicktocall","login":"%s","senha":"%s","token":"%s",'
                      '"origem":"1016","destino":"600"}' % (LOGIN, SENHA, TOKEN))
            body = {"acao": "clicktocall", "login": LOGIN, "senha": SENHA, "origem": "1016",
                    "destino": "600"}
            out["discador"] = (await tls.post_json(twin.url + pbx_api.DIALER_PATH, body,
                                                   {"Authorization": "Bearer " + bearer})
                               ).json()
            out["no_bearer"] = (await tls.post_json(twin.url + pbx_api.DIALER_PATH, body)
                                ).json()
            out["wrong_bearer"] = (await tls.post_json(
                twin.url + pbx_api.DIALER_PATH, body,
                {"Authorization": "Bearer " + bearer.replace(TOKEN, "nope")})).json()
            await twin.wait_ended(pbx_api.parse_click_to_call_answer(out["discador"]), 10)
            return out
    out = await asyncio.wait_for(main(), 90)
    assert out["c2c"]["apiStatus"] == "CONECTION_OK"
    assert out["status"]["apiStatus"] == "SUCCESS"
    assert out["status"]["data"]["disposition"] == "BUSY"
    assert out["api_plain"] == ["Status", "Erro de Protocolo"]
    assert out["other_plain"] == 404
    assert out["discador"][:3] == ["Status", "CHAMADA OK", "ID"]
    assert out["no_bearer"][0] == "Status" and "token" in out["no_bearer"][1]
    assert out["wrong_bearer"] == ["Status", "Login/Senha Invalido"]
    assert_lab_idle(lab)


@pytest.mark.asyncio
async def test_direct_call_recorded_with_gravacao_equal_to_idchamada(lab) -> None:
    async def main():
        async with twin_and_two_agents(lab, "1017", "1018") as (twin, caller, callee, client):
            call = await caller.call("1018")
            incoming = await callee.next_incoming(timeout=10)
            await incoming.answer()
            assert (await call.wait_final(timeout=10)).status == 200
            await asyncio.sleep(2.5)
            rows = pbx_api.validate_statusramais((await client.post_json(
                twin.url + pbx_api.API_PATH, pbx_api.request("statusramais",
                                                             credentials()))).json())
            await call.hangup()
            await asyncio.sleep(0.5)
            gravacao = rows[0]["GRAVACAO"]
            wav = await client.request("GET", twin.url + pbx_api.record_path(gravacao, "wav"))
            return rows, wav
    rows, wav = await asyncio.wait_for(main(), 90)
    by_ramal = {r["Ramal"]: r for r in rows}
    assert set(by_ramal) == {"1017", "1018"}
    out, into = by_ramal["1017"], by_ramal["1018"]
    assert out["GRAVACAO"] == into["GRAVACAO"] != ""
    assert out["IDCHAMADA"] == into["IDCHAMADA"] != ""
    assert out["GRAVACAO"].endswith("/1018-S-1017-" + out["IDCHAMADA"])
    assert wav.status == 200 and wav_tone(wav.body) == pytest.approx(1000, abs=15)
    assert_lab_idle(lab)


def test_minicrm_template_fetches_the_recording() -> None:
    template = "https://127.0.0.1:8443/record?Rec=" + minicrm.REFERENCE_PLACEHOLDER
    assert minicrm.recording_url(template, "1796672826.900001") == \
        "https://127.0.0.1:8443/record?Rec=1796672826.900001"
