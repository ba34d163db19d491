"""The run's reports: JUnit XML a CI server can read back, the JSON results document, the
terminal table and failure details; secrets never in any of them. Pure: results built with
the real ``ScenarioResult`` (redaction included), no lab."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from sipclient.scenario.model import Location
from sipclient.scenario.progress import Progress, results_table
from sipclient.scenario.reports import (failing_step, failure_text, junit_xml, run_document,
                                        xml_safe)
from sipclient.scenario.result import ScenarioResult, StepResult

PASSWORD = "hunter2-lab-secret"

RECEIVED_200 = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
                "Call-ID: abc\x00\x1b[31m\r\nCSeq: 2 INVITE\r\n\r\n")


def _redact(text: str) -> str:
    return text.replace(PASSWORD, "***")


def passing(path: str = "scenarios/calls/echo-udp.sip.yaml") -> dict:
    r = ScenarioResult(name="echo over UDP", path=Path(path), status="passed", started=1e9,
                       duration=4.25, tags=("call", "echo"), redact=_redact,
                       flows={"alice": ["REGISTER", "401", "REGISTER", "200"]})
    r.steps.append(StepResult("1", "register", "register", Location(Path(path), 6, 6),
                              status="passed", duration=0.1))
    return r.to_dict()


def failing(path: str = "scenarios/calls/busy.sip.yaml") -> dict:
    where = Location(Path(path), 14, 15)
    r = ScenarioResult(name="busy is 486", path=Path(path), status="failed", started=1e9,
                       duration=1.5, tags=("call",), redact=_redact,
                       flows={"alice": ["INVITE", "401", "ACK", "INVITE", "200"]},
                       ladder="alice  ->  asterisk  INVITE\nalice  <-  asterisk  200 OK",
                       error=f"step 3 failed (password was {PASSWORD})")
    r.steps += [
        StepResult("1", "register", "register", Location(Path(path), 10, 10), "passed"),
        StepResult("2", "parallel", "both", Location(Path(path), 11, 16), "failed",
                   message="branch alice failed"),
        StepResult("2.alice.1", "call", "call", where, "failed",
                   message=f"expected final status 486, got 200 OK (auth {PASSWORD})",
                   expected="status 486", received=RECEIVED_200,
                   source="  14 | - call: {from: alice, to: \"603\"}\n  15 |     expect: 486"),
        StepResult("3", "hangup", "hangup", Location(Path(path), 17, 17), "skipped"),
    ]
    return r.to_dict()


def errored() -> dict:
    r = ScenarioResult(name="lab refused", path=Path("scenarios/other/x.sip.yaml"),
                       status="error", duration=0.2, error="transport failure: refused")
    return r.to_dict()


def document(results: list[dict]) -> dict:
    return run_document(results, started=1_700_000_000.5, duration=6.0, target="lab",
                        report_dir="reports/run-1", paths=["scenarios"], keyword="call")


def test_junit_lists_every_scenario_with_its_verdict_and_time():
    xml = junit_xml(document([passing(), failing(), errored()]))
    suite = ET.fromstring(xml)
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["echo over UDP", "busy is 486", "lab refused"]
    assert [c.get("classname") for c in cases] == ["scenarios.calls", "scenarios.calls",
                                                    "scenarios.other"]
    assert cases[0].get("time") == "4.250"
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    assert cases[2].find("error").get("message") == "transport failure: refused"


def test_junit_failure_shows_the_deepest_failing_step_expected_received_and_ladder():
    case = ET.fromstring(junit_xml(document([failing()]))).find("testcase")
    failure = case.find("failure")
    assert failure.get("message").startswith("step 2.alice.1 (call) at "
                                              "scenarios/calls/busy.sip.yaml:14: expected "
                                              "final status 486, got 200 OK")
    body = failure.text
    assert '14 | - call: {from: alice, to: "603"}' in body
    assert "expected:\n    status 486" in body
    assert "received:\n    SIP/2.0 200 OK" in body
    assert "ladder so far:\n    alice  ->  asterisk  INVITE" in body
    assert case.find("system-out").text.startswith("alice: INVITE 401 ACK INVITE 200")


def test_junit_escapes_control_characters_of_a_raw_message():
    xml = junit_xml(document([failing()]))
    ET.fromstring(xml)  # parses: no raw NUL or ESC left
    assert "\x00" not in xml and "\x1b" not in xml
    assert "Call-ID: abc\\x00\\x1b[31m" in ET.fromstring(xml).find("testcase/failure").text
    assert xml_safe("a\x07b\ufffec\U0001f600") == "a\\x07b\\ufffec\U0001f600"


def test_secrets_appear_in_no_report():
    results = [passing(), failing()]
    doc = document(results)
    for text in (junit_xml(doc), json.dumps(doc)):
        assert PASSWORD not in text
    assert "(auth ***)" in junit_xml(doc)


def test_json_document_holds_run_metadata_and_whole_results():
    results = [passing(), failing()]
    doc = json.loads(json.dumps(document(results)))
    assert doc["counts"] == {"total": 2, "passed": 1, "failed": 1, "error": 0,
                             "interrupted": 0, "skipped": 0, "deselected": 0}
    assert doc["started"] == "2023-11-14T22:13:20.500Z"
    assert doc["keyword"] == "call" and doc["target"] == "lab"
    assert doc["scenarios"][1]["steps"][2]["received"].startswith("SIP/2.0 200 OK")
    assert doc["scenarios"][0]["flows"] == {"alice": ["REGISTER", "401", "REGISTER", "200"]}


def test_failing_step_without_the_engines_pointer_is_the_deepest_bad_one():
    data = failing()
    data["failing_step"] = None
    assert failing_step(data)["path"] == "2.alice.1"
    assert failing_step(passing()) is None


def test_interrupted_and_not_started_scenarios_are_told_apart_in_junit():
    stopped = dict(failing(), status="interrupted")
    skipped = dict(passing(), status="skipped", error="not run: the run was interrupted")
    suite = ET.fromstring(junit_xml(document([stopped, skipped])))
    a, b = suite.findall("testcase")
    assert a.find("error").get("type") == "interrupted"
    assert b.find("skipped").get("message") == "not run: the run was interrupted"
    assert suite.get("skipped") == "1"
    assert failure_text(stopped).startswith("interrupted")


def test_terminal_table_and_failure_details(capsys):
    import sys

    progress = Progress(sys.stdout, 2)

    class S:
        name = "busy is 486"

    progress.started(0, S(), None)
    progress.finished(0, failing(), None)
    progress.summary([failing(), passing()], report_dir="reports/run-1")
    out = capsys.readouterr().out
    assert out.startswith("[1/2] busy is 486 ... FAIL 1.50 s\n")
    table = results_table([failing(), passing()])
    assert table in out
    assert table.splitlines()[2].split() == ["busy", "is", "486",
                                             "scenarios/calls/busy.sip.yaml", "FAIL", "1.50", "s"]
    assert "=== FAIL busy is 486 (scenarios/calls/busy.sip.yaml)" in out
    assert "expected:\n    status 486" in out
    assert "1 passed, 1 failed" in out
    assert PASSWORD not in out
