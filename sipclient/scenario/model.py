"""What a scenario file becomes once loaded and checked: plain values with their lines.

The loader (``loader.py``) turns a ``*.sip.yaml`` file into a :class:`Scenario`; the engine
(``engine.py``) runs it. Arguments keep ``${...}`` references unresolved (strings); the engine
resolves them through :mod:`sipclient.scenario.variables` when the step runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where something is written: file, first line, last line (1-based)."""

    path: Path
    line: int
    end_line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class ScenarioError(Exception):
    """A scenario file is wrong: ``file:line: what is wrong``. Several may be gathered."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else f"{self.path}"
        super().__init__(f"{where}: {message}")


class ScenarioErrors(Exception):
    """Every error of one file (the loader reports them all, the first first)."""

    def __init__(self, errors: list[ScenarioError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class Var:
    """A variable of ``vars:``: a literal, an environment variable or a secret file."""

    name: str
    value: Any = None  # literal (may itself contain ${...})
    env: str | None = None
    default: Any = None
    secret_file: Path | None = None  # already made absolute (relative to the scenario file)
    secret: bool = False
    where: Location | None = None


@dataclass(frozen=True)
class AgentSpec:
    """One agent as written (``fields`` checked against the schema, ${...} unresolved)."""

    name: str
    fields: dict[str, Any]
    where: Location


@dataclass(frozen=True)
class Step:
    """One step: ``kind`` (register, call, expect, ...), its arguments (the short form already
    expanded to the mapping form), and for ``parallel``/``repeat`` its child steps.

    ``branches`` (parallel): branch name -> steps. ``children`` (repeat): the steps repeated.
    ``index`` is the 1-based position in its list, ``path`` the position from the top, e.g.
    ``"4"`` or ``"4.alice.2"`` for the 2nd step of branch alice of the 4th step.
    """

    kind: str
    args: dict[str, Any]
    where: Location
    index: int
    path: str
    children: tuple["Step", ...] = ()
    branches: dict[str, tuple["Step", ...]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.args.get("name") or self.kind)


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    description: str
    tags: tuple[str, ...]
    timeout: float
    vars: dict[str, Var]
    agents: dict[str, AgentSpec]
    steps: tuple[Step, ...]
    source_lines: tuple[str, ...]  # the file's text, for showing a failing step's YAML
    #: ``hep:`` (a target string or a mapping, as a profile's), used when the run gives none
    hep: Any = None

    def lines_of(self, step: Step) -> str:
        """The YAML text of a step (its lines, with their numbers)."""
        first, last = step.where.line, step.where.end_line
        return "\n".join(f"{n:4d} | {self.source_lines[n - 1]}"
                         for n in range(first, min(last, len(self.source_lines)) + 1))
