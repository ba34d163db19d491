"""``expect``: one message, of what the steps before it did (docs/scenarios.md).

The step looks in the agent's trace for the first message of the direction and
method/status asked (and of the call, when ``call`` is given) that no earlier ``expect``
matched: first among the messages from the start of the last step that acted on the agent
(``hold`` then ``expect`` sees the re-INVITE, ``call`` then ``expect`` the INVITE), then among
those since the first step after its previous ``expect``, then it waits up to ``timeout``
seconds (5) for one to arrive; it wakes at each new message (:meth:`Trace.wait_for`), it does
not poll. ``since: start`` looks from the agent's first message, ``since: NAME`` from the
start of the earlier step named NAME. That message must satisfy every other condition;
``capture`` stores values from it.
"""

from __future__ import annotations

from typing import Any

from ..kinds import (AGENT, BOOL, CALL, CODECS, DIRECTIONS, STATUS, arguments, enum, ref,
                     step_kind)
from ..context import RunContext, StepFailed
from ..matchers import Conditions, MatchError, capture_values
from ..model import Step
from ..result import message_of
from ._common import timeout_of


def check_expect(checker: Any, step: Step, prefix: str, line_of: Any) -> None:
    args = step.args
    headers = args.get("headers")
    if isinstance(headers, dict):
        for header, pattern in headers.items():
            checker.regex(pattern, line_of(("headers", header)), prefix, f"header {header}")
    capture = args.get("capture")
    if isinstance(capture, dict):
        for name, spec in capture.items():
            if isinstance(spec, dict) and "regex" in spec:
                checker.regex(spec["regex"], line_of(("capture", name, "regex")), prefix,
                              f"capture {name}")
    if "method" not in args and "status" not in args:
        checker.error(step.where.line, f"{prefix}needs \"method\" or \"status\" (which "
                      f"message to wait for)")
    since = args.get("since")
    if isinstance(since, str) and since != "start" and not checker.is_ref(since) \
            and since not in checker.seen_steps:
        if since in checker.all_steps:
            checker.error(line_of(("since",)), f"{prefix}since: the step named \"{since}\" "
                          f"comes later (line {checker.all_steps[since]})")
        else:
            names = ", ".join(sorted(checker.seen_steps)) or "none named yet"
            checker.error(line_of(("since",)), f"{prefix}since: no earlier step is named "
                          f"\"{since}\""
                          f"{checker.suggest(since, checker.seen_steps)} "
                          f"(start, or a step's name:; named: {names})")
    if args.get("in") is True and args.get("out") is True:
        checker.error(step.where.line, f"{prefix}a message is received (in) or sent (out), "
                      f"not both")


@step_kind("expect", arguments({
               "agent": AGENT, "in": BOOL, "out": BOOL, "method": {
                   "type": "string", "title": "a method name in capitals (INVITE, BYE...)",
                   "pattern": r"^([A-Z]+|\$\{[^}]+\})$"},
               "status": STATUS, "call": CALL, "headers": ref("header_regexes"),
               "since": {"type": "string", "minLength": 1,
                         "title": "start, or the name: of an earlier step"},
               "sdp": {"type": "object", "additionalProperties": False,
                       "properties": {"codecs": CODECS, "direction": enum(DIRECTIONS)}},
               "capture": {"type": "object", "propertyNames": ref("name"),
                           "additionalProperties": ref("capture")},
           }, ("agent",), True), check=check_expect)
async def expect(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    name = str(args["agent"])
    agent = ctx.agent(name)
    call_id = None
    if args.get("call"):
        ref = ctx.call_ref(args["call"])
        ref.checked, call_id = True, ref.session.call_id
    try:
        cond = Conditions.from_args(args, call_id=call_id)
    except MatchError as exc:
        raise StepFailed(str(exc)) from None
    timeout = timeout_of(args, 5.0)
    trace = agent.trace
    last, first = _window(ctx, name, args.get("since"))
    matched = ctx.matched.setdefault(name, set())

    def selects(entry: Any) -> bool:
        return cond.selects(message_of(entry), entry.direction)

    end = len(trace)
    index = next((i for lo, hi in ((last, end), (first, last))
                  for i in range(max(lo, trace.dropped), hi)
                  if i not in matched and selects(trace[i])), None)
    if index is None:
        index = await trace.wait_for(selects, end, timeout)
    start = min(first, last)
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
    matched.add(index)
    ctx.checked.add(name)


def _window(ctx: RunContext, name: str, since: Any) -> tuple[int, int]:
    """(where to look first, where to look second) in the agent's trace."""
    if since is None:
        return ctx.expect_window(name)
    if str(since) == "start":
        return 0, 0
    marks = ctx.named.get(str(since))
    if marks is None:
        raise StepFailed(f"expect: since: no earlier step is named {since!r} (name it with "
                         f"name: {since}, or since: start)")
    return marks.get(name, 0), marks.get(name, 0)
