"""Seed 001: a REGISTER and two INVITEs from a PDF, repaired (see tests/data/messages/README.txt)."""

from pathlib import Path

import pytest

from sipclient.proto.message import Request, parse_message

DATA = Path(__file__).resolve().parent.parent / "data" / "messages"


def load(name):
    data = (DATA / name).read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b""), "corpus files use CRLF"
    return data, parse_message(data)


@pytest.mark.parametrize("name", ["seed001_register.sip", "seed001_invite1.sip",
                                  "seed001_invite2.sip"])
def test_round_trip_and_content_length(name):
    data, msg = load(name)
    assert bytes(msg) == data
    assert msg.content_length == len(msg.body)
    msg.check_views()
    msg.headers.add("X-Touched", "1")
    assert parse_message(bytes(msg)).body == msg.body


def test_register():
    _, msg = load("seed001_register.sip")
    assert isinstance(msg, Request) and msg.method == "REGISTER"
    assert msg.uri_parsed.host == "widecloud.intelbras.com.br"
    assert msg.uri_parsed.port == 7048 and msg.uri_parsed.transport == "udp"
    via = msg.top_via
    assert (via.transport, via.host, via.port) == ("UDP", "201.46.59.189", 32670)
    assert via.rport is True
    assert via.branch == "z9hG4bKPjHbA6rc23vG1pyCdRRKXNzI0hJYMTWlmSp" and via.has_magic_cookie
    assert msg.from_.tag == "wzBPCjLkJpGUxEIEkwrQgUHg6wfnek0YhAxx"
    assert str(msg.from_.uri) == "sip:5545@widecloud.intelbras.com.br"
    assert str(msg.to.uri) == "sip:5545@widecloud.intelbras.com.br" and msg.to.tag is None
    assert msg.call_id == "pqCa151br258ne2EFAMi8VTicQXSwYp1O2J9"
    assert (msg.cseq.seq, msg.cseq.method) == (57949, "REGISTER")
    (contact,) = msg.contact
    assert contact.instance == "urn:uuid:80:8f:e8:664:d3"
    assert contact.params["+sip.model"] == '"Telephone_TIP125"'
    assert contact.uri.host == "201.46.59.189" and contact.uri.port == 32670
    assert msg.expires == 90 and msg.max_forwards == 70
    assert msg.user_agent == "Telephone_TIP125"
    assert msg.allow == ["PRACK", "INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "REFER", "OPTIONS",
                         "INFO", "PUBLISH", "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER"]
    assert msg.body == b""


def test_invite1_sdp():
    _, msg = load("seed001_invite1.sip")
    assert msg.from_.display_name == "RAMAL - 6961"
    assert msg.from_.tag == "Uk8TfV1EBRsHU0fEDiZaoaFHzCtMuznZ"
    assert msg.top_via.branch == "z9hG4bKpJGmljPpvYDtGn6JkYqX8GfedXfQyR"
    assert msg.cseq.seq == 14544 and msg.content_type == "application/sdp"
    assert msg.content_length == 296 and len(msg.body) == 296
    assert b"a=ptime:20\r\n" in msg.body
    assert msg.supported == ["replaces"]
    assert msg.headers.get("Allow-Events") == "check-sync"


def test_invite2_authorization():
    _, msg = load("seed001_invite2.sip")
    assert msg.call_id == "Z1bycsRcVdqBAOyicF3xSZocQ8Wnu3pRmQNO"
    assert msg.cseq.seq == 14545
    assert msg.top_via.rport is True
    assert msg.contact[0].instance == "<urn:uuid:80:8f:e8::77:f5>"
    (cred,) = msg.authorization
    assert cred.username == "6961"
    assert cred.realm == "xhand"
    assert cred.nonce == "1609521111/e77ebd577852317e85e4cfd479d3c3"
    assert cred.qop == "auth"
    assert cred.nc == "00000001"
    assert cred.uri == "sip:944511712@widecloud.intelbras.com.br:7048;transport=udp"
    assert cred.response == "12c56ed0827828fe3e1c43211be2067c"
    assert cred.cnonce == "cf4nYIbocl8SsGhwsI3Xj2yVMmYStDx0zT"
    assert cred.opaque == "6c9b520111a7b797"
