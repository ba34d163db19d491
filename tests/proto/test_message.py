"""Parsing, building and serializing messages (RFC 3261 sec. 7, 18.3, 20.14)."""

import pytest

import sipclient
from sipclient.proto.errors import LocalProtocolError, ParseError
from sipclient.proto.fields import CSeq
from sipclient.proto.headers import Headers
from sipclient.proto.message import Request, Response, parse_message
from sipclient.proto.uri import SipUri, TelUri

REGISTER = (
    b"REGISTER sip:registrar.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.4:5060;rport;branch=z9hG4bKnashds7\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@example.com>\r\n"
    b"From: Bob <sip:bob@example.com>;tag=456248\r\n"
    b"Call-ID: 843817637684230@998sdasdh09\r\n"
    b"CSeq: 1826 REGISTER\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"Expires: 7200\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def test_package_reexports():
    assert sipclient.parse_message is parse_message
    assert sipclient.Request is Request and sipclient.Response is Response


def test_parse_request_and_views():
    msg = parse_message(REGISTER)
    assert isinstance(msg, Request) and msg.is_request
    assert msg.method == "REGISTER"
    assert msg.uri == "sip:registrar.example.com"
    assert msg.uri_parsed == SipUri("sip", None, None, "registrar.example.com")
    assert msg.version == "SIP/2.0"
    assert msg.call_id == "843817637684230@998sdasdh09"
    assert msg.cseq == CSeq(1826, "REGISTER")
    assert msg.top_via.host == "192.0.2.4" and msg.top_via.port == 5060
    assert msg.top_via.rport is True
    assert msg.from_.tag == "456248" and msg.from_.display_name == "Bob"
    assert msg.to.tag is None and str(msg.to.uri) == "sip:bob@example.com"
    assert [str(c.uri) for c in msg.contact] == ["sip:bob@192.0.2.4"]
    assert msg.expires == 7200 and msg.max_forwards == 70 and msg.content_length == 0
    assert msg.content_type is None and msg.user_agent is None
    assert msg.route == [] and msg.record_route == [] and msg.allow == []
    assert msg.body == b""
    assert bytes(msg) == REGISTER


def test_parse_response():
    data = (b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
            b"Content-Type: Application/SDP; charset=utf-8\r\nContent-Length: 3\r\n\r\nabc")
    msg = parse_message(data)
    assert isinstance(msg, Response) and not msg.is_request
    assert (msg.status, msg.reason) == (180, "Ringing")
    assert msg.content_type == "application/sdp"
    assert msg.body == b"abc"
    assert bytes(msg) == data


def test_reason_phrase_with_spaces_and_empty():
    assert parse_message(b"SIP/2.0 481 Call/Transaction Does Not Exist\r\n\r\n").reason == \
        "Call/Transaction Does Not Exist"
    assert parse_message(b"SIP/2.0 200 \r\n\r\n").reason == ""


def test_mutation_invalidates_raw_bytes():
    msg = parse_message(REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards:70"))
    assert b"Max-Forwards:70" in bytes(msg)  # exact bytes while unchanged
    msg.headers.set("Expires", "60")
    out = bytes(msg)
    assert b"Expires: 60\r\n" in out and b"Max-Forwards: 70\r\n" in out
    assert parse_message(out).expires == 60
    assert msg.expires == 60  # typed views follow the change


@pytest.mark.parametrize("change", [
    lambda m: setattr(m, "body", b"hello"),
    lambda m: setattr(m, "uri", "sip:other.example.com"),
    lambda m: setattr(m, "method", "OPTIONS"),
    lambda m: m.headers.add("X-A", "1"),
    lambda m: m.headers.remove("Expires"),
])
def test_every_kind_of_change_reserializes(change):
    msg = parse_message(REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards:70"))
    change(msg)
    out = bytes(msg)
    assert out != REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards:70")
    again = parse_message(out)
    assert again.body == msg.body and again.content_length == len(msg.body)


def test_build_request_adds_content_length():
    req = Request("OPTIONS", "sip:a@b", [("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),
                                         ("Call-ID", "x")], body=b"hi")
    assert bytes(req) == (b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                          b"Call-ID: x\r\nContent-Length: 2\r\n\r\nhi")


def test_stale_content_length_corrected_or_kept_on_purpose():
    resp = Response(200, headers=[("l", "99"), ("Content-Length", "98")], body=b"ok")
    assert resp.reason == "OK"
    assert bytes(resp) == b"SIP/2.0 200 OK\r\nl: 2\r\n\r\nok"
    assert resp.serialize(fix_content_length=False) == \
        b"SIP/2.0 200 OK\r\nl: 99\r\nContent-Length: 98\r\n\r\nok"
    bare = Response(486)
    assert bare.reason == "Busy Here"
    assert bare.serialize(fix_content_length=False) == b"SIP/2.0 486 Busy Here\r\n\r\n"


def test_request_accepts_uri_object_and_headers_object():
    h = Headers([("To", "<tel:+1555>")])
    req = Request("INVITE", TelUri("+1555"), h)
    assert req.uri == "tel:+1555" and req.headers is h
    assert isinstance(req.uri_parsed, TelUri)
    assert req.to.uri == TelUri("+1555")


def test_local_misuse():
    with pytest.raises(LocalProtocolError):
        Request("BAD METHOD", "sip:a")
    with pytest.raises(LocalProtocolError):
        Response(99)
    with pytest.raises(LocalProtocolError):
        parse_message("INVITE sip:a SIP/2.0\r\n\r\n")  # str, not bytes
    with pytest.raises(LocalProtocolError):
        Request("INVITE", "sip:a", body="text")


def test_compact_forms_unknown_method_and_headers_pass_through():
    data = (b"PING sip:x SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\ni: abc\r\n"
            b"X-Weird: a, b\r\nl: 0\r\n\r\n")
    msg = parse_message(data)
    assert msg.method == "PING" and msg.call_id == "abc" and msg.top_via.branch == "z9hG4bK1"
    assert msg.headers.get("x-weird") == "a, b"
    assert bytes(msg) == data


def test_folding_unfolds_to_one_space():
    data = (b"OPTIONS sip:x SIP/2.0\r\nSubject: one,\r\n two\r\n\tthree\r\n"
            b"Via: SIP/2.0/UDP h\r\n ;branch=z9hG4bK1\r\n\r\n")
    msg = parse_message(data)
    assert msg.headers.get("Subject") == "one, two three"
    assert msg.top_via.branch == "z9hG4bK1"
    assert bytes(msg) == data


def test_bare_lf_and_leading_crlf_tolerated():
    data = b"\r\n\r\n" + REGISTER.replace(b"\r\n", b"\n")
    msg = parse_message(data)
    assert msg.cseq.seq == 1826 and msg.expires == 7200
    assert bytes(msg) == REGISTER.replace(b"\r\n", b"\n")  # as received, keep-alive dropped


def test_invalid_utf8_round_trips():
    data = b"MESSAGE sip:x SIP/2.0\r\nSubject: caf\xe9\r\nContent-Length: 0\r\n\r\n"
    msg = parse_message(data)
    assert bytes(msg) == data
    msg.headers.add("X-A", "1")
    assert b"Subject: caf\xe9\r\n" in bytes(msg)


def test_datagram_framing():
    base = REGISTER.replace(b"Content-Length: 0", b"Content-Length: 3")
    msg = parse_message(base + b"abcdef")  # shorter: truncate
    assert msg.body == b"abc" and bytes(msg) == base + b"abc"
    no_cl = REGISTER.replace(b"Content-Length: 0\r\n", b"")
    assert parse_message(no_cl + b"body").body == b"body"  # absent: the rest


def test_copy_is_independent():
    msg = parse_message(REGISTER)
    other = msg.copy()
    other.headers.set("CSeq", "1827 REGISTER")
    assert msg.cseq.seq == 1826 and other.cseq.seq == 1827
    assert bytes(msg) == REGISTER


def test_views_are_cached_until_headers_change():
    msg = parse_message(REGISTER)
    assert msg.top_via is msg.top_via
    msg.headers.set("Via", "SIP/2.0/TCP other;branch=z9hG4bK2")
    assert msg.top_via.host == "other"


# -- errors -----------------------------------------------------------------------------
CL_SHORT_BODY = REGISTER.replace(b"Content-Length: 0", b"Content-Length: 296") + b"x" * 250


@pytest.mark.parametrize("data,header,offset,words", [
    (CL_SHORT_BODY, "Content-Length", len(REGISTER.replace(b"Content-Length: 0", b"Content-Length: 296")),
     "Content-Length 296 but only 250 body bytes"),
    (REGISTER.replace(b"Content-Length: 0", b"Content-Length: abc"), "Content-Length",
     REGISTER.index(b"Content-Length"), "bad Content-Length"),
    (REGISTER.replace(b"Content-Length: 0", b"l: -1"), "Content-Length",
     REGISTER.index(b"Content-Length"), "bad Content-Length"),
    (REGISTER.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 5"), "Content-Length",
     REGISTER.index(b"Content-Length") + 19, "conflicting"),
    (REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards 70"), None,
     REGISTER.index(b"Max-Forwards"), "bad header line"),
    (REGISTER.replace(b"Max-Forwards: 70", b"Max Forwards: 70"), None,
     REGISTER.index(b"Max-Forwards"), "bad header name"),
    (REGISTER.replace(b"REGISTER sip:registrar.example.com SIP/2.0", b"REGISTER  SIP/2.0"), None, 0,
     "empty Request-URI"),
    (b"REGISTER sip:a\r\n\r\n", None, 0, "bad request line"),
    (REGISTER.replace(b" SIP/2.0\r\n", b" HTTP/1.1\r\n", 1), None, 0, "bad SIP version"),
    (b"SIP/2.0 2000 OK\r\n\r\n", None, 0, "bad status code"),
    (b"SIP/2.0 099 Low\r\n\r\n", None, 0, "bad status code"),
    (b"SIP/2.0\r\n\r\n", None, 0, "bad status line"),
    (b"INVITE sip:a SIP/2.0\r\n folded-first: x\r\n\r\n", None, 22, "continuation line"),
    (REGISTER[:-2], None, len(REGISTER) - 2, "no empty line"),
    (b"", None, 0, "empty message"),
    (b"\r\n\r\n", None, 0, "empty message"),
])
def test_parse_errors_say_what_and_where(data, header, offset, words):
    with pytest.raises(ParseError) as info:
        parse_message(data)
    err = info.value
    assert words in err.reason
    assert err.header == header
    assert err.offset == offset


def test_status_hint_for_bad_version():
    with pytest.raises(ParseError) as info:
        parse_message(b"INVITE sip:a SIP/3.0x\r\n\r\n")
    assert info.value.status_hint == 505


@pytest.mark.parametrize("header,value,view,words", [
    ("CSeq", "abc REGISTER", "cseq", "bad CSeq: expected '<number> <method>'"),
    ("CSeq", "99999999999 REGISTER", "cseq", "bad CSeq"),
    ("Via", "SIP/2.0 host", "via", "bad Via"),
    ("From", '"unterminated <sip:a@b>', "from_", "unterminated"),
    ("To", "<sip:a@b", "to", "missing '>'"),
    ("Contact", "<sip:a@b>;expires=soon", "contact", None),
    ("Max-Forwards", "seventy", "max_forwards", "bad Max-Forwards"),
    ("Expires", "-1", "expires", "bad Expires"),
    ("Call-ID", "has space", "call_id", "bad Call-ID"),
    ("Content-Type", "sdp", "content_type", "bad Content-Type"),
    ("Allow", "INVITE, <bad>", "allow", "bad Allow"),
    ("Route", "<sip:[::1>", "route", "bad Route"),
])
def test_bad_typed_view_names_header_and_offset(header, value, view, words):
    data = REGISTER.replace(b"Contact: <sip:bob@192.0.2.4>",
                            f"{header}: {value}".encode() if header != "Contact"
                            else f"Contact: {value}".encode())
    if header in ("CSeq", "Via", "From", "To", "Max-Forwards", "Expires", "Call-ID"):
        # replace the existing header instead of adding a second one
        data = REGISTER
        lines = data.split(b"\r\n")
        lines = [f"{header}: {value}".encode() if ln.startswith(header.encode() + b":") else ln
                 for ln in lines]
        data = b"\r\n".join(lines)
    msg = parse_message(data)
    if header == "Contact":
        with pytest.raises(ParseError) as info:
            [c.expires for c in msg.contact]
    else:
        with pytest.raises(ParseError) as info:
            getattr(msg, view)
    assert info.value.header == header
    if words:
        assert words in info.value.reason
    if header != "Contact":
        assert info.value.offset == data.index(f"{header}: ".encode())


@pytest.mark.parametrize("view,header", [("call_id", "Call-ID"), ("cseq", "CSeq"),
                                          ("from_", "From"), ("to", "To"), ("top_via", "Via")])
def test_missing_required_header(view, header):
    msg = parse_message(b"OPTIONS sip:a SIP/2.0\r\n\r\n")
    with pytest.raises(ParseError) as info:
        getattr(msg, view)
    assert info.value.header == header and "missing" in info.value.reason


def test_bad_request_uri_is_a_parse_error():
    msg = parse_message(b"OPTIONS sip:[bad SIP/2.0\r\n\r\n")
    with pytest.raises(ParseError) as info:
        msg.uri_parsed
    assert "Request-URI" in info.value.reason


def test_check_views_touches_everything():
    msg = parse_message(REGISTER.replace(b"Expires: 7200", b"Expires: never"))
    with pytest.raises(ParseError) as info:
        msg.check_views()
    assert info.value.header == "Expires"
