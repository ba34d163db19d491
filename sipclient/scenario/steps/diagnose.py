"""``diagnose``: the registration verdicts of the scenario's own capture so far (issue 17;
:func:`sipclient.pcap.diagnose.diagnose`).

    - diagnose: {expect: [stale-nonce], absent: [ok]}        # codes it must / must not have
    - diagnose: {agent: alice, expect: [same-source-port-conflict]}
    - diagnose: {}                                            # every registration is ok

``expect``: every code must be among the codes of the selected registrations; ``absent``: none
of them may be; neither: every selected registration must be ``ok``. ``agent`` keeps the
registrations of that agent's AOR (default: all). ``password_check: true`` also checks every
digest answer against the scenario's agents' passwords, so ``wrong-password`` can be asked
for (passwords never appear in the message). The capture is flushed packet by packet, so it
holds everything up to this step.

Its kinds are registered in the table of step kinds (:mod:`sipclient.scenario.kinds`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sipclient.pcap.auth_check import Passwords
from sipclient.pcap.diagnose import Diagnosis, diagnose
from sipclient.pcap.diagnose_text import diagnosis_lines, verdict_line
from sipclient.pcap.read import CaptureError, read_capture

from ..kinds import AGENT, BOOL, arguments, ref, step_kind
from ..context import RunContext, StepFailed
from ..model import Step


def _diagnoses(path: Path, passwords: Passwords | None) -> list[Diagnosis]:
    return diagnose(read_capture(str(path)).sip, passwords)


def _same_aor(diag: Diagnosis, aor: str) -> bool:
    mine = diag.registration.aor.lower()
    return mine == aor.lower() or mine.split(":", 1)[-1].split("@")[0] == \
        aor.split(":", 1)[-1].split("@")[0].lower() and "@" in mine


@step_kind("diagnose", arguments({"expect": ref("verdicts"), "absent": ref("verdicts"),
           "agent": AGENT, "password_check": BOOL}))
async def run_diagnose(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    path = Path(ctx.result.capture or ctx.report_dir / "capture.pcap")
    passwords = None
    if args.get("password_check"):
        passwords = Passwords(None, {a.config.digest_user: a.config.password.reveal()
                                     for a in ctx.agents.values()
                                     if a.config.password is not None})
    try:
        found = await asyncio.to_thread(_diagnoses, path, passwords)
    except CaptureError as exc:
        raise StepFailed(f"diagnose: {exc}") from None
    except OSError as exc:
        raise StepFailed(f"diagnose: cannot read {path}: {exc.strerror or exc}") from None
    if args.get("agent"):
        aor = ctx.agent(args["agent"]).aor
        found = [d for d in found if _same_aor(d, aor)]
        if not found:
            raise StepFailed(f"diagnose: no REGISTER of {args['agent']} ({aor}) in the "
                             f"capture", expected=f"a registration of {aor}")
    codes = {c for d in found for c in d.codes}
    expect = [str(c) for c in args.get("expect") or []]
    absent = [str(c) for c in args.get("absent") or []]
    problems = []
    if not expect and not absent:
        problems += [verdict_line(d) for d in found if d.codes != ["ok"]]
        wanted = "every registration ok"
    else:
        problems += [f"missing {c}" for c in expect if c not in codes]
        problems += [f"unwanted {c}" for c in absent if c in codes]
        wanted = "; ".join(filter(None, [f"codes {', '.join(expect)}" if expect else "",
                                         f"none of {', '.join(absent)}" if absent else ""]))
    if not found and (expect or not absent):
        problems.append("no REGISTER in the capture")
    if problems:
        raise StepFailed(f"diagnose: {'; '.join(problems)} (got: "
                         f"{'; '.join(verdict_line(d) for d in found) or 'nothing'})",
                         expected=wanted,
                         received="\n".join(line for d in found for line in diagnosis_lines(d)))


