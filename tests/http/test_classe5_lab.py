"""Issue 20: seed 001's bloqueioclasse5 on the lab: BLOQUEAR makes Asterisk refuse the
tenant's REGISTER and INVITE (401 Unauthorized to the request with credentials: its endpoint
ACL denies every address), DESBLOQUEAR lets both work again."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.agent import Agent
from sipclient.agent.errors import AuthenticationFailed
from sipclient.http.client import HttpClient
from sipclient.http.dialects import pbx_api
from sipclient.http.twin import Twin, TwinConfig

from .util import agent_config, assert_lab_idle, credentials

pytestmark = pytest.mark.lab


@pytest.mark.asyncio
async def test_block_then_unblock_the_tenant(lab) -> None:
    async def main() -> dict:
        async with Twin(lab, TwinConfig(credentials=credentials())) as twin:
            client = HttpClient(ca_file=str(twin.ca_file))

            async def classe5(login: str, acao: str):
                return (await client.post_json(twin.url + pbx_api.API_PATH, pbx_api.request(
                    "bloqueioclasse5", credentials(), logincliente=login,
                    classe5acao=acao))).json()

            async def try_agent() -> tuple[int, int]:
                async with Agent(agent_config(lab, "1013")) as agent:
                    try:
                        reg = (await agent.register()).status
                    except AuthenticationFailed as exc:   # credentials challenged again
                        reg = exc.response.status
                    try:
                        call = await agent.call("600")
                        final = (await call.wait_final(timeout=10)).status
                        if final == 200:
                            await call.hangup()
                    except AuthenticationFailed as exc:
                        final = exc.response.status
                    if reg == 200:
                        await agent.unregister()
                    return reg, final
            out = {"before": await try_agent(),
                   "unknown": await classe5("teste", "BLOQUEAR"),
                   "block": await classe5("lab", "BLOQUEAR")}
            out["blocked"] = await try_agent()
            out["unblock"] = await classe5("lab", "DESBLOQUEAR")
            out["after"] = await try_agent()
            out["bad"] = await classe5("lab", "APAGAR")
            return out
    out = await asyncio.wait_for(main(), 90)
    assert out["before"] == (200, 200)
    assert out["unknown"] == ["Status", "Login Cliente Invalido"]
    assert out["block"] == out["unblock"] == ["Status", "OK"]
    # Asterisk 16 answers the blocked tenant's authenticated REGISTER and INVITE with a new
    # 401 challenge (its endpoint ACL check fails after the digest succeeded) and logs why
    assert out["blocked"] == (401, 401)
    log = (lab.run_dir / "log" / "messages").read_text(errors="replace")
    assert "ACL" in log
    assert out["after"] == (200, 200)
    assert out["bad"][0] == "Status" and "classe5acao" in out["bad"][1]
    assert_lab_idle(lab)
