"""Identifiers: Via branches, From/To tags and Call-IDs (RFC 3261 8.1.1.4, 8.1.1.7, 19.3).

Every identifier is drawn from one injectable random source so that tests (and captured
scenarios) can be replayed exactly: pass ``random.Random(seed)``. The default is
:class:`random.SystemRandom`, i.e. the operating system's CSPRNG, since RFC 3261 19.3 asks
tags and Call-IDs to be cryptographically random (at least 32 bits of randomness).

* A branch begins with the magic cookie ``z9hG4bK`` (8.1.1.7) so that peers use the
  RFC 3261 transaction matching of 17.2.3.
* A tag has 32 hex digits of randomness (19.3 asks for at least 32 bits).
* A Call-ID is ``<random>@<host>`` when a host is given (8.1.1.4, 20.8).
"""

from __future__ import annotations

import random
from typing import Protocol

MAGIC_COOKIE = "z9hG4bK"
"""RFC 3261 8.1.1.7: a branch starting with this marks an RFC 3261 compliant sender."""

_ALPHABET = "0123456789abcdef"


class RandomSource(Protocol):
    """The part of :class:`random.Random` used here: ``getrandbits``."""

    def getrandbits(self, k: int, /) -> int: ...


class IdGenerator:
    """Generates branches, tags and Call-IDs from one random source.

    >>> ids = IdGenerator(random.Random(1))
    >>> ids.branch().startswith("z9hG4bK")
    True
    """

    def __init__(self, rng: RandomSource | None = None) -> None:
        self.rng: RandomSource = rng if rng is not None else random.SystemRandom()

    def token(self, bits: int = 64) -> str:
        """A lower-case hex token carrying ``bits`` bits of randomness."""
        digits = (bits + 3) // 4
        return format(self.rng.getrandbits(digits * 4), f"0{digits}x")

    def branch(self) -> str:
        """A new Via branch with the RFC 3261 magic cookie (8.1.1.7, 17.2.3)."""
        return MAGIC_COOKIE + self.token(64)

    def tag(self) -> str:
        """A new From/To tag (19.3)."""
        return self.token(32)

    def call_id(self, host: str | None = None) -> str:
        """A new Call-ID (8.1.1.4), ``random@host`` when a host is given."""
        value = self.token(96)
        return f"{value}@{host}" if host else value


def is_rfc3261_branch(branch: str | None) -> bool:
    """True when a Via branch carries the magic cookie (RFC 3261 8.1.1.7, 17.2.3)."""
    return bool(branch) and branch.startswith(MAGIC_COOKIE)  # type: ignore[union-attr]
