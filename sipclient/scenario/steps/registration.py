"""``register``, ``unregister``, ``options``."""

from __future__ import annotations

import asyncio
from typing import Any

from sipclient.agent import AuthenticationFailed

from ..kinds import AGENT, INTEGER, STATUS, TEXT, arguments, step_kind
from ..context import RunContext, StepFailed
from ..model import Step
from ._common import check_status, number, text_of, timeout_of


@step_kind("register", arguments({"agent": AGENT, "expires": INTEGER,
            "expect": {"title": "a status or \"fail\"",
                       "anyOf": [STATUS, {"const": "fail"}]}},
           ("agent",), waits=True), short="agent", acts=True)
async def register(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """REGISTER; ``expect`` a status (default 200) or ``fail`` (authentication failure)."""
    name = args["agent"]
    agent = ctx.agent(name)
    expires = number(args, "expires")
    expect = args.get("expect")
    want_fail = str(expect).lower() == "fail" if expect is not None else False
    try:
        async with asyncio.timeout(timeout_of(args)):
            result = await agent.register(int(expires) if expires is not None else None)
    except AuthenticationFailed as exc:
        if want_fail:
            return
        raise StepFailed(f"register {name}: authentication failed: {exc}",
                         expected="register answered 200",
                         received=text_of(exc.response) or str(exc)) from None
    if want_fail:
        raise StepFailed(f"register {name}: expected an authentication failure, received "
                         f"{result.status} {result.reason}",
                         expected="the credentials refused (401/403 after the retry)",
                         received=text_of(result.response))
    check_status(f"register {name}", expect, 200, result.response, result.status)


@step_kind("unregister", arguments({"agent": AGENT, "expect": STATUS}, ("agent",), True),
           short="agent", acts=True)
async def unregister(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    name = args["agent"]
    async with asyncio.timeout(timeout_of(args)):
        result = await ctx.agent(name).unregister()
    check_status(f"unregister {name}", args.get("expect"), 200, result.response, result.status)


@step_kind("options", arguments({"agent": AGENT, "to": TEXT, "expect": STATUS},
           ("agent",), True), short="agent", acts=True)
async def options(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    name = args["agent"]
    to = args.get("to")
    resp = await ctx.agent(name).options(str(to) if to is not None else None,
                                         timeout=timeout_of(args))
    check_status(f"OPTIONS from {name}", args.get("expect"), 200, resp)
