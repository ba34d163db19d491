"""``sipclient call NUMBER|URI``: place a call, talk a while, hang up.

    sipclient call 600 -s udp:127.0.0.1:7048 -u 1001 --password-env PW --duration 3
    sipclient call 604 -s tcp:127.0.0.1:7048 -u 1001 --cancel-after 2     # CANCEL while ringing
    sipclient call sip:600@127.0.0.1:7048 -s wss://127.0.0.1:8089/ws -u 2001 -k --json
    sipclient call 600 -s udp:127.0.0.1:7048 -u 1001 --codec PCMA --play tone:1000 --json
    sipclient call 606 -s udp:127.0.0.1:7048 -u 1001 --dtmf 4711 --duration 6

The lab challenges the INVITE itself, so no registration is needed to call; ``--register``
registers first (and unregisters at the end). A BYE from the other side ends the call early
(answered 200, exit 0). The call carries real RTP (``--play``, ``--record``, ``--dtmf``); with
``--json`` the report has a ``"media"`` list (codec, RTP addresses, packets, loss, jitter,
MOS, dominant frequency, DTMF received). Exit codes: docs/cli.md.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sipclient.cli import EXIT_FAILURE, EXIT_TIMEOUT, Env
from sipclient.cli._common import add_webrtc_option
from sipclient.cli._common import (Session, add_common_options, add_media_options, bounded,
                                   exit_for_status, media_config, media_report, run_session,
                                   seconds, send_dtmf_later)
from sipclient.cli._help import add_command

DEFAULT_DURATION = 5.0
DEFAULT_RING_TIMEOUT = 60.0
MEDIA_LOOK = 0.5   # seconds between looks at the RTP received during the call
MEDIA_GAP = 2.0    # seconds without RTP at the end of a call that had it: media stopped
CANCEL_GRACE = 2.0  # seconds the 487 may take after our CANCEL, once --timeout is over


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "call", run)
    p.add_argument("number", metavar="NUMBER|URI", help="extension, number or SIP URI")
    add_common_options(p)
    add_webrtc_option(p)
    c = p.add_argument_group("call")
    c.add_argument("--duration", "-d", type=seconds, default=DEFAULT_DURATION, metavar="S",
                   help=f"hang up after S seconds of talk (default {DEFAULT_DURATION:g})")
    c.add_argument("--cancel-after", type=seconds, metavar="S",
                   help="CANCEL if not answered after S seconds (a 487 is then success)")
    c.add_argument("--register", action="store_true", help="register before calling")
    add_media_options(p)


def run(args: argparse.Namespace, env: Env) -> int:
    return run_session("call", args, env, _call, config_from=media_config)


async def _call(s: Session, agent: Any) -> None:
    a, r = s.args, s.result
    if a.register:
        reg = await bounded(s, agent.register())
        if not reg.ok:
            r.final(reg)
            r.fail(f"registration failed: {reg.status} {reg.reason}", exit_for_status(reg.status))
            return
    call = await agent.call(a.number)
    r.call_id = getattr(call, "call_id", None)
    final, cancelled = await _final(s, call)
    r.final(final)
    if final is None:
        return
    if final.status >= 300:
        if cancelled and final.status == 487:
            r.ok = True
            s.say(f"cancelled {a.number} after {a.cancel_after:g} s: {final.status} "
                  f"{final.reason}")
        else:
            r.fail(f"{a.number}: {final.status} {final.reason}", exit_for_status(final.status))
        return
    s.say(f"answered {a.number}: {final.status} {final.reason}")
    dtmf = asyncio.ensure_future(send_dtmf_later(call, a))
    silent = 0.0
    try:
        by_remote, silent = await _talk(call, a.duration)
        await call.media.close()  # plays out what is buffered, RTCP BYE; the stats stay
    finally:
        r.extra["media"] = media_report(call)
        if not dtmf.done():
            dtmf.cancel()
    if dtmf.done() and not dtmf.cancelled() and dtmf.exception() is not None:
        r.extra["dtmf_error"] = str(dtmf.exception())
    r.extra["ended_by"] = "remote" if by_remote else "local"
    bye = getattr(call, "bye_response", None)
    if bye is not None and bye.status >= 300:
        r.fail(f"{a.number}: our BYE was answered {bye.status} {bye.reason}: the other side "
               "no longer knew the call (it was lost mid-call)", EXIT_FAILURE)
        return
    if silent >= MEDIA_GAP:
        r.fail(f"{a.number}: media stopped: no RTP received for the last {silent:.1f} s of "
               "the call after it had flowed (the peer or the path died mid-call)",
               EXIT_FAILURE)
        return
    r.ok = True
    s.say(f"{'the other side' if by_remote else 'we'} hung up "
          f"{'before' if by_remote else 'after'} {a.duration:g} s")


async def _final(s: Session, call: Any) -> tuple[Any, bool]:
    """The final response (None on timeout, after a CANCEL), and whether we cancelled."""
    a = s.args
    limit = a.timeout if a.timeout is not None else DEFAULT_RING_TIMEOUT
    waiter = asyncio.ensure_future(_wait_final(call))
    cancelled = False
    try:
        if a.cancel_after is not None:
            done, _ = await asyncio.wait({waiter}, timeout=min(a.cancel_after, limit))
            if not done and a.cancel_after <= limit:
                await call.cancel()
                cancelled = True
        done, _ = await asyncio.wait({waiter}, timeout=limit)
        if done:
            return waiter.result(), cancelled
        s.result.fail(f"{a.number}: no answer within {limit:g} s", EXIT_TIMEOUT)
        if not cancelled and call.provisional:  # something answered: CANCEL, briefly
            await call.cancel(timeout=CANCEL_GRACE)
        if not call.is_ended:  # nothing did (9.1: no CANCEL before a provisional): give up
            call.abandon(f"no answer within {limit:g} s")
        return None, cancelled
    finally:
        if not waiter.done():
            waiter.cancel()


async def _wait_final(call: Any) -> Any:
    from sipclient.agent import SipFailure

    try:
        return await call.wait_final()
    except SipFailure as exc:  # a 4xx-6xx, if the agent raises rather than returns it
        return exc.response


async def _talk(call: Any, duration: float) -> tuple[bool, float]:
    """Stay on the call ``duration`` seconds, looking at the RTP received every
    ``MEDIA_LOOK`` s; (True when the other side hung up first, seconds without RTP at the
    end after RTP had come: 0 when it never stopped, or never came)."""
    loop = asyncio.get_running_loop()
    ended = asyncio.ensure_future(call.wait_ended())
    end = loop.time() + duration
    last_count, last_change = 0, loop.time()
    try:
        while not ended.done() and loop.time() < end:
            await asyncio.wait({ended}, timeout=min(MEDIA_LOOK, max(0.0, end - loop.time())))
            count = _received(call)
            if count != last_count:
                last_count, last_change = count, loop.time()
        silent = loop.time() - last_change if last_count else 0.0
        if ended.done():
            return "local" not in str(ended.result()), 0.0
        await call.hangup()
        return False, silent
    finally:
        if not ended.done():
            ended.cancel()


def _received(call: Any) -> int:
    try:
        return sum(int(s.get("packets_received") or 0) for s in call.media.stats())
    except Exception:  # noqa: BLE001 - a media backend without numbers: no verdict
        return 0
