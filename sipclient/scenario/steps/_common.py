"""What the step families share: timeouts, status checks, message text."""

from __future__ import annotations

from typing import Any

from sipclient.proto.message import Request, Response

from ..context import StepFailed
from ..matchers import MatchError, StatusSpec

#: seconds a step waits when it says nothing (beyond SIP timer F, 32 s)
DEFAULT_TIMEOUT = 40.0


def timeout_of(args: dict[str, Any], default: float = DEFAULT_TIMEOUT) -> float:
    value = args.get("timeout")
    if value is None:
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise StepFailed(f"timeout: {value!r} is not a number of seconds") from None
    if seconds <= 0:
        raise StepFailed(f"timeout: {value!r} must be more than 0 seconds")
    return seconds


def text_of(message: Request | Response | None) -> str | None:
    """The whole message as text (what a failure report shows)."""
    if message is None:
        return None
    return bytes(message).decode("utf-8", "replace")


def status_spec(value: Any, what: str) -> StatusSpec:
    try:
        return StatusSpec.parse(value, what)
    except MatchError as exc:
        raise StepFailed(str(exc)) from None


def check_status(what: str, expect: Any, default: Any, response: Response | None,
                 status: int | None = None) -> None:
    """Fail unless the final status (of ``response``, or ``status``) is what ``expect`` asks
    for (``default`` when not given)."""
    spec = status_spec(default if expect is None else expect, f"{what}: expect")
    got = response.status if response is not None else status
    if got is None or not spec.matches(got):
        shown = f"{got} {response.reason}" if response is not None else str(got)
        raise StepFailed(f"{what}: expected {spec}, received {shown}",
                         expected=f"{what} answered {spec}",
                         received=text_of(response) or shown)


def number(args: dict[str, Any], key: str, default: Any = None) -> Any:
    value = args.get(key, default)
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise StepFailed(f"{key}: {value!r} is not a number") from None

