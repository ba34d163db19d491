"""``pcap to-scenario`` on registration captures, and the ``diagnose`` step (issue 17).

A REGISTER-only capture becomes a scenario with the phone's transport, Expires, User-Agent,
answer delay and source-port behaviour, ending in ``diagnose`` steps that expect the verdicts
our agent can reproduce; against a lab whose nonces live 4 s the replay of a 6 s slow phone
fails the same way, and its own capture diagnoses as the original did.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from sipclient.cli import Env, main
from sipclient.pcap.diagnose import diagnose
from sipclient.pcap.read import read_capture
from sipclient.pcap.to_scenario import to_scenario
from sipclient.scenario.loader import load_text
from tests.pcap.test_diagnose_captures import DATA, SCRIPT
from tests.pcap.test_diagnose_public import AAA

AAA_SECOND_CALL_ID = "29858147-465b0752@29858051-465b07b2"


def load(text: str, tmp_path: Path):
    return load_text(text, tmp_path / "replay.sip.yaml", env={})


def convert(name: str, **kw) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(["pcap", "to-scenario", str(DATA / f"{name}.pcap"), *kw.get("argv", ())],
                Env(stdout=out, stderr=err)) == 0, err.getvalue()
    return out.getvalue()


def test_aaa_registration_keeps_the_phone_and_its_17_s_answers(tmp_path):
    cap = read_capture(str(AAA))
    text = to_scenario(cap.sip, AAA_SECOND_CALL_ID, source="aaa.pcap", account="1011")
    scenario = load(text, tmp_path)
    phone = scenario.agents["phone1"].fields
    assert phone["account"] == "1011" and phone["expires"] == 1200
    assert phone["user_agent"] == "Nero SIPPS IP Phone Version 2.0.51.16"
    assert 17 <= phone["challenge_delay"] <= 19
    kinds = [(s.kind, dict(s.args)) for s in scenario.steps]
    assert kinds[0] == ("register", {"agent": "phone1", "expect": "fail", "timeout": 86})
    assert kinds[-1] == ("diagnose", {"agent": "phone1", "expect": ["stale-nonce"]})
    assert "Not reproduced" in text and "uri-mismatch, username-mismatch" in text
    assert "SIPCLIENT_LAB_NONCE_LIFETIME=" in text


def test_a_registration_only_capture_needs_no_call_id(tmp_path):
    scenario = load(convert("same-source-port-conflict"), tmp_path)
    assert [s.kind for s in scenario.steps] == ["register", "close", "reopen", "register",
                                                "diagnose", "diagnose"]
    assert scenario.steps[2].args["local_port"] == "${phone1.local_port}"
    assert scenario.agents["phone1"].fields["user_agent"] == "phone-alice/1.0"
    assert scenario.steps[-1].args["expect"] == ["same-source-port-conflict"]
    # a capture with calls still lists its dialogs
    out = io.StringIO()
    assert main(["pcap", "to-scenario", str(AAA)], Env(stdout=out, stderr=io.StringIO())) == 0
    assert out.getvalue().startswith("REGISTER   578222729-4665d775@578222732-4665d772\n")


def test_options_keepalives_are_replayed_once_per_round(tmp_path):
    scenario = load(convert("keepalive"), tmp_path)
    steps = [(s.kind, dict(s.args)) for s in scenario.steps]
    assert [k for k, _ in steps] == ["register", "wait", "options", "wait", "options",
                                     "diagnose"]
    assert steps[2][1] == {"agent": "phone1", "expect": "2xx"}
    assert scenario.agents["phone1"].fields["user_agent"] == "keepalive-phone/2.1"


def test_a_bad_diagnose_step_is_refused_with_its_line(tmp_path):
    from sipclient.scenario.model import ScenarioErrors

    text = ("name: x\nagents:\n  a: {account: 1001}\nsteps:\n  - register: a\n"
            "  - diagnose: {expect: [stale-nonces]}\n")
    with pytest.raises(ScenarioErrors) as info:
        load(text, tmp_path)
    assert "replay.sip.yaml:6: step 2 (diagnose)" in str(info.value)
    assert 'did you mean "stale-nonce"' in str(info.value)


@pytest.fixture(scope="module")
def short_lab():
    """A lab whose nonces live 4 s (as the one the captures were recorded with)."""
    lab, claim = SCRIPT.start_lab("replay-test")
    try:
        yield lab
    finally:
        lab.down()
        if claim is not None:
            claim.release()


@pytest.mark.lab
@pytest.mark.parametrize("name", ["stale-nonce", "same-source-port-conflict", "ok",
                                  "expires-short", "keepalive"])
@pytest.mark.asyncio
async def test_the_replay_reproduces_the_capture(short_lab, tmp_path, name):
    from sipclient.scenario.engine import run_scenario
    from sipclient.scenario.target import Target

    scenario = load(convert(name, argv=("--account", "1011")), tmp_path)
    result = await asyncio.wait_for(
        run_scenario(scenario, Target.from_lab(short_lab), tmp_path / "report"), 180)
    assert result.status == "passed", (result.error, [(s.path, s.status, s.message)
                                                      for s in result.steps])
    original = [d.codes for d in diagnose(read_capture(str(DATA / f"{name}.pcap")).sip)]
    replay = [[c for c in d.codes if c != "unregistered"] or ["ok"]   # the engine's cleanup
              for d in diagnose(read_capture(str(tmp_path / "report" / "capture.pcap")).sip)]
    assert replay == original


@pytest.mark.lab
@pytest.mark.asyncio
async def test_the_diagnose_step_fails_naming_what_it_found(short_lab, tmp_path):
    from sipclient.scenario.engine import run_scenario
    from sipclient.scenario.target import Target

    text = ("name: diagnose fails\nagents:\n  a: {account: 1012}\nsteps:\n  - register: a\n"
            "  - diagnose: {agent: a, expect: [stale-nonce], absent: [ok]}\n")
    result = await asyncio.wait_for(
        run_scenario(load(text, tmp_path), Target.from_lab(short_lab), tmp_path / "report"), 180)
    step = result.steps[-1]
    assert result.status == "failed" and step.status == "failed"
    assert "missing stale-nonce" in step.message and "unwanted ok" in step.message
    assert "sip:1012@" in step.message


@pytest.mark.lab
@pytest.mark.asyncio
async def test_the_seed001_scenario_capture_is_a_conflict_naming_both_aors(lab, tmp_path):
    """The project's own seed 001 scenario (two agents, one address and port) recorded in
    its capture.pcap: ``diagnose`` names both AORs."""
    from sipclient.scenario.engine import run_scenario
    from sipclient.scenario.loader import load_scenario
    from sipclient.scenario.target import Target

    root = Path(__file__).resolve().parents[2]
    scenario = load_scenario(root / "scenarios" / "register" / "same-source-port-conflict.sip.yaml")
    result = await asyncio.wait_for(
        run_scenario(scenario, Target.from_lab(lab), tmp_path / "report"), 180)
    assert result.status == "passed", result.error
    found = {d.registration.aor.split("@")[0]: d for d in
             diagnose(read_capture(str(tmp_path / "report" / "capture.pcap")).sip)}
    for user in ("sip:1005", "sip:1006"):
        conflict = next(f for f in found[user].findings if f.code == "same-source-port-conflict")
        assert "sip:1005@" in conflict.evidence[0] and "sip:1006@" in conflict.evidence[0]
    assert "same-source-port-conflict" not in found["sip:1007"].codes


def test_what_our_agent_cannot_replay(tmp_path):
    err = io.StringIO()
    assert main(["pcap", "to-scenario", str(DATA / "challenge-unanswered.pcap")],
                Env(stdout=io.StringIO(), stderr=err)) == 1
    assert err.getvalue().count("\n") == 1 and "nothing in the registrations" in err.getvalue()
    # a 423 round: our agent asks again with Min-Expires, so the round expects its 200
    steps = [(s.kind, dict(s.args)) for s in load(convert("interval-too-brief"), tmp_path).steps]
    assert steps == [("register", {"agent": "phone1"}),
                     ("diagnose", {"agent": "phone1", "expect": ["interval-too-brief"]})]
