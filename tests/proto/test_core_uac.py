"""sipclient.proto.uac.authenticate: the retry of a challenged request (RFC 3261 22.2, 22.3)."""

from __future__ import annotations

import random

import pytest

from sipclient.proto.digest import DigestClient
from sipclient.proto.digest_server import DigestServer, VerifyReason
from sipclient.proto.errors import LocalProtocolError, ParseError
from sipclient.proto.ids import IdGenerator
from sipclient.proto.message import Request
from sipclient.proto.transaction import build_response
from sipclient.proto.uac import authenticate

SERVER = DigestServer("lab", b"k", random_bytes=lambda n: b"\x07" * n)


def _register():
    return Request("REGISTER", "sip:lab.example", headers=[
        ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfirst;rport"),
        ("Via", "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKbelow"),
        ("From", "<sip:alice@lab.example>;tag=f1"), ("To", "<sip:alice@lab.example>"),
        ("Call-ID", "reg-1"), ("CSeq", "5 REGISTER"), ("Contact", "<sip:alice@10.0.0.1>"),
        ("Max-Forwards", "70")])


def _challenge(req, status=401, now=100.0, stale=False):
    header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    return build_response(req, status, to_tag="srv",
                          headers=[(header, str(SERVER.challenge(now, stale=stale)))])


def _client():
    return DigestClient("alice", "pw", cnonce_source=lambda: "cafe")


def test_retry_has_new_branch_next_cseq_and_credentials():
    req = _register()
    client = _client()
    retry = authenticate(req, _challenge(req), client, IdGenerator(random.Random(1)))
    assert retry.call_id == req.call_id and str(retry.from_) == str(req.from_)
    assert retry.to.tag is None and retry.uri == req.uri
    assert str(retry.cseq) == "6 REGISTER"
    assert retry.top_via.branch != "z9hG4bKfirst" and retry.top_via.branch.startswith("z9hG4bK")
    assert "rport" in retry.top_via.params and str(retry.via[1]) == str(req.via[1])
    (cred,) = retry.authorization
    assert (cred.realm, cred.nc, cred.uri) == ("lab", "00000001", "sip:lab.example")
    assert SERVER.verify(str(cred), "REGISTER", "pw", 100.0).reason is VerifyReason.OK
    assert str(req.cseq) == "5 REGISTER" and req.headers.get("Authorization") is None


def test_407_answers_with_proxy_authorization():
    req = _register()
    retry = authenticate(req, _challenge(req, 407), _client())
    assert retry.headers.get("Authorization") is None
    assert len(retry.proxy_authorization) == 1


def test_second_challenge_for_the_same_realm_means_wrong_password():
    req = _register()
    client = _client()
    retry = authenticate(req, _challenge(req), client)
    assert authenticate(retry, _challenge(retry, now=101.0), client) is None


def test_stale_nonce_is_retried_and_replaces_old_credentials():
    req = _register()
    client = _client()
    retry = authenticate(req, _challenge(req), client)
    again = authenticate(retry, _challenge(retry, now=200.0, stale=True), client)
    assert again is not None and str(again.cseq) == "7 REGISTER"
    assert len(again.authorization) == 1
    assert again.authorization[0].nonce != retry.authorization[0].nonce


def test_not_a_challenge_or_unanswerable():
    req = _register()
    with pytest.raises(LocalProtocolError):
        authenticate(req, build_response(req, 403, to_tag="x"), _client())
    odd = build_response(req, 401, to_tag="x",
                         headers=[("WWW-Authenticate", 'Basic realm="lab"')])
    with pytest.raises(ParseError):
        authenticate(req, odd, _client())
