"""The state of one scenario run, shared by the steps: agents, calls, variables, cursors.

:class:`RunContext` is what a step executor (``steps/``) receives. It owns nothing that
needs closing itself (the engine closes agents and the capture); it gives the steps names
for things: ``ctx.agent("alice")``, ``ctx.call("c1")``, ``ctx.resolve(value)``,
``ctx.set_var(name, value)``, and keeps where ``expect`` looks in each agent's trace
(:meth:`RunContext.touch`, :meth:`RunContext.expect_window`): from the start of the last step
that acted on the agent (or on one of its calls), never at a message an earlier ``expect``
matched.
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
    #: the final status the ``call`` step asked for (None: 2xx); outgoing calls only
    expect: Any = None
    #: seconds the call may take to be answered (``call``'s ``timeout``, default 30)
    timeout: float = 30.0
    #: the call in words, for messages: ``c1 (alice to 1002)``
    label: str = ""
    #: where the call's first message is in its agent's trace
    since: int = 0
    #: the result path of the step that made it (``call``), for the end-of-run check
    path: str = ""
    #: a later step waited on it or checked its messages (its answer is then theirs)
    checked: bool = False

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
    #: per agent: where (in its trace) the last step that acted on it started
    marks: dict[str, int] = field(default_factory=dict)
    #: per agent: where the first step that acted on it since its last ``expect`` started
    windows: dict[str, int] = field(default_factory=dict)
    #: agents an ``expect`` looked at since the last step that acted on them
    checked: set[str] = field(default_factory=set)
    #: per agent: the trace positions earlier ``expect`` steps matched (never matched twice)
    matched: dict[str, set[int]] = field(default_factory=dict)
    #: a step's ``name:`` -> each agent's trace position when it started (``since: NAME``)
    named: dict[str, dict[str, int]] = field(default_factory=dict)
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

    def add_call(self, name: str | None, agent: str, session: DialogSession,
                 since: int = 0) -> CallRef:
        """Name a call (``as:``; unnamed calls get ``call1``, ``call2``...); ``since``: the
        position of its first message in the agent's trace."""
        if not name:
            self._call_counter += 1
            name = f"call{self._call_counter}"
            while name in self.calls:
                self._call_counter += 1
                name = f"call{self._call_counter}"
        ref = CallRef(str(name), agent, session, label=f"{name} ({agent})", since=since)
        self.calls[ref.name] = ref
        self.variables.set_call(ref.name, _LiveFacts(ref))
        return ref

    # ------------------------------------------------------------------ expect windows

    def touch(self, name: str, position: int) -> None:
        """A step acting on agent ``name`` started at ``position`` of its trace (or took a
        message that arrived there: ``answer`` the INVITE it answers)."""
        if name in self.checked or name not in self.windows:
            self.windows[name] = position
            self.checked.discard(name)
        self.marks[name] = position

    def took(self, name: str, position: int) -> None:
        """The running step acts on a message that arrived before it started (the INVITE
        ``answer``, ``reject`` or ``wait: {for: incoming}`` takes): its window starts there."""
        self.marks[name] = min(self.marks.get(name, position), position)
        self.windows[name] = min(self.windows.get(name, position), position)

    def expect_window(self, name: str) -> tuple[int, int]:
        """(start of the last step that acted on ``name``, start of the first one since its
        last ``expect``): where ``expect`` looks first, then second."""
        mark = self.marks.get(name, 0)
        return mark, min(self.windows.get(name, mark), mark)

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
