"""Loading scenario files: what the engine receives, and what a user reads when a file is wrong.

Every file in ``broken/`` holds one kind of mistake; its first line says the one error it must
give: ``# error: <line>: <message>``. The examples shipped in docs/scenarios.md must load.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sipclient.scenario.loader import load_scenario, load_text
from sipclient.scenario.model import ScenarioError, ScenarioErrors
from sipclient.scenario.schema import AGENT_FIELDS, STEP_KINDS

HERE = Path(__file__).resolve().parent
BROKEN = sorted((HERE / "broken").glob("*.sip.yaml"))
DOC = HERE.parent.parent / "docs" / "scenarios.md"
ENV = {"HOME": "/home/tester"}  # the environment the loader sees in these tests


def errors_of(text: str, path: str = "t.sip.yaml", env: dict | None = None) -> list[ScenarioError]:
    with pytest.raises(ScenarioErrors) as info:
        load_text(text, path, env=ENV if env is None else env)
    return info.value.errors


def one_error(text: str, **kw) -> ScenarioError:
    errors = errors_of(text, **kw)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


# ---------------------------------------------------------------- broken files, one each

def test_there_is_a_broken_file_for_each_kind_of_mistake():
    names = {p.name.removesuffix(".sip.yaml") for p in BROKEN}
    assert {"bad-indentation", "unknown-step", "wrong-type", "missing-agent",
            "undefined-variable", "bad-regex", "unknown-agent-field", "duplicate-key",
            "call-before-as", "env-var-missing", "unknown-codec", "unknown-codec-in-a-call",
            "sdp-only-codec-in-an-answer"} <= names


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_file_gives_its_one_error_with_file_and_line(path: Path):
    first = path.read_text().splitlines()[0]
    expected = re.match(r"# error: (\d+): (.*)$", first)
    assert expected, f"{path.name}: the first line must be '# error: <line>: <message>'"
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path, env=ENV)
    errors = info.value.errors
    assert [str(e) for e in errors] == [f"{path}:{expected.group(1)}: {expected.group(2)}"]
    assert str(info.value) == str(errors[0])  # what `sipclient run` prints: no traceback


# ---------------------------------------------------------------- the docs' examples

def doc_examples() -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(), re.M | re.S)


def test_the_docs_have_examples():
    assert len(doc_examples()) >= 3


@pytest.mark.parametrize("n", range(len(doc_examples())))
def test_every_example_in_the_docs_loads(n: int, tmp_path: Path):
    path = tmp_path / f"example{n}.sip.yaml"
    path.write_text(doc_examples()[n])
    scenario = load_scenario(path, env={})
    assert scenario.steps and scenario.agents


# ---------------------------------------------------------------- what the engine receives

ECHO = """\
name: echo
tags: [call, echo]
timeout: 60
agents:
  alice:
    account: 1001
    codecs: [PCMU]
steps:
  - register: alice
  - call: {from: alice, to: 600, as: c1}
  - wait: 2
  - hangup: c1
  - expect_flow:
      agent: alice
      call: c1
      flow: [INVITE, 401, ACK, INVITE, "100?", 200, ACK, BYE, 200]

# a trailing comment is not part of the last step
"""


def test_short_forms_become_the_mapping_form():
    scenario = load_text(ECHO, "echo.sip.yaml", env={})
    assert [(s.kind, s.args) for s in scenario.steps[:4]] == [
        ("register", {"agent": "alice"}),
        ("call", {"from": "alice", "to": "600", "as": "c1"}),  # a number `to` becomes text
        ("wait", {"seconds": 2}),
        ("hangup", {"call": "c1"}),
    ]


def test_scenario_fields_and_defaults():
    scenario = load_text(ECHO, "dir/echo.sip.yaml", env={})
    assert (scenario.name, scenario.tags, scenario.timeout) == ("echo", ("call", "echo"), 60.0)
    assert scenario.agents["alice"].fields == {"account": 1001, "codecs": ["PCMU"]}
    assert scenario.agents["alice"].where.line == 5
    bare = load_text("agents: {a: {account: 1}}\nsteps: [register: a]\n",
                     "x/hello-world.sip.yaml", env={})
    assert (bare.name, bare.timeout, bare.tags, bare.description) == ("hello-world", 120.0, (), "")


def test_each_step_knows_its_lines_for_reports():
    scenario = load_text(ECHO, "echo.sip.yaml", env={})
    flow = scenario.steps[4]
    assert (flow.index, flow.path, flow.where.line, flow.where.end_line) == (5, "5", 13, 16)
    assert scenario.lines_of(flow).splitlines() == [
        "  13 |   - expect_flow:", "  14 |       agent: alice", "  15 |       call: c1",
        "  16 |       flow: [INVITE, 401, ACK, INVITE, \"100?\", 200, ACK, BYE, 200]"]
    assert scenario.steps[0].where.end_line == 9


NESTED = """\
agents:
  alice: {account: 1001}
  bob: {account: 1002}
steps:
  - register: alice
  - parallel:
      caller:
        - call: {from: alice, to: "1002", as: c1}
        - wait: 1
      callee:
        - answer: {agent: bob, as: c2}
  - repeat:
      times: 2
      name: twice
      steps:
        - dtmf: {call: c1, digits: "${i}"}
  - hangup: c2
"""


def test_parallel_and_repeat_become_step_trees():
    scenario = load_text(NESTED, "n.sip.yaml", env={})
    par, rep = scenario.steps[1], scenario.steps[2]
    assert par.kind == "parallel" and par.args == {} and list(par.branches) == ["caller", "callee"]
    assert [(s.path, s.index, s.kind) for s in par.branches["caller"]] == [
        ("2.caller.1", 1, "call"), ("2.caller.2", 2, "wait")]
    assert par.branches["callee"][0].args == {"agent": "bob", "as": "c2"}
    assert (par.where.line, par.where.end_line) == (6, 11)
    assert rep.args == {"times": 2, "name": "twice"} and rep.title == "twice"
    assert [(s.path, s.args) for s in rep.children] == [("3.1", {"call": "c1", "digits": "${i}"})]


def test_vars_keep_their_kind_and_secrets_are_marked(tmp_path: Path):
    (tmp_path / "pin.txt").write_text("4711\n")
    scenario = load_scenario(_write(tmp_path, """\
vars:
  callee: "600"
  api_token: abc
  pin: {secret_file: pin.txt}
  host: {env: PBX_HOST, default: localhost}
  user: {env: PBX_USER}
agents:
  alice: {user: "${user}", password: "${pin}", domain: "${host}"}
steps:
  - register: alice
"""), env={"PBX_USER": "1001"})
    v = scenario.vars
    assert (v["callee"].value, v["callee"].secret) == ("600", False)
    assert v["api_token"].secret and v["pin"].secret and not v["user"].secret
    assert v["pin"].secret_file == tmp_path / "pin.txt"
    assert (v["host"].env, v["host"].default) == ("PBX_HOST", "localhost")
    assert v["user"].env == "PBX_USER"
    assert v["callee"].where.line == 2


def _write(folder: Path, text: str, name: str = "s.sip.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- errors, gathered

def test_all_errors_are_reported_first_line_first():
    errors = errors_of("""\
agents:
  alice: {account: 1001, transport: tpc}
steps:
  - register: bob
  - call: {from: alice, to: "600", as: c1, timeout: soon}
  - hangup: c9
  - wait: "${nothing}"
""")
    assert [(e.line, e.message) for e in errors] == [
        (2, 'agent alice: "transport" must be one of udp, tcp, tls, ws, wss, got "tpc" '
            '(did you mean "tcp"?)'),
        (4, 'step 1 (register): unknown agent "bob" (agents: alice)'),
        (5, 'step 2 (call): "timeout" must be a number, got "soon"'),
        (6, 'step 3 (hangup): unknown call "c9" (calls: c1)'),
        (7, 'step 4 (wait): undefined variable "${nothing}"'),
    ]


@pytest.mark.parametrize("steps, line, message", [
    ('  - call: {from: alice}', 4, 'step 1 (call): missing "to"'),
    ('  - call: {from: alice, to: "1", tmeout: 3}', 4,
     'step 1 (call): unknown argument "tmeout" (did you mean "timeout"?)'),
    ('  - call: alice', 4, 'step 1 (call): needs a mapping of arguments (name, from, to, as, '
                           'codecs, headers, expect, timeout), got "alice"'),
    ('  - "register:alice"', 4, 'step 1: must be a mapping with one key, its kind (e.g. '
                                '"register: alice"), got "register:alice" (a space is missing '
                                'after the ":"?)'),
    ('  - register: alice\n  - options: {agent: alice, expect: 2000}', 5,
     'step 2 (options): "expect" must be a status code (200), a class ("4xx") or a list of '
     'codes, got 2000'),
    ('  - expect_flow: {agent: alice, flow: [INVITE, "18y"]}', 4,
     'step 1 (expect_flow): "flow" item 2 must be a method (INVITE), a status (200, "1xx", '
     '"18x"), alternatives ("180|183"), optionally ending in ?, * or +, got "18y"'),
    ('  - expect: {agent: alice}', 4,
     'step 1 (expect): needs "method" or "status" (which message to wait for)'),
    ('  - wait: {for: incoming}', 4, 'step 1 (wait): for: incoming needs "agent"'),
    ('  - expect: {agent: alice, status: 200, capture: {c: {header: From, regex: "[a-"}}}', 4,
     'step 1 (expect): bad regular expression for capture c: unterminated character set at '
     'position 1 in "[a-"'),
    ('  - send_raw: {agent: alice, message: "x ${alice.usr}"}', 4,
     'step 1 (send_raw): unknown agent fact "${alice.usr}" (an agent has: user, domain, uri, '
     'local_address, local_port, transport, contact)'),
    ('  - send_raw: {agent: alice, message: "x ${env.NOT_THERE}"}', 4,
     'step 1 (send_raw): environment variable NOT_THERE is not set (used as "${env.NOT_THERE}")'),
    ('  - send_raw: {agent: alice, message: "x ${new.id}"}', 4,
     'step 1 (send_raw): unknown "${new.id}" (new has: call_id, branch, tag)'),
    ('  - send_raw: {agent: alice, message: "x ${target.hots}"}', 4,
     'step 1 (send_raw): unknown target fact "${target.hots}" (target has: host, domain, port, '
     'tls_port, ws_port, wss_port, udp, tcp, tls, ws, wss)'),
    ('  - send_raw: {agent: alice, message: "x ${cid"}', 4,
     'step 1 (send_raw): "${" without a closing "}" in "x ${cid" (write $${ for a literal ${)'),
    ('  - send_raw: {agent: alice, message: "${w}"}\n  - set: {w: 1}', 4,
     'step 1 (send_raw): "${w}" is used before the step that sets it (line 5)'),
    ('  - call: {from: alice, to: "1", as: alice}', 4,
     'step 1 (call): a call cannot be named "alice": that name is an agent'),
    ('  - parallel: {}', 4, 'step 1 (parallel): needs at least one branch'),
    ('  - repeat: {times: 2, steps: []}', 4, 'step 1 (repeat): "steps" needs at least one step'),
    ('  - pause: 2', 4, 'step 1: unknown step "pause" (did you mean "wait"?)'),
])
def test_a_mistake_in_a_step_says_what_and_where(steps: str, line: int, message: str):
    error = one_error("agents:\n  alice: {account: 1001}\nsteps:\n" + steps + "\n")
    assert (error.path, error.line, error.message) == (Path("t.sip.yaml"), line, message)


@pytest.mark.parametrize("text, line, message", [
    ("agents: {}\nsteps: [wait: 1]\n", 1, '"agents" needs at least one agent'),
    ("agents: {a: {account: 1}}\n", 1, 'missing "steps" (a scenario needs agents and steps)'),
    ("agents: {a: 5}\nsteps: [wait: 1]\n", 1,
     "agent a: must be a mapping of fields (account, user, password, auth_user...), got 5"),
    ("agents: {1a: {}}\nsteps: [wait: 1]\n", 1,
     '"1a" is not a valid agent name: use letters, digits and _ (not starting with a digit)'),
    ("agents: {target: {}}\nsteps: [wait: 1]\n", 1, 'agent target: the name "target" is reserved'),
    ("timeout: -1\nagents: {a: {}}\nsteps: [wait: 1]\n", 1,
     '"timeout" must be more than 0, got -1'),
    ("vars: {x: {default: 1}}\nagents: {a: {}}\nsteps: [wait: 1]\n", 1,
     "var x: a mapping value needs env: NAME or secret_file: path (quote it to mean text)"),
    ("vars: {x: '${y}', y: 1}\nagents: {a: {}}\nsteps: [wait: 1]\n", 1,
     'var x: undefined variable "${y}"'),
    ("vars: {x: '${a.user}'}\nagents: {a: {}}\nsteps: [wait: 1]\n", 1,
     'var x: "${a.user}": agent and call facts exist only in steps (vars and agents are set '
     'up before)'),
    ("agents:\n  a: {play: nowhere.wav}\nsteps: [wait: 1]\n", 2,
     'agent a: "play": WAV file "nowhere.wav" not found (relative to the scenario file; or '
     'tone:HZ, silence)'),
    ("agents: {a: {}}\nsteps: [wait: 1]\nsteps: [wait: 2]\n", 3,
     'duplicate key "steps" (first at line 2)'),
    ("agents: {a: {}}\nsteps: [wait: 1\n", 3,
     "bad YAML: a [...] or {...} opened on line 2 is not closed, or lacks a comma"),
    ("agents: {a: {}}\nsteps:\n  - wait: '1\n", 3, "bad YAML: this quoted string is never closed"),
    ("agents:\n  a: {}\nsteps:\n  - wait: 1\n - wait: 2\n", 5,
     "bad YAML: the indentation does not line up with the lines above"),
    ("agents: {a: {}}\nsteps:\n  - wait: !!float soon\n", 3,
     "bad YAML: 'soon' is not a valid float"),
    ("agents: {a: {}}\nsteps:\n  - wait: {seconds: 1, name: !mine x}\n", 3,
     "bad YAML: unknown tag !mine (scenarios use no tags)"),
    ("agents: {a: {}}\nsteps:\n  - send_raw: {agent: a, message: \"\\q\"}\n", 3,
     "bad YAML: an unknown backslash escape in a double-quoted string (use single quotes for "
     "regular expressions)"),
])
def test_a_mistake_outside_the_steps_says_what_and_where(text: str, line: int, message: str):
    error = one_error(text)
    assert (error.line, error.message) == (line, message)


def test_env_vars_come_from_the_environment_given():
    text = ("vars: {user: {env: PBX_USER}}\nagents: {a: {user: '${user}'}}\n"
            "steps: [{send_raw: {agent: a, message: '${env.PBX_HOST}'}}]\n")
    assert load_text(text, "t.sip.yaml", env={"PBX_USER": "1", "PBX_HOST": "h"}).vars["user"].env \
        == "PBX_USER"
    assert [e.line for e in errors_of(text, env={})] == [1, 3]


def test_names_defined_in_a_branch_or_a_loop_are_usable_after_it():
    load_text("""\
agents: {a: {account: 1}, b: {account: 2}}
steps:
  - parallel:
      one:
        - call: {from: a, to: "2", as: c1}
        - hangup: c1
      two:
        - expect: {agent: b, method: INVITE, capture: {cid: {header: Call-ID}}}
  - repeat:
      times: 2
      steps:
        - call: {from: a, to: "2", as: c2}
        - set: {last: "${i}"}
  - send_raw: {agent: a, message: "${cid} ${c1.call_id} ${c2.status} ${last} $${literal}"}
""", "t.sip.yaml", env={})


def test_an_unreadable_file_is_one_error_without_a_traceback(tmp_path: Path):
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(tmp_path / "missing.sip.yaml")
    assert len(info.value.errors) == 1
    assert str(info.value).startswith(f"{tmp_path / 'missing.sip.yaml'}: cannot read the file")


# ---------------------------------------------------------------- never a traceback

_WORDS = st.sampled_from(["alice", "c1", "${x}", "${alice.user}", "${i}", "(", "600", "",
                          "agent", "call", "to", "from", "as", "timeout", "steps", "times"]
                         + list(STEP_KINDS) + list(AGENT_FIELDS))
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 1000), st.floats(-1, 10),
                     _WORDS)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_WORDS, inner, max_size=4)), max_leaves=20)
_STEPS = st.lists(st.one_of(st.dictionaries(st.sampled_from(STEP_KINDS), _VALUES,
                                            min_size=1, max_size=2), _VALUES), max_size=5)


@settings(max_examples=150, deadline=None)
@given(agents=st.dictionaries(_WORDS, _VALUES, max_size=3), steps=_STEPS,
       extra=st.dictionaries(_WORDS, _VALUES, max_size=2))
def test_any_shape_of_file_loads_or_gives_located_errors(agents, steps, extra):
    text = yaml.safe_dump({"agents": agents, "steps": steps, **extra}, sort_keys=False)
    try:
        load_text(text, "fuzz.sip.yaml", env={})
    except ScenarioErrors as exc:
        assert exc.errors
        for error in exc.errors:
            assert error.line and 1 <= error.line <= text.count("\n") + 1, str(error)
            assert "Traceback" not in error.message and error.message


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}\"' \t\n#&*!|>%@`,?\\$")), max_size=60))
def test_any_text_loads_or_gives_errors(text):
    try:
        load_text(text, "fuzz.sip.yaml", env={})
    except ScenarioErrors as exc:
        assert exc.errors and all(e.message for e in exc.errors)
