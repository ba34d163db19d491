"""The one table of step kinds: each kind is one :class:`StepKind` record - its executor,
the JSON Schema of its arguments, its short form, its load-time check, and how the engine
treats it - registered once, by the module of ``sipclient/scenario/steps/`` that runs it:

    @step_kind("hangup", arguments({"call": CALL, "expect": STATUS}, ("call",), waits=True),
               short="call", acts=True)
    async def hangup(ctx, step, args): ...

Every module of that package is imported by :func:`kinds` (a new module registers itself:
adding a step kind is its module and its row in docs/scenarios.md, see docs/DEVELOPING.md).
The schema (``schema.py``), the loader's short forms, the checks (``checks.py``) and the
engine all read this table. Also here: the vocabulary the argument schemas are written in
(``NUMBER``, ``AGENT``, ``STATUS``... are ``$ref``s into the ``$defs`` of ``schema.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["StepKind", "arguments", "kinds", "step_kind"]

#: ``async def run(ctx, step, args)``; a ``str`` it returns is shown in the report
Executor = Callable[[Any, Any, dict[str, Any]], Awaitable[Any]]
#: ``check(checker, step, prefix, line_of)``: load-time errors through ``checker.error``
Check = Callable[[Any, Any, str, Callable[[tuple], int]], None]

DIGITS = r"^([0-9*#A-Da-d]+|\$\{[^}]+\})$"
DTMF_MODES = ["rfc4733", "info", "inband"]
WAIT_FOR = ["answered", "ringing", "early", "ended", "held", "registered", "incoming"]
DIRECTIONS = ["sendrecv", "sendonly", "recvonly", "inactive"]


def ref(name: str) -> dict[str, Any]:
    """A ``$ref`` to ``#/$defs/<name>`` of the scenario schema."""
    return {"$ref": f"#/$defs/{name}"}


NUMBER, INTEGER, BOOL, STRING = ref("number"), ref("integer"), ref("boolean"), {"type": "string"}
TEXT = {"title": "a string or a number", "type": ["string", "number"]}  # `to: 600` is fine
AGENT, CALL, CALL_NAME = ref("agent_name"), ref("call_name"), ref("name")
STATUS = ref("status")
CODECS = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
HEADERS = {"type": "object", "additionalProperties": {"type": ["string", "number"]}}


def enum(values: list[str]) -> dict[str, Any]:
    return {"enum": values}


def arguments(props: dict[str, Any], required: tuple[str, ...] = (),
              waits: bool = False) -> dict[str, Any]:
    """The arguments of one step kind: its own plus ``name`` (and ``timeout`` if it waits)."""
    properties = {"name": STRING, **props}
    if waits:
        properties.setdefault("timeout", NUMBER)
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def wait_target(value: Any) -> str:
    """What ``wait: {for: X}`` names: ``word`` (WAIT_FOR), ``status`` (486, "4xx"),
    ``method`` (BYE) or ``?``."""
    text = str(value)
    if text in WAIT_FOR:
        return "word"
    if isinstance(value, bool):
        return "?"
    if re.fullmatch(r"[1-6](xx|[0-9]{2})", text.lower()):
        return "status"
    return "method" if re.fullmatch(r"[A-Z]+", text) else "?"


#: ``wait: {for: ...}``: a word, a status (486, "4xx") or a method received (BYE)
WAIT_TARGET = {"title": f"one of {', '.join(WAIT_FOR)}, a status (486, \"4xx\") or a "
                        "method received (BYE)",
               "anyOf": [{"enum": WAIT_FOR}, {"type": "integer", "minimum": 100, "maximum": 699},
                         {"type": "string", "pattern": r"^([1-6](\d\d|xx)|[A-Z]+)$"}]}


@dataclass(frozen=True)
class StepKind:
    """One step kind (see the module docstring)."""

    name: str
    run: Executor
    #: the JSON Schema of the mapping form (:func:`arguments`)
    args: dict[str, Any]
    #: the argument the short form gives (``register: alice`` is ``{agent: alice}``)
    short: str | None = None
    #: the schema of the short form's value (default: that argument's)
    short_schema: dict[str, Any] | None = None
    #: load-time checks the schema cannot do
    check: Check | None = None
    #: it acts on its agent or call (``expect`` looks from the start of the last such step)
    acts: bool = False
    #: its arguments hold steps: resolved by its children, not beforehand
    unresolved: bool = False

    @property
    def short_value_schema(self) -> dict[str, Any] | None:
        if self.short is None:
            return None
        return self.short_schema or self.args["properties"][self.short]


_KINDS: dict[str, StepKind] = {}


def step_kind(name: str, args: dict[str, Any], *, short: str | None = None,
              short_schema: dict[str, Any] | None = None, check: Check | None = None,
              acts: bool = False, unresolved: bool = False) -> Callable[[Executor], Executor]:
    """Register the decorated executor as the step kind ``name`` (once: a second
    registration of a name is an error)."""
    def register(run: Executor) -> Executor:
        if name in _KINDS:
            raise ValueError(f"the step kind {name!r} is registered twice "
                             f"({_KINDS[name].run.__module__} and {run.__module__})")
        _KINDS[name] = StepKind(name, run, args, short, short_schema, check, acts, unresolved)
        return run
    return register


def kinds() -> Mapping[str, StepKind]:
    """Every step kind, once each module of ``sipclient.scenario.steps`` is imported."""
    package = importlib.import_module("sipclient.scenario.steps")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    return _KINDS
