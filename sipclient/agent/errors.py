"""Errors the agent raises; all are :class:`AgentError`."""

from __future__ import annotations

from typing import Any

from sipclient.proto.message import Response

__all__ = ["AgentError", "AuthenticationFailed", "SipFailure", "SipTimeout", "TransportFailure"]


class AgentError(Exception):
    """Base of every agent error."""


class AuthenticationFailed(AgentError):
    """The server challenged credentials it had just been given (a second 401/407 without
    ``stale=true``, RFC 3261 22.2, RFC 2617 3.2.1), or the challenge cannot be answered."""

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class SipTimeout(AgentError):
    """No final response in time (timer B/F, or the caller's timeout)."""


class SipFailure(AgentError):
    """A 4xx/5xx/6xx final response; the response is in ``.response``."""

    def __init__(self, response: Response, what: str = "request") -> None:
        super().__init__(f"{what} failed: {response.status} {response.reason}")
        self.response = response
        self.status = response.status


class TransportFailure(AgentError):
    """Could not connect or send."""


def cleanup_failure(exc: BaseException, limit: float, sessions: Any,
                    registered: bool) -> str:
    """Why the cleanup did not finish, in words (a bare TimeoutError has none)."""
    left = [s for s in sessions if not s.is_ended]
    what = ([f"{len(left)} call(s) still up"] if left else []) + \
        (["still registered"] if registered else [])
    text = str(exc) or (f"not done within cleanup_timeout {limit:g} s"
                        if isinstance(exc, TimeoutError) else type(exc).__name__)
    return text + (f" ({', '.join(what)})" if what else "")
