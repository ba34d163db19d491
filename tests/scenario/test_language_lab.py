"""The scenario language read as the call it describes (issue 19), against the lab: the
shipped two-phone scenario passes as written (call returns at once, answer in sequence,
DTMF waits for the media, expect looks at what the step before it did), and its negative
control (DTMF 124 asked, 123 sent) fails with a message that says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sipclient.scenario.engine import run_scenario
from sipclient.scenario.loader import load_scenario, load_text
from sipclient.scenario.target import Target

pytestmark = pytest.mark.lab

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios" / "features" / \
    "two-phones-dtmf-hold.sip.yaml"


async def run(lab, scenario, report: Path):
    return await asyncio.wait_for(run_scenario(scenario, Target.from_lab(lab), report), 90)


@pytest.mark.asyncio
async def test_the_obvious_two_phone_scenario_passes_and_its_negative_control_fails(lab, tmp_path):
    scenario = load_scenario(SHIPPED)
    kinds = [s.kind for s in scenario.steps]
    assert "parallel" not in kinds and kinds.count("expect") == 2  # no throw-away expects
    result = await run(lab, scenario, tmp_path / "ok")
    assert result.status == "passed", (result.error, result.failing_step)
    assert result.media["b1"]["dtmf_received"] == "123"
    # bob rang 2 s before answering: the call step itself returned at once
    steps = {s.path: s for s in result.steps}
    assert steps["3"].duration < 1.0 and steps["4"].duration >= 2.0
    bob = result.flows["bob"]
    assert "BYE" in bob and bob[bob.index("BYE") + 1] == "200"  # bob hung up

    text = SHIPPED.read_text().replace('dtmf: "123"}', 'dtmf: "124"}')
    assert text.count('"124"') == 1
    bad = await run(lab, load_text(text, tmp_path / "negative.sip.yaml"), tmp_path / "bad")
    assert bad.status == "failed"
    step = bad.failing_step
    assert step.path == "6" and step.kind == "expect_media"
    assert step.message == "expect_media b1: DTMF received '123', not '124'"
    assert step.expected == "DTMF '124' received"
