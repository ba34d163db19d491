"""Step executors, one small module per family; :data:`STEPS` maps a kind to its executor.

An executor is ``async def run(ctx: RunContext, step: Step, args: dict) -> None``: ``args``
are the step's arguments with ``${...}`` already resolved (``parallel`` and ``repeat`` get
them unresolved: their children resolve when they run). It raises
:class:`~sipclient.scenario.context.StepFailed` when the step did not get what it expected;
agent errors (``AuthenticationFailed``, ``SipTimeout``...) are turned into words by the engine.

Other packages add kinds by adding to :data:`STEPS` (``STEPS["validate_capture"] = run``);
:data:`UNRESOLVED` lists the kinds whose arguments the engine must not resolve beforehand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from . import calls, control, expect, flow, media, raw, registration, waits

__all__ = ["ACTS", "STEPS", "UNRESOLVED", "Executor"]

Executor = Callable[[Any, Any, dict[str, Any]], Awaitable[Any]]  # a str result is shown

STEPS: dict[str, Executor] = {
    "register": registration.register,
    "unregister": registration.unregister,
    "options": registration.options,
    "call": calls.call,
    "answer": calls.answer,
    "reject": calls.reject,
    "cancel": calls.cancel,
    "hangup": calls.hangup,
    "hold": calls.hold,
    "unhold": calls.unhold,
    "transfer": calls.transfer,
    "dtmf": calls.dtmf,
    "play": media.play,
    "record": media.record,
    "expect_media": media.expect_media,
    "expect": expect.expect,
    "expect_flow": flow.expect_flow,
    "send_raw": raw.send_raw,
    "wait": waits.wait,
    "set": control.set_,
    "parallel": control.parallel,
    "repeat": control.repeat,
}

#: kinds whose arguments hold steps: resolved by their children, not beforehand
UNRESOLVED: set[str] = {"parallel", "repeat"}

#: kinds that act on their agent or call (``expect`` looks from the start of the last one)
ACTS: set[str] = {"register", "unregister", "options", "call", "answer", "reject", "cancel",
                  "hangup", "hold", "unhold", "transfer", "dtmf", "play", "record",
                  "send_raw", "close", "reopen"}

# Kinds added by other packages register themselves in STEPS when imported (issue 7).
from . import capture  # noqa: E402,F401 - validate_capture
from . import http  # noqa: E402,F401 - http_twin, click_to_call, expect_webhook... (issue 9)
from . import lifecycle  # noqa: E402,F401 - close, reopen
from . import http_dialer  # noqa: E402,F401 - dialer_insert, expect_dialer... (issue 20)
from . import diagnose  # noqa: E402,F401 - diagnose (issue 17)
