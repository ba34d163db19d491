"""``sipclient options [TARGET]``: an OPTIONS ping; prints the status and the round trip.

    sipclient options udp:127.0.0.1:7048
    sipclient options sip:1001@127.0.0.1:7048 -s tcp:127.0.0.1:7048 --json

TARGET alone is both where to send and the Request-URI; with ``--server`` the request goes
through the server to TARGET. No ``--user`` is needed (the From user is then ``sipclient``).
The exit code follows the status like every command (a 404 exits 1): docs/cli.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from sipclient.cli import Env, UsageError
from sipclient.cli._common import (Session, add_common_options, bounded, exit_for_status,
                                   run_session)
from sipclient.cli._help import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "options", run)
    p.add_argument("target", nargs="?", metavar="TARGET",
                   help="where to ping (default: --server)")
    add_common_options(p, server_required=False)


def run(args: argparse.Namespace, env: Env) -> int:
    if args.target is None and args.server is None:
        raise UsageError("give a TARGET or --server, e.g. sipclient options udp:127.0.0.1:7048")
    args.request_uri = None
    if args.target is not None and args.server is not None:
        from sipclient.io.target import TargetError, parse_target

        try:
            args.request_uri = parse_target(args.target).uri()
        except TargetError as exc:
            raise UsageError(str(exc)) from None
    return run_session("options", args, env, _options, need_user=False,
                       target_text=args.target)


async def _options(s: Session, agent: Any) -> None:
    r = s.result
    uri = s.args.request_uri
    started = time.monotonic()
    response = await bounded(s, agent.options(uri) if uri else agent.options())
    wall = time.monotonic() - started
    r.final(response)
    r.call_id = s.call_id_of("OPTIONS")
    rtt = _rtt(agent, r.call_id)
    rtt_ms = round((rtt if rtt is not None else wall) * 1000, 3)
    r.extra["rtt_ms"] = rtt_ms
    where = uri or s.server
    s.say(f"{r.status} {r.reason} from {where} in {rtt_ms:g} ms")
    code = exit_for_status(r.status)
    if code and r.status in (401, 407) and s.password is None:
        r.fail(f"{r.status} {r.reason}: {where} wants credentials (--user and "
               "--password-env / --password-file)", code)
    elif code:
        r.fail(f"{r.status} {r.reason}", code)
    else:
        r.ok = True


def _rtt(agent: Any, call_id: str | None) -> float | None:
    """From the last OPTIONS sent to the first final response after it (one round trip)."""
    sent = None
    for entry in getattr(agent, "trace", ()):
        message = entry.message
        if message is None or entry.call_id != call_id:
            continue
        if entry.direction == "out" and getattr(message, "method", None) == "OPTIONS":
            sent = entry.time
        elif entry.direction == "in" and getattr(message, "status", 0) >= 200 and sent:
            return entry.time - sent
    return None
