"""Calls: what both directions share (:class:`DialogSession`) and the outgoing :class:`Call`.

In-dialog requests (12.2.1.1) are built by :class:`~sipclient.proto.dialog.Dialog` and sent
through the agent, so a challenge is answered like anywhere else; after an authenticated
retry the dialog's local CSeq follows the retry's CSeq. In-dialog requests from the remote
(12.2.2): BYE is answered 200 and ends the call (15.1.2); INFO, UPDATE, OPTIONS and NOTIFY
get 200 (a NOTIFY for our REFER carries a ``message/sipfrag`` status, RFC 3515 2.4.5); a
re-INVITE is answered with our SDP (hold and unhold by the remote).

The outgoing call (13.2): INVITE with an SDP offer; 1xx are collected (a 183 with SDP sets
:attr:`Call.early_media`); a 2xx is ACKed through the dialog (13.2.2.4); a 3xx is followed
to its first Contact with a new INVITE (8.1.3.4); CANCEL while not answered (9.1) leaves the
ACK of the 487 to the transaction (17.1.1.3).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from sipclient.io.changes import Changes
from sipclient.io.endpoint import ClientTransaction
from sipclient.proto.core import AckReceived, RequestReceived
from sipclient.proto.dialog import Dialog, DialogState
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response
from sipclient.proto.timers import TimerConfig

from .ended import EndedSession
from .errors import AgentError, SipFailure, SipTimeout
from .media_session import MediaSession

if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent

__all__ = ["Call", "DialogSession"]

log = logging.getLogger(__name__)

#: how many in-dialog requests from the remote :attr:`DialogSession.received` keeps
RECEIVED_KEPT = 32


def _quiet(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()  # mark retrieved: an unanswered call must not log at exit


class DialogSession:
    """One call's dialog, in either direction."""

    def __init__(self, agent: Agent, call_id: str, media: MediaSession) -> None:
        self.agent = agent
        self.call_id = call_id
        self.media = media
        self.dialog: Dialog | None = None
        #: where the dialog's first request came from (an incoming call), else None
        self.source_addr: tuple[str, int] | None = None
        self._changes = Changes()
        self._state = "new"
        self._on_hold = False
        self.end_reason: str | None = None
        self.bye_response: Response | None = None  # the answer to our BYE
        #: the newest in-dialog requests from the remote (bounded: a long call gets many)
        self.received: deque[Request] = deque(maxlen=RECEIVED_KEPT)
        #: sipfrag status codes of the NOTIFYs for our REFER (RFC 3515 2.4.5)
        self.refer_progress: asyncio.Queue[int] = asyncio.Queue()
        self._refer_sent = False
        loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[str] = loop.create_future()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.call_id} {self.state}>"

    # ------------------------------------------------------------------ changes

    @property
    def state(self) -> str:
        """new, incoming, calling, ringing, early, confirmed, ended."""
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        self._state = value
        self._changed()

    @property
    def on_hold(self) -> bool:
        """We put the call on hold (our last re-INVITE offered sendonly)."""
        return self._on_hold

    @on_hold.setter
    def on_hold(self, value: bool) -> None:
        self._on_hold = value
        self._changed()

    def _changed(self) -> None:
        """Wake :meth:`wait_until`: the state, the hold or the in-dialog requests changed."""
        self._changes.wake()

    async def changed(self, timeout: float | None = None) -> bool:
        """Wait for the next change (state, hold, an in-dialog request received); False
        when ``timeout`` seconds passed without one."""
        return await self._changes.wait(timeout)

    async def wait_until(self, predicate: Callable[[DialogSession], bool],
                         timeout: float | None = None) -> bool:
        """Wait until ``predicate(self)`` holds, checked at each change (no polling);
        False when ``timeout`` seconds passed first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not predicate(self):
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await self.changed(left)
        return True

    @property
    def is_ended(self) -> bool:
        return self._ended.done()

    @property
    def is_confirmed(self) -> bool:
        return self.dialog is not None and self.dialog.state is DialogState.CONFIRMED

    def _end(self, reason: str) -> None:
        if not self._ended.done():
            self.state = "ended"
            self.end_reason = reason
            self._ended.set_result(reason)
            if self.dialog is not None:
                self.dialog.terminate()
            closing = self.agent.spawn(self.media.close())
            # leave the agent's session map once a late CANCEL or request retransmission can
            # no longer come (64*T1, as timer L; RFC 6026): a long run must not keep every call
            t1 = (self.agent.config.timers or TimerConfig()).t1
            self.agent.forget_later(self._slimmed(closing), 64 * t1)

    def _slimmed(self, closing: asyncio.Task[None]) -> DialogSession | EndedSession:
        """What the agent keeps of this ended call until it leaves: an :class:`EndedSession`
        (no parsed message, SDP or media), or the whole call while its REFER's NOTIFYs may
        still come (RFC 3515 2.4.4)."""
        sessions = self.agent.sessions
        if self._refer_sent or sessions.get(self.call_id) is not self:
            return self
        slim = sessions[self.call_id] = EndedSession(self, closing)
        return slim

    def _leave_agent(self) -> None:
        if self._refer_sent:  # the REFER's subscription outlives the call (RFC 3515 2.4.4)
            return
        if self.agent.sessions.get(self.call_id) is self:
            del self.agent.sessions[self.call_id]

    async def wait_ended(self, timeout: float | None = None) -> str:
        """Wait for the end of the call; returns why ("remote BYE", "local BYE", ...)."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._ended), timeout)
        except TimeoutError:
            raise SipTimeout(f"call {self.call_id} still up after {timeout} s") from None

    # ------------------------------------------------------------------ in-dialog requests

    async def in_dialog(self, method: str, *, body: bytes = b"", content_type: str | None = None,
                      headers: list[tuple[str, str]] = ()) -> tuple[Response, Request]:
        """Send ``method`` in the dialog (12.2.1.1), challenged or not."""
        if self.dialog is None or self.dialog.state is DialogState.TERMINATED:
            raise AgentError(f"call {self.call_id} has no confirmed dialog for {method}")
        req = self.dialog.create_request(
            method, body=body, content_type=content_type,
            headers=[("User-Agent", self.agent.config.user_agent), *headers])
        hop = self.agent.next_hop(self.dialog, self.source_addr)
        resp, sent = await self.agent.send_authenticated(req, addr=hop)
        if self.dialog.local_seq is not None and sent.cseq.seq > self.dialog.local_seq:
            self.dialog.local_seq = sent.cseq.seq
        self.dialog.receive_response(resp)
        return resp, sent

    async def hangup(self) -> None:
        """BYE (15.1.1); the call ends whatever the answer."""
        if self.is_ended:
            return
        if not self.is_confirmed:
            self._end("local hang-up")
            return
        try:
            self.bye_response, _ = await self.in_dialog("BYE")  # a 481: the peer lost the call
        finally:
            self._end("local BYE")

    async def _reinvite(self, offer: bytes) -> Response:
        resp, sent = await self.in_dialog("INVITE", body=offer, content_type="application/sdp")
        if 200 <= resp.status < 300 and self.dialog is not None:
            self.agent._require_open().send_ack(self.dialog.create_ack(sent),
                                                self.agent.next_hop(self.dialog,
                                                                    self.source_addr))
            if resp.body:
                self.media.accept(resp.body)
        elif resp.status >= 300:
            raise SipFailure(resp, "re-INVITE")
        return resp

    async def hold(self) -> Response:
        """re-INVITE with ``a=sendonly`` (RFC 3264 8.4)."""
        self.media.hold()
        resp = await self._reinvite(self.media.offer())
        self.on_hold = True
        return resp

    async def unhold(self) -> Response:
        """re-INVITE with ``a=sendrecv``."""
        self.media.unhold()
        resp = await self._reinvite(self.media.offer())
        self.on_hold = False
        return resp

    async def send_info(self, body: bytes | str = b"",
                        content_type: str = "application/dtmf-relay") -> Response:
        """INFO (RFC 6086) in the dialog."""
        data = body.encode() if isinstance(body, str) else body
        resp, _ = await self.in_dialog("INFO", body=data, content_type=content_type if data else None)
        return resp

    async def send_dtmf(self, digits: str, mode: str = "rfc4733", *,
                        duration_ms: int | None = None) -> None:
        """Send DTMF ``digits``: ``"rfc4733"`` events or ``"inband"`` tones in the RTP
        stream (the media session paces them; ``duration_ms`` per digit), or ``"info"``:
        one INFO per digit with an ``application/dtmf-relay`` body (``Signal=5``,
        ``Duration=250``). Returns when sent."""
        if mode == "info" and duration_ms is not None:
            raise AgentError("a DTMF duration applies to rfc4733 and inband digits only")
        if mode == "info":
            from sipclient.media.dtmf import info_body

            for i, digit in enumerate(digits):
                if i:
                    await asyncio.sleep(0.1)
                resp = await self.send_info(info_body(digit), "application/dtmf-relay")
                if resp.status >= 300:
                    raise SipFailure(resp, "INFO")
            return
        await self.media.send_dtmf(digits, mode, duration_ms=duration_ms)

    async def refer(self, target: str) -> Response:
        """Blind transfer (RFC 3515): REFER with Refer-To; expects 202 (or 200). The
        progress arrives in NOTIFYs: see :attr:`refer_progress` / :meth:`wait_refer`."""
        uri = self.agent.request_uri(target)
        self._refer_sent = True
        resp, _ = await self.in_dialog("REFER", headers=[
            ("Refer-To", f"<{uri}>"), ("Referred-By", f"<{self.agent.aor}>")])
        if resp.status >= 300:
            raise SipFailure(resp, "REFER")
        return resp

    async def wait_refer(self, timeout: float | None = None) -> int:
        """The final sipfrag status of the transfer (skips 1xx NOTIFYs)."""
        while True:
            try:
                status = await asyncio.wait_for(self.refer_progress.get(), timeout)
            except TimeoutError:
                raise SipTimeout(f"no final NOTIFY for the REFER within {timeout} s") from None
            if status >= 200:
                return status

    # ------------------------------------------------------------------ from the remote

    def handle_request(self, event: RequestReceived) -> None:
        """An in-dialog request from the remote (12.2.2)."""
        req = event.request
        self.received.append(req)
        self._changed()  # waiters run once this request is handled (INFO digits...)
        agent = self.agent
        tag = self.dialog.local_tag if self.dialog else None
        if req.method == "NOTIFY" and self._refer_sent:
            # the REFER's implicit subscription outlives the call (RFC 3515 2.4.4, RFC 5057)
            agent.respond(event, 200, to_tag=tag)
            status = _sipfrag_status(req)
            if status is not None:
                self.refer_progress.put_nowait(status)
            return
        if self.dialog is None or self.dialog.state is DialogState.TERMINATED:
            agent.respond(event, 481, to_tag=tag)
            return
        bad = self.dialog.receive_request(req)
        if bad is not None:
            agent.respond(event, bad, to_tag=tag)
            return
        method = req.method
        if method == "BYE":
            agent.respond(event, 200, to_tag=tag)
            self._end("remote BYE")
        elif method == "INVITE":
            answer = self.media.answer(req.body) if req.body else self.media.offer()
            agent.respond(event, 200, to_tag=tag, body=answer, content_type="application/sdp",
                          headers=[("Contact", f"<{agent.contact_uri}>")])
        elif method in ("INFO", "NOTIFY", "UPDATE", "OPTIONS", "MESSAGE"):
            agent.respond(event, 200, to_tag=tag)
            if method == "INFO" and req.body:
                self._info_dtmf(req)
        else:
            agent.respond(event, 501, to_tag=tag)

    def _info_dtmf(self, req: Request) -> None:
        """A DTMF digit in an INFO body (``application/dtmf-relay`` or ``application/dtmf``)
        goes to the media session's ``info_digits``."""
        digits = self.media.info_digits
        ctype = req.content_type or ""
        if "dtmf" not in ctype.lower():
            return
        from sipclient.media.dtmf import parse_info_body

        try:
            digits.append(parse_info_body(ctype, req.body).digit)
        except ParseError as exc:
            log.info("%s: INFO with an unreadable DTMF body: %s", self, exc)

    def owns_ack(self, event: AckReceived) -> bool:
        """False for an ACK of another dialog that shares this Call-ID (12.2.2: a stray or
        forged one): it neither confirms the call nor stops the 64*T1 wait for the ACK."""
        ack, dialog = event.request, self.dialog
        return (event.key is not None or dialog is None
                or (ack.to.tag == dialog.local_tag and (ack.from_.tag or "") == dialog.remote_tag))

    def on_ack(self, event: AckReceived) -> None:
        """An ACK for our 2xx (13.3.1.4), or for a non-2xx (absorbed by the core). An ACK
        with SDP answers the offer our 2xx made (late offer, RFC 3264 / RFC 3261 13.2.1)."""
        if event.key is None and event.request.body:
            try:
                self.media.accept(event.request.body)
            except ValueError as exc:
                log.warning("%s: the SDP answer in the ACK is unusable: %s", self, exc)


def _sipfrag_status(req: Request) -> int | None:
    ctype = (req.content_type or "").lower()
    if "sipfrag" not in ctype or not req.body:
        return None
    first = req.body.split(b"\r\n", 1)[0].split(b"\n", 1)[0].split()
    if len(first) >= 2 and first[1].isdigit():
        return int(first[1])
    return None


class Call(DialogSession):
    """An outgoing call (see module docstring). Create with ``await agent.call(...)``."""

    def __init__(self, agent: Agent, uri: str, media: MediaSession, *,
                 headers: list[tuple[str, str]] = ()) -> None:
        super().__init__(agent, agent.ids.call_id(), media)
        self.uri = uri
        self.from_tag = agent.ids.tag()
        self.extra_headers = list(headers)
        self.cseq = agent.ids.rng.getrandbits(15) + 1
        self.provisional: list[Response] = []
        self.early_media = False
        self.invite_tx: ClientTransaction | None = None
        self.redirects: list[str] = []
        self._cancel_requested = False
        loop = asyncio.get_running_loop()
        self._final: asyncio.Future[Response] = loop.create_future()
        self._final.add_done_callback(_quiet)
        self._sent = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def final(self) -> Response | None:
        f = self._final
        return f.result() if f.done() and not f.exception() else None

    async def start(self) -> None:
        await self.media.start()
        self.state = "calling"
        self._task = self.agent.spawn(self._run())
        self._task.add_done_callback(lambda _: self._sent.set())  # no waiter task per call
        await self._sent.wait()
        if not self._sent.is_set() and self._final.done() and self._final.exception():
            raise self._final.exception()  # type: ignore[misc]

    def _invite(self, uri: str) -> Request:
        headers = [("Contact", f"<{self.agent.contact_uri}>"), ("Allow", self.agent.ALLOW),
                   *self.extra_headers]
        return self.agent.out_of_dialog(
            "INVITE", uri, headers=headers, body=self.media.offer(),
            content_type="application/sdp", call_id=self.call_id, from_tag=self.from_tag,
            cseq=self.cseq)

    def _on_handle(self, handle: ClientTransaction) -> None:
        self.invite_tx = handle
        self._sent.set()
        if self._cancel_requested:  # cancelled while the challenge was answered
            self.agent._require_open().send_cancel(handle)

    def _on_provisional(self, resp: Response) -> None:
        self.provisional.append(resp)
        if resp.status == 180:
            self.state = "ringing"
        elif resp.status > 100:
            self.state = "early"
        if resp.status == 183 and resp.body:
            self.early_media = True
        if resp.body and resp.status > 100:
            self.media.accept(resp.body)

    async def _run(self) -> None:
        uri = self.uri
        try:
            while True:
                resp, sent = await self.agent.send_authenticated(
                    self._invite(uri), on_handle=self._on_handle,
                    on_provisional=self._on_provisional)
                self.cseq = sent.cseq.seq + 1
                contact = _first_contact(resp) if 300 <= resp.status < 400 else None
                if contact and not self._cancel_requested and len(self.redirects) < 5:
                    self.redirects.append(contact)
                    uri = contact
                    continue
                break
        except BaseException as exc:
            if not self._final.done():
                self._final.set_exception(exc)
            self._sent.set()
            self._end(f"failed: {exc}")
            if not isinstance(exc, Exception):
                raise
            return
        if 200 <= resp.status < 300:
            self._answered(resp, sent)
        else:
            self._end(f"{resp.status} {resp.reason}")
        if not self._final.done():
            self._final.set_result(resp)
        if 200 <= resp.status < 300 and self._cancel_requested:
            await self.hangup()  # CANCEL lost the race with the 2xx (9.1): BYE

    def _answered(self, resp: Response, sent: Request) -> None:
        self.dialog = Dialog.from_uac(sent, resp, ids=self.agent.ids)
        ack = self.dialog.create_ack(sent)
        self.agent._require_open().send_ack(ack, self.agent.next_hop(self.dialog))
        if resp.body:
            self.media.accept(resp.body)
        self.state = "confirmed"

    async def wait_final(self, timeout: float | None = None) -> Response:
        """The final response to the INVITE (200, 486, 487 ...); raises SipTimeout."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._final), timeout)
        except TimeoutError:
            raise SipTimeout(f"no final response to the INVITE within {timeout} s") from None

    def _send_cancel(self) -> ClientTransaction | None:
        if self.invite_tx is None or self._final.done():
            return None
        return self.agent._require_open().send_cancel(self.invite_tx)

    async def cancel(self, timeout: float = 10.0) -> Response | None:
        """CANCEL the unanswered INVITE (9.1); returns the INVITE's final response (487).
        The CANCEL waits for a provisional response before it goes out (9.1)."""
        if self._final.done():
            return self.final
        self._cancel_requested = True
        handle = self._send_cancel()
        if handle is not None:
            try:
                await handle.final_response(timeout=timeout)
            except (TimeoutError, Exception) as exc:  # noqa: BLE001 - the INVITE decides
                log.info("CANCEL for %s: %r", self.call_id, exc)
            finally:
                handle.close()
        try:
            return await self.wait_final(timeout)
        except AgentError:
            return None

    def abandon(self, reason: str) -> None:
        """End an unanswered call here and now, CANCEL or not (the user's time is up): what
        the INVITE transaction still brings is ignored, and close() has nothing to wait for."""
        self._cancel_requested = True
        if not self._final.done():
            self._final.set_exception(SipTimeout(reason))
            self._final.exception()  # retrieved: nobody else need wait for it
        self._end(reason)

    async def hangup(self) -> None:
        """BYE when answered, CANCEL when not yet."""
        if self.is_ended:
            return
        if not self.is_confirmed and not self._final.done():
            await self.cancel()
            return
        await super().hangup()


def _first_contact(resp: Response) -> str | None:
    try:
        contacts = resp.contact
    except ParseError:
        return None
    for c in contacts:
        if not c.is_star:
            return str(c.uri)
    return None
