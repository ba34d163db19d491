"""The shipped suite (scenarios/) passes against the lab through ``sipclient run`` with
--junit and --json, and a scenario whose expectation fails shows the step, what was
expected, what arrived and the ladder in the terminal, the JUnit file and the JSON file.

Both run in-process (``sipclient.cli.main`` with an ``Env``) on the test session's lab
(``SIPCLIENT_LAB_RUN_DIR``: adopted and left running, no extra Asterisk). Wall times of the
suite are measured by hand (docs: the report of issue 6), never asserted here.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sipclient.cli import Env, main
from sipclient.scenario.loader import load_scenario

SUITE = Path(__file__).resolve().parents[2] / "scenarios"

pytestmark = pytest.mark.lab


def cli(*argv: str, lab) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", *argv], Env(stdout=out, stderr=err,
                                    environ={"SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir)}))
    return code, out.getvalue(), err.getvalue()


def test_the_shipped_suite_passes_on_the_lab_with_junit_and_json(lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = sorted(SUITE.rglob("*.sip.yaml"))
    scenarios = {str(load_scenario(f).name): load_scenario(f) for f in files}
    assert len(scenarios) == len(files), "two scenario files share a name"
    code, out, err = cli(str(SUITE), "--junit", "junit.xml", "--json", "run.json",
                         "--report-dir", "rep", lab=lab)
    assert code == 0, out + err
    assert f"{len(files)} passed, 0 failed" in out
    # JUnit: every scenario file is one test case, none failed or in error
    cases = {c.get("name"): c for c in ET.parse("junit.xml").getroot().iter("testcase")}
    assert set(cases) == set(scenarios)
    for name, case in cases.items():
        assert case.find("failure") is None and case.find("error") is None, name
    # JSON: each scenario passed; every call an expect_media step looks at
    # has its media statistics (codec, packets both ways, loss, jitter, MOS)
    doc = json.loads(Path("run.json").read_text())
    assert doc["counts"]["passed"] == len(files) and doc["exit_code"] == 0
    results = {s["name"]: s for s in doc["scenarios"]}
    assert set(results) == set(scenarios)
    media_scenarios = 0
    for name, scenario in scenarios.items():
        result = results[name]
        assert result["status"] == "passed", (name, result["error"])
        calls = {str(a["call"]) for s in _all_steps(scenario.steps) if s.kind == "expect_media"
                 for a in [s.args] if "${" not in str(a["call"])}
        media_scenarios += bool(calls)
        for call in calls:
            stats = result["media"][call]
            assert stats["codec"] and stats["packets_sent"] > 0, (name, call)
            assert stats["packets_received"] > 0 and stats["lost"] is not None, (name, call)
            assert "jitter_ms" in stats and "mos" in stats, (name, call)
    assert media_scenarios >= 15  # 600-602, 606, the codecs, the seed 001 calls, features...
    # the lab was adopted, not ours to stop, and nothing is left registered
    assert lab.is_running()
    assert lab.contacts() == []


def _all_steps(steps):
    for step in steps:
        yield step
        yield from _all_steps(step.children)
        for branch in step.branches.values():
            yield from _all_steps(branch)


FAILING = """\
name: 600 is expected to be FreeSWITCH
agents:
  alice: {account: 1020, play: "tone:1000"}
steps:
  - register: alice
  - call: {from: alice, to: "600", as: c1}
  - expect:
      agent: alice
      call: c1
      status: 200
      headers: {Server: "^FreeSWITCH"}
  - hangup: c1
"""


def test_a_failing_expectation_shows_step_expected_received_and_ladder_everywhere(
        lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("wrong.sip.yaml").write_text(FAILING)
    code, out, err = cli("wrong.sip.yaml", "--junit", "junit.xml", "--json", "run.json",
                         "--report-dir", "rep", lab=lab)
    assert code == 1, out + err
    # terminal: the step and its YAML lines, expected, the 200 that arrived, the ladder
    assert "=== FAIL 600 is expected to be FreeSWITCH" in out
    assert "step 3 (expect) at wrong.sip.yaml:7: failed" in out
    assert "   11 |       headers: {Server: \"^FreeSWITCH\"}" in out
    assert "expected:\n    a 200 response received, in call c1, with Server matching " \
           "/^FreeSWITCH/" in out
    assert "received:\n    SIP/2.0 200 OK" in out
    assert "ladder so far:" in out and "INVITE sip:600@" in out
    # JUnit: the same in the failure of the test case
    case = ET.parse("junit.xml").getroot().find("testcase")
    failure = case.find("failure")
    assert failure.get("message").startswith("step 3 (expect) at wrong.sip.yaml:7")
    for part in ("expected:\n    a 200 response received", "received:\n    SIP/2.0 200 OK",
                 "ladder so far:", "INVITE sip:600@"):
        assert part in failure.text, part
    # JSON: the failing step with expected and received, and the ladder
    result = json.loads(Path("run.json").read_text())["scenarios"][0]
    assert result["status"] == "failed" and result["failing_step"] == "3"
    step = next(s for s in result["steps"] if s["path"] == "3")
    assert step["expected"].endswith("with Server matching /^FreeSWITCH/")
    assert step["received"].startswith("SIP/2.0 200 OK") and "Server: Asterisk" in \
        step["received"]
    assert "INVITE sip:600@" in result["ladder"]
    assert [s["status"] for s in result["steps"]] == ["passed", "passed", "failed", "skipped"]
    assert lab.contacts("1020") == []  # unregistered after the failure
