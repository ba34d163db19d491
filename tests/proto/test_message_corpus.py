"""Every corpus message parses, exposes its typed views and round-trips byte for byte."""

from pathlib import Path

import pytest

from sipclient.proto.message import TYPED_VIEWS, Request, parse_message

DATA = Path(__file__).resolve().parent.parent / "data" / "messages"
FILES = sorted(DATA.glob("*.sip"))


def test_corpus_is_there():
    assert len(FILES) >= 15


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_round_trip(path):
    data = path.read_bytes()
    msg = parse_message(data)
    for name in TYPED_VIEWS:
        getattr(msg, name)
    if isinstance(msg, Request):
        msg.uri_parsed
    assert bytes(msg) == data
    # rebuilt from the stored headers: the same message again
    msg.headers.add("X-Rebuilt", "yes")
    again = parse_message(bytes(msg))
    assert again.body == msg.body and list(again.headers)[:-1] == list(msg.headers)[:-1]
    assert [str(v) for v in again.via] == [str(v) for v in msg.via]


def load(name):
    return parse_message((DATA / name).read_bytes())


def test_401_challenge():
    msg = load("asterisk_401_register.sip")
    assert msg.status == 401 and msg.to.tag
    (ch,) = msg.www_authenticate
    assert ch.realm == "asterisk" and ch.nonce.startswith("1609521111/")
    assert ch.opaque == "6c9b520111a7b797" and ch.qop == ("auth",)
    assert ch.algorithm.lower() == "md5"
    assert msg.top_via.rport == 32670 and msg.top_via.received == "201.46.59.189"


def test_407_two_challenges_not_split_on_commas():
    msg = load("asterisk_407_proxy_auth.sip")
    assert [c.algorithm for c in msg.proxy_authenticate] == ["SHA-256", "md5"]
    assert msg.top_via.transport == "TCP" and "alias" in msg.top_via.params


def test_200_register_contact_expires():
    msg = load("asterisk_200_register.sip")
    (c,) = msg.contact
    assert c.expires == 89 and c.instance == "<urn:uuid:00000000-0000-1000-8000-808fe8664d30>"
    assert msg.headers.get("Date") == "Fri, 01 Jan 2021 17:11:51 GMT"


def test_183_sdp():
    msg = load("asterisk_183_sdp.sip")
    assert msg.status == 183 and msg.reason == "Session Progress"
    assert msg.content_type == "application/sdp" and msg.body.startswith(b"v=0\r\n")
    assert "PRACK" in msg.allow


def test_200_invite_record_route_and_via_list():
    msg = load("asterisk_200_invite_rr.sip")
    assert [v.host for v in msg.via] == ["10.0.0.5", "192.168.15.121"]
    assert [str(r.uri) for r in msg.record_route] == ["sip:10.0.0.5;lr",
                                                      "sip:10.0.0.9;lr;transport=tcp"]
    assert msg.require == ["timer"] and msg.supported[0] == "100rel"


def test_compact():
    msg = load("compact_form.sip")
    assert msg.call_id == "3848276298220188511@atlanta.example.com"
    assert msg.from_.display_name == "Alice" and msg.to.display_name == "Bob"
    assert msg.supported == ["timer", "100rel"]
    assert msg.headers.get("Session-Expires") == "1800;refresher=uac"
    assert msg.headers.get("Event") == "presence"
    assert msg.content_type == "application/sdp" and msg.content_length == 0


def test_folded():
    msg = load("folded_headers.sip")
    assert msg.headers.get("Subject") == "I know you're there, pick up the phone and talk to me!"
    assert msg.top_via.branch == "z9hG4bKhjhs8ass877"


def test_ipv6():
    msg = load("ipv6.sip")
    assert msg.top_via.host == "[2001:db8::9:1]" and msg.top_via.port == 5070
    assert msg.top_via.received == "2001:db8::9:255"
    assert msg.uri_parsed.host == "[2001:db8::10]" and msg.uri_parsed.port == 5060
    assert msg.contact[0].uri.host_bare == "2001:db8::9:1"


def test_tel():
    msg = load("tel_uri.sip")
    assert msg.uri_parsed.number == "+1-201-555-0123"
    assert msg.uri_parsed.params == {"phone-context": "example.com"}
    assert msg.to.uri.number == "+1-201-555-0123"
    assert msg.headers.get_all("P-Asserted-Identity")[1].startswith('"Gw"')


def test_multi_via():
    msg = load("multi_via.sip")
    assert [v.branch for v in msg.via] == ["z9hG4bKa", "z9hG4bKb", "z9hG4bKc", "z9hG4bKd"]
    assert msg.via[3].rport == 5090
    assert [str(r.uri) for r in msg.route] == ["sip:10.0.0.9;lr;transport=tcp", "sip:10.0.0.5;lr"]
    assert msg.headers.get_all("Reason") == ['Q.850;cause=16;text="Normal Clearing"']


def test_unknown_method_addr_spec_star():
    msg = load("unknown_method.sip")
    assert msg.method == "FOO" and msg.uri_parsed.scheme == "sips"
    assert msg.from_.tag == "addrspec" and str(msg.from_.uri) == "sips:alice@example.com"
    assert msg.to.display_name == 'Quote "Bob" \\ Esq'
    assert msg.contact[0].is_star
    assert msg.top_via.maddr == "239.255.255.1" and msg.top_via.ttl == 16
    assert msg.headers.get_all("X-Custom-Header") == ["anything, goes; here"]
