"""Waiting on a call or an agent: the ``wait`` step, and what steps that need an answered
call or its media wait for (:func:`answered`, :func:`media_up`).

``call`` returns once the INVITE is sent; later steps wait on the call: ``wait: {for:
answered, call: c1}`` (also ``ringing``, ``early``, ``ended``, ``held``, a status code or
class such as ``486`` or ``4xx``, a method received such as ``BYE``; ``registered`` and
``incoming`` for an agent), and the steps that need the answer (hold, dtmf, play,
expect_media...) wait for it themselves. Every wait wakes on an event (the call's state
changes, the agent's trace, an RTP packet): nothing polls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sipclient.agent import Call, DialogSession, SipTimeout
from sipclient.agent.trace import Trace
from sipclient.proto.message import Request, Response

from ..kinds import (AGENT, CALL, NUMBER, WAIT_FOR, WAIT_TARGET, arguments, step_kind,
                     wait_target)
from ..context import CallRef, RunContext, StepFailed
from ..matchers import StatusSpec
from ..model import Step
from ._common import check_status, number, text_of, timeout_of

WAIT_WORDS = tuple(WAIT_FOR)


def position_of(trace: Trace, message: Request | Response) -> int:
    """The position of ``message`` in ``trace`` (the newest first), else the end."""
    for index in range(len(trace) - 1, trace.dropped - 1, -1):
        if trace[index].message is message:
            return index
    return len(trace)


async def answered(ctx: RunContext, name: str, timeout: float) -> CallRef:
    """Wait for the call to be answered (a 2xx); fails in words when it was not, or not
    within ``timeout`` seconds."""
    ref = ctx.call_ref(name)
    ref.checked = True
    session = ref.session
    if isinstance(session, Call):
        try:
            final = await session.wait_final(timeout)
        except SipTimeout:
            raise StepFailed(f"call {ref.label} not answered within {timeout:g} s",
                             expected=f"call {ref.name} answered (2xx)",
                             received=f"call state: {session.state}") from None
        if not 200 <= final.status < 300:  # the call step's default: 200
            check_status(f"call {ref.label}", None, 200, final)
        return ref
    if not await session.wait_until(lambda s: s.is_confirmed or s.is_ended
                                    or getattr(s, "final", None) is not None, timeout):
        raise StepFailed(f"call {ref.label} not answered within {timeout:g} s (answer it "
                         f"with an answer step)", expected=f"call {ref.name} answered",
                         received=f"call state: {session.state}")
    final = getattr(session, "final", None)
    if final is None or not 200 <= final.status < 300:
        why = session.end_reason or "no 2xx"
        raise StepFailed(f"call {ref.label} was not answered ({why})",
                         expected=f"call {ref.name} answered", received=text_of(final))
    return ref


def _sending(session: DialogSession) -> bool:
    return session.media.sending


async def media_up(ctx: RunContext, name: str, timeout: float) -> CallRef:
    """Wait for the call's media to send (not on hold): once answered, or at once when a
    183 with SDP already started early media (what ``expect_media`` of an early-media
    announcement measures); a call that already ended passes (its statistics stay
    readable)."""
    ref = ctx.call_ref(name)
    session = ref.session
    if session.is_ended:
        return ref
    t0 = ctx.now()
    if not (isinstance(session, Call) and session.early_media):
        await answered(ctx, name, timeout)  # early media already flowing is up as it is
    left = max(0.0, timeout - (ctx.now() - t0))
    if not await session.wait_until(lambda s: s.is_ended or _sending(s), left):
        raise StepFailed(f"call {ref.label}: no media within {timeout:g} s (on hold, or no "
                         "codec in common)", expected=f"call {ref.name} sending media",
                         received=f"call state: {session.state}, on hold: {session.on_hold}")
    return ref


def _word_reached(word: str, session: DialogSession) -> bool | None:
    """True: reached; False: never will be (the call went past it); None: not yet."""
    if word == "answered":
        if session.is_confirmed or getattr(session, "final", None) is not None:
            return True
        return False if session.is_ended else None
    if word == "ended":
        return True if session.is_ended else None
    if word == "held":
        remote = session.media.remote
        held = session.on_hold or (remote is not None
                                   and remote.direction in ("sendonly", "inactive"))
        return True if held else (False if session.is_ended else None)
    provisional = [r.status for r in getattr(session, "provisional", [])]
    if word == "ringing":
        if 180 in provisional or session.state == "ringing":
            return True
    elif any(100 < s < 200 and s != 180 for s in provisional) or session.state == "early":
        return True  # early
    if session.is_ended or session.is_confirmed:
        return False
    return None


async def _wait_call_word(ctx: RunContext, word: str, name: str, timeout: float) -> None:
    ref = ctx.call_ref(name)
    ref.checked = True
    session = ref.session
    if word == "answered":
        await answered(ctx, name, timeout)
        return
    if not await session.wait_until(lambda s: _word_reached(word, s) is not None, timeout):
        raise StepFailed(f"wait: call {ref.label} not {word} within {timeout:g} s",
                         expected=f"call {ref.name} {word}",
                         received=f"call state: {session.state}")
    if not _word_reached(word, session):
        raise StepFailed(f"wait: call {ref.label} went {session.state} without being {word}"
                         f"{f' ({session.end_reason})' if session.end_reason else ''}",
                         expected=f"call {ref.name} {word}",
                         received=f"call state: {session.state}")


async def _wait_message(ctx: RunContext, what: str, args: dict[str, Any],
                        timeout: float) -> None:
    """A response with that status, or a request with that method, received (in the call
    when ``call`` is given, since it began; else since the agent's last ``expect``)."""
    call_id = None
    if args.get("call"):
        ref = ctx.call_ref(args["call"])
        ref.checked = True
        agent_name, start, call_id = ref.agent, ref.since, ref.session.call_id
        where = f"call {ref.label}"
    else:
        agent_name = str(args.get("agent") or "")
        start = ctx.expect_window(agent_name)[1]
        where = f"agent {agent_name}"
    trace = ctx.agent(agent_name).trace
    spec = StatusSpec.parse(what) if wait_target(what) == "status" else None

    def wanted(entry: Any) -> bool:
        msg = entry.message
        if entry.direction != "in" or msg is None:
            return False
        if call_id is not None and entry.call_id != call_id:
            return False
        if spec is not None:
            return isinstance(msg, Response) and spec.matches(msg.status)
        return isinstance(msg, Request) and msg.method == what

    if await trace.wait_for(wanted, start, timeout) is None:
        thing = f"a {spec} response" if spec is not None else f"a {what} request"
        seen = [str(e) for e in trace[start:] if call_id is None or e.call_id == call_id]
        raise StepFailed(f"wait: no {thing} received for {where} within {timeout:g} s",
                         expected=f"{thing} received",
                         received="\n".join(seen) or "(no messages)")


def check_wait(checker: Any, step: Step, prefix: str, line_of: Any) -> None:
    args = step.args
    if "seconds" in args and "for" in args:
        checker.error(step.where.line, f"{prefix}takes \"seconds\" or \"for\", not both")
    elif "seconds" not in args and "for" not in args:
        checker.error(step.where.line, f"{prefix}needs \"seconds\" or \"for\"")
    what = args.get("for")
    if what is None or checker.is_ref(what):
        return
    kind = wait_target(what)
    if kind == "?":
        return  # the schema said what is wrong with it
    if what in ("incoming", "registered"):
        if "agent" not in args:
            checker.error(step.where.line, f"{prefix}for: {what} needs \"agent\"")
    elif kind == "method":
        if "agent" not in args and "call" not in args:
            checker.error(step.where.line, f"{prefix}for: {what} needs \"call\" or "
                          f"\"agent\" (who receives the {what})")
    elif "call" not in args:
        hint = (f" (a call, not an agent: did you mean wait: {{for: {what}, call: c1}}, "
                f"c1 named by the call's as:?)" if "agent" in args else
                f" (e.g. wait: {{for: {what}, call: c1}})")
        checker.error(step.where.line, f"{prefix}for: {what} needs \"call\"{hint}")


@step_kind("wait", arguments({"seconds": NUMBER, "for": WAIT_TARGET, "agent": AGENT,
           "call": CALL}, (), True), short="seconds", check=check_wait)
async def wait(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """``seconds``, or ``for``: a word (answered, ringing, early, ended, held: a call;
    registered, incoming: an agent), a status (``486``, ``4xx``) or a method received
    (``BYE``), within ``timeout`` (30 s)."""
    what = args.get("for")
    if what is None:
        seconds = number(args, "seconds")
        if seconds is None:
            raise StepFailed("wait: give seconds, or for: answered|ringing|ended|...")
        await asyncio.sleep(float(seconds))  # the pause the scenario asks for
        return
    timeout = timeout_of(args, 30.0)
    kind = wait_target(what)
    if what == "incoming":
        from .calls import take_incoming

        name = str(args.get("agent") or "")
        call = await take_incoming(ctx, name, timeout, "wait")
        ctx.pending.setdefault(name, []).append(call)
    elif what == "registered":
        name = str(args.get("agent") or "")
        if not await ctx.agent(name).registration.wait_registered(timeout):
            raise StepFailed(f"wait: {name} not registered after {timeout:g} s")
    elif kind == "word":
        await _wait_call_word(ctx, str(what), str(args.get("call")), timeout)
    elif kind in ("status", "method"):
        await _wait_message(ctx, str(what), args, timeout)
    else:
        raise StepFailed(f"wait for: {what!r} is not one of {', '.join(WAIT_WORDS)}, a "
                         "status or a method")
