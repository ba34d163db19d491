"""What the interop peers' helpers share: finding a peer's program, where a missing one is a
failure that says how to install it (CI always has the peers), never a skip."""

from __future__ import annotations

import shutil

import pytest


def require_binary(name: str, why: str) -> str:
    """The path of ``name`` on PATH, else fail the test with ``"<name> not found: <why>"``."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: {why}", pytrace=False)
    return path
