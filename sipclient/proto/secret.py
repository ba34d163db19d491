"""A password, token or key that never shows itself (:class:`Secret`). Pure, and at the
bottom of the layers so that every package that holds one (the agent's credentials, the
HTTP APIs' tokens, the scenario targets) uses the same type without importing the agent."""

from __future__ import annotations

from typing import Any

__all__ = ["Secret"]


class Secret:
    """A string that never shows itself: ``repr``/``str``/``format`` give ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        """The secret text (for the digest computation only)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # pickling would write it out: refuse
        raise TypeError("a Secret cannot be pickled")
