"""``pcap to-scenario``: recorded calls become scenarios that load, and replay against the
lab reproducing their flow."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from sipclient.cli import Env, main
from sipclient.pcap.read import read_capture
from sipclient.pcap.to_scenario import ToScenarioError, dialog_call_ids, to_scenario
from sipclient.scenario.loader import load_scenario, load_text

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
PUBLIC = Path("/work/shared/captures-public")


def convert(path: Path, side: str = "caller", **kw) -> str:
    cap = read_capture(str(path))
    (cid, method), = [d for d in dialog_call_ids(cap.sip) if d[1] == "INVITE"][:1]
    return to_scenario(cap.sip, cid, side=side, dtmf=cap.dtmf, source=path.name, **kw)


def steps_of(text: str) -> list[tuple[str, dict]]:
    scenario = load_text(text, "replay.sip.yaml", env={})
    return [(s.kind, dict(s.args)) for s in scenario.steps]


def test_the_dtmf_call_becomes_call_dtmf_hangup_and_its_flow() -> None:
    steps = steps_of(convert(CAPTURES / "dtmf.pcap"))
    kinds = [k for k, _ in steps]
    assert kinds == ["call", "wait", "dtmf", "wait", "hangup", "expect_flow"]
    assert steps[0][1]["to"] == "606" and steps[0][1]["expect"] == 200
    assert steps[2][1]["digits"] == "1234" and steps[2][1]["mode"] == "rfc4733"
    assert steps[-1][1]["flow"] == ["INVITE", "401|407?", "ACK?", "INVITE?", "100?", "200",
                                    "ACK", "BYE", "200"]


def test_hold_cancel_and_busy_are_replayed_as_such() -> None:
    assert [k for k, _ in steps_of(convert(CAPTURES / "hold.pcap"))] == \
        ["call", "wait", "hold", "wait", "unhold", "wait", "hangup", "expect_flow"]
    cancel = steps_of(convert(CAPTURES / "cancel.pcap"))
    assert [k for k, _ in cancel] == ["call", "wait", "cancel", "expect_flow"]
    assert cancel[0][1]["expect"] == "none"
    busy = steps_of(convert(CAPTURES / "busy.pcap"))
    assert busy[0][1]["expect"] == 486


def test_the_account_is_a_placeholder_naming_the_captured_user() -> None:
    text = convert(CAPTURES / "invite-early-media.pcap", account="1009")
    assert 'account: "1009"    # the capture\'s caller: 1013' in text
    scenario = load_text(text, "x.sip.yaml", env={})
    assert scenario.agents["caller"].fields["codecs"] == ["PCMU", "PCMA", "GSM"]


def test_the_callee_side_registers_and_answers() -> None:
    steps = steps_of(convert(CAPTURES / "hold.pcap", side="callee"))
    assert [k for k, _ in steps][:3] == ["register", "call", "answer"]
    assert steps[-1][1]["call"] == "in1"


def test_a_public_capture_converts_and_loads() -> None:
    cap = read_capture(str(PUBLIC / "SIP_CALL_RTP_G711.pcap"))
    calls = [cid for cid, m in dialog_call_ids(cap.sip) if m == "INVITE"]
    assert calls
    text = to_scenario(cap.sip, calls[0], dtmf=cap.dtmf, source="SIP_CALL_RTP_G711.pcap")
    assert steps_of(text)[0][0] == "call"


def test_an_unknown_call_id_or_neither_call_nor_registration_is_a_clear_error(tmp_path) -> None:
    cap = read_capture(str(CAPTURES / "register-udp.pcap"))
    with pytest.raises(ToScenarioError, match="no SIP message with Call-ID 'nope'"):
        to_scenario(cap.sip, "nope")
    cid = dialog_call_ids(cap.sip)[0][0]
    assert [k for k, _ in steps_of(to_scenario(cap.sip, cid))] == [
        "register", "unregister", "diagnose"]   # a registration replays (issue 17)
    options = [p for p in read_capture(str(PUBLIC / "FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")).sip
               if p.message.cseq.method == "OPTIONS"]
    with pytest.raises(ToScenarioError, match="not a call .*nor a registration"):
        to_scenario(options, options[0].message.call_id)
    err = io.StringIO()
    assert main(["pcap", "to-scenario", str(CAPTURES / "register-udp.pcap"), "--call-id",
                 "nope"], Env(stdout=io.StringIO(), stderr=err)) == 1
    assert "no SIP message" in err.getvalue() and len(err.getvalue().splitlines()) == 1


@pytest.mark.lab
@pytest.mark.asyncio
async def test_a_recorded_call_to_600_replays_against_the_lab(lab, tmp_path) -> None:
    from sipclient.agent import Agent, AgentConfig, Secret
    from sipclient.pcap.writer import PcapWriter
    from sipclient.scenario.engine import run_scenario
    from sipclient.scenario.target import Target

    async def record(writer: PcapWriter) -> None:
        cfg = AgentConfig(user="1008", server=f"udp:{lab.config.probe_host}:{lab.config.sip_port}",
                          password=Secret(lab.account("1008").password), capture=writer,
                          codecs=("PCMA", "PCMU"))
        async with Agent(cfg) as agent:
            call = await agent.call("600")
            assert (await call.wait_final(timeout=10)).status == 200
            await asyncio.sleep(0.3)
            await call.send_dtmf("42", mode="rfc4733")
            await call.hold()
            await asyncio.sleep(0.3)
            await call.unhold()
            await call.hangup()

    pcap = tmp_path / "call600.pcap"
    with pcap.open("wb") as f:
        await asyncio.wait_for(record(PcapWriter(f)), 60)
    cid = [c for c, m in dialog_call_ids(read_capture(str(pcap)).sip) if m == "INVITE"][0]
    out = tmp_path / "replay.sip.yaml"
    assert main(["pcap", "to-scenario", str(pcap), "--call-id", cid, "--account", "1009",
                 "-o", str(out)], Env(stdout=io.StringIO(), stderr=io.StringIO())) == 0
    scenario = load_scenario(out)
    assert [s.kind for s in scenario.steps if s.kind != "wait"] == [
        "call", "dtmf", "hold", "unhold", "hangup", "expect_flow"]
    assert [s.args["digits"] for s in scenario.steps if s.kind == "dtmf"] == ["42"]
    assert scenario.agents["caller"].fields["codecs"] == ["PCMA", "PCMU"]
    result = await asyncio.wait_for(
        run_scenario(scenario, Target.from_lab(lab), tmp_path / "report"), 180)
    assert result.status == "passed", (result.error, [(s.path, s.status, s.message)
                                                      for s in result.steps])
    # the replay's own capture shows the same flow as the recording
    from sipclient.pcap.validate import Tolerances, validate

    replay = validate(str(tmp_path / "report" / "capture.pcap"), str(pcap),
                      Tolerances(headers=()))
    assert replay.ok, replay.differences


@pytest.mark.lab
@pytest.mark.parametrize("name", ["invite-early-media", "busy", "cancel"])
@pytest.mark.asyncio
async def test_golden_calls_replay_against_the_lab(lab, tmp_path, name: str) -> None:
    from sipclient.scenario.engine import run_scenario
    from sipclient.scenario.target import Target

    scenario = load_text(convert(CAPTURES / f"{name}.pcap", account="1009"),
                         tmp_path / "replay.sip.yaml", env={})
    result = await asyncio.wait_for(
        run_scenario(scenario, Target.from_lab(lab), tmp_path / "report"), 180)
    assert result.status == "passed", (result.error, [(s.path, s.status, s.message)
                                                      for s in result.steps])
