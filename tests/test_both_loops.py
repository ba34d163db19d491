"""A representative subset on both event loops, in every run of the suite: asyncio's (the
default, which the suite runs on) and uvloop (what `sipclient` picks when it is installed).
`SIPCLIENT_LOOP=uvloop make test` runs the whole suite on uvloop; these keep both exercised
without it: a call with RTP paced by the media clock, DTMF over INFO, hold, the waitable
trace, and a scenario through the engine, each on each loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.io.loop import run as run_loop
from sipclient.scenario.engine import run_scenario
from sipclient.scenario.loader import load_text
from tests.agent.fake_pbx import FakePbx
from tests.scenario.test_engine import PASSWORD, fake_target

LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("uvloop") is None,
    reason="uvloop is not installed (pip install 'sipclient[fast]')"))]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_call_with_media_dtmf_hold_and_the_trace(loop: str) -> None:
    async def main():
        async with FakePbx({"1001": PASSWORD}) as pbx:
            cfg = AgentConfig(user="1001", password=Secret(PASSWORD), server=pbx.server,
                              media_level="packets")
            async with Agent(cfg) as agent:
                call = await agent.call("600")
                final = await call.wait_final(timeout=5)
                # the trace wakes its waiters: the 200 is there without any polling
                at = await agent.trace.wait_for(
                    lambda e: e.direction == "in" and e.label == "200", timeout=5)
                await call.send_dtmf("12", mode="info")
                await call.hold()
                await call.unhold()
                await asyncio.sleep(0.4)  # 0.4 s of a call: RTP paced by the media clock
                sent = call.media.stats()[0]["packets_sent"]
                await call.hangup()
                return (type(asyncio.get_running_loop()).__module__, final.status, at,
                        agent.flow(call.call_id), sent)

    module, status, at, flow, sent = run_loop(main(), loop=loop)
    assert module.startswith(loop)
    assert status == 200 and at is not None
    assert flow.count("INFO") == 2  # one INFO per digit
    assert flow[-2:] == ["BYE", "200"], flow
    assert sent >= 10


@pytest.mark.parametrize("loop", LOOPS)
def test_a_scenario_through_the_engine(loop: str, tmp_path: Path) -> None:
    scenario = load_text("""
agents:
  alice: {account: 1001}
steps:
  - register: alice
  - call: {from: alice, to: "600", as: c}
  - wait: 0.3
  - hangup: c
  - expect_flow: {agent: alice, call: c, flow: [INVITE, "100", "200", ACK, BYE, "200"]}
""", tmp_path / "t.sip.yaml", env={})

    async def main():
        async with FakePbx({"1001": PASSWORD}, challenge=("REGISTER",)) as pbx:
            result = await asyncio.wait_for(
                run_scenario(scenario, fake_target(pbx), tmp_path / "report"), 30)
            return type(asyncio.get_running_loop()).__module__, result

    module, result = run_loop(main(), loop=loop)
    assert module.startswith(loop)
    assert result.status == "passed", (result.error, result.failing_step)
