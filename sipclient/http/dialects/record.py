"""One finished (or running) click-to-call as the twin saw it: the common source of every
dialect's payload. Times are naive local datetimes given by the caller (no clock here)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

#: seed 000's dispositions, the twin's common vocabulary
DISPOSITIONS = ("ANSWER", "NO ANSWER", "BUSY", "CANCEL")


@dataclass(frozen=True)
class CallRecord:
    id: str                      # the call's id in the API that started it
    uniqueid: str                # Asterisk's uniqueid of the extension's channel ("<epoch>.<n>")
    extension: str               # the 4-digit extension that rang first
    number: str                  # the number dialled once the extension answered
    start: datetime              # the request reached the PBX
    ended: datetime | None = None
    answered: datetime | None = None      # the extension answered
    connected: datetime | None = None     # the number answered (talk time starts)
    disposition: str | None = None        # one of DISPOSITIONS, once ended
    key: str = ""                # seed 000's key (its CDR callid)
    dialect: str = ""            # which API started it
    recording: str = ""          # seed 001's GRAVACAO (no extension)
    userfield: str = ""          # seed 000's userfield (recording id)
    hangup_side: str = ""        # "interno" (the extension hung up) or "externo"
    json: tuple[str, str, str] = ("", "", "")
    customer_code: str = ""      # seed 000's 3-digit code
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> int:
        """Seconds from the request to the end (waiting + talking)."""
        if self.ended is None:
            return 0
        return max(0, round((self.ended - self.start).total_seconds()))

    @property
    def billsec(self) -> int:
        """Talk time in seconds: from the number answering to the end."""
        if self.ended is None or self.connected is None:
            return 0
        return max(0, round((self.ended - self.connected).total_seconds()))

    @property
    def waiting(self) -> int:
        until = self.connected or self.ended
        if until is None:
            return 0
        return max(0, round((until - self.start).total_seconds()))

    def finish(self, ended: datetime, disposition: str, **changes: object) -> "CallRecord":
        if disposition not in DISPOSITIONS:
            raise ValueError(f"unknown disposition {disposition!r}")
        return replace(self, ended=ended, disposition=disposition, **changes)
