"""SIP/SIPS/tel URIs (RFC 3261 sec. 19.1, 25.1; RFC 3966)."""

import pytest

from sipclient.proto.errors import ParseError
from sipclient.proto.uri import AbsoluteUri, SipUri, TelUri, parse_uri

ROUND_TRIP = [
    "sip:alice@atlanta.com",
    "sip:alice:secretword@atlanta.com;transport=tcp",
    "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
    "sip:+1-212-555-1212:1234@gateway.com;user=phone",
    "sips:1212@gateway.com",
    "sip:alice@192.0.2.4",
    "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
    "sip:alice;day=tuesday@atlanta.com",
    "sip:[2001:db8::10]:5060;transport=udp",
    "SIP:Alice@AtLanTa.CoM;Transport=TCP",
    "sip:%61lice@atlanta.com;maddr=239.255.255.1;ttl=15;lr",
    "sip:widecloud.intelbras.com.br:7048;transport=udp",
    "tel:+1-201-555-0123",
    "tel:7042;phone-context=example.com",
    "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    "http://example.com/x",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip(text):
    assert str(parse_uri(text)) == text


def test_fields():
    u = parse_uri("sip:alice:pw@[2001:db8::1]:5061;transport=TLS;lr;maddr=x?h=v")
    assert isinstance(u, SipUri)
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sip", "alice", "pw",
                                                              "[2001:db8::1]", 5061)
    assert u.params == {"transport": "TLS", "lr": None, "maddr": "x"}
    assert u.headers == {"h": "v"}
    assert u.transport == "tls" and u.lr and u.maddr == "x"
    assert u.host_port == "[2001:db8::1]:5061" and u.host_bare == "2001:db8::1"


def test_escapes_decoded_and_reencoded():
    u = parse_uri("sip:%61lice%20b@atlanta.com;x=a%3Bb")
    assert u.user == "alice b" and u.params["x"] == "a;b"
    changed = u.with_params(lr=None)
    assert str(changed) == "sip:alice%20b@atlanta.com;x=a%3Bb;lr"
    assert parse_uri(str(changed)).user == "alice b"


def test_user_with_semicolon_and_scheme_case():
    u = parse_uri("SIP:+1;npdi@host")
    assert u.scheme == "sip" and u.user == "+1;npdi" and u.host == "host"


def test_with_params_keeps_order_and_replaces():
    u = parse_uri("sip:a@b;transport=udp;lr")
    v = u.with_params({"transport": "tcp"}, ob=None)
    assert str(v) == "sip:a@b;transport=tcp;lr;ob"
    assert str(u) == "sip:a@b;transport=udp;lr"  # frozen value
    assert str(v.without_params("lr")) == "sip:a@b;transport=tcp;ob"


def test_build_and_hash():
    u = SipUri(host="example.com", user="bob", port=5070, params={"transport": "tcp"})
    assert str(u) == "sip:bob@example.com:5070;transport=tcp"
    assert u == parse_uri("sip:bob@example.com:5070;transport=tcp")
    assert hash(u) == hash(parse_uri("sip:bob@example.com:5070;transport=tcp"))
    assert {u: 1}[parse_uri(str(u))] == 1


def test_tel_uri():
    t = parse_uri("tel:+1-201-555-0123;ext=12")
    assert isinstance(t, TelUri) and t.is_global
    assert t.number == "+1-201-555-0123" and t.digits == "+12015550123"
    assert t.params == {"ext": "12"}


def test_absolute_uri():
    a = parse_uri("urn:service:sos")
    assert a == AbsoluteUri("urn", "service:sos")


@pytest.mark.parametrize("text", [
    "", "alice@atlanta.com", "sip:", "sip:alice@", "sip:@host", "sip:a@host:99999",
    "sip:a@host:port", "sip:a@[2001:db8::1", "sip:a@ho st", "sip:a@host;;x", "sip:a@host;=v",
    "sip:a@h%zz", "sip:a@<h>", "tel:", "tel:xyz", "1sip:x", "sip:a@host;x=%4",
])
def test_bad_uris(text):
    with pytest.raises(ParseError):
        parse_uri(text)
