"""The HTTP scenario steps through the engine on the lab: a few of scenarios/http (all of them
pass under `sipclient run scenarios/http`), and a failing one that must say why."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sipclient.scenario.engine import run_scenario
from sipclient.scenario.loader import load_scenario, load_text
from sipclient.scenario.target import Target

pytestmark = pytest.mark.lab

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios" / "http"


async def _run(lab, scenario, report: Path):
    return await asyncio.wait_for(run_scenario(scenario, Target.from_lab(lab), report), 90)


@pytest.mark.parametrize("name", ["c2c-seed003-answered", "c2c-cancel", "statusramais-ivr",
                                  "refusals", "minicrm-seed-example", "dialer-campaign"])
@pytest.mark.asyncio
async def test_http_scenarios_pass(lab, tmp_path: Path, name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.sip.yaml")
    result = await _run(lab, scenario, tmp_path / "report")
    assert result.status == "passed", result.error
    shown_steps = [s for s in result.steps if s.kind == "expect_webhook"]
    source = (SCENARIOS / f"{name}.sip.yaml").read_text()
    assert bool(shown_steps) == ("expect_webhook" in source)
    for step in shown_steps:        # each webhook as received, in the report (issue 20)
        shown = json.loads(step.received)
        assert shown["warnings"] == [] and shown["body"] and shown["headers"]
        assert "token" not in shown["headers"] or shown["headers"]["token"] == "***"


@pytest.mark.asyncio
async def test_a_wrong_webhook_expectation_fails_in_words(lab, tmp_path: Path) -> None:
    scenario = load_text("""
name: wrong disposition
agents:
  alice: {account: 1020}
steps:
  - register: alice
  - http_twin: {ring_timeout: 2, webhooks: [seed000]}
  - click_to_call: {dialect: seed001, ramal: "1020", number: "600", as: c2c}
  - expect_webhook: {dialect: seed000, kind: cdr, call: c2c, timeout: 8,
                     fields: {disposition: ANSWER}}
""", tmp_path / "t.sip.yaml")
    result = await _run(lab, scenario, tmp_path / "report")
    assert result.status == "failed"
    assert "expect_webhook: no seed000 cdr with disposition: ANSWER within 8 s" in result.error
    failing = result.failing_step
    assert "'disposition': 'NO ANSWER'" in failing.received or \
        '"disposition": "NO ANSWER"' in failing.received


@pytest.mark.asyncio
async def test_dialects_named_by_their_module_run_like_their_seed_ids(lab, tmp_path: Path) -> None:
    """The seed003 answered click-to-call, every dialect named by its module instead
    (rest_c2c, krolik, pbx55): the same steps, the same webhooks, the same recording."""
    text = (SCENARIOS / "c2c-seed003-answered.sip.yaml").read_text()
    for ident, module in (("seed000", "krolik"), ("seed002", "pbx55"), ("seed003", "rest_c2c")):
        text = text.replace(f"dialect: {ident}", f"dialect: {module}").replace(
            f"shape: {ident}", f"shape: {module}")
    text = text.replace("http_twin: {}", "http_twin: {webhooks: [krolik, pbx55, rest_c2c]}")
    assert "seed00" not in text.split("steps:", 1)[1]
    result = await _run(lab, load_text(text, tmp_path / "named.sip.yaml"), tmp_path / "report")
    assert result.status == "passed", result.error
    assert [json.loads(s.received)["dialect"] for s in result.steps
            if s.kind == "expect_webhook"] == ["seed000", "seed002", "seed003"]
