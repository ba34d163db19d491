"""Calls: ``call``, ``answer``, ``reject``, ``cancel``, ``hangup``, ``hold``, ``unhold``,
``transfer``, ``dtmf``. Calls are named with ``as:`` (``call1``, ``call2``... otherwise) and
found by that name later, whichever side they are on."""

from __future__ import annotations

import asyncio
from typing import Any

from sipclient.agent import Agent, AgentError, Call, IncomingCall, SipTimeout
from sipclient.proto.message import Response

from ..context import RunContext, StepFailed
from ..model import Step
from ._common import check_status, number, timeout_of


def _codecs(args: dict[str, Any]) -> tuple[str, ...] | None:
    codecs = args.get("codecs")
    if codecs is None:
        return None
    if isinstance(codecs, str):
        codecs = [codecs]
    return tuple(str(c).upper() for c in codecs)


async def call(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """INVITE; waits for the final response and checks it (``expect``, default 200;
    ``none``: return once the INVITE is sent)."""
    name = args["from"]
    agent = ctx.agent(name)
    to = str(args["to"])
    headers = [(str(k), str(v)) for k, v in (args.get("headers") or {}).items()]
    session = await agent.call(to, headers=headers, codecs=_codecs(args))
    ref = ctx.add_call(args.get("as"), name, session)
    expect = args.get("expect")
    if expect is not None and str(expect).lower() == "none":
        return
    final = await session.wait_final(timeout_of(args, 30.0))
    check_status(f"call {ref.name} ({name} to {to})", expect, 200, final)


async def _incoming(ctx: RunContext, name: str, timeout: float) -> IncomingCall:
    waiting = ctx.pending.get(name)
    if waiting:
        return waiting.pop(0)
    agent = ctx.agent(name)
    try:
        return await agent.next_incoming(timeout)
    except SipTimeout:
        seen = [e.message.start_line for e in agent.trace[-10:] if e.message is not None]
        raise StepFailed(f"no incoming call for {name} within {timeout:g} s",
                         expected=f"an INVITE for {name}",
                         received="\n".join(seen) or "(no messages)") from None


async def answer(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Take the next incoming call, ring (180, unless ``ring: false``), wait ``after``
    seconds, answer 200."""
    name = args["agent"]
    incoming = await _incoming(ctx, name, timeout_of(args, 10.0))
    ctx.add_call(args.get("as"), name, incoming)
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


async def reject(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    name = args["agent"]
    incoming = await _incoming(ctx, name, timeout_of(args, 10.0))
    ctx.add_call(args.get("as"), name, incoming)
    await incoming.reject(int(args.get("status") or 486))


def _outgoing(ctx: RunContext, name: str, what: str) -> Call:
    session = ctx.call(name)
    if not isinstance(session, Call):
        raise StepFailed(f"{what} {name}: only the caller's side can {what} (this is the "
                         "called side)")
    return session


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


async def hangup(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """BYE (CANCEL before the answer, 480 for a call still ringing here); the BYE's
    response must be ``expect`` (200)."""
    name = args["call"]
    ref = ctx.call_ref(name)
    session = ref.session
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


async def hold(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    async with asyncio.timeout(timeout_of(args)):
        await ctx.call(args["call"]).hold()


async def unhold(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    async with asyncio.timeout(timeout_of(args)):
        await ctx.call(args["call"]).unhold()


async def transfer(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Blind transfer: REFER, then the final sipfrag status must be ``expect`` (200)."""
    name = args["call"]
    session = ctx.call(name)
    timeout = timeout_of(args, 30.0)
    async with asyncio.timeout(timeout):
        await session.refer(str(args["to"]))
    status = await session.wait_refer(timeout)
    check_status(f"transfer {name} to {args['to']}", args.get("expect"), 200, None, status)


async def dtmf(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Send ``digits`` (``mode``: rfc4733, info, inband; ``duration`` ms per digit)."""
    name = args["call"]
    session = ctx.call(name)
    digits = str(args["digits"])
    mode = str(args.get("mode") or "rfc4733")
    duration = number(args, "duration")
    async with asyncio.timeout(timeout_of(args, 30.0)):
        try:
            await session.send_dtmf(digits, mode,
                                    duration_ms=None if duration is None else int(duration))
        except AgentError as exc:
            raise StepFailed(f"dtmf {name}: {exc}") from None
