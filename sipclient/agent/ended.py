"""What the agent keeps of a call once it ended (:class:`EndedSession`).

An ended call stays in the agent's session map for 64*T1 (timer L, RFC 6026) so that a late
CANCEL, ACK or in-dialog request is answered as before (200 for the CANCEL of its INVITE,
481 with the dialog's tag for a request, an ACK absorbed). That needs the Call-ID, the
INVITE's server-transaction key and our tag: not the parsed INVITE, the 200, the dialog, the
SDP, the media objects or the in-dialog requests received. With 1,000 un-ACKed INVITEs from a
flood those would stay for 64*T1 after the end and pin the heap (issue 18). Retransmissions
of our responses are the core's transactions' business, not the call's.

Whoever holds the :class:`~sipclient.agent.call.DialogSession` itself (the user, the
``answer`` report) still reads it whole; only the agent's own reference is slimmed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sipclient.proto.core import AckReceived, RequestReceived

    from .call import DialogSession

__all__ = ["EndedSession"]


class _NoMedia:
    """The media of an ended call, already closed."""

    async def close(self) -> None:
        return None


_NO_MEDIA = _NoMedia()


class EndedSession:
    """The agent's slim record of an ended call (see the module docstring)."""

    __slots__ = ("agent", "call_id", "key", "to_tag", "local_tag", "end_reason", "media")

    is_ended = True
    state = "ended"

    def __init__(self, session: DialogSession, closing: asyncio.Task[Any] | None) -> None:
        self.agent = session.agent
        self.call_id = session.call_id
        self.key = getattr(session, "key", None)  # an incoming call's INVITE, for a CANCEL
        self.to_tag = getattr(session, "to_tag", None)  # ... and the tag of its responses
        self.local_tag = session.dialog.local_tag if session.dialog is not None else None
        self.end_reason = session.end_reason
        # the media is kept only until its close is done: close() of the agent closes it
        # again when that task was cancelled (the agent closing in the same tick)
        self.media: Any = _NO_MEDIA
        if closing is not None and not closing.done():
            self.media = session.media
            closing.add_done_callback(self._media_closed)

    def __repr__(self) -> str:
        return f"<EndedSession {self.call_id} {self.end_reason}>"

    def _media_closed(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled():
            self.media = _NO_MEDIA

    def handle_request(self, event: RequestReceived) -> None:
        """A late in-dialog request: the dialog is gone (12.2.2: 481)."""
        self.agent.respond(event, 481, to_tag=self.local_tag)

    def on_cancel(self, event: RequestReceived) -> None:
        """A late CANCEL of the INVITE (9.2): 200; the INVITE already has its final."""
        self.agent.respond(event, 200, to_tag=self.to_tag)

    def owns_ack(self, event: AckReceived) -> bool:
        return True

    def on_ack(self, event: AckReceived) -> None:
        """A late ACK: absorbed."""

    def _leave_agent(self) -> None:
        if self.agent.sessions.get(self.call_id) is self:
            del self.agent.sessions[self.call_id]
