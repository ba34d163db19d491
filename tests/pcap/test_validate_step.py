"""The ``validate_capture`` scenario step: the scenario's own capture so far against a
golden capture (path relative to the scenario file)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from sipclient.scenario.loader import load_text

CAPTURES = Path(__file__).resolve().parents[2] / "captures"

SCENARIO = """\
name: busy, checked against the golden capture
agents:
  alice: {account: "1014"}
steps:
  - call: {from: alice, to: "603", as: c1, expect: 486}
  - validate_capture: {against: golden/%s}
"""


async def _run(lab, tmp_path: Path, golden: str):
    from sipclient.scenario.engine import run_scenario
    from sipclient.scenario.target import Target

    (tmp_path / "golden").mkdir(exist_ok=True)
    shutil.copy(CAPTURES / golden, tmp_path / "golden" / golden)
    path = tmp_path / "busy.sip.yaml"
    path.write_text(SCENARIO % golden)
    scenario = load_text(path.read_text(), path, env={})
    return await asyncio.wait_for(
        run_scenario(scenario, Target.from_lab(lab), tmp_path / "report"), 180)


@pytest.mark.lab
@pytest.mark.asyncio
async def test_the_step_passes_when_the_run_follows_the_golden_flow(lab, tmp_path) -> None:
    result = await _run(lab, tmp_path, "busy.pcap")
    assert result.status == "passed", (result.error, [(s.kind, s.status, s.message)
                                                      for s in result.steps])
    assert [s.kind for s in result.steps] == ["call", "validate_capture"]


@pytest.mark.lab
@pytest.mark.asyncio
async def test_the_step_fails_naming_the_difference(lab, tmp_path) -> None:
    result = await _run(lab, tmp_path, "cancel.pcap")
    assert result.status == "failed"
    step = result.steps[-1]
    assert step.kind == "validate_capture" and step.status == "failed"
    assert step.message.startswith("validate_capture against golden/cancel.pcap: dialog 1 "
                                   "(INVITE): message 6: expected 180 Ringing, got 486 Busy Here")


@pytest.mark.lab
@pytest.mark.asyncio
async def test_a_missing_golden_file_is_named(lab, tmp_path) -> None:
    from sipclient.scenario.engine import run_scenario
    from sipclient.scenario.target import Target

    path = tmp_path / "x.sip.yaml"
    path.write_text("agents:\n  alice: {account: \"1014\"}\nsteps:\n"
                    "  - validate_capture: {against: nowhere.pcap}\n")
    scenario = load_text(path.read_text(), path, env={})
    result = await asyncio.wait_for(
        run_scenario(scenario, Target.from_lab(lab), tmp_path / "report"), 180)
    assert result.status == "failed"
    assert result.steps[0].message == \
        f"validate_capture: against: no such file {tmp_path / 'nowhere.pcap'}"
