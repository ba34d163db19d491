"""Read a ``*.sip.yaml`` file into a checked :class:`Scenario`, or say everything wrong with it.

    scenario = load_scenario("scenarios/calls/echo-udp.sip.yaml")

Order: YAML with lines (``yamlpos``), the JSON Schema (``validate``), then the checks the
schema cannot do (``checks``: agents, calls and ``${...}`` defined before use, regular
expressions, environment variables). Every error found is raised together as
:class:`ScenarioErrors`, sorted by line; each is one line ``file:line: what is wrong``.
Pure and quick: no asyncio, no network (it reads the file, the environment, and checks that
secret files exist).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from sipclient.proto.limits import LimitExceeded, limit

from . import yamlpos
from .checks import check
from .model import AgentSpec, Location, Scenario, ScenarioError, ScenarioErrors, Step, Var
from .schema import SHORT_FORMS, STEP_KINDS, schema_json
from .validate import schema_errors, show
from .variables import is_secret_name
from .yamlpos import Document, PathKey

__all__ = ["ScenarioError", "ScenarioErrors", "load_scenario", "load_text", "schema_json"]

DEFAULT_TIMEOUT = 120.0
SUFFIXES = (".sip.yaml", ".sip.yml", ".yaml", ".yml")


def load_scenario(path: Path | str, *, env: Mapping[str, str] | None = None,
                  instance: bool = False) -> Scenario:
    """Load and check one scenario file; :class:`ScenarioErrors` when anything is wrong.
    ``instance``: it runs as a load instance, ``${i}`` (the instance number) is defined."""
    path = Path(path)
    cap = int(limit("scenario_bytes"))
    try:
        with open(path, "rb") as fh:
            data = fh.read(cap + 1)
        if len(data) > cap:
            raise ScenarioErrors([ScenarioError(path, data.count(b"\n", 0, cap) + 1, str(
                LimitExceeded("scenario_bytes", "the file, at this line,")))])
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioErrors([ScenarioError(path, None,
                                            f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ScenarioErrors([ScenarioError(path, None, f"cannot read the file: "
                                                        f"{exc.strerror or exc}")]) from None
    return load_text(text, path, env=env, instance=instance)


def load_text(text: str, path: Path | str = "<text>", *,
              env: Mapping[str, str] | None = None, instance: bool = False) -> Scenario:
    """Load a scenario from ``text``; ``path`` names it in errors and anchors relative files
    (secret files, WAV files). ``env`` replaces ``os.environ`` (tests)."""
    path = Path(path)
    env = os.environ if env is None else env
    doc = yamlpos.parse(text, path)
    if doc.data is None:
        raise ScenarioErrors([ScenarioError(path, 1, "the file is empty (a scenario needs "
                                                     "agents: and steps:)")])
    if not isinstance(doc.data, dict):
        raise ScenarioErrors(doc.errors + [ScenarioError(
            path, doc.line(()), f"the top level must be a mapping (name, agents, steps...), "
                                f"got {show(doc.data)}")])
    errors = list(doc.errors) + schema_errors(doc, path)
    builder = _Builder(doc, path)
    steps = builder.steps(doc.data.get("steps"), ("steps",), "")
    scenario = Scenario(
        name=str(doc.data.get("name") or _default_name(path)),
        path=path,
        description=str(doc.data.get("description") or ""),
        tags=_tags(doc.data.get("tags")),
        timeout=_number(doc.data.get("timeout"), DEFAULT_TIMEOUT),
        vars=builder.vars(doc.data.get("vars")),
        agents=builder.agents(doc.data.get("agents")),
        steps=steps,
        source_lines=tuple(text.splitlines()),
        hep=doc.data.get("hep"),
    )
    errors += check(scenario, doc, builder.sources, env, instance=instance)
    if errors:
        raise ScenarioErrors(_ordered(errors))
    return scenario


def _ordered(errors: list[ScenarioError]) -> list[ScenarioError]:
    unique: dict[tuple[int | None, str], ScenarioError] = {}
    for error in errors:
        unique.setdefault((error.line, error.message), error)
    return sorted(unique.values(), key=lambda e: e.line or 0)


def _default_name(path: Path) -> str:
    name = path.name
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _tags(value: Any) -> tuple[str, ...]:
    return tuple(str(t) for t in value) if isinstance(value, list) else ()


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else default


class _Builder:
    """Builds the model from the parsed data; tolerant of shapes the schema already rejected
    (so that the checks can still run and report everything in one go)."""

    def __init__(self, doc: Document, path: Path) -> None:
        self.doc = doc
        self.path = path
        self.base = path.parent
        self.sources: dict[str, PathKey] = {}  # Step.path -> the step item's path in the data

    def where(self, at: PathKey, from_key: bool = False) -> Location:
        """Where the node at ``at`` is written (from its key's line with ``from_key``)."""
        span = self.doc.span(at)
        first = min(self.doc.key_line(at), span.line) if from_key else span.line
        return Location(self.path, first, span.end_line)

    def vars(self, data: Any) -> dict[str, Var]:
        out: dict[str, Var] = {}
        if not isinstance(data, dict):
            return out
        for name, value in data.items():
            where = self.where(("vars", name), from_key=True)
            secret = is_secret_name(name)
            if isinstance(value, dict) and ("env" in value or "secret_file" in value):
                env_name = value.get("env")
                secret = secret or value.get("secret") is True or (
                    isinstance(env_name, str) and is_secret_name(env_name))
                secret_file = value.get("secret_file")
                if isinstance(secret_file, str):
                    secret_file = (self.base / Path(secret_file).expanduser()).resolve()
                    secret = True
                else:
                    secret_file = None
                env = value.get("env")
                out[name] = Var(name, None, env if isinstance(env, str) else None,
                                value.get("default"), secret_file, secret, where)
            else:
                out[name] = Var(name, value, secret=secret, where=where)
        return out

    def agents(self, data: Any) -> dict[str, AgentSpec]:
        if not isinstance(data, dict):
            return {}
        return {name: AgentSpec(name, dict(fields) if isinstance(fields, dict) else {},
                                self.where(("agents", name), from_key=True))
                for name, fields in data.items()}

    def steps(self, items: Any, at: PathKey, prefix: str) -> tuple[Step, ...]:
        if not isinstance(items, list):
            return ()
        out = []
        for n, item in enumerate(items):
            step_at = at + (n,)
            if not isinstance(item, dict) or len(item) != 1:
                continue  # the schema said what is wrong with it
            (kind, value), = item.items()
            label = f"{prefix}{n + 1}"
            self.sources[label] = step_at
            out.append(self.step(str(kind), value, step_at, n + 1, label))
        return tuple(out)

    def step(self, kind: str, value: Any, at: PathKey, index: int, label: str) -> Step:
        where = self.where(at)
        if kind == "parallel":
            branches = {}
            if isinstance(value, dict):
                branches = {str(name): self.steps(items, at + (kind, name), f"{label}.{name}.")
                            for name, items in value.items()}
            return Step(kind, {}, where, index, label, branches=branches)
        if kind == "repeat":
            args = dict(value) if isinstance(value, dict) else {}
            children = self.steps(args.pop("steps", None), at + (kind, "steps"), f"{label}.")
            return Step(kind, args, where, index, label, children=children)
        if isinstance(value, dict):
            args = dict(value)
        elif kind in SHORT_FORMS:
            args = {SHORT_FORMS[kind]: value}
        else:
            args = {}
        if kind in STEP_KINDS and kind != "set" and "to" in args and isinstance(args["to"], int) \
                and not isinstance(args["to"], bool):
            args["to"] = str(args["to"])  # `to: 600` is the number "600"
        return Step(kind, args, where, index, label)
