"""``sipclient register``: register one extension and print the result.

    sipclient register --server udp:127.0.0.1:7048 --user 1001 --password-env PW
    sipclient register -s wss://127.0.0.1:8089/ws -u 2001 --insecure --stay   # until Ctrl-C
    sipclient register -s tcp:127.0.0.1:7048 -u 1001 --unregister             # remove it

Without ``--hold``/``--stay`` the binding is left in place for its lifetime (like a phone
that registered and went quiet); ``--hold S`` keeps it refreshed S seconds, ``--stay`` until
Ctrl-C, and both unregister at the end. ``--unregister`` removes every binding of the
extension (``Contact: *``, RFC 3261 10.2.2), whichever port registered it. Exit codes: docs/cli.md.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sipclient.cli import Env
from sipclient.cli._common import add_webrtc_option
from sipclient.cli._common import (Session, add_common_options, bounded, exit_for_status,
                                   run_session, seconds)
from sipclient.cli._help import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "register", run)
    add_common_options(p)
    add_webrtc_option(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--hold", type=seconds, metavar="S",
                      help="stay registered S seconds (refreshing), then unregister")
    mode.add_argument("--stay", action="store_true",
                      help="stay registered until Ctrl-C, then unregister")
    mode.add_argument("--unregister", action="store_true",
                      help="only remove every binding of the extension (Contact: *, "
                           "Expires: 0), e.g. one left by an earlier run")


def run(args: argparse.Namespace, env: Env) -> int:
    return run_session("register", args, env, _register)


async def _register(s: Session, agent: Any) -> None:
    a = s.args
    if a.unregister:
        response = await bounded(s, _unregister_all(agent))
        s.result.final(response)
        s.result.call_id = s.call_id_of("REGISTER")
        _check(s, "unregistered")
        return
    reg = await bounded(s, agent.register())
    s.result.final(reg)
    s.result.call_id = s.call_id_of("REGISTER")
    s.result.extra["expires"] = getattr(reg, "expires", None)
    if not _check(s, "registered", getattr(reg, "expires", None)):
        return
    if a.hold is None and not a.stay:
        await s.keep_registration(agent)
        return
    await asyncio.sleep(a.hold if a.hold is not None else 10**9)
    response = await bounded(s, agent.unregister())
    s.result.final(response)
    _check(s, "unregistered")


async def _unregister_all(agent: Any) -> Any:
    """REGISTER ``Contact: *`` with ``Expires: 0``: every binding of the AOR goes (10.2.2),
    including one left by an earlier run from another port."""
    request = agent.out_of_dialog("REGISTER", agent.registrar_uri, to=f"<{agent.aor}>",
                                  headers=[("Contact", "*"), ("Expires", "0")])
    response, _ = await agent.send_authenticated(request)
    return response


def _check(s: Session, what: str, expires: int | None = None) -> bool:
    r = s.result
    code = exit_for_status(r.status)
    if code:
        r.fail(f"{r.status} {r.reason}" if r.status else "no final response", code)
        return False
    r.ok = True
    lifetime = f", expires {expires} s" if expires else ""
    s.say(f"{what} {s.user} at {s.server}: {r.status} {r.reason}{lifetime}")
    return True
