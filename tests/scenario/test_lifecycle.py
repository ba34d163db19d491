"""``close`` and ``reopen`` (sipclient/scenario/steps/lifecycle.py) against the real lab: a
phone that loses power keeps its registration at the PBX, its later steps fail in words, the
engine's final cleanup copes with it; ``reopen`` moves an agent onto another source port, and
says so when it cannot. The whole conflict of seed 001 is scenarios/register/ (test_suite.py).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sipclient.scenario.engine import run_scenario
from sipclient.scenario.loader import load_text
from sipclient.scenario.target import Target

pytestmark = pytest.mark.lab


async def run(lab, tmp_path: Path, text: str, on_step=None):
    scenario = load_text(text, tmp_path / "test.sip.yaml")
    report = tmp_path / "report"
    return await asyncio.wait_for(
        run_scenario(scenario, Target.from_lab(lab), report, on_step=on_step), 90), report


@pytest.mark.asyncio
async def test_close_without_cleanup_keeps_the_registration_and_later_steps_fail_in_words(
        lab, tmp_path: Path) -> None:
    seen: dict[str, list] = {}

    def on_step(step):
        if step.path == "2":  # right after the close: the PBX still has alice's contact
            seen["after close"] = lab.contacts("1018")

    result, report = await run(lab, tmp_path, """
name: power loss
agents:
  alice: {account: 1018}
  again: {account: 1018}
steps:
  - register: alice
  - close: {agent: alice, cleanup: false}
  - expect_flow: {agent: alice, flow: [REGISTER, 401, REGISTER, 200]}
  - register: again
  - register: alice
  - wait: 1
""", on_step=on_step)
    assert len(seen["after close"]) == 1  # no un-REGISTER was sent
    assert result.status == "failed", result.error  # failed in words, not an error
    step = result.failing_step
    assert step.path == "5"
    assert step.message == ("agent alice was closed by step 2 (close): it cannot register any "
                            "more (reopen: {agent: alice} first)")
    assert [s.status for s in result.steps] == ["passed"] * 4 + ["failed", "skipped"]
    # the engine's cleanup: nothing more from alice, `again` unregistered; no internal error
    assert result.flows["alice"] == ["REGISTER", "401", "REGISTER", "200"]
    assert result.flows["again"] == ["REGISTER", "401", "REGISTER", "200"] * 2
    assert result.debug is None
    assert lab.contacts("1018") == []
    assert "alice" in json.loads((report / "result.json").read_text())["agents"]


@pytest.mark.asyncio
async def test_close_with_cleanup_unregisters_first(lab, tmp_path: Path) -> None:
    result, _ = await run(lab, tmp_path, """
agents:
  alice: {account: 1019}
steps:
  - register: alice
  - close: alice
  - expect_flow: {agent: alice, flow: [REGISTER, 401, REGISTER, 200, REGISTER, 401, REGISTER, 200]}
""")
    assert result.status == "passed", result.error
    assert lab.contacts("1019") == []


@pytest.mark.asyncio
async def test_reopen_moves_an_agent_to_a_closed_agents_port_and_fails_in_words_when_taken(
        lab, tmp_path: Path) -> None:
    result, _ = await run(lab, tmp_path, """
agents:
  alice: {account: 1018}
  bob: {account: 1019}
steps:
  - reopen: {agent: bob, local_port: "${alice.local_port}"}
  - close: alice
  - reopen: {agent: bob, local_port: "${alice.local_port}"}
  - register: bob
  - expect: {agent: bob, out: true, method: REGISTER,
             headers: {Contact: "<sip:1019@127.0.0.1:${alice.local_port};"}}
""")
    assert result.status == "failed"
    first = result.failing_step
    # alice still holds her port: bob cannot have it, and the step says which one
    assert first.path == "1" and first.message.startswith("reopen bob from 127.0.0.1:")
    assert "is already in use by another socket" in first.message

    result, _ = await run(lab, tmp_path / "second", """
agents:
  alice: {account: 1018}
  bob: {account: 1019}
steps:
  - close: alice
  - reopen: {agent: bob, local_port: "${alice.local_port}"}
  - register: bob
  - expect: {agent: bob, out: true, method: REGISTER,
             headers: {Contact: "<sip:1019@127.0.0.1:${alice.local_port};"}}
  - expect: {agent: bob, status: 200}
""")
    assert result.status == "passed", result.error
    assert lab.contacts("1019") == []  # unregistered at the end from the new port
