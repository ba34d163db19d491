"""``expect_flow``: an agent's whole exchange (or one call's) against a pattern
(:mod:`sipclient.scenario.flowmatch`). The flow may still be growing (the last ACK or the
BYE of the other side): the step looks again at each new message until ``timeout`` (2 s) before it fails."""

from __future__ import annotations

from typing import Any

from ..kinds import AGENT, BOOL, CALL, arguments, ref, step_kind
from ..context import RunContext, StepFailed
from ..flowmatch import FlowPatternError, match_flow
from ..model import Step
from ..result import flow_of
from ._common import timeout_of

@step_kind("expect_flow", arguments({
           "agent": AGENT, "call": CALL, "flow": {"type": "array", "items": ref("flow_item"),
                                                  "minItems": 1},
           "exact": BOOL}, ("agent", "flow"), True))
async def expect_flow(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    name = str(args["agent"])
    agent = ctx.agent(name)
    call = args.get("call")
    call_id = ctx.call(call).call_id if call else None
    exact = args.get("exact", True)
    exact = exact if isinstance(exact, bool) else str(exact).lower() in ("true", "yes", "1")
    deadline = ctx.now() + timeout_of(args, 2.0)
    while True:
        trace = agent.trace
        try:
            result = match_flow(args["flow"], flow_of(trace, call_id), exact=exact)
        except FlowPatternError as exc:
            raise StepFailed(f"expect_flow: {exc}") from None
        if result.ok:
            return
        left = deadline - ctx.now()
        if left <= 0:
            break
        await trace.changed(left)  # look again when a message arrives, not on a tick
    whose = f"{name}'s call {call}" if call else name
    raise StepFailed(f"expect_flow {whose}: {result.message}",
                     expected=", ".join(result.pattern),
                     received=", ".join(result.flow) or "(no messages)")
