"""End-to-end flows between a UAC core and a UAS core over a fake link (no sockets, no sleeps).

The UAS side is played by test code that challenges with digest (digest_server) and checks
the credentials; the UAC side answers with sipclient.proto.uac.authenticate.
"""

from __future__ import annotations

import random

import pytest

try:
    from tests.proto.fakes import UAC_ADDR, UAS_ADDR, FakeNetwork, make_request
except ImportError:  # tests/proto is not a package: pytest put it on sys.path
    from fakes import UAC_ADDR, UAS_ADDR, FakeNetwork, make_request

from sipclient.proto.core import (AckReceived, RequestReceived, ResponseReceived,
                                  TransactionTimeout)
from sipclient.proto.dialog import Dialog, DialogSet, DialogState
from sipclient.proto.digest import DigestClient
from sipclient.proto.digest_server import DigestServer
from sipclient.proto.ids import IdGenerator
from sipclient.proto.transaction import build_response
from sipclient.proto.uac import authenticate

PASSWORD = "s3cret"
SDP = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"


def _server() -> DigestServer:
    seq = iter(range(1, 1000))
    return DigestServer("lab", b"lab-secret",
                        random_bytes=lambda n: bytes([next(seq) % 256]) * n)


def _client() -> DigestClient:
    counter = iter(range(1, 1000))
    return DigestClient("alice", PASSWORD, cnonce_source=lambda: f"cn{next(counter):04d}")


class Registrar:
    """UAS test code: 401 without credentials, 200 (Expires 90) with good ones."""

    def __init__(self) -> None:
        self.digest = _server()
        self.verdicts: list[str] = []

    def __call__(self, ep, event, now) -> None:
        if not isinstance(event, RequestReceived):
            return
        req = event.request
        creds = req.headers.get("Authorization")
        if creds is None:
            resp = build_response(req, 401, to_tag="reg-tag", headers=[
                ("WWW-Authenticate", str(self.digest.challenge(now)))])
        else:
            result = self.digest.verify(creds, req.method, PASSWORD, now, request_uri=req.uri)
            self.verdicts.append(result.reason.value)
            resp = build_response(req, 200 if result else 403, to_tag="reg-tag",
                                  headers=[("Contact", req.headers.get("Contact") +
                                            ";expires=90"), ("Expires", "90")])
        ep.core.send_response(resp, now, event.key)


class Caller:
    """UAC test code: answers challenges, keeps the dialog, ACKs the 2xx, hangs up."""

    def __init__(self, hangup: bool = True) -> None:
        self.client = _client()
        self.ids = IdGenerator(random.Random(7))
        self.responses: list = []
        self.dialogs: DialogSet | None = None
        self.invite = None
        self.hangup = hangup

    def __call__(self, ep, event, now) -> None:
        if not isinstance(event, ResponseReceived):
            return
        resp, req = event.response, event.request
        self.responses.append(resp)
        if resp.status in (401, 407):
            retry = authenticate(req, resp, self.client, self.ids)
            assert retry is not None
            ep.core.send_request(retry, UAS_ADDR, now)
            return
        if req.method == "INVITE":
            if self.dialogs is None or self.dialogs.request.cseq != req.cseq:
                self.dialogs = DialogSet(req)
                self.invite = req
            dialog = self.dialogs.receive_response(resp)
            if resp.status >= 200 and resp.status < 300 and not event.retransmission:
                assert dialog is not None
                ep.core.send_ack(dialog.create_ack(req), UAS_ADDR, now)
                if self.hangup:
                    ep.core.send_request(dialog.create_request("BYE"), UAS_ADDR, now)
        elif req.method == "BYE" and self.dialogs:
            for d in self.dialogs.confirmed:
                d.receive_response(resp)


class Callee:
    """UAS test code: 401 first, then 100, 183, 200; answers BYE within the dialog."""

    def __init__(self) -> None:
        self.digest = _server()
        self.dialog: Dialog | None = None
        self.acks: list = []

    def __call__(self, ep, event, now) -> None:
        core = ep.core
        if isinstance(event, AckReceived):
            self.acks.append(event)
            return
        if not isinstance(event, RequestReceived):
            return
        req = event.request
        if req.method == "INVITE":
            creds = req.headers.get("Authorization")
            if creds is None or not self.digest.verify(creds, "INVITE", PASSWORD, now,
                                                       request_uri=req.uri):
                resp = build_response(req, 401, to_tag="c401", headers=[
                    ("WWW-Authenticate", str(self.digest.challenge(now)))])
                core.send_response(resp, now, event.key)
                return
            core.send_response(build_response(req, 100), now, event.key)
            contact = [("Contact", "<sip:bob@10.0.0.2:5060>")]
            ringing = build_response(req, 183, to_tag="callee", headers=contact)
            self.dialog = Dialog.from_uas(req, ringing)
            core.send_response(ringing, now, event.key)
            ok = build_response(req, 200, to_tag="callee", body=SDP, headers=[
                *contact, ("Content-Type", "application/sdp")])
            self.dialog.response_sent(ok)
            core.send_response(ok, now, event.key)
        elif req.method == "BYE":
            assert self.dialog is not None
            status = self.dialog.receive_request(req)
            core.send_response(build_response(req, status or 200), now, event.key)


def _branch(record) -> str:
    return record.message.top_via.branch


def test_register_challenge_then_200():
    net = FakeNetwork()
    registrar = Registrar()
    uac = net.add(UAC_ADDR, Caller())
    net.add(UAS_ADDR, registrar)
    uac.core.send_request(make_request("REGISTER", "sip:10.0.0.2",
                                       to="<sip:alice@10.0.0.2>"), UAS_ADDR, 0.0)
    net.run(until=60)
    assert net.flow() == ["REGISTER", "401", "REGISTER", "200"]
    first, _, second, ok = (r.message for r in net.records)
    assert registrar.verdicts == ["ok"]
    assert ok.expires == 90 and ok.contact[0].expires == 90
    assert second.call_id == first.call_id and second.from_.tag == first.from_.tag
    assert (first.cseq.seq, second.cseq.seq) == (1, 2)
    assert second.top_via.branch != first.top_via.branch
    assert second.authorization[0].nc == "00000001"
    # no retransmissions, nothing left over: timers K drain the transactions
    assert uac.core.get_timer() is None


def test_invite_401_ack_invite_100_183_200_ack_bye_200():
    net = FakeNetwork()
    caller, callee = Caller(), Callee()
    uac = net.add(UAC_ADDR, caller)
    uas = net.add(UAS_ADDR, callee)
    invite = make_request("INVITE", body=SDP, headers=[("Content-Type", "application/sdp")])
    uac.core.send_request(invite, UAS_ADDR, 0.0)
    net.run(until=100)
    assert net.flow() == ["INVITE", "401", "ACK", "INVITE", "100", "183", "200", "ACK",
                          "BYE", "200"]
    recs = net.records
    assert all(r.t == 0.0 for r in recs)  # nothing was retransmitted
    inv1, ack401, inv2, ack200, bye = recs[0], recs[2], recs[3], recs[7], recs[8]
    # 17.1.1.3: the ACK to the 401 belongs to the first INVITE's transaction
    assert _branch(ack401) == _branch(inv1)
    assert ack401.message.cseq.seq == inv1.message.cseq.seq == 1
    assert ack401.message.to.tag == "c401"
    assert ack401.message.uri == inv1.message.uri
    assert len(ack401.message.via) == 1
    # 13.2.2.4: the ACK to the 200 is a new transaction with the INVITE's CSeq number
    assert _branch(ack200) not in (_branch(inv1), _branch(inv2))
    assert ack200.message.cseq.seq == inv2.message.cseq.seq == 2
    assert ack200.message.uri == "sip:bob@10.0.0.2:5060"  # the remote target
    assert ack200.message.headers.get("Authorization") is not None
    assert bye.message.cseq.seq == 3 and bye.message.to.tag == "callee"
    # both sides agree the dialog is over; the UAS saw the ACK and stops its 2xx timer
    assert callee.dialog.state is DialogState.TERMINATED
    assert [d.state for d in caller.dialogs.dialogs.values()] == [DialogState.TERMINATED]
    assert len(callee.acks) == 2  # ACK for the 401 (in its transaction), ACK for the 200
    assert callee.acks[0].key is not None and callee.acks[1].key is None
    assert not uas.of_type(TransactionTimeout)
    assert [r.status for r in caller.responses] == [401, 100, 183, 200, 200]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_flows_over_reliable_and_unreliable_transport(transport):
    net = FakeNetwork(transport=transport)
    uac = net.add(UAC_ADDR, Caller(), transport=transport.upper())
    net.add(UAS_ADDR, Callee(), transport=transport.upper())
    uac.core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    net.run(until=100)
    assert net.flow() == ["INVITE", "401", "ACK", "INVITE", "100", "183", "200", "ACK",
                          "BYE", "200"]
    assert f"SIP/2.0/{transport.upper()} " in net.records[0].data.decode()
    assert net.clock.now == 100
