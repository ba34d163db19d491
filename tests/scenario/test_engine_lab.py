"""The scenario engine against the real Asterisk lab (``lab`` fixture): small scenarios
through ``run_scenario`` with ``Target.from_lab``. Few and short: the machine is small."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sipclient.scenario.engine import run_scenario
from sipclient.scenario.loader import load_text
from sipclient.scenario.target import Target

pytestmark = pytest.mark.lab


async def run(lab, tmp_path: Path, text: str, **kw):
    scenario = load_text(text, tmp_path / "test.sip.yaml")
    report = tmp_path / "report"
    return await asyncio.wait_for(run_scenario(scenario, Target.from_lab(lab), report, **kw),
                                  90), report


def saved(report: Path) -> dict:
    return json.loads((report / "result.json").read_text())


def statuses(result) -> dict[str, str]:
    return {s.path: s.status for s in result.steps}


@pytest.mark.asyncio
async def test_register_ok_and_a_wrong_password_expected_to_fail(lab, tmp_path: Path) -> None:
    result, report = await run(lab, tmp_path, """
name: register
agents:
  alice: {account: 1001}
  mallory: {account: 1002, password: not-the-password}
steps:
  - register: alice
  - register: {agent: mallory, expect: fail}
  - expect_flow: {agent: alice, flow: [REGISTER, 401, REGISTER, 200]}
""")
    assert result.status == "passed", result.error
    assert result.flows["mallory"] == ["REGISTER", "401", "REGISTER", "401"]
    # alice unregistered at the end (challenged again)
    assert result.flows["alice"] == ["REGISTER", "401", "REGISTER", "200"] * 2
    assert lab.contacts("1001") == []
    data = saved(report)
    assert data["status"] == "passed"
    assert "not-the-password" not in (report / "result.json").read_text()
    assert lab.account(1001).password not in (report / "result.json").read_text()
    assert (report / "capture.pcap").stat().st_size > 24 + 4 * 16  # header + packets


@pytest.mark.asyncio
async def test_a_wrong_password_fails_the_register_step_in_words(lab, tmp_path: Path) -> None:
    result, report = await run(lab, tmp_path, """
agents:
  mallory: {account: 1002, password: not-the-password}
steps:
  - register: mallory
  - wait: 1
""")
    assert result.status == "failed"
    step = result.failing_step
    assert step.path == "1" and "authentication failed" in step.message
    assert "wrong username or password" in step.message
    assert step.received.startswith("SIP/2.0 401")
    assert statuses(result)["2"] == "skipped"
    assert "Traceback" not in json.dumps(saved(report))


@pytest.mark.asyncio
async def test_call_600_with_a_tone_and_expect_media(lab, tmp_path: Path) -> None:
    result, report = await run(lab, tmp_path, """
agents:
  alice: {account: 1003, codecs: [PCMU], play: "tone:1000"}
steps:
  - call: {from: alice, to: "600", as: c1}
  - wait: 2
  - expect_media: {call: c1, codec: PCMU, tone: 1000, max_loss: 0.05, min_packets: 50}
  - hangup: c1
  - expect_flow:
      agent: alice
      call: c1
      flow: [INVITE, 401, ACK, INVITE, "100?", "180|183?", 200, ACK, BYE, 200]
""")
    assert result.status == "passed", (result.error, result.failing_step)
    media = result.media["c1"]
    print(f"\n600 echo through the engine: {media['codec']} {media['dominant_hz']} Hz, "
          f"{media['packets_received']} packets, lost {media['lost']}, MOS {media['mos']}")
    assert media["codec"] == "PCMU" and abs(media["dominant_hz"] - 1000) <= 25
    assert saved(report)["media"]["c1"]["codec"] == "PCMU"


@pytest.mark.asyncio
async def test_two_agents_answer_hangup_and_flows(lab, tmp_path: Path) -> None:
    result, report = await run(lab, tmp_path, """
agents:
  alice: {account: 1004}
  bob: {account: 1005}
steps:
  - register: bob
  - wait: {for: registered, agent: bob}
  - call: {from: alice, to: "${bob.user}", as: out, expect: none}
  - wait: {for: incoming, agent: bob, timeout: 5}
  - answer: {agent: bob, as: in, after: 0.2, codecs: [PCMA]}
  - expect: {agent: alice, status: 200, call: out, sdp: {codecs: [PCMU]},
             capture: {tag: {header: To, regex: "tag=([^;>]+)"}}}
  - expect: {agent: bob, method: ACK, call: in}
  - hangup: out
  - wait: {for: ended, call: in, timeout: 5}
  - expect_flow: {agent: alice, call: out, flow: [INVITE, 401, ACK, INVITE, "100*", 180, 200, ACK, BYE, 200]}
  - expect_flow: {agent: bob, call: in, flow: [INVITE, "100?", 180, 200, ACK, BYE, 200]}
  - unregister: bob
  - expect_flow: {agent: bob, exact: false, flow: [REGISTER, 200, INVITE, BYE, REGISTER, 401, REGISTER, 200]}
""")
    assert result.status == "passed", (result.error, result.failing_step)
    assert result.media["in"]["codec"] == "PCMA"  # bob answered with the codecs of the step
    assert result.flows["bob"][-1] == "200"  # unregistered by the step, not again at the end
    assert lab.contacts("1005") == []
    assert "alice" in result.ladder and "bob" in result.ladder
    assert (report / "ladder.txt").read_text().count("INVITE") >= 3


@pytest.mark.asyncio
async def test_a_failed_expectation_shows_expected_received_and_the_ladder(lab, tmp_path: Path) -> None:
    result, report = await run(lab, tmp_path, """
agents:
  alice: {account: 1006}
steps:
  - call: {from: alice, to: "600", as: c1}
  - expect: {agent: alice, status: 200, call: c1, headers: {Server: "^FreeSWITCH"}}
  - hangup: c1
""")
    assert result.status == "failed"
    step = result.failing_step
    assert step.path == "2" and step.kind == "expect"
    assert step.expected == ("a 200 response received, in call c1, with Server matching "
                             "/^FreeSWITCH/")
    assert "does not match /^FreeSWITCH/" in step.message
    assert step.received.startswith("SIP/2.0 200 OK") and "m=audio" in step.received
    assert "expect: {agent: alice, status: 200" in step.source
    assert statuses(result)["3"] == "skipped"
    data = saved(report)
    assert data["failing_step"] == "2"
    assert "INVITE sip:600@" in data["ladder"] and "200 OK" in data["ladder"]
    # the engine hung up the call the failed scenario left up
    assert result.flows["alice"][-2:] == ["BYE", "200"]


@pytest.mark.asyncio
async def test_a_cancelled_scenario_still_reports_and_unregisters(lab, tmp_path: Path) -> None:
    scenario = load_text("""
agents:
  alice: {account: 1007}
steps:
  - register: alice
  - call: {from: alice, to: "604", as: ringing, expect: none}
  - wait: 60
  - hangup: ringing
""", tmp_path / "cancel.sip.yaml")
    report = tmp_path / "report"
    seen = []

    async def main() -> None:
        started = asyncio.Event()

        def on_step(step) -> None:
            seen.append((step.path, step.status))
            if step.path == "2":
                started.set()
        task = asyncio.ensure_future(run_scenario(scenario, Target.from_lab(lab), report,
                                                  on_step=on_step))
        await asyncio.wait_for(started.wait(), 20)
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.wait_for(main(), 120)
    data = saved(report)
    assert data["status"] == "interrupted"
    assert {s["path"]: s["status"] for s in data["steps"]} == {
        "1": "passed", "2": "passed", "3": "interrupted", "4": "skipped"}
    assert ("3", "interrupted") in seen
    assert lab.contacts("1007") == []
    flow = data["flows"]["alice"]
    assert "CANCEL" in flow and "487" in flow  # the ringing call was cancelled


@pytest.mark.asyncio
async def test_parallel_branches_and_the_first_failure_cancels_the_others(lab, tmp_path: Path) -> None:
    result, report = await run(lab, tmp_path, """
agents:
  alice: {account: 1008}
  bob: {account: 1009}
steps:
  - parallel:
      a:
        - register: alice
        - options: alice
      b:
        - register: bob
  - repeat:
      times: 2
      steps:
        - options: {agent: bob, to: "60${i}"}
  - parallel:
      slow:
        - wait: 20
      failing:
        - options: {agent: alice, expect: 404}
""")
    assert result.status == "failed"
    got = statuses(result)
    assert got["1"] == "passed" and got["1.a.2"] == "passed" and got["1.b.1"] == "passed"
    assert got["2[0].1"] == "passed" and got["2[1].1"] == "passed"
    assert got["3"] == "failed" and got["3.failing.1"] == "failed"
    assert got["3.slow.1"] == "skipped"
    assert result.failing_step.path == "3.failing.1"
    assert "expected 404, received 200" in result.failing_step.message
    assert lab.contacts("1008") == [] and lab.contacts("1009") == []


@pytest.mark.asyncio
async def test_reject_cancel_dtmf_play_record_hold_and_transfer(lab, tmp_path: Path) -> None:
    result, report = await run(lab, tmp_path, """
agents:
  alice: {account: 1010, codecs: [PCMU]}
  bob: {account: 1011}
steps:
  - register: bob
  - call: {from: alice, to: "1011", as: busy, expect: none}
  - reject: {agent: bob, status: 486}
  - expect: {agent: alice, status: 486, call: busy}
  - call: {from: alice, to: "604", as: ringing, expect: none}
  - expect: {agent: alice, status: 180, call: ringing}
  - cancel: ringing
  - call: {from: alice, to: "606", as: digits}
  - wait: 1
  - dtmf: {call: digits, digits: "1234"}
  - wait: {for: ended, call: digits, timeout: 10}
  - expect_media: {call: digits, dtmf: "1234"}
  - call: {from: alice, to: "600", as: echo}
  - record: {call: echo, file: echo.wav}
  - play: {call: echo, source: "tone:700"}
  - wait: 1.5
  - expect_media: {call: echo, tone: 700, tolerance: 10}
  - hold: echo
  - unhold: echo
  - hangup: echo
  - call: {from: alice, to: "1011", as: out, expect: none}
  - answer: {agent: bob, as: in}
  - expect: {agent: alice, status: 200, call: out}
  - wait: 0.5
  - parallel:
      transferer:
        - transfer: {call: out, to: "600", timeout: 10}
      transferee:
        - wait: 1.5
        - hangup: in
""")
    got = statuses(result)
    assert result.status == "passed", (result.error, result.failing_step, got)
    assert result.media["digits"]["dtmf_received"] == "1234"
    assert (report / "echo.wav").stat().st_size > 44 + 8000  # a WAV header and > 0.5 s
    assert "CANCEL" in result.flows["alice"] and "REFER" in result.flows["alice"]


@pytest.mark.asyncio
async def test_two_agents_on_one_source_port_seed_001_conflict(lab, tmp_path: Path) -> None:
    """alice registers from a fixed port and loses power (close without cleanup); bob, on
    the same address and port, is opened when a step first names him (not at the start,
    where alice holds the port) and receives the INVITE meant for alice."""
    from sipclient.lab.probe import free_udp_port

    port = free_udp_port()
    result, _ = await run(lab, tmp_path, f"""
agents:
  alice: {{account: 1012, local_address: 127.0.0.1, local_port: {port}, expires: 30}}
  bob: {{account: 1013, local_address: 127.0.0.1, local_port: {port}}}
  carol: {{account: 1014}}
steps:
  - register: alice
  - close: {{agent: alice, cleanup: false}}
  - register: bob
  - register: carol
  - call: {{from: carol, to: "1012", as: c1, expect: none}}
  - expect: {{agent: bob, method: INVITE, headers: {{To: "sip:1012@"}}, timeout: 10}}
  - reject: {{agent: bob, status: 486}}
  - expect: {{agent: carol, status: 486, call: c1}}
""")
    assert result.status == "passed", (result.error, result.failing_step)
    assert result.flows["alice"] == ["REGISTER", "401", "REGISTER", "200"]  # no un-REGISTER
    assert result.agents["bob"][0]["local"] == f"127.0.0.1:{port}"
