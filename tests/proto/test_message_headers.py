"""Headers: raw ordered pairs, compact forms, comma lists (RFC 3261 sec. 7.3)."""

import pytest

from sipclient.proto.errors import LocalProtocolError
from sipclient.proto.headers import COMPACT_FORMS, Headers, canonical_name, split_list


def test_get_full_and_compact_any_case():
    h = Headers([("i", "abc@host"), ("CSEQ", "1 INVITE")])
    assert h.get("call-id") == "abc@host"
    assert h.get("Call-ID") == "abc@host"
    assert h.get("I") == "abc@host"
    assert h.get("cseq") == "1 INVITE"
    assert h.get("To") is None
    assert h.get("To", "x") == "x"
    assert "CALL-ID" in h and "i" in h and "To" not in h


def test_get_all_across_lines_and_commas():
    h = Headers([
        ("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"),
        ("Max-Forwards", "70"),
        ("v", "SIP/2.0/TCP c;branch=z9hG4bK3"),
    ])
    assert h.get_all("via") == [
        "SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2",
        "SIP/2.0/TCP c;branch=z9hG4bK3"]
    assert h.get("Via") == "SIP/2.0/UDP a;branch=z9hG4bK1"  # first element of the list
    assert h.get_lines("Via")[0].count(",") == 1


def test_commas_inside_quotes_and_angles_do_not_split():
    value = '"Doe, John" <sip:j@x;a=b,c>;q=0.5, <sip:k@y>'
    assert split_list(value) == ['"Doe, John" <sip:j@x;a=b,c>;q=0.5', "<sip:k@y>"]
    assert split_list('"a \\" , b" <sip:x>') == ['"a \\" , b" <sip:x>']
    assert split_list("INVITE, ,ACK,") == ["INVITE", "ACK"]


@pytest.mark.parametrize("name,value", [
    ("WWW-Authenticate", 'Digest realm="a", nonce="b", qop="auth,auth-int"'),
    ("Authorization", 'Digest username="u", realm="r"'),
    ("Proxy-Authenticate", 'Digest realm="a", nonce="b"'),
    ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
    ("User-Agent", "Foo, Bar"),
    ("Server", "Asterisk, PBX"),
    ("Subject", "hello, world"),
])
def test_never_split_non_list_headers(name, value):
    assert Headers([(name, value)]).get_all(name) == [value]


def test_contact_star_not_split():
    assert Headers([("Contact", "*")]).get_all("m") == ["*"]


def test_set_replaces_all_in_place_of_first():
    h = Headers([("Via", "a"), ("l", "5"), ("To", "t"), ("Content-Length", "6")])
    h.set("Content-Length", "0")
    assert list(h) == [("Via", "a"), ("Content-Length", "0"), ("To", "t")]
    h.set("X-New", "1")
    assert list(h)[-1] == ("X-New", "1")


def test_add_remove_len_copy_iter():
    h = Headers()
    h.add("Route", "<sip:a;lr>")
    h.add("Route", "<sip:b;lr>")
    assert len(h) == 2
    c = h.copy()
    assert h.remove("route") == 2
    assert len(h) == 0 and len(c) == 2
    assert list(c) == [("Route", "<sip:a;lr>"), ("Route", "<sip:b;lr>")]
    assert h.remove("route") == 0


def test_remove_first_of_a_list():
    h = Headers([("Via", "a, b"), ("Via", "c")])
    assert h.remove_first("Via")
    assert h.get_all("Via") == ["b", "c"]
    assert h.remove_first("Via") and h.remove_first("Via")
    assert h.get_all("Via") == [] and not h.remove_first("Via")


def test_version_counts_changes():
    h = Headers([("A", "1")])
    v = h.version
    h.get("A")
    assert h.version == v
    h.add("B", "2")
    assert h.version > v


@pytest.mark.parametrize("name,value", [("", "x"), ("Bad Name", "x"), ("X", "a\r\nInjected: 1"),
                                        ("X:", "y"), ("X", 5)])
def test_invalid_local_values_raise_local_error(name, value):
    with pytest.raises(LocalProtocolError):
        Headers().add(name, value)


def test_compact_table_and_canonical_names():
    assert COMPACT_FORMS["x"] == "Session-Expires"
    assert COMPACT_FORMS["y"] == "Identity"
    assert {c: COMPACT_FORMS[c] for c in "imelftvcksourb"} == {
        "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
        "f": "From", "t": "To", "v": "Via", "c": "Content-Type", "k": "Supported",
        "s": "Subject", "o": "Event", "u": "Allow-Events", "r": "Refer-To", "b": "Referred-By"}
    assert canonical_name("i") == "Call-ID"
    assert canonical_name("cseq") == "CSeq"
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("X-Whatever") == "X-Whatever"
