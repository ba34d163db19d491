"""The scenario engine without Asterisk: the in-process fake PBX of the agent tests
(tests/agent/fake_pbx.py) on loopback, or no PBX at all. Outcomes, reports, secrets."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from sipclient.agent import Secret
from sipclient.scenario.engine import run_scenario
from sipclient.scenario.loader import load_text
from sipclient.scenario.target import Account, Target
from tests.agent.fake_pbx import FakePbx

PASSWORD = "fake-pbx-secret-9"


def fake_target(pbx: FakePbx) -> Target:
    return Target(host=pbx.host, domain=pbx.host, port=pbx.port, servers={"udp": pbx.server},
                  accounts={"1001": Account("1001", "1001", Secret(PASSWORD))}, name="fake")


async def run_fake(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    """Run ``text`` against the fake PBX on this test's loop (pytest-asyncio)."""
    scenario = load_text(text, tmp_path / "t.sip.yaml", env=env or {})
    report = tmp_path / "report"
    async with FakePbx({"1001": PASSWORD}) as pbx:
        result = await asyncio.wait_for(run_scenario(scenario, fake_target(pbx), report), 30)
    return result, report


@pytest.mark.asyncio
async def test_send_raw_expect_captures_and_secrets_stay_out_of_reports(tmp_path: Path) -> None:
    result, report = await run_fake(tmp_path, """
vars:
  api_token: tok-123-abc
agents:
  alice: {account: 1001}
steps:
  - register: alice
  - send_raw:
      agent: alice
      message: |
        OPTIONS sip:${target.host}:${target.port} SIP/2.0
        Via: SIP/2.0/UDP ${alice.local_address}:${alice.local_port};branch=${new.branch};rport
        From: <sip:1001@${target.domain}>;tag=${new.tag}
        To: <sip:${target.host}>
        Call-ID: ${new.call_id}
        CSeq: 7 OPTIONS
        Max-Forwards: 70
        X-Token: ${api_token}
        Content-Length: 999

  - expect: {agent: alice, method: REGISTER, out: true}
  - expect: {agent: alice, status: 200, headers: {CSeq: REGISTER}}
  - expect:
      agent: alice
      out: true
      method: OPTIONS
      headers: {Content-Length: "^0$"}
      capture: {cid: {header: Call-ID}}
  - set: {copy: "call ${cid}"}
  - expect: {agent: alice, status: 200, headers: {Call-ID: "^${cid}$", CSeq: "^7 OPTIONS"}}
""")
    assert result.status == "passed", (result.error, result.failing_step)
    text = (report / "result.json").read_text()
    assert "tok-123-abc" not in text and "***" in text  # the X-Token header, redacted
    assert PASSWORD not in text
    sent = [e for e in result.agents["alice"] if e["summary"].startswith("OPTIONS")]
    assert sent and "\r\n" in sent[0]["text"] and "Content-Length: 0" in sent[0]["text"]


@pytest.mark.asyncio
async def test_a_flow_mismatch_shows_both_flows(tmp_path: Path) -> None:
    result, _ = await run_fake(tmp_path, """
agents:
  alice: {account: 1001}
steps:
  - call: {from: alice, to: "603", expect: 486, as: busy}
  - expect_flow: {agent: alice, call: busy, flow: [INVITE, 401, ACK, INVITE, "100?", 180, 486, ACK]}
""")
    step = result.failing_step
    assert step.path == "2"
    assert "the flow differs at message 6: expected 180, received 486" in step.message
    assert step.expected == "INVITE, 401, ACK, INVITE, 100?, 180, 486, ACK"
    assert step.received == "INVITE, 401, ACK, INVITE, 100, 486, ACK"


@pytest.mark.asyncio
async def test_a_wrong_final_status_shows_the_response(tmp_path: Path) -> None:
    result, report = await run_fake(tmp_path, """
agents:
  alice: {account: 1001}
steps:
  - call: {from: alice, to: "603", as: c1}
  - hangup: c1
""")
    step = result.failing_step
    assert step.message == "call c1 (alice to 603): expected 200, received 486 Busy Here"
    assert step.expected == "call c1 (alice to 603) answered 200"
    assert step.received.startswith("SIP/2.0 486 Busy Here\r\n")
    # call returns once the INVITE is sent: the step that needs the answer fails
    assert [s.status for s in result.steps] == ["passed", "failed"]
    data = json.loads((report / "result.json").read_text())
    assert data["failing_step"] == "2" and data["steps"][1]["status"] == "failed"
    assert "fake" in data["ladder"]  # the PBX column is named after the target


@pytest.mark.asyncio
async def test_the_scenario_timeout_fails_the_running_step(tmp_path: Path) -> None:
    result, _ = await run_fake(tmp_path, """
timeout: 0.5
agents:
  alice: {account: 1001}
steps:
  - wait: 5
  - wait: 1
""")
    assert result.status == "failed"
    assert [s.status for s in result.steps] == ["failed", "skipped"]
    assert result.steps[0].message == "the scenario's timeout (0.5 s) ran out"


@pytest.mark.asyncio
async def test_an_unusable_agent_is_an_error_before_any_step(tmp_path: Path) -> None:
    result, report = await run_fake(tmp_path, """
agents:
  alice: {account: 1001}
  ghost: {account: 4242}
steps:
  - register: alice
""")
    assert result.status == "error"
    assert result.error == ("agent ghost: the target fake has no account 4242 "
                            "(accounts: 1001)")
    assert [s.status for s in result.steps] == ["skipped"]
    assert json.loads((report / "result.json").read_text())["status"] == "error"


@pytest.mark.asyncio
async def test_webrtc_agents_need_the_extra(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "webrtc", None)  # as if the extra were not installed
    result, _ = await run_fake(tmp_path, """
agents:
  web: {account: 1001, webrtc: true, transport: udp}
steps:
  - register: web
""")
    assert result.status == "error"
    assert result.error == "agent web: webrtc agents need the webrtc extra (issue 8)"


@pytest.mark.asyncio
async def test_webrtc_agents_get_the_webrtc_media(tmp_path: Path) -> None:
    result, _ = await run_fake(tmp_path, """
agents:
  web: {account: 1001, webrtc: true, transport: udp}
steps:
  - call: {from: web, to: "603", expect: 486, as: c1}
""")
    assert result.status == "passed", result.error
    invite = next(e["text"] for e in result.agents["web"] if e["summary"].startswith("INVITE"))
    assert "a=fingerprint:" in invite  # DTLS-SRTP: the offer came from the WebRTC media
