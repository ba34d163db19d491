"""Dialogs (RFC 3261 section 12, with 13.2.2.4 for forking and the ACK of a 2xx).

A :class:`Dialog` is the state two UAs share after an INVITE (or SUBSCRIBE/REFER) is
answered with a To tag: Call-ID and both tags (its :class:`DialogId`), the local and remote
URIs, the remote target (the peer's Contact), the route set (from Record-Route) and the
two CSeq counters. It is a plain object the application owns; it builds in-dialog requests
(12.2.1.1) and checks incoming ones (12.2.2). It does no I/O and adds no Via: the core adds
the top Via (with a fresh branch) when the request is sent, so ``create_request`` leaves it
out on purpose.

On the UAC side one INVITE may create several dialogs when a proxy forks it (12.1.2,
13.2.2.4): :class:`DialogSet` keeps them, keyed by the remote tag, early ones first and
confirmed on their 2xx; a final non-2xx terminates every early one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import LocalProtocolError, ParseError
from .fields import NameAddr
from .ids import IdGenerator
from .message import Request, Response
from .uri import SipUri

#: Requests that may change the remote target (12.2; RFC 3311 5.1; RFC 6665 4.1.1, 4.1.2).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY"})
#: Requests that carry our Contact: the target refresh ones, and REFER (it creates an
#: implicit subscription, RFC 3515).
CONTACT_METHODS = TARGET_REFRESH_METHODS | {"REFER"}
#: URI parameters and parts not allowed in a Request-URI (19.1.1 Table 1), stripped when
#: a strict router's URI becomes the Request-URI (12.2.1.1).
_NOT_IN_REQUEST_URI = ("method",)


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class DialogId:
    """Call-ID, local tag, remote tag (12): the same dialog is seen mirrored by the peer."""

    call_id: str
    local_tag: str
    remote_tag: str

    @classmethod
    def of_incoming_request(cls, request: Request) -> "DialogId":
        """The id of the dialog an incoming in-dialog request belongs to (12.2.2)."""
        return cls(request.call_id, request.to.tag or "", request.from_.tag or "")

    @classmethod
    def of_response(cls, response: Response) -> "DialogId":
        """The id, at the UAC, of the dialog a response belongs to (12.1.2)."""
        return cls(response.call_id, response.from_.tag or "", response.to.tag or "")


@dataclass(kw_only=True, eq=False)
class Dialog:
    """One dialog, seen from our side (12.1, 12.2). Build with :meth:`from_uac` or
    :meth:`from_uas`."""

    call_id: str
    local: NameAddr
    remote: NameAddr
    remote_target: str
    route_set: list[str]  # a copy of the one given
    local_seq: int | None
    remote_seq: int | None
    local_contact: str | None
    state: DialogState
    is_uac: bool
    secure: bool = False
    ids: IdGenerator | None = None

    def __post_init__(self) -> None:
        if not self.local.tag or not self.remote.tag:
            raise LocalProtocolError("a dialog needs both tags (12)")
        self.route_set = list(self.route_set)

    # -- creation

    @classmethod
    def from_uac(cls, request: Request, response: Response, *,
                 ids: IdGenerator | None = None) -> "Dialog":
        """The UAC's dialog from a 1xx (with To tag) or 2xx to ``request`` (12.1.2).

        Route set = Record-Route of the response *reversed*; remote target = its Contact;
        local CSeq = the request's; remote CSeq empty.
        """
        if not 101 <= response.status < 300:
            raise LocalProtocolError(f"a {response.status} does not create a dialog")
        if not response.to.tag:
            raise ParseError("dialog-creating response without a To tag", header="To")
        return cls(
            call_id=request.call_id, local=request.from_, remote=response.to,
            remote_target=_contact_uri(response) or request.uri,
            route_set=[str(r) for r in reversed(response.record_route)],
            local_seq=request.cseq.seq, remote_seq=None,
            local_contact=request.headers.get("Contact"),
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
            is_uac=True, secure=_secure(request), ids=ids)

    @classmethod
    def from_uas(cls, request: Request, response: Response, *,
                 ids: IdGenerator | None = None) -> "Dialog":
        """The UAS's dialog from the 1xx/2xx (carrying our To tag) we answer with (12.1.1).

        Route set = Record-Route of the request in order; remote target = its Contact;
        remote CSeq = the request's; local CSeq empty.
        """
        if not 101 <= response.status < 300:
            raise LocalProtocolError(f"a {response.status} does not create a dialog")
        if not response.to.tag:
            raise LocalProtocolError("the response must carry our To tag (12.1.1)")
        return cls(
            call_id=request.call_id, local=response.to, remote=request.from_,
            remote_target=_contact_uri(request) or str(request.from_.uri),
            route_set=[str(r) for r in request.record_route],
            local_seq=None, remote_seq=request.cseq.seq,
            local_contact=response.headers.get("Contact"),
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
            is_uac=False, secure=_secure(request), ids=ids)

    # -- identity

    @property
    def id(self) -> DialogId:
        return DialogId(self.call_id, self.local.tag or "", self.remote.tag or "")

    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str:
        return self.remote.tag or ""

    @property
    def next_hop(self) -> str:
        """The URI to resolve to send an in-dialog request (8.1.2, 12.2.1.1): the first
        route when there is a route set, else the remote target."""
        if self.route_set:
            return str(NameAddr.parse(self.route_set[0]).uri)
        return self.remote_target

    def __repr__(self) -> str:
        return f"<Dialog {self.id} {self.state.value}>"

    # -- UAC side: responses

    def receive_response(self, response: Response) -> DialogState:
        """Update the dialog from a response to a request we sent in it (12.1.2, 12.2.1.2,
        13.2.2.4, 15.1.1). Returns the new state."""
        method, status = response.cseq.method, response.status
        if self.state is DialogState.TERMINATED:
            return self.state
        if self.state is DialogState.EARLY and method == "INVITE":
            if 200 <= status < 300:
                # 13.2.2.4 / 12.1.2: confirmed; route set and target from the 2xx
                self.state = DialogState.CONFIRMED
                self.route_set = [str(r) for r in reversed(response.record_route)]
                self.remote_target = _contact_uri(response) or self.remote_target
                self.remote = response.to
            elif status >= 300:
                self.state = DialogState.TERMINATED
            elif status > 100:
                self.remote_target = _contact_uri(response) or self.remote_target
            return self.state
        if status in (408, 481):  # 12.2.1.2
            self.state = DialogState.TERMINATED
        elif method == "BYE" and status >= 200:  # 15.1.1
            self.state = DialogState.TERMINATED
        elif method in TARGET_REFRESH_METHODS and 200 <= status < 300:
            self.remote_target = _contact_uri(response) or self.remote_target  # 12.2.1.2
        return self.state

    # -- UAS side: requests and the responses we send

    def receive_request(self, request: Request) -> int | None:
        """Check and apply an incoming in-dialog request (12.2.2).

        Returns None when the request may be processed, or the status to reject it with:
        500 for a CSeq lower than the remote CSeq (out of order). A target refresh
        request replaces the remote target; BYE terminates the dialog (15.1.2).
        """
        seq = request.cseq.seq
        if request.method in ("ACK", "CANCEL"):
            return None  # carry the CSeq of the request they belong to
        if self.remote_seq is not None and seq < self.remote_seq:
            return 500
        self.remote_seq = seq
        if request.method in TARGET_REFRESH_METHODS:
            self.remote_target = _contact_uri(request) or self.remote_target
        if request.method == "BYE":
            self.state = DialogState.TERMINATED
        return None

    def response_sent(self, response: Response) -> DialogState:
        """Update the dialog after we (the UAS) answered its INVITE (12.1.1, 13.3.1)."""
        if self.state is DialogState.EARLY and response.cseq.method == "INVITE":
            if 200 <= response.status < 300:
                self.state = DialogState.CONFIRMED
            elif response.status >= 300:
                self.state = DialogState.TERMINATED
        return self.state

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED

    # -- building requests (12.2.1.1)

    def create_request(self, method: str, *, headers=(), body: bytes = b"",
                       content_type: str | None = None) -> Request:
        """A new request in this dialog (12.2.1.1): BYE, re-INVITE, INFO, UPDATE, REFER,
        NOTIFY, MESSAGE ... with the next local CSeq, the Request-URI and Route set per the
        route set (loose or strict routing), our Contact for target refresh requests, and
        Max-Forwards: 70. No Via: the core adds it (with a new branch) when sending."""
        if method in ("ACK", "CANCEL"):
            raise LocalProtocolError(f"{method} is built with create_ack() / build_cancel()")
        if self.state is DialogState.TERMINATED:
            raise LocalProtocolError(f"dialog {self.id} is terminated")
        if self.local_seq is None:  # 12.2.1.1: choose per 8.1.1.5
            self.local_seq = (self.ids.rng.getrandbits(16) if self.ids else 0)
        self.local_seq += 1
        return self._build(method, self.local_seq, headers, body, content_type,
                           contact=method in CONTACT_METHODS)

    def create_ack(self, invite: Request, *, headers=(), body: bytes = b"",
                   content_type: str | None = None) -> Request:
        """The ACK for a 2xx to ``invite`` (13.2.2.4): CSeq number of the INVITE, method
        ACK; Request-URI and Route from the dialog; the INVITE's credentials. The core gives
        it a new branch (the ACK of a 2xx is its own transaction, 17)."""
        extra = [("Authorization", v) for v in invite.headers.get_lines("Authorization")]
        extra += [("Proxy-Authorization", v)
                  for v in invite.headers.get_lines("Proxy-Authorization")]
        return self._build("ACK", invite.cseq.seq, [*extra, *headers], body, content_type,
                           contact=False)

    def _build(self, method: str, seq: int, headers, body: bytes, content_type: str | None,
               *, contact: bool) -> Request:
        uri, routes = self.request_uri_and_routes()
        out: list[tuple[str, str]] = [("Route", r) for r in routes]
        out += [
            ("Max-Forwards", "70"),
            ("From", str(self.local)),
            ("To", str(self.remote)),
            ("Call-ID", self.call_id),
            ("CSeq", f"{seq} {method}"),
        ]
        if contact and self.local_contact:
            out.append(("Contact", self.local_contact))
        out += list(headers)
        if content_type is not None:
            out.append(("Content-Type", content_type))
        return Request(method, uri, headers=out, body=body)

    def request_uri_and_routes(self) -> tuple[str, list[str]]:
        """Request-URI and Route values for a request in this dialog (12.2.1.1).

        Empty route set: the remote target, no Route. First route loose (``;lr``): the
        remote target, Route = the route set. First route strict: its URI (parameters not
        allowed in a Request-URI removed) and Route = the rest of the route set followed by
        the remote target.
        """
        if not self.route_set:
            return self.remote_target, []
        first = NameAddr.parse(self.route_set[0]).uri
        if isinstance(first, SipUri) and first.lr:
            return self.remote_target, list(self.route_set)
        if isinstance(first, SipUri):
            first = first.without_params(*_NOT_IN_REQUEST_URI)
            if first.headers:
                first = SipUri(first.scheme, first.user, first.password, first.host,
                               first.port, first.params, {})
        return str(first), [*self.route_set[1:], f"<{self.remote_target}>"]


class DialogSet:
    """The dialogs one dialog-creating request makes at the UAC (12.1.2, 13.2.2.4).

    Forking proxies may return 1xx/2xx from several UASs: each To tag is its own dialog,
    keyed by remote tag in :attr:`dialogs`.
    """

    def __init__(self, request: Request, *, ids: IdGenerator | None = None) -> None:
        self.request = request
        self.ids = ids
        self.dialogs: dict[str, Dialog] = {}

    def receive_response(self, response: Response) -> Dialog | None:
        """Create, confirm or update the dialog ``response`` belongs to; a final non-2xx
        terminates every early dialog (12.3). Returns the dialog, if any."""
        status = response.status
        if status >= 300:
            for dialog in self.dialogs.values():
                if dialog.state is DialogState.EARLY:
                    dialog.terminate()
            return None
        tag = response.to.tag
        if status == 100 or not tag:
            return None
        dialog = self.dialogs.get(tag)
        if dialog is None:
            dialog = Dialog.from_uac(self.request, response, ids=self.ids)
            self.dialogs[tag] = dialog
        else:
            dialog.receive_response(response)
        return dialog

    @property
    def early(self) -> list[Dialog]:
        return [d for d in self.dialogs.values() if d.state is DialogState.EARLY]

    @property
    def confirmed(self) -> list[Dialog]:
        return [d for d in self.dialogs.values() if d.state is DialogState.CONFIRMED]


def _contact_uri(message) -> str | None:
    contacts = message.contact
    if not contacts or contacts[0].is_star:
        return None
    return str(contacts[0].uri)


def _secure(request: Request) -> bool:
    """12.1.1/12.1.2: secure when the Request-URI is a SIPS URI (sent over TLS)."""
    return request.uri.lower().startswith("sips:")


__all__ = ["CONTACT_METHODS", "TARGET_REFRESH_METHODS", "Dialog", "DialogId", "DialogSet",
           "DialogState"]
