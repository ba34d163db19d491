"""``expect``: one message, after the agent's cursor (docs/scenarios.md).

The step looks at the agent's trace after the last message an earlier ``expect`` of that
agent matched, for up to ``timeout`` seconds (5), for the first message of the direction and
method/status asked (and of the call, when ``call`` is given); it wakes at each new message
(:meth:`Trace.wait_for`), it does not poll. That message must satisfy every other
condition; then the cursor moves past it and ``capture`` stores values.
"""

from __future__ import annotations

from typing import Any

from ..context import RunContext, StepFailed
from ..matchers import Conditions, MatchError, capture_values
from ..model import Step
from ..result import message_of
from ._common import timeout_of


async def expect(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    name = str(args["agent"])
    agent = ctx.agent(name)
    call_id = ctx.call(args["call"]).call_id if args.get("call") else None
    try:
        cond = Conditions.from_args(args, call_id=call_id)
    except MatchError as exc:
        raise StepFailed(str(exc)) from None
    timeout = timeout_of(args, 5.0)
    start = ctx.cursors.get(name, 0)
    trace = agent.trace
    index = await trace.wait_for(
        lambda entry: cond.selects(message_of(entry), entry.direction), start, timeout)
    if index is None:
        seen = [str(e) for e in trace[start:]]
        raise StepFailed(
            f"expect {name}: no {cond.what()} within {timeout:g} s "
            f"({len(seen)} other message{'s' if len(seen) != 1 else ''} seen)",
            expected=cond.describe(),
            received="\n".join(seen) if seen else "(no messages)")
    found = trace[index]
    msg = message_of(found)
    assert msg is not None
    try:
        problems = cond.problems(msg)
    except MatchError as exc:  # a regular expression out of time
        raise StepFailed(f"expect {name}: {exc}", expected=cond.describe(),
                         received=found.data.decode("utf-8", "replace")) from None
    if problems:
        raise StepFailed(f"expect {name}: {msg.start_line}: " + "; ".join(problems),
                         expected=cond.describe(),
                         received=found.data.decode("utf-8", "replace"))
    if args.get("capture"):
        try:
            values = capture_values(msg, args["capture"])
        except MatchError as exc:
            raise StepFailed(f"expect {name}: {exc}", expected=cond.describe(),
                             received=found.data.decode("utf-8", "replace")) from None
        for key, value in values.items():
            ctx.set_var(key, value)
    ctx.cursors[name] = index + 1
