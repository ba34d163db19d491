"""``send_raw``: put a message on the wire as written (``${...}`` already filled).

Line ends become CRLF, the header block ends with an empty line, and Content-Length is set
to the body's length unless ``keep_length: true`` (to send a wrong one on purpose). The
bytes go through ``agent.send_raw`` (no transaction): responses still arrive in the agent's
trace, where ``expect`` finds them.
"""

from __future__ import annotations

import re
from typing import Any

from sipclient.io.target import TargetError, parse_target

from ..kinds import AGENT, BOOL, STRING, TEXT, arguments, step_kind
from ..context import RunContext, StepFailed
from ..model import Step

_CONTENT_LENGTH = re.compile(r"^(content-length|l)\s*:", re.IGNORECASE)


def build_raw(template: str, keep_length: bool = False) -> bytes:
    """The message's bytes (see the module docstring). Pure."""
    lines = template.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and lines[0].strip() == "":
        lines.pop(0)
    if "" in lines:
        cut = lines.index("")
        head, body_lines = lines[:cut], lines[cut + 1:]
    else:
        head, body_lines = lines, []
    while body_lines and body_lines[-1] == "":
        body_lines.pop()
    body = "".join(line + "\r\n" for line in body_lines).encode("utf-8")
    if not keep_length:
        head = [h for h in head if not _CONTENT_LENGTH.match(h)]
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body


@step_kind("send_raw", arguments({"agent": AGENT, "message": STRING, "to": TEXT,
           "keep_length": BOOL}, ("agent", "message")), acts=True)
async def send_raw(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    agent = ctx.agent(args["agent"])
    data = build_raw(str(args["message"]), bool(args.get("keep_length", False)))
    addr = None
    if args.get("to"):
        try:
            addr = parse_target(str(args["to"])).address
        except TargetError as exc:
            raise StepFailed(f"send_raw to: {exc}") from None
    await agent.send_raw(data, addr)
