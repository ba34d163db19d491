"""An incoming call (RFC 3261 13.3): ring, answer, reject, or be cancelled.

The INVITE's server transaction belongs to the core: it sends 100 Trying by itself when we
stay silent for 200 ms (17.2.1), and retransmits our 2xx until the ACK arrives (13.3.1.4).
Our To tag is chosen once, so the 180 and the 200 belong to the same dialog (12.1.1). A
CANCEL (9.2) is answered 200 and the INVITE 487.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Sequence

from sipclient.proto.core import AckReceived, RequestReceived
from sipclient.proto.dialog import Dialog
from sipclient.proto.errors import LocalProtocolError
from sipclient.proto.message import Request, Response

from .admission import RETRY_AFTER
from .call import DialogSession
from .errors import AgentError
from .media_session import MediaSession

if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent

__all__ = ["IncomingCall"]

log = logging.getLogger(__name__)


class IncomingCall(DialogSession):
    """A call to us. ``await agent.next_incoming()`` hands it out."""

    def __init__(self, agent: Agent, event: RequestReceived, media: MediaSession) -> None:
        super().__init__(agent, event.request.call_id, media)
        self.event = event
        self.request: Request = event.request
        self.key = event.key
        self.source_addr = event.addr
        self.to_tag = agent.ids.tag()
        self.state = "incoming"
        self.acked = asyncio.Event()
        self.final: Response | None = None
        #: answered, let go from the unconfirmed pool before its ACK (sipclient.agent.admission)
        self.parked = False

    @property
    def caller(self) -> str:
        """The From header as received."""
        return self.request.headers.get("From") or ""

    @property
    def offer(self) -> bytes:
        return self.request.body

    def _send(self, status: int, *, body: bytes = b"", dialog: bool = False,
              extra: list[tuple[str, str]] = ()) -> Response:
        if self.final is not None:
            raise AgentError(f"incoming call {self.call_id} already answered "
                             f"{self.final.status}")
        headers = []
        if dialog:  # 12.1.1: the request's Record-Route lines, in order, in the 18x and 2xx
            headers = [("Record-Route", v)
                       for v in self.request.headers.get_lines("Record-Route")]
            headers += [("Contact", f"<{self.agent.contact_uri}>"), ("Allow", self.agent.ALLOW)]
        headers += extra
        try:
            resp = self.agent.respond(self.event, status, to_tag=self.to_tag, headers=headers,
                                      body=body,
                                      content_type="application/sdp" if body else None)
        except LocalProtocolError as exc:  # the transaction is gone (CANCEL, timeout)
            raise AgentError(f"cannot answer {self.call_id}: {exc}") from exc
        if status >= 200:
            self.final = resp
        if dialog:
            if self.dialog is None:
                self.dialog = Dialog.from_uas(self.request, resp, ids=self.agent.ids)
            else:
                self.dialog.response_sent(resp)
        return resp

    async def ringing(self) -> None:
        """180 Ringing (creates the early dialog)."""
        if self.final is None and not self.is_ended:
            self._send(180, dialog=True)
            self.state = "ringing"

    async def answer(self, *, codecs: Sequence[str] | None = None) -> None:
        """200 OK with our SDP (an answer to the offer, or an offer when there was none);
        ``codecs``: this call's preference instead of the agent's ``config.codecs``."""
        if codecs:
            self.media.set_codecs(codecs)
        await self.media.start()
        if self.is_ended:  # dropped or cancelled while the ports were opened
            await self.media.close()
            return
        sdp = self.media.answer(self.offer) if self.offer else self.media.offer()
        self._send(200, body=sdp, dialog=True)
        self.state = "confirmed"

    async def reject(self, status: int = 486) -> None:
        """A final non-2xx (486 Busy Here by default)."""
        if self.final is None and not self.is_ended:
            self._send(status)
            self._end(f"rejected {status}")

    async def auto_answer(self, delay: float) -> None:
        """180 now, 200 after ``delay`` seconds (unless cancelled meanwhile)."""
        await self.ringing()
        await asyncio.sleep(delay)
        if not self.is_ended and self.final is None:
            await self.answer()

    async def hangup(self) -> None:
        """BYE when answered; 480 when still ringing."""
        if self.is_ended:
            return
        if self.final is None:
            try:
                self._send(480)
            except AgentError:
                pass
            self._end("local hang-up")
            return
        await super().hangup()

    def on_cancel(self, event: RequestReceived) -> None:
        """CANCEL (9.2): 200 for the CANCEL, 487 for the INVITE."""
        self.agent.respond(event, 200, to_tag=self.to_tag)
        if self.final is None:
            try:
                self._send(487)
            except AgentError:
                pass
        self._end("cancelled by the caller")

    async def on_no_ack(self) -> None:
        """13.3.1.4: no ACK for our 2xx within 64*T1: the call ends (media stopped, ports
        closed) and the dialog is closed with a BYE, whatever the BYE's fate."""
        if self.is_ended or self.acked.is_set() or self.dialog is None:
            return
        agent = self.agent
        bye = self.dialog.create_request("BYE", headers=[("User-Agent", agent.config.user_agent)])
        hop = agent.next_hop(self.dialog, self.source_addr)
        self._end("no ACK within 64*T1: local BYE")
        # the BYE's transaction may last 64*T1 more: it keeps the BYE, not the whole call
        agent.spawn(_bye_after_no_ack(agent, bye, hop, repr(self)))

    def on_ack(self, event: AckReceived) -> None:
        super().on_ack(event)  # a late offer's answer (our 200 made the offer)
        self.acked.set()
        if self.parked and not self.is_ended:  # its media is gone: the BYE may go now (15)
            self.agent.spawn(self.hangup())
        else:
            self.agent.admission.acked(self)

    def evict(self, why: str) -> None:
        """Make room in the unconfirmed pool (sipclient.agent.admission): a call still
        ringing is answered 503, an answered one is parked (media stopped, ports closed; the
        BYE waits for the ACK or 64*T1)."""
        if self.is_ended or self.parked:
            return
        if self.final is None:
            try:
                self._send(503, extra=[RETRY_AFTER])
            except AgentError:
                pass
            self._end(f"dropped: {why}")
            return
        self.parked = True
        self.state = "parked"
        self.agent.admission.left(self)
        self.agent.spawn(self.media.close())
        log.info("%s parked: %s", self, why)

    def _end(self, reason: str) -> None:
        self.agent.admission.left(self)
        super()._end(reason)


async def _bye_after_no_ack(agent: Agent, bye: Request, hop: tuple[str, int], who: str
                            ) -> None:
    try:
        await agent.send_authenticated(bye, addr=hop)
    except AgentError as exc:
        log.info("%s: the BYE after the missing ACK: %s", who, exc)
