"""``validate_capture``: the scenario's own capture so far against a golden capture or a
flow description file (issue 7; :func:`sipclient.pcap.validate.validate`).

``against`` is relative to the scenario file. The capture (``capture.pcap`` in the report
folder) is flushed packet by packet, so it holds everything the agents sent and received up
to this step. The step fails with every difference, one per line, e.g.
``dialog 1 (INVITE): missing message 8: ACK``.

Its kinds are registered in the table of step kinds (:mod:`sipclient.scenario.kinds`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sipclient.pcap.flowspec import FlowFileError
from sipclient.pcap.read import CaptureError
from sipclient.pcap.validate import ValidationResult, validate

from ..kinds import STRING, arguments, step_kind
from ..context import RunContext, StepFailed
from ..model import Step


def _capture_path(ctx: RunContext) -> Path:
    return Path(ctx.result.capture or ctx.report_dir / "capture.pcap")


@step_kind("validate_capture", arguments({"against": STRING}, ("against",)))
async def validate_capture(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    against = str(args["against"])
    expected = Path(against)
    if not expected.is_absolute():
        expected = Path(ctx.scenario.path).parent / expected
    if not expected.is_file():
        raise StepFailed(f"validate_capture: against: no such file {expected}")
    run = _capture_path(ctx)
    try:
        result: ValidationResult = await asyncio.to_thread(validate, str(run), str(expected))
    except (FlowFileError, CaptureError) as exc:
        raise StepFailed(f"validate_capture: {exc}") from None
    except OSError as exc:
        raise StepFailed(f"validate_capture: cannot read {exc.filename or run}: "
                         f"{exc.strerror or exc}") from None
    if not result.ok:
        shown = "; ".join(result.differences[:3])
        more = f" (and {len(result.differences) - 3} more)" if len(result.differences) > 3 \
            else ""
        raise StepFailed(f"validate_capture against {against}: {shown}{more}",
                         expected=f"the flow of {against}",
                         received="\n".join(result.differences))


