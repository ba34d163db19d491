"""The language of issue 19 as loaded: the new ``wait: {for: ...}`` targets, ``expect``'s
``since:``, and the mistakes people made with the old language, each one line at its line
with a hint ("did you mean wait: {for: answered}?")."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipclient.scenario.loader import ScenarioErrors, load_text

HEAD = "agents:\n  alice: {account: 1001}\n  bob: {account: 1002}\nsteps:\n"
CALL = '  - call: {from: alice, to: "1002", as: c1}\n'


def errors_of(steps: str) -> list[tuple[int | None, str]]:
    try:
        load_text(HEAD + steps, Path("t.sip.yaml"), env={})
    except ScenarioErrors as exc:
        return [(e.line, e.message) for e in exc.errors]
    return []


def test_the_obvious_sequence_loads() -> None:
    assert errors_of(CALL + """\
  - answer: {agent: bob, as: b1, after: 2}
  - wait: {for: answered, call: c1, timeout: 5}
  - wait: {for: ringing, call: c1}
  - wait: {for: early, call: c1}
  - wait: {for: held, call: b1}
  - wait: {for: 486, call: c1}
  - wait: {for: 4xx, call: c1}
  - wait: {for: BYE, call: b1}
  - wait: {for: INFO, agent: bob}
  - wait: {for: registered, agent: alice}
  - hold: {call: c1, name: held}
  - expect: {agent: alice, out: true, method: INVITE, sdp: {direction: sendonly}}
  - expect: {agent: alice, out: true, method: INVITE, since: start}
  - expect: {agent: alice, status: 200, since: held}
  - wait: {for: ended, call: c1}
""") == []


@pytest.mark.parametrize("steps, line, message", [
    (CALL + "  - wait: answered\n", 6,
     'step 2 (wait): must be seconds (a number) or a mapping of arguments (name, seconds, '
     'for, agent, call, timeout), got "answered" (did you mean wait: {for: answered, call: '
     'NAME}?)'),
    (CALL + "  - wait: registered\n", 6,
     'step 2 (wait): must be seconds (a number) or a mapping of arguments (name, seconds, '
     'for, agent, call, timeout), got "registered" (did you mean wait: {for: registered, '
     'agent: NAME}?)'),
    ('  - call: {from: alice, to: "1002", as: c1, expect: answered}\n', 5,
     'step 1 (call): "expect" must be a status or "none", got "answered" (did you mean a '
     'next step wait: {for: answered, call: c1}?)'),
    (CALL + "  - wait: {for: answered, agent: bob}\n", 6,
     'step 2 (wait): for: answered needs "call" (a call, not an agent: did you mean wait: '
     '{for: answered, call: c1}, c1 named by the call\'s as:?)'),
    (CALL + "  - wait: {for: ended}\n", 6,
     'step 2 (wait): for: ended needs "call" (e.g. wait: {for: ended, call: c1})'),
    (CALL + "  - wait: {for: BYE}\n", 6,
     'step 2 (wait): for: BYE needs "call" or "agent" (who receives the BYE)'),
    (CALL + "  - wait: {for: anwsered, call: c1}\n", 6,
     'step 2 (wait): "for" must be one of answered, ringing, early, ended, held, registered, '
     'incoming, a status (486, "4xx") or a method received (BYE), got "anwsered" (did you '
     'mean "answered"?)'),
    (CALL + "  - answer: {agent: bob, call: c1}\n", 6,
     'step 2 (answer): unknown argument "call" (answer takes the agent\'s next incoming '
     'call: answer: {agent: bob, as: b1}; the caller\'s call: call: {..., as: c1})'),
    (CALL + "  - expect: {agent: alice, method: INVITE, since: hold1}\n", 6,
     'step 2 (expect): since: no earlier step is named "hold1" (start, or a step\'s name:; '
     'named: none named yet)'),
    (CALL + "  - expect: {agent: alice, method: INVITE, since: h}\n  - hold: {call: c1, name: h}\n",
     6, 'step 2 (expect): since: the step named "h" comes later (line 7)'),
])
def test_the_old_mistakes_are_errors_with_a_hint(steps: str, line: int, message: str) -> None:
    assert errors_of(steps) == [(line, message)]


# ------------------------------------------------------------ run on the fake PBX (no lab)

async def _run(tmp_path: Path, steps: str):
    from tests.scenario.test_engine import run_fake

    return (await run_fake(tmp_path, "agents:\n  alice: {account: 1001}\nsteps:\n" + steps))[0]


@pytest.mark.asyncio
async def test_call_returns_at_once_and_wait_follows_the_call(tmp_path: Path) -> None:
    result = await _run(tmp_path, """\
  - register: alice
  - call: {from: alice, to: "604", as: ringing}
  - wait: {for: ringing, call: ringing, timeout: 5}
  - cancel: ringing
  - call: {from: alice, to: "603", as: busy}
  - wait: {for: 486, call: busy, timeout: 5}
  - call: {from: alice, to: "607", as: c1}
  - wait: {for: answered, call: c1, timeout: 5}
  - wait: {for: BYE, call: c1, timeout: 5}
  - wait: {for: ended, call: c1, timeout: 5}
""")
    assert result.status == "passed", (result.error, result.failing_step)


@pytest.mark.asyncio
async def test_waiting_for_an_answer_that_was_a_486_fails_in_words(tmp_path: Path) -> None:
    result = await _run(tmp_path, """\
  - call: {from: alice, to: "603", as: c1}
  - wait: {for: answered, call: c1, timeout: 5}
""")
    assert result.failing_step.path == "2"
    assert result.failing_step.message == \
        "call c1 (alice to 603): expected 200, received 486 Busy Here"


@pytest.mark.asyncio
async def test_waiting_for_ringing_on_a_call_answered_at_once_fails_in_words(tmp_path: Path) -> None:
    result = await _run(tmp_path, """\
  - call: {from: alice, to: "600", as: c1}
  - wait: {for: ringing, call: c1, timeout: 5}
""")
    assert result.failing_step.message == \
        "wait: call c1 (alice to 600) went confirmed without being ringing"


@pytest.mark.asyncio
async def test_expect_looks_at_what_the_steps_before_it_did(tmp_path: Path) -> None:
    result = await _run(tmp_path, """\
  - register: {agent: alice, name: reg}
  - options: alice
  # the OPTIONS' own 200 (the last step's), not the REGISTER's older one
  - expect: {agent: alice, status: 200, headers: {CSeq: OPTIONS}}
  # not among the last step's messages: those of the steps since the previous expect
  - expect: {agent: alice, status: 200, headers: {CSeq: REGISTER}}
  - options: alice
  - expect: {agent: alice, out: true, method: REGISTER, since: reg}
  # since: start, but never a message an earlier expect matched: the second REGISTER
  - expect: {agent: alice, out: true, method: REGISTER, since: start,
             headers: {Authorization: Digest}}
  - expect: {agent: alice, out: true, method: REGISTER, timeout: 0.3}
""")
    assert result.failing_step.path == "8", (result.error, result.failing_step)
    assert result.failing_step.message.startswith(
        "expect alice: no REGISTER request sent within 0.3 s")


@pytest.mark.asyncio
async def test_a_call_nobody_waited_on_still_had_to_be_answered(tmp_path: Path) -> None:
    result = await _run(tmp_path, """\
  - call: {from: alice, to: "603", as: c1}
  - wait: 0.5
""")
    step = result.failing_step
    assert step.path == "1" and step.kind == "call"
    assert step.message == ("call c1 (alice to 603): expected 200, received 486 Busy Here "
                            "(no later step waited on the call)")
    assert step.received.startswith("SIP/2.0 486 Busy Here")
