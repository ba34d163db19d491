"""The agent's record of every SIP message it sent and received (:class:`TraceEntry`).

Outgoing messages are recorded when the agent hands them to its transport (before any
impairment decides to drop or delay them); incoming ones when they reach the agent (after
impairment). Retransmissions are recorded as they happen on the wire, so a flow over a
lossy UDP path shows the repeated REGISTER. Passwords never appear: the only trace of a
password is the digest response hash, which is not a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sipclient.proto.message import Request, Response

__all__ = ["Trace", "TraceEntry", "label"]

Address = tuple[str, int]


def label(message: Request | Response | None) -> str | None:
    """"INVITE" for a request, "200" for a response, None for garbage."""
    if message is None:
        return None
    if isinstance(message, Response):
        return str(message.status)
    return message.method


@dataclass(frozen=True)
class TraceEntry:
    """One message on the wire. ``time`` is the event loop's clock (``loop.time()``)."""

    time: float
    direction: str  # "out" | "in"
    transport: str
    local: Address
    remote: Address
    data: bytes = field(repr=False)
    message: Request | Response | None = field(default=None, repr=False)

    @property
    def label(self) -> str | None:
        return label(self.message)

    @property
    def call_id(self) -> str | None:
        try:
            return self.message.call_id if self.message is not None else None
        except Exception:  # noqa: BLE001 - a message without a Call-ID
            return None

    def __str__(self) -> str:
        arrow = "->" if self.direction == "out" else "<-"
        if self.message is not None:
            what = self.message.start_line
            try:
                cseq = f" ({self.message.cseq})"
            except Exception:  # noqa: BLE001
                cseq = ""
        else:
            what, cseq = f"<{len(self.data)} bytes unparsable>", ""
        return (f"{self.time:10.3f} {self.transport.upper():4} {self.local[0]}:{self.local[1]} "
                f"{arrow} {self.remote[0]}:{self.remote[1]} {what}{cseq}")


class Trace(list[TraceEntry]):
    """A list of :class:`TraceEntry` with :meth:`flow`."""

    def flow(self, call_id: str | None = None) -> list[str]:
        """Requests by method, responses by status code: ``["REGISTER", "401", ...]``;
        only the messages of ``call_id`` when given. Retransmissions are included."""
        out = []
        for entry in self:
            if call_id is not None and entry.call_id != call_id:
                continue
            if (name := entry.label) is not None:
                out.append(name)
        return out

    def text(self) -> str:
        return "\n".join(str(e) for e in self)
