"""Errors of the HTTP integration surface.

``FieldError`` is remote garbage in a payload (a missing or malformed field): it names the
field, its position when the payload is a list, and what was expected, so a receiver can
answer 400 with it and a scenario can print it. ``HttpError`` is a request that could not be
made or whose answer could not be read.
"""

from __future__ import annotations


class HttpIntegrationError(Exception):
    """Base class of every error raised by :mod:`sipclient.http`."""


class FieldError(HttpIntegrationError, ValueError):
    """A payload field is missing or malformed."""

    def __init__(self, field: str, problem: str, *, where: str = "") -> None:
        self.field = field
        self.problem = problem
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}field {field!r} {problem}")


class HttpError(HttpIntegrationError):
    """The request failed (connection, TLS, timeout) or its answer is not what the dialect says."""
