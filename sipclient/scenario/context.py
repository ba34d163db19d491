"""The state of one scenario run, shared by the steps: agents, calls, variables, cursors.

:class:`RunContext` is what a step executor (``steps/``) receives. It owns nothing that
needs closing itself (the engine closes agents and the capture); it gives the steps names
for things: ``ctx.agent("alice")``, ``ctx.call("c1")``, ``ctx.resolve(value)``,
``ctx.set_var(name, value)``, and keeps the per-agent ``expect`` cursor (the index in the
agent's trace after the last message an ``expect`` matched).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sipclient.agent import Agent, DialogSession, IncomingCall

from .model import Scenario, Step
from .target import Target

if TYPE_CHECKING:  # pragma: no cover
    from .result import ScenarioResult

__all__ = ["CURRENT_PATH", "CallRef", "RunContext", "StepFailed", "StepStopped"]

#: the result path of the step running in this task ("4", "4.alice.2", "5[0].1")
CURRENT_PATH: contextvars.ContextVar[str] = contextvars.ContextVar("scenario_step_path",
                                                                  default="")
#: the variables seen by this task (a ``repeat`` iteration's view has its own ``${i}``)
_CURRENT_VARS: contextvars.ContextVar[Any] = contextvars.ContextVar("scenario_variables")


class StepFailed(Exception):
    """A step did not get what it expected. ``message`` in words; ``expected`` the
    conditions, ``received`` the full text of what arrived instead (or a list of what was
    seen)."""

    def __init__(self, message: str, *, expected: str | None = None,
                 received: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.received = received


class StepStopped(Exception):
    """A step failed (its result says how): the steps after it do not run."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.message)
        self.result = result


class _LiveFacts(Mapping[str, Any]):
    """``${c1.remote_tag}``... read when used: tags and status change as the call goes."""

    def __init__(self, ref: CallRef) -> None:
        self.ref = ref

    def __getitem__(self, key: str) -> Any:
        return self.ref.facts()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ref.facts())

    def __len__(self) -> int:
        return len(self.ref.facts())


@dataclass
class CallRef:
    """A call named with ``as:``: the session (either direction) and its agent's name."""

    name: str
    agent: str
    session: DialogSession

    def facts(self) -> dict[str, Any]:
        s = self.session
        dialog = s.dialog
        final = getattr(s, "final", None)
        local_tag = dialog.local_tag if dialog else (
            getattr(s, "from_tag", None) or getattr(s, "to_tag", None))
        return {"call_id": s.call_id, "local_tag": local_tag or "",
                "remote_tag": (dialog.remote_tag if dialog else None) or "",
                "status": final.status if final is not None else ""}


@dataclass
class RunContext:
    """See the module docstring. ``variables`` is a
    :class:`sipclient.scenario.variables.Variables`."""

    scenario: Scenario
    target: Target
    report_dir: Path
    variables: Any
    result: ScenarioResult
    agents: dict[str, Agent] = field(default_factory=dict)
    calls: dict[str, CallRef] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    #: incoming calls taken by ``wait: {for: incoming}``, for the next ``answer``/``reject``
    pending: dict[str, list[IncomingCall]] = field(default_factory=dict)
    #: agents not opened yet (their fixed local port was held by another agent): the engine
    #: opens each when a step first names it
    deferred: set[str] = field(default_factory=set)
    #: runs child steps (parallel, repeat): ``await ctx.run_steps(steps, prefix)``
    run_steps: Callable[[Sequence[Step], str], Awaitable[None]] | None = None
    wall_offset: float = 0.0
    #: coroutines the engine awaits at the end, after the agents closed (a step's servers)
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _call_counter: int = 0

    # ------------------------------------------------------------------ names

    def agent(self, name: Any) -> Agent:
        try:
            return self.agents[str(name)]
        except KeyError:
            raise StepFailed(f"unknown agent {name!r} (agents: "
                             f"{', '.join(self.agents) or 'none'})") from None

    def call_ref(self, name: Any) -> CallRef:
        try:
            return self.calls[str(name)]
        except KeyError:
            raise StepFailed(f"no call named {name!r} yet (calls: "
                             f"{', '.join(self.calls) or 'none'}; name one with as:)") from None

    def call(self, name: Any) -> DialogSession:
        return self.call_ref(name).session

    def add_call(self, name: str | None, agent: str, session: DialogSession) -> CallRef:
        """Name a call (``as:``; unnamed calls get ``call1``, ``call2``...)."""
        if not name:
            self._call_counter += 1
            name = f"call{self._call_counter}"
            while name in self.calls:
                self._call_counter += 1
                name = f"call{self._call_counter}"
        ref = CallRef(str(name), agent, session)
        self.calls[ref.name] = ref
        self.variables.set_call(ref.name, _LiveFacts(ref))
        return ref

    # ------------------------------------------------------------------ variables

    @property
    def vars(self) -> Any:
        """The variables of this task (a ``repeat`` iteration has its own ``${i}``)."""
        return _CURRENT_VARS.get(self.variables)

    def resolve(self, value: Any) -> Any:
        """``${...}`` replaced in ``value`` (strings, lists and mappings, recursively)."""
        return self.vars.resolve(value)

    def set_var(self, name: str, value: Any, secret: bool = False) -> None:
        self.vars.set(name, value, secret=secret)

    @contextlib.contextmanager
    def iteration(self, index: int) -> Iterator[None]:
        """``${i}`` is ``index`` inside (for this task and the tasks it starts)."""
        token = _CURRENT_VARS.set(self.vars.with_index(index))
        try:
            yield
        finally:
            _CURRENT_VARS.reset(token)

    def redact(self, text: str) -> str:
        return self.variables.redact(text)

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        return asyncio.get_running_loop().time()
