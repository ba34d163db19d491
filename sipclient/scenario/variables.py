"""``${...}`` variables: the grammar (shared with the loader's checks) and the runtime scopes.

Names (docs/scenarios.md, Variables): ``${x}`` a var of the file, a ``set`` value or an
``expect`` capture; ``${env.NAME}``; ``${target.host}`` ...; ``${alice.user}`` (agent facts);
``${c1.call_id}`` (call facts); ``${i}`` inside ``repeat``; ``${new.call_id}``,
``${new.branch}``, ``${new.tag}`` (fresh each time). ``$${`` writes a literal ``${``.

:class:`Variables` is what the engine resolves step arguments with. It is pure: the
environment, the target's facts and the random source are given to it.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..proto.ids import IdGenerator
from .model import Scenario, Var

# `$${` is an escaped `${`; `${name}` a reference; a `${` without `}` is caught by the loader.
TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
WHOLE = re.compile(r"^\$\{([^}]*)\}$")
SECRET_WORDS = ("password", "passwd", "pwd", "senha", "token", "secret", "key", "credential")
MASK = "***"


def is_secret_name(name: str) -> bool:
    """A var whose name says it holds a secret (``*password*``, ``*token*``...)."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def references(text: str) -> Iterator[tuple[str, int]]:
    """The ``${...}`` names in ``text`` with their offsets (escaped ``$${`` skipped)."""
    for match in TOKEN.finditer(text):
        if match.group(1) is not None:
            yield match.group(1), match.start()


def unclosed(text: str) -> bool:
    """True when ``text`` has a ``${`` with no ``}`` after it."""
    return "${" in TOKEN.sub("", text)


class UnknownVariable(LookupError):
    """A ``${name}`` that nothing defines (the loader's checks should have said so)."""

    def __init__(self, name: str, reason: str = "") -> None:
        self.name = name
        super().__init__(f"unknown variable \"${{{name}}}\"" + (f": {reason}" if reason else ""))

    def __str__(self) -> str:
        return str(self.args[0])


class Variables:
    """The scopes a scenario's ``${...}`` are resolved in.

    ``with_index(i)`` gives a view for one ``repeat`` iteration: it shares every scope (a
    ``set`` or capture inside the loop stays visible after it) but has its own ``${i}``.
    Agent and call facts are mappings; the engine may pass live ones (a call's
    ``remote_tag`` appears once it is known).
    """

    def __init__(self, *, env: Mapping[str, str] | None = None,
                 target: Mapping[str, Any] | None = None,
                 rng: random.Random | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.target: Mapping[str, Any] = dict(target or {})
        self.values: dict[str, Any] = {}  # vars, set, captures
        self.agents: dict[str, Mapping[str, Any]] = {}
        self.calls: dict[str, Mapping[str, Any]] = {}
        self._secrets: dict[str, str] = {}  # name -> value
        self._index: int | None = None
        self.ids = IdGenerator(rng)

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_scenario(cls, scenario: Scenario, *, env: Mapping[str, str] | None = None,
                      target: Mapping[str, Any] | None = None,
                      rng: random.Random | None = None) -> "Variables":
        """The file's ``vars:`` defined in order (env vars read, secret files read)."""
        variables = cls(env=env, target=target, rng=rng)
        for var in scenario.vars.values():
            variables.define(var)
        return variables

    def define(self, var: Var) -> None:
        """One ``vars:`` entry: a literal (its ``${...}`` resolved now), an environment
        variable (or its default) or the first line of a secret file."""
        if var.secret_file is not None:
            value: Any = _first_line(var.secret_file)
            secret = True
        elif var.env is not None:
            if var.env in self.env:
                value = self.env[var.env]
            elif var.default is not None:
                value = self.resolve(var.default)
            else:
                raise UnknownVariable(f"env.{var.env}", "the environment variable is not set")
            secret = var.secret
        else:
            value = self.resolve(var.value)
            secret = var.secret
        self.set(var.name, value, secret=secret or is_secret_name(var.name))

    def set(self, name: str, value: Any, secret: bool = False) -> None:
        """A new value for ``${name}`` (a ``set`` step, a capture); ``secret`` hides it."""
        self.values[name] = value
        if secret or is_secret_name(name):
            self._secrets[name] = str(value)
        else:
            self._secrets.pop(name, None)

    def add_secret(self, value: Any) -> None:
        """Hide a value that is no variable (an account's password from the target)."""
        text = value.reveal() if hasattr(value, "reveal") else str(value)
        if text:
            self._secrets[f" secret {len(self._secrets)}"] = text

    def set_agent(self, name: str, facts: Mapping[str, Any]) -> None:
        self.agents[name] = facts

    def set_call(self, name: str, facts: Mapping[str, Any]) -> None:
        self.calls[name] = facts

    def with_index(self, index: int) -> "Variables":
        view = object.__new__(Variables)
        view.__dict__.update(self.__dict__)
        view._index = index
        return view

    # -- reading --------------------------------------------------------------------------

    def lookup(self, name: str) -> Any:
        """The value of ``${name}``; :class:`UnknownVariable` when nothing defines it."""
        name = name.strip()
        if name == "i":
            if self._index is None:
                raise UnknownVariable(name, "${i} exists only inside repeat")
            return self._index
        if name in self.values:
            return self.values[name]
        head, dot, field = name.partition(".")
        if not dot:
            raise UnknownVariable(name)
        if head == "env":
            if field not in self.env:
                raise UnknownVariable(name, "the environment variable is not set")
            if is_secret_name(field):  # ${env.SENHA}: a secret by where it came from
                self._secrets.setdefault(f" env {field}", str(self.env[field]))
            return self.env[field]
        if head == "new":
            makers = {"call_id": self.ids.call_id, "branch": self.ids.branch, "tag": self.ids.tag}
            if field not in makers:
                raise UnknownVariable(name, f"new.* is one of {', '.join(makers)}")
            return makers[field]()
        scope = (self.target if head == "target" else self.agents.get(head)
                 if head in self.agents else self.calls.get(head))
        if scope is None:
            raise UnknownVariable(name, f"no agent or call named \"{head}\"")
        try:
            return scope[field]
        except KeyError:
            raise UnknownVariable(name, f"\"{head}\" has no \"{field}\"") from None

    def resolve(self, value: Any) -> Any:
        """``value`` with every ``${...}`` substituted, in strings inside lists and mappings
        too. A string that is one whole reference (``"${n}"``) keeps the value's type."""
        if isinstance(value, str):
            whole = WHOLE.match(value)
            if whole:
                return self.lookup(whole.group(1))
            return TOKEN.sub(self._substitute, value)
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(item) for item in value)
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        return value

    def _substitute(self, match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        value = self.lookup(match.group(1))
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    # -- secrets --------------------------------------------------------------------------

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values (longest first), for :meth:`redact`."""
        return tuple(sorted({v for v in self._secrets.values() if v}, key=len, reverse=True))

    def is_secret(self, name: str) -> bool:
        return name in self._secrets

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by ``***`` (reports, logs)."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.readline().rstrip("\r\n")
