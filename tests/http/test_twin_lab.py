"""The twin end to end on the real lab: a click-to-call request rings our registered agent,
the agent answers, 600 (echo) is dialled, audio flows, and after the hang-up the webhook
receivers get the call in every dialect; recordings download and hold the agent's tone."""

from __future__ import annotations

import asyncio
import io
import time
import wave

import numpy as np
import pytest

from sipclient.agent import Agent
from sipclient.http.client import HttpClient
from sipclient.http.dialects import krolik, pbx_api, rest_c2c, minicrm
from sipclient.http.receivers import WebhookReceiver
from sipclient.http.twin import Twin, TwinConfig, WebhookTarget
from sipclient.media.audio import dominant_frequency
from sipclient.media.codecs.gsm import GsmDecoder

from .util import (API_KEY, PUSH_TOKEN, SECRETS, agent_config, assert_lab_idle, credentials,
                   twin_and_two_agents)

pytestmark = pytest.mark.lab


def twin_config(rx: WebhookReceiver, **kw) -> TwinConfig:
    hooks = [WebhookTarget("seed000", rx.url("seed000")),
             WebhookTarget("seed002", rx.url("seed002"), PUSH_TOKEN, method="PUT"),
             WebhookTarget("seed003", rx.url("seed003")),
             WebhookTarget("seed004", rx.url("seed004"), API_KEY)]
    return TwinConfig(credentials=credentials(), webhooks=hooks, **kw)


async def start_call(client: HttpClient, twin: Twin, dialect: str, ext: str, number: str,
                     key: str = "crm-key-1") -> str:
    """Send the dialect's click-to-call; return the twin's call id."""
    if dialect == "seed001":
        body = pbx_api.request("clicktocall", credentials(), origem=ext, destino=number)
        resp = await client.post_json(twin.url + pbx_api.API_PATH, body)
        return pbx_api.parse_click_to_call_answer(resp.json())
    if dialect == "seed000":
        c2c = krolik.click_to_call(krolik.make_ramal("100", ext), number, key)
        resp = await client.post_form(twin.url + krolik.CALL_PATH, c2c.form())
        assert resp.status == 200, resp.text
        for _ in range(50):
            ids = [c.record.id for c in twin.calls.values() if c.record.key == key]
            if ids:
                return ids[-1]
            await asyncio.sleep(0.1)
        raise AssertionError("the seed000 request started no call")
    resp = await client.request("GET", twin.url + rest_c2c.call_path(ext, number))
    return rest_c2c.parse_call_answer(resp.json())


def wav_tone(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getframerate() == 8000
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return dominant_frequency(samples[8000:], 8000)


@pytest.mark.parametrize("dialect,ext", [("seed001", "1015"), ("seed000", "1016"),
                                         ("seed003", "1017")])
@pytest.mark.asyncio
async def test_click_to_call_answered(lab, dialect: str, ext: str, capsys) -> None:
    async with asyncio.timeout(90):
        async with WebhookReceiver(token=PUSH_TOKEN, api_key=API_KEY) as rx, \
                Twin(lab, twin_config(rx)) as twin, \
                Agent(agent_config(lab, ext, play="tone:1000")) as agent:
            assert (await agent.register()).ok
            client = HttpClient(ca_file=str(twin.ca_file))
            call_id = await start_call(client, twin, dialect, ext, "600", key=f"key-{ext}")
            incoming = await agent.next_incoming(timeout=10)
            assert "600" in incoming.caller
            await incoming.answer()
            answered = time.monotonic()
            await asyncio.sleep(3.2)
            echo_hz = incoming.media.stats()[0]["dominant_hz"]
            await incoming.hangup()
            talk = time.monotonic() - answered
            rec = await twin.wait_ended(call_id, timeout=10)
            await twin.wait_delivered()
            print(f"{dialect}: talk {talk:.2f} s, billsec {rec.billsec}, echo {echo_hz} Hz")
            assert echo_hz == pytest.approx(1000, abs=15)
            assert rec.disposition == "ANSWER"

            cdr = (await rx.expect("seed000", "cdr", callid=rec.key)).fields
            assert cdr["disposition"] == "ANSWER"
            assert cdr["src"] == ext and cdr["dst"] == "600"
            assert abs(int(cdr["billsec"]) - talk) <= 1.0
            start = await rx.expect("seed002", "start", call_id=rec.id)
            end = await rx.expect("seed002", "end", call_id=rec.id)
            assert start.method == end.method == "PUT"
            assert end.fields["call_status"] == "ANSWER"
            assert abs(end.fields["call_time"] - talk) <= 1.0
            await rx.expect("seed003", "call.dialing", timeout=2)
            hangup = await rx.expect("seed003", "call.hangup")
            assert hangup.fields["data"]["disposition"] == "ANSWERED"
            log = await rx.expect("seed004", "calllog", ReferenceId=rec.uniqueid)
            assert abs(log.fields["Duration"] - talk) <= 1.0
            # MiniCRM downloads it through the twin's recording URL template
            crm_rec = await client.request("GET", minicrm.recording_url(
                twin.minicrm_template, log.fields["ReferenceId"]))
            assert crm_rec.status == 200 and wav_tone(crm_rec.body) == pytest.approx(1000,
                                                                                    abs=15)

            # the recording, at each documented URL shape, holds the agent's tone
            wav = await client.request("GET", twin.url + krolik.record_path(cdr["userfield"]))
            assert wav.status == 200, wav.text
            assert wav_tone(wav.body) == pytest.approx(1000, abs=15)
            url = end.fields["call_url_audio"]
            assert url.startswith(twin.url + "/webphone-1000/")
            assert (await client.request("GET", url)).body == wav.body
            gsm = await client.request("GET", twin.url + pbx_api.record_path(rec.recording))
            assert gsm.status == 200 and len(gsm.body) % 33 == 0
            decoder = GsmDecoder()
            pcm = np.concatenate([decoder.decode(gsm.body[i:i + 33])
                                  for i in range(0, len(gsm.body), 33)])
            assert dominant_frequency(pcm[8000:], 8000) == pytest.approx(1000, abs=15)
            report = (await client.post_json(
                twin.url + pbx_api.API_PATH,
                pbx_api.request("statusreport", credentials(), datainicial=""))).json()
            pbx_api.validate_report(report)
            row = next(r for r in report if r["id"] == rec.id)
            assert row["statuschamada"] == "ANSWER" and row["gravacao"] == rec.recording
            if dialect == "seed003":
                status = rest_c2c.parse_answer((await client.request(
                    "GET", twin.url + rest_c2c.status_path(call_id))).json())
                assert status["apiStatus"] == "SUCCESS"
                assert status["data"]["status"] == "FINISHED"
                assert status["data"]["disposition"] == "ANSWERED"
                assert status["data"]["billsec"] == rec.billsec
                unknown = await client.request("GET", twin.url + rest_c2c.status_path("nope"))
                assert unknown.status == 404 and unknown.json()["apiStatus"] == "NOT_FOUND"
            assert not rx.rejected, rx.rejected
            assert not rx.warned, [w.warnings for w in rx.warned]
        out = capsys.readouterr()
        for secret in SECRETS:
            assert secret not in out.out + out.err


@pytest.mark.asyncio
async def test_unanswered_busy_and_cancel(lab) -> None:
    """NO ANSWER (the extension rings out), BUSY (it answers 486), CANCEL (the operator
    hangs up while the number still rings), each checked in seed 000, 002 and 003."""
    async with asyncio.timeout(90):
        async with WebhookReceiver(token=PUSH_TOKEN, api_key=API_KEY) as rx, \
                Twin(lab, twin_config(rx, ring_timeout=3)) as twin, \
                Agent(agent_config(lab, "1018")) as agent:
            assert (await agent.register()).ok
            client = HttpClient(ca_file=str(twin.ca_file))
            results = {}
            # no answer: the agent lets it ring
            call_id = await start_call(client, twin, "seed001", "1018", "600")
            await agent.next_incoming(timeout=10)
            results["NO ANSWER"] = await twin.wait_ended(call_id, timeout=15)
            # busy: the agent rejects with 486
            agent.auto_reject = 486
            call_id = await start_call(client, twin, "seed003", "1018", "600")
            results["BUSY"] = await twin.wait_ended(call_id, timeout=15)
            agent.auto_reject = None
            # cancel: the agent answers, 604 rings, the agent hangs up first
            call_id = await start_call(client, twin, "seed000", "1018", "604", key="k-cancel")
            while True:
                incoming = await agent.next_incoming(timeout=10)
                if incoming.final is None:
                    break
            await incoming.answer()
            await asyncio.sleep(1.5)
            await incoming.hangup()
            results["CANCEL"] = await twin.wait_ended(call_id, timeout=10)
            await twin.wait_delivered()
            for disposition, rec in results.items():
                assert rec.disposition == disposition, (disposition, rec)
                assert rec.billsec == 0
                cdr = await rx.expect("seed000", "cdr", callid=rec.key)
                assert cdr.fields["disposition"] == disposition
                assert cdr.fields["billsec"] == "0"
                end = await rx.expect("seed002", "end", call_id=rec.id)
                assert end.fields["call_status"] == disposition
                hangup = await rx.expect("seed003", "call.hangup", timeout=2,
                                         data=lambda d, rec=rec: d["callId"] == rec.id)
                assert hangup.fields["data"]["disposition"] == disposition
            assert not rx.rejected, rx.rejected
            assert not rx.warned, [w.warnings for w in rx.warned]
    assert_lab_idle(lab)


@pytest.mark.asyncio
async def test_statusramais_during_an_ivr_call(lab) -> None:
    """1019 calls the IVR 608 + 1020, types its "CPF"; 1020 answers: statusramais shows both
    In use, 1019 SAIDA and 1020 ENTRADA, JSON1 = the digits; seed 003's active call too."""
    async with asyncio.timeout(90):
        async with twin_and_two_agents(lab, "1019", "1020") as (twin, caller, callee, client):
            call = await caller.call("6081020")
            final = await call.wait_final(timeout=10)
            assert final.status == 200
            await asyncio.sleep(1.0)
            await call.send_dtmf("12345678")
            incoming = await callee.next_incoming(timeout=15)
            await incoming.answer()
            await asyncio.sleep(1.5)
            resp = await client.post_json(twin.url + pbx_api.API_PATH,
                                          pbx_api.request("statusramais", credentials()))
            rows = pbx_api.validate_statusramais(resp.json())
            active = (await client.request("GET", twin.url + rest_c2c.active_path("1020"))).json()
            gravacao = rows[0]["GRAVACAO"] if rows else ""
            await call.hangup()
            await asyncio.sleep(0.5)
            after = await client.request("GET", twin.url + pbx_api.record_path(gravacao, "wav"))
        by_ramal = {r["Ramal"]: r for r in rows}
        assert set(by_ramal) == {"1019", "1020"}, rows
        out, into = by_ramal["1019"], by_ramal["1020"]
        assert out["Status"] == into["Status"] == "In use"
        assert (out["Direcao"], into["Direcao"]) == ("SAIDA", "ENTRADA")
        assert out["StatusCanal"] == into["StatusCanal"] == "Up"
        assert into["JSON1"] == "12345678"
        assert into["Callerid"] == "1019" and out["Callerid"] == "1020"
        assert into["Extension"] == out["Extension"] == "1020"
        assert out["IDCHAMADA"] == into["IDCHAMADA"] != ""
        assert int(out["Duracao"]) >= 2
        assert gravacao.endswith("-S-1019-" + out["IDCHAMADA"]) and gravacao.startswith("20")
        assert after.status == 200 and wav_tone(after.body) == pytest.approx(1000, abs=15)
        rest_c2c.parse_answer(active)
        assert active["apiStatus"] == "SUCCESS"
        assert active["data"]["name"].startswith("PJSIP/1020-")
        assert active["data"]["state"] == "UP"


@pytest.mark.asyncio
async def test_refusals_as_documented(lab) -> None:
    """Wrong token, wrong source address, plain HTTP: each refused as seed 001 says; the
    secrets never show in the answers or the logs."""
    async def main() -> dict:
        async with Twin(lab, TwinConfig(credentials=credentials())) as twin:
            good = HttpClient(ca_file=str(twin.ca_file))
            url = twin.url + pbx_api.API_PATH
            bad_token = pbx_api.request("statusramais", credentials()) | {"token": "wrong"}
            answers = {
                "ok": (await good.post_json(url, pbx_api.request("statusramais",
                                                                 credentials()))).json(),
                "token": (await good.post_json(url, bad_token)).json(),
                "senha": (await good.post_json(url, pbx_api.request(
                    "statusramais", credentials()) | {"senha": "x"})).json(),
                "source": (await HttpClient(ca_file=str(twin.ca_file),
                                            source_address="127.0.0.2").post_json(
                    url, pbx_api.request("statusramais", credentials()))).json(),
                "plain": (await good.post_json(url.replace("https://", "http://"),
                                               pbx_api.request("statusramais",
                                                               credentials()))).json(),
            }
            verify = HttpClient()  # the default verifies: the twin's self-signed cert fails
            try:
                await verify.post_json(url, {})
                answers["verify"] = "accepted"
            except Exception as exc:  # noqa: BLE001
                answers["verify"] = str(exc)
            answers["refusals"] = list(twin.refusals)
            return answers

    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("sipclient.http").addHandler(handler)
    try:
        answers = await asyncio.wait_for(main(), 90)
    finally:
        logging.getLogger("sipclient.http").removeHandler(handler)
    assert isinstance(answers["ok"], list)
    assert answers["token"] == ["Status", "Login/Senha Invalido"]
    assert answers["senha"] == ["Status", "Login/Senha Invalido"]
    assert answers["source"] == ["Status", "Login/Senha Invalido"]
    assert answers["plain"] == ["Status", "Erro de Protocolo"]
    assert "certificate not trusted" in answers["verify"]
    assert answers["refusals"] == ["token", "senha", "source"]
    text = " ".join(r.getMessage() for r in records) + repr(answers)
    assert "does not match" in text
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.asyncio
async def test_transfer_gives_seed002_a_third_push(lab) -> None:
    """The agent transfers the click-to-call (REFER to 607, which hangs up by itself after
    2 s: a transfer to 600 would leave two echoes talking to each other for ever): seed 002
    gets start, end and a third push carrying call_transfer_id, in that order."""
    async with asyncio.timeout(90):
        async with WebhookReceiver(token=PUSH_TOKEN) as rx, \
                Twin(lab, TwinConfig(credentials=credentials(), webhooks=[
                    WebhookTarget("seed002", rx.url("seed002"), PUSH_TOKEN)])) as twin, \
                Agent(agent_config(lab, "1014")) as agent:
            assert (await agent.register()).ok
            client = HttpClient(ca_file=str(twin.ca_file))
            call_id = await start_call(client, twin, "seed001", "1014", "600")
            incoming = await agent.next_incoming(timeout=10)
            await incoming.answer()
            await asyncio.sleep(1.5)
            accepted = await incoming.refer("607")
            assert accepted.status in (200, 202)
            rec = await twin.wait_ended(call_id, timeout=10)
            transfer = await rx.expect("seed002", "transfer", call_id=rec.id)
            kinds = [w.kind for w in rx.received if w.fields["call_id"] == rec.id]
            assert kinds == ["start", "end", "transfer"]
            assert transfer.fields["call_transfer_id"] not in ("", rec.uniqueid)
            assert transfer.fields["call_status"] == "ANSWER"
            assert not rx.rejected, rx.rejected
            assert not rx.warned, [w.warnings for w in rx.warned]
    assert_lab_idle(lab)
