"""A tiny in-process PBX for the agent tests: SipCore + DigestServer on loopback UDP/TCP.

It challenges REGISTER, INVITE and BYE (401, RFC 3261 22.2) and then:

* REGISTER: 200 with our granted expiry in the Contact (``expires=``) and Expires;
* INVITE to 600: 100, 200 with SDP; 604: 100, 180, then waits for CANCEL (200 + 487);
  603: 486; 302: a 302 to 600; 607: 200, then a BYE from us after ``bye_after`` seconds;
* BYE, OPTIONS, INFO, NOTIFY, REFER (202): answered;
* everything received is in :attr:`received`.
"""

from __future__ import annotations

import asyncio

from sipclient.io.endpoint import Endpoint
from sipclient.io.stream import TcpTransport
from sipclient.io.udp import UdpTransport
from sipclient.proto.core import AckReceived, CoreConfig, RequestReceived
from sipclient.proto.dialog import Dialog
from sipclient.proto.digest_server import DigestServer
from sipclient.proto.message import Request, Response
from sipclient.proto.transaction import build_response

SDP = (b"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=pbx\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
       b"a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")


class FakePbx:
    def __init__(self, users: dict[str, str], *, transport: str = "udp", host: str = "127.0.0.2",
                 port: int = 0, max_expires: int = 3600,
                 challenge: tuple[str, ...] = ("REGISTER", "INVITE", "BYE"),
                 bye_after: float = 0.3) -> None:
        self.users = users
        self.transport_name = transport
        self.host, self.port = host, port
        self.max_expires = max_expires
        self.challenge_methods = challenge
        self.bye_after = bye_after
        self.digest = DigestServer("fakepbx", "server-secret")
        self.received: list[Request] = []
        self.acks: list[Request] = []
        self.bindings: dict[str, tuple[str, int]] = {}  # user -> contact (0 = removed)
        self.register_times: list[tuple[float, int]] = []  # (time, Expires asked)
        self.dialogs: dict[str, Dialog] = {}
        self.pending: dict[str, RequestReceived] = {}  # call-id -> ringing INVITE
        self.endpoint: Endpoint | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def server(self) -> str:
        return f"{self.transport_name}:{self.host}:{self.port}"

    async def __aenter__(self) -> FakePbx:
        via = "UDP" if self.transport_name == "udp" else "TCP"
        if self.transport_name == "udp":
            t = await UdpTransport.bind((self.host, self.port), on_event=lambda e: None)
        else:
            t = await TcpTransport.create(on_event=lambda e: None, local=(self.host, self.port),
                                          listen=True)
        self.port = t.local_address[1]
        self.endpoint = Endpoint(CoreConfig(self.host, self.port, via),
                                 on_request=self._on_request, on_ack=self._on_ack)
        self.endpoint.attach(t)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        assert self.endpoint is not None
        await self.endpoint.close()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def methods(self) -> list[str]:
        return [r.method for r in self.received]

    # -- helpers

    def _respond(self, ev: RequestReceived, status: int, *, headers=(), body: bytes = b"",
                 to_tag: str | None = "pbxtag") -> Response:
        h = list(headers)
        if body:
            h.append(("Content-Type", "application/sdp"))
        resp = build_response(ev.request, status, to_tag=to_tag, headers=h, body=body)
        assert self.endpoint is not None
        self.endpoint.send_response(resp, ev.key)
        return resp

    def _authorized(self, req: Request) -> bool:
        value = req.headers.get("Authorization")
        if value is None:
            return False
        user = req.from_.uri.user  # type: ignore[union-attr]
        password = self.users.get(user or "")
        if password is None:
            return False
        return bool(self.digest.verify(value, req.method, password, self.now(), req.body,
                                       username=user))

    def _later(self, delay: float, fn) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            fn()
        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- requests

    def _on_request(self, ev: RequestReceived) -> None:
        req = ev.request
        self.received.append(req)
        if req.method in self.challenge_methods and not self._authorized(req):
            ch = self.digest.challenge(self.now())
            self._respond(ev, 401, headers=[("WWW-Authenticate", str(ch))])
            return
        handler = getattr(self, f"_on_{req.method.lower()}", None)
        if handler is None:
            self._respond(ev, 200)
        else:
            handler(ev)

    def _on_register(self, ev: RequestReceived) -> None:
        req = ev.request
        asked = req.expires if req.expires is not None else 3600
        self.register_times.append((self.now(), asked))
        granted = min(asked, self.max_expires)
        user = req.from_.uri.user or ""  # type: ignore[union-attr]
        contact = req.headers.get("Contact") or ""
        if granted == 0:
            self.bindings.pop(user, None)
            self._respond(ev, 200)
            return
        self.bindings[user] = ev.addr
        self._respond(ev, 200, headers=[("Contact", f"{contact};expires={granted}"),
                                        ("Expires", str(granted))])

    def _on_invite(self, ev: RequestReceived) -> None:
        req = ev.request
        if req.to.tag:  # re-INVITE
            self._respond(ev, 200, body=SDP.replace(b"{ip}", self.host.encode()),
                          headers=[("Contact", f"<sip:pbx@{self.host}:{self.port}>")],
                          to_tag=None)
            return
        number = req.uri_parsed.user  # type: ignore[union-attr]
        self._respond(ev, 100, to_tag=None)
        contact = [("Contact", f"<sip:{number}@{self.host}:{self.port}>")]
        if number == "603":
            self._respond(ev, 486)
        elif number == "302":
            self._respond(ev, 302, headers=[("Contact", f"<sip:600@{self.host}:{self.port}>")])
        elif number == "604":
            self._respond(ev, 180, headers=contact)
            self.pending[req.call_id] = ev
        else:
            resp = self._respond(ev, 200, headers=contact,
                                 body=SDP.replace(b"{ip}", self.host.encode()))
            dialog = Dialog.from_uas(req, resp)
            self.dialogs[req.call_id] = dialog
            if number == "607":
                self._later(self.bye_after, lambda: self._send_bye(dialog, ev.addr))

    def _send_bye(self, dialog: Dialog, addr) -> None:
        assert self.endpoint is not None
        self.endpoint.send_request(dialog.create_request("BYE"), addr)

    def _on_cancel(self, ev: RequestReceived) -> None:
        inv = self.pending.pop(ev.request.call_id, None)
        if inv is None or ev.cancels is None:
            self._respond(ev, 481)
            return
        self._respond(ev, 200)
        self._respond(inv, 487)

    def _on_refer(self, ev: RequestReceived) -> None:
        self._respond(ev, 202, to_tag=None)
        dialog = self.dialogs.get(ev.request.call_id)
        if dialog is not None:
            dialog.receive_request(ev.request)

            def notify() -> None:
                req = dialog.create_request(
                    "NOTIFY", headers=[("Event", "refer"),
                                       ("Subscription-State", "terminated;reason=noresource")],
                    body=b"SIP/2.0 200 OK\r\n", content_type="message/sipfrag;version=2.0")
                assert self.endpoint is not None
                self.endpoint.send_request(req, ev.addr)
            self._later(0.05, notify)

    def _on_bye(self, ev: RequestReceived) -> None:
        self._respond(ev, 200, to_tag=None)

    def _on_ack(self, ev: AckReceived) -> None:
        self.acks.append(ev.request)
