"""Calls: ``call``, ``answer``, ``reject``, ``cancel``, ``hangup``, ``hold``, ``unhold``,
``transfer``, ``dtmf``. Calls are named with ``as:`` (``call1``, ``call2``... otherwise) and
found by that name later, whichever side they are on."""

from __future__ import annotations

import asyncio
from typing import Any

from sipclient.agent import Agent, AgentError, Call, IncomingCall, SipTimeout
from sipclient.proto.message import Response

from ..kinds import (AGENT, BOOL, CALL, CALL_NAME, CODECS, DIGITS, DTMF_MODES, HEADERS, INTEGER,
                     NUMBER, STATUS, TEXT, arguments, enum, step_kind)
from ..context import CURRENT_PATH, RunContext, StepFailed
from ..model import Step
from ._common import check_status, number, timeout_of
from .waits import answered, media_up, position_of


def _codecs(args: dict[str, Any]) -> tuple[str, ...] | None:
    codecs = args.get("codecs")
    if codecs is None:
        return None
    if isinstance(codecs, str):
        codecs = [codecs]
    return tuple(str(c).upper() for c in codecs)


def check_codecs(checker: Any, step: Step, prefix: str, line_of: Any) -> None:
    """``codecs:`` of a call (its ``from:`` agent's) or an answer (its ``agent:``'s): names
    of the codec registry that agent can send."""
    checker.codecs(step.args.get("codecs"), line_of, prefix,
                   step.args.get("from", step.args.get("agent")))


@step_kind("call", arguments({"from": AGENT, "to": TEXT, "as": CALL_NAME, "codecs": CODECS,
            "headers": HEADERS,
            "expect": {"title": "a status or \"none\"",
                       "anyOf": [STATUS, {"const": "none"}]}},
           ("from", "to"), True), check=check_codecs, acts=True)
async def call(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """INVITE; returns once it is sent, with the call named ``as:``. Later steps wait on it
    (``wait: {for: answered, call: c1}``; hold, dtmf... wait for the answer themselves).
    With ``expect: STATUS`` the step waits for the final response and checks it."""
    name = args["from"]
    agent = ctx.agent(name)
    to = str(args["to"])
    headers = [(str(k), str(v)) for k, v in (args.get("headers") or {}).items()]
    since = len(agent.trace)
    session = await agent.call(to, headers=headers, codecs=_codecs(args))
    ref = ctx.add_call(args.get("as"), name, session, since)
    ref.label = f"{ref.name} ({name} to {to})"
    ref.timeout = timeout_of(args, 30.0)
    ref.path = CURRENT_PATH.get()
    expect = ref.expect = args.get("expect")
    if expect is None or str(expect).lower() == "none":
        return
    try:
        final = await session.wait_final(ref.timeout)
    except SipTimeout:
        raise StepFailed(f"call {ref.label}: no final response within {ref.timeout:g} s",
                         expected=f"the INVITE answered {expect}",
                         received=f"call state: {session.state}") from None
    check_status(f"call {ref.label}", expect, 200, final)


async def take_incoming(ctx: RunContext, name: str, timeout: float,
                        what: str = "") -> IncomingCall:
    """The agent's next incoming call (one a ``wait: {for: incoming}`` took first); the
    running step's ``expect`` window starts at its INVITE."""
    waiting = ctx.pending.get(name)
    if waiting:
        return waiting.pop(0)
    agent = ctx.agent(name)
    try:
        incoming = await agent.next_incoming(timeout)
    except SipTimeout:
        seen = [e.message.start_line for e in agent.trace[-10:] if e.message is not None]
        raise StepFailed(f"{what + ': ' if what else ''}no incoming call for {name} within "
                         f"{timeout:g} s", expected=f"an INVITE for {name}",
                         received="\n".join(seen) or "(no messages)") from None
    ctx.took(name, position_of(agent.trace, incoming.request))
    return incoming


def _add_incoming(ctx: RunContext, args: dict[str, Any], name: str,
                  incoming: IncomingCall) -> None:
    since = position_of(ctx.agent(name).trace, incoming.request)
    ref = ctx.add_call(args.get("as"), name, incoming, since)
    ref.label = f"{ref.name} ({name}, called)"


@step_kind("answer", arguments({"agent": AGENT, "as": CALL_NAME, "after": NUMBER,
           "ring": BOOL, "codecs": CODECS}, ("agent",), True), short="agent",
           check=check_codecs, acts=True)
async def answer(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Take the next incoming call, ring (180, unless ``ring: false``), wait ``after``
    seconds, answer 200."""
    name = args["agent"]
    incoming = await take_incoming(ctx, name, timeout_of(args, 10.0))
    _add_incoming(ctx, args, name, incoming)
    codecs = _codecs(args)
    if codecs:
        try:
            incoming.media.set_codecs(codecs)
        except (AgentError, ValueError) as exc:
            raise StepFailed(f"answer {name}: {exc}") from None
    if args.get("ring", True):
        await incoming.ringing()
    after = number(args, "after", 0) or 0
    if after:
        await asyncio.sleep(float(after))
    if incoming.is_ended:
        raise StepFailed(f"answer {name}: the call ended before it was answered "
                         f"({incoming.end_reason})")
    await incoming.answer()


@step_kind("reject", arguments({"agent": AGENT, "status": INTEGER, "as": CALL_NAME},
           ("agent",), True), short="agent", acts=True)
async def reject(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    name = args["agent"]
    incoming = await take_incoming(ctx, name, timeout_of(args, 10.0))
    _add_incoming(ctx, args, name, incoming)
    await incoming.reject(int(args.get("status") or 486))


def _outgoing(ctx: RunContext, name: str, what: str) -> Call:
    session = ctx.call(name)
    if not isinstance(session, Call):
        raise StepFailed(f"{what} {name}: only the caller's side can {what} (this is the "
                         "called side)")
    return session


@step_kind("cancel", arguments({"call": CALL, "expect": STATUS}, ("call",), True),
           short="call", acts=True)
async def cancel(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """CANCEL the unanswered INVITE; the INVITE's final response must be ``expect`` (487)."""
    name = args["call"]
    session = _outgoing(ctx, name, "cancel")
    final = await session.cancel(timeout_of(args, 10.0))
    if final is None:
        raise StepFailed(f"cancel {name}: no final response to the INVITE after the CANCEL",
                         expected="the INVITE answered 487")
    check_status(f"cancel {name}: the INVITE", args.get("expect"), 487, final)


def _bye_response(agent: Agent, start: int, call_id: str) -> Response | None:
    for entry in agent.trace[start:]:
        msg = entry.message
        if entry.direction == "in" and isinstance(msg, Response) and entry.call_id == call_id:
            try:
                if msg.cseq.method == "BYE":
                    return msg
            except Exception:  # noqa: BLE001 - a response without a readable CSeq
                continue
    return None


@step_kind("hangup", arguments({"call": CALL, "expect": STATUS}, ("call",), True),
           short="call", acts=True)
async def hangup(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """BYE (CANCEL before the answer, 480 for a call still ringing here); the BYE's
    response must be ``expect`` (200)."""
    name = args["call"]
    ref = ctx.call_ref(name)
    session = ref.session
    if isinstance(session, Call) and ref.expect is None and not session.is_ended:
        # a call made to be answered is hung up once answered (unanswered: cancel, expect: none)
        await answered(ctx, name, ref.timeout)
    if session.is_ended:
        raise StepFailed(f"hangup {name}: the call has already ended ({session.end_reason})")
    agent = session.agent
    start = len(agent.trace)
    confirmed = session.is_confirmed
    async with asyncio.timeout(timeout_of(args)):
        await session.hangup()
    if not confirmed:
        if args.get("expect") is not None:
            raise StepFailed(f"hangup {name}: no BYE was sent: the call was not answered "
                             f"({session.end_reason})")
        return
    resp = _bye_response(agent, start, session.call_id)
    check_status(f"hangup {name}: BYE", args.get("expect"), 200, resp)


@step_kind("hold", arguments({"call": CALL}, ("call",), True), short="call", acts=True)
async def hold(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """re-INVITE sendonly, once the call is answered."""
    async with asyncio.timeout(timeout_of(args)):
        ref = await answered(ctx, args["call"], timeout_of(args))
        await ref.session.hold()


@step_kind("unhold", arguments({"call": CALL}, ("call",), True), short="call", acts=True)
async def unhold(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    async with asyncio.timeout(timeout_of(args)):
        ref = await answered(ctx, args["call"], timeout_of(args))
        await ref.session.unhold()


@step_kind("transfer", arguments({"call": CALL, "to": TEXT, "expect": STATUS},
           ("call", "to"), True), acts=True)
async def transfer(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Blind transfer: REFER, then the final sipfrag status must be ``expect`` (200)."""
    name = args["call"]
    session = ctx.call(name)
    timeout = timeout_of(args, 30.0)
    await answered(ctx, name, timeout)
    async with asyncio.timeout(timeout):
        await session.refer(str(args["to"]))
    status = await session.wait_refer(timeout)
    check_status(f"transfer {name} to {args['to']}", args.get("expect"), 200, None, status)


@step_kind("dtmf", arguments({"call": CALL, "digits": {"type": ["string", "integer"],
                                    "title": "DTMF digits (0-9, *, #, A-D)",
                                    "pattern": DIGITS},
            "mode": enum(DTMF_MODES), "duration": NUMBER},
           ("call", "digits"), True), acts=True)
async def dtmf(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Send ``digits`` (``mode``: rfc4733, info, inband; ``duration`` ms per digit), once
    the call is answered and its media is up."""
    name = args["call"]
    session = ctx.call(name)
    digits = str(args["digits"])
    mode = str(args.get("mode") or "rfc4733")
    timeout = timeout_of(args, 30.0)
    if mode == "info":
        await answered(ctx, name, timeout)
    else:
        await media_up(ctx, name, timeout)
    duration = number(args, "duration")
    async with asyncio.timeout(timeout):
        try:
            await session.send_dtmf(digits, mode,
                                    duration_ms=None if duration is None else int(duration))
        except AgentError as exc:
            raise StepFailed(f"dtmf {name}: {exc}") from None
