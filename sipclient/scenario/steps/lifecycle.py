"""An agent's life in the middle of a scenario: ``close`` and ``reopen``.

``close: {agent: alice, cleanup: false}`` closes alice's transport without a BYE or an
un-REGISTER, like a phone that loses power: the PBX keeps her registration until it expires.
``cleanup: true`` (the default) hangs up her calls and unregisters her first. After it,
every step that would make alice send fails in words (``agent alice was closed by step 2``);
what she sent and received stays readable (``expect``, ``expect_flow``, the reports), and the
engine's final cleanup finds nothing left to do for her.

``reopen: {agent: bob, local_address: 127.0.0.1, local_port: "${alice.local_port}"}`` gives
bob a new transport (his old one cleaned up and closed first), from another source address
or port when given: seed 001's conflict, where a second phone behind the same public address
and source port takes over a port the first phone held. The agent keeps its name, settings
and trace (one ladder for its whole life); ``${bob.local_port}`` and the other facts follow
the new transport. A closed agent can be reopened too.

Its kinds are registered in the table of step kinds (:mod:`sipclient.scenario.kinds`).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from sipclient.agent import Agent, AgentError
from sipclient.io.target import TargetError

from ..kinds import AGENT, BOOL, STRING, arguments, ref, step_kind
from ..context import CURRENT_PATH, RunContext, StepFailed
from ..model import Step
from ._common import timeout_of

__all__ = ["ClosedAgent", "close", "reopen"]

#: what a closed agent still answers: its facts, its trace, and close() (the engine's cleanup)
_READABLE = frozenset({"config", "trace", "flow", "server_addr", "target", "domain", "aor",
                       "from_header", "registrar_uri", "close", "sessions", "identity"})
#: the agent's API in words, for the failure of a step that uses it after close
_DOING = {"register": "register", "unregister": "unregister", "call": "make a call",
          "next_incoming": "receive a call", "options": "send OPTIONS",
          "send_raw": "send a message", "registration": "be registered",
          "media_factory": "make a call", "send_authenticated": "send a request"}


class ClosedAgent:
    """Stands in :attr:`RunContext.agents` for an agent a ``close`` step closed: its facts
    and trace stay readable, anything that would send raises :class:`AgentError` in words."""

    def __init__(self, agent: Agent, name: str, closed_by: str) -> None:
        """``closed_by``: the step that closed it, in words (``step 2 (close)``)."""
        self._agent = agent
        self._name = name
        self._closed_by = closed_by

    @property
    def agent(self) -> Agent:
        """The closed :class:`Agent` itself."""
        return self._agent

    def __getattr__(self, attr: str) -> Any:
        if attr in _READABLE:
            return getattr(self._agent, attr)
        doing = _DOING.get(attr, "send anything")
        raise AgentError(f"agent {self._name} was closed by {self._closed_by}: it cannot "
                         f"{doing} any more (reopen: {{agent: {self._name}}} first)")

    def __repr__(self) -> str:
        return f"<closed {self._agent!r}>"


def _real(ctx: RunContext, name: str) -> Agent:
    agent: Any = ctx.agent(name)
    return agent.agent if isinstance(agent, ClosedAgent) else agent


def _mark_closed(ctx: RunContext, name: str, agent: Agent, step: Step) -> None:
    """From now on ``ctx.agent(name)`` is the closed stand-in, naming this step."""
    path = CURRENT_PATH.get() or str(step.index)
    closed: Any = ClosedAgent(agent, name, f"step {path} ({step.kind})")
    ctx.agents[name] = closed


def _facts(agent: Agent) -> dict[str, Any]:
    """``${name.X}`` for the agent's current transport (as the engine sets them at open)."""
    local: tuple[str, int] = ("", 0)
    if agent.endpoint is not None and agent.endpoint.transport is not None:
        local = agent.endpoint.transport.local_address
    return {"user": agent.config.user, "domain": agent.domain, "uri": agent.aor,
            "local_address": local[0], "local_port": local[1],
            "transport": agent.target.transport, "contact": agent.contact_uri}


@step_kind("close", arguments({"agent": AGENT, "cleanup": BOOL}, ("agent",), True),
           short="agent", acts=True)
async def close(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Close the agent's transport; ``cleanup: false``: without hanging up or unregistering."""
    name = str(args["agent"])
    if isinstance(ctx.agent(name), ClosedAgent):
        raise StepFailed(f"close {name}: the agent is already closed")
    agent = _real(ctx, name)
    cleanup = args.get("cleanup", True)
    if not isinstance(cleanup, bool):
        raise StepFailed(f"close {name}: cleanup: {cleanup!r} is not true or false")
    # Agent.close is bounded by the agent's cleanup_timeout; the step's timeout bounds it too
    async with asyncio.timeout(timeout_of(args, agent.config.cleanup_timeout + 5.0)):
        await agent.close(cleanup=cleanup)
    _mark_closed(ctx, name, agent, step)


@step_kind("reopen", arguments({"agent": AGENT, "local_address": STRING,
           "local_port": ref("port")}, ("agent",), True), short="agent", acts=True)
async def reopen(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """A new transport for the agent (the old one cleaned up and closed), from
    ``local_address``/``local_port`` when given."""
    name = str(args["agent"])
    old = _real(ctx, name)
    async with asyncio.timeout(timeout_of(args, old.config.cleanup_timeout + 5.0)):
        await old.close()  # a no-op when a close step already closed it
    changes: dict[str, Any] = {}
    if args.get("local_address") is not None:
        changes["local_address"] = str(args["local_address"])
    if args.get("local_port") is not None:
        try:
            changes["local_port"] = int(args["local_port"])
        except (TypeError, ValueError):
            raise StepFailed(f"reopen {name}: local_port: {args['local_port']!r} is not a "
                             "port number") from None
    try:
        agent = Agent(replace(old.config, **changes), media_factory=old.media_factory)
    except (TargetError, ValueError) as exc:
        raise StepFailed(f"reopen {name}: {exc}") from None
    agent.auto_answer, agent.auto_reject = old.auto_answer, old.auto_reject
    agent.trace = old.trace  # one trace for the agent's whole life: expect cursors stay valid
    # in the context before opening, so the engine's final cleanup closes it whatever happens
    ctx.agents[name] = agent
    try:
        await agent.open()
    except AgentError as exc:
        _mark_closed(ctx, name, agent, step)
        where = f"{changes.get('local_address', old.config.local_address)}:" \
                f"{changes.get('local_port', old.config.local_port)}"
        raise StepFailed(f"reopen {name} from {where}: {exc}") from None
    ctx.variables.set_agent(name, _facts(agent))
