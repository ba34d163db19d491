"""Errors of the lab: each carries a message meant for a person, printed without a traceback."""

from __future__ import annotations


class LabError(Exception):
    """The lab could not do what was asked (start, stop, a CLI command...)."""


class AsteriskNotInstalled(LabError):
    """No ``asterisk`` binary on this machine."""

    def __init__(self) -> None:
        super().__init__("asterisk not found: run `make lab-deps`")
