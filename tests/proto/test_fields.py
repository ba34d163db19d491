"""Typed header values (RFC 3261 sec. 20): Via, name-addr, Contact, CSeq, Content-Type."""

import dataclasses

import pytest

from sipclient.proto.errors import ParseError
from sipclient.proto.fields import CSeq, Contact, ContentType, NameAddr, Via, parse_params
from sipclient.proto.uri import SipUri, TelUri


@pytest.mark.parametrize("text", [
    "SIP/2.0/UDP 201.46.59.189:32670;rport;branch=z9hG4bKPjHbA6rc23vG1pyCdRRKXNzI0hJYMTWlmSp",
    "SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101",
    "SIP/2.0/UDP [2001:db8::9:1]:5070;rport=5070;received=2001:db8::9:255;branch=z9hG4bK1",
    "SIP / 2.0 / UDP first.example.com: 4000;ttl=16;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1",
    "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKSvVpU7eMPfoScGy3Zk1Dry68HilZ9Tx;rport",
])
def test_via_round_trip(text):
    assert str(Via.parse(text)) == text


def test_via_fields():
    v = Via.parse("SIP/2.0/UDP 201.46.59.189:32670;rport;branch=z9hG4bKabc")
    assert (v.transport, v.host, v.port) == ("UDP", "201.46.59.189", 32670)
    assert v.sent_by == ("201.46.59.189", 32670)
    assert v.rport is True and v.branch == "z9hG4bKabc" and v.has_magic_cookie
    assert v.received is None and v.maddr is None and v.ttl is None
    w = v.with_param("received", "72.44.22.20").with_param("rport", 60185)
    assert str(w) == ("SIP/2.0/UDP 201.46.59.189:32670;rport=60185;branch=z9hG4bKabc;"
                      "received=72.44.22.20")
    assert w.rport == 60185 and w.received == "72.44.22.20"
    assert Via.parse("SIP/2.0/UDP h;branch=1234").has_magic_cookie is False
    spaced = Via.parse("SIP / 2.0 / UDP first.example.com: 4000;ttl=16")
    assert spaced.port == 4000 and spaced.ttl == 16


def test_via_build():
    v = Via("TLS", "[::1]", 5061, {"branch": "z9hG4bK1", "rport": None})
    assert str(v) == "SIP/2.0/TLS [::1]:5061;branch=z9hG4bK1;rport"
    assert Via.parse(str(v)) == v


@pytest.mark.parametrize("text", ["", "SIP/2.0 host", "SIP/2.0/UDP", "SIP/2.0/UDP host:99999",
                                  "SIP/2.0/UDP host;branch=\"x", "SIP/2.0/UDP host junk"])
def test_via_errors(text):
    with pytest.raises(ParseError):
        Via.parse(text)


@pytest.mark.parametrize("text", [
    '"RAMAL - 6961" <sip:6961@widecloud.intelbras.com.br>;tag=Uk8TfV1EBRsHU0fEDiZaoaFHzCtMuznZ',
    "<sip:5545@widecloud.intelbras.com.br>",
    "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
    "sip:alice@atlanta.com;tag=88sja8x",
    '"7777"<sip:7777@widecloud.intelbras.com.br>;tag=rzwwccxKfbnJ8AqDdoxi',
    '"A \\"quoted\\" \\\\ name" <sips:a@b.example.com>',
    "<tel:+15551234567>",
])
def test_name_addr_round_trip(text):
    assert str(NameAddr.parse(text)) == text


def test_name_addr_fields():
    n = NameAddr.parse('"RAMAL - 6961" <sip:6961@widecloud.intelbras.com.br>;tag=Uk8')
    assert n.display_name == "RAMAL - 6961" and n.tag == "Uk8"
    assert n.uri == SipUri(user="6961", host="widecloud.intelbras.com.br")
    token = NameAddr.parse("Bob  Smith <sip:bob@x>")
    assert token.display_name == "Bob  Smith"
    esc = NameAddr.parse('"A \\"quoted\\" \\\\ name" <sip:a@b>')
    assert esc.display_name == 'A "quoted" \\ name'
    assert NameAddr.parse(str(dataclasses.replace(esc, params={"x": "1"}))).display_name == \
        'A "quoted" \\ name'


def test_addr_spec_params_belong_to_the_header():
    n = NameAddr.parse("sip:alice@atlanta.com;tag=88sja8x;transport=tcp")
    assert n.tag == "88sja8x" and n.params["transport"] == "tcp"
    assert n.uri.params == {}
    assert str(n.with_tag("x")) == "<sip:alice@atlanta.com>;tag=x;transport=tcp"


def test_name_addr_with_tag_and_build():
    n = NameAddr(None, "sip:bob@example.com")
    assert str(n) == "<sip:bob@example.com>"
    t = n.with_tag("abc")
    assert str(t) == "<sip:bob@example.com>;tag=abc" and t.tag == "abc" and n.tag is None
    assert str(NameAddr('Bob "B"', TelUri("+1"))) == '"Bob \\"B\\"" <tel:+1>'


@pytest.mark.parametrize("text", ['"open <sip:a@b>', "Bob sip:a@b", "<sip:a@b", "<>",
                                  "<sip:a@b> junk", 'Bo"b <sip:a@b>', "<sip:a@b>;=x"])
def test_name_addr_errors(text):
    with pytest.raises(ParseError):
        NameAddr.parse(text)


def test_contact():
    c = Contact.parse('<sip:5545@201.46.59.189:32670;transport=udp>;+sip.instance='
                      '"<urn:uuid:00000000-0000-1000-8000-808fe8664d30>";expires=89;q=0.7;reg-id=1')
    assert c.instance == "<urn:uuid:00000000-0000-1000-8000-808fe8664d30>"
    assert c.expires == 89 and c.q == 0.7 and c.reg_id == 1 and not c.is_star
    assert c.uri.transport == "udp"
    star = Contact.parse(" * ")
    assert star.is_star and str(star) == "*" and star.uri is None
    assert Contact.parse("<sip:a@b>").expires is None
    with pytest.raises(ParseError):
        Contact.parse("<sip:a@b>;q=2.5").q


def test_cseq():
    assert CSeq.parse("57949 REGISTER") == CSeq(57949, "REGISTER")
    assert str(CSeq(1, "INVITE")) == "1 INVITE"
    assert CSeq.parse(" 2\tACK ") == CSeq(2, "ACK")
    for bad in ("", "REGISTER", "1", "x INVITE", "1 INVITE extra", "2147483648 INVITE"):
        with pytest.raises(ParseError) as info:
            CSeq.parse(bad)
        assert info.value.header == "CSeq"


def test_content_type():
    ct = ContentType.parse('Application/SDP; charset="UTF-8"')
    assert ct.media_type == "application/sdp" and ct.charset == "UTF-8"
    assert str(ContentType.parse("multipart/mixed;boundary=abc")) == \
        "multipart/mixed;boundary=abc"


def test_params_quoted_semicolons():
    assert parse_params(';a="x;y";B;c = d') == {"a": '"x;y"', "b": None, "c": "d"}
