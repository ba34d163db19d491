"""The one table of step kinds (issue 19): each kind is one record registered once by its
module; the schema, the short forms, the load-time checks and the engine all read it, so
adding a step kind is one new module in sipclient/scenario/steps/ (plus its row in
docs/scenarios.md, checked by test_schema.py) - proved here by adding one in a subprocess."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sipclient.scenario.kinds import arguments, kinds, step_kind

PACKAGE = Path(__file__).resolve().parents[2] / "sipclient"


def test_one_record_per_kind_and_no_other_registry() -> None:
    table = kinds()
    assert {"call", "answer", "wait", "expect", "expect_media", "parallel"} <= set(table)
    assert table["register"].short == "agent" and table["register"].acts
    assert table["parallel"].unresolved and not table["expect"].acts
    assert table["expect"].check is not None and table["wait"].check is not None
    for name, kind in table.items():
        assert kind.name == name and kind.args.get("type") == "object", name
    # no module keeps a second table: no assignment to a name STEPS anywhere
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            assert not any(getattr(t, "id", None) == "STEPS" for t in targets), path


def test_a_kind_is_registered_once() -> None:
    async def run(ctx, step, args) -> None:
        return None

    with pytest.raises(ValueError, match="'call' is registered twice"):
        step_kind("call", arguments({}))(run)


NEW_MODULE = '''
"""beep: a new step kind, in one module."""
from sipclient.scenario.context import StepFailed
from sipclient.scenario.kinds import AGENT, INTEGER, arguments, step_kind


def check_beep(checker, step, prefix, line_of):
    if step.args.get("times") == 0:
        checker.error(step.where.line, f"{prefix}times: 0 beeps nothing")


@step_kind("beep", arguments({"agent": AGENT, "times": INTEGER}, ("agent",)),
           short="agent", check=check_beep, acts=True)
async def beep(ctx, step, args):
    ctx.agent(args["agent"])
    raise StepFailed(f"beep {args['agent']} x{args.get('times', 1)}")
'''

PROBE = '''
import sys
from pathlib import Path
import sipclient.scenario.steps as steps
steps.__path__.append(sys.argv[1])   # as if the module were in sipclient/scenario/steps/
from sipclient.scenario.loader import ScenarioErrors, load_text
from sipclient.scenario.schema import SCHEMA, SHORT_FORMS
assert SHORT_FORMS["beep"] == "agent" and "beep_args" in SCHEMA["$defs"]
head = "agents:\\n  alice: {account: 1001}\\nsteps:\\n"
s = load_text(head + "  - beep: alice\\n", Path("t.sip.yaml"), env={})
assert s.steps[0].args == {"agent": "alice"}
for steps_text in ("  - beep: {agent: bob}\\n", "  - beep: {agent: alice, times: 0}\\n",
                   "  - beep: {agent: alice, loud: true}\\n"):
    try:
        load_text(head + steps_text, Path("t.sip.yaml"), env={})
    except ScenarioErrors as exc:
        print(exc.errors[0])
import asyncio
from sipclient.scenario.engine import run_scenario
from sipclient.scenario.target import Target
s = load_text("agents:\\n  alice: {user: '1001', password: x}\\nsteps:\\n  - beep: alice\\n",
              Path("t.sip.yaml"), env={})
result = asyncio.run(run_scenario(s, Target.from_string("udp:127.0.0.1:9"), sys.argv[1] + "/rep"))
print(result.failing_step.kind, result.failing_step.message)
'''


def test_adding_a_step_kind_is_one_module(tmp_path: Path) -> None:
    (tmp_path / "beep.py").write_text(textwrap.dedent(NEW_MODULE))
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        't.sip.yaml:4: step 1 (beep): unknown agent "bob" (agents: alice)',
        "t.sip.yaml:4: step 1 (beep): times: 0 beeps nothing",
        't.sip.yaml:4: step 1 (beep): unknown argument "loud" (arguments: name, agent, times)',
        "beep beep alice x1",
    ]
