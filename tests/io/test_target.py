"""Every target form users write (README, seed documents, Asterisk configs)."""

from __future__ import annotations

import pytest

from sipclient.io.target import Target, TargetError, parse_target

T = Target

CASES = [
    # text, transport, host, port, path, scheme, secure, port_explicit, transport_explicit
    ("udp:127.0.0.1:7048", "udp", "127.0.0.1", 7048, None, "sip", False, True, True),
    ("tcp:pbx.example.com:5070", "tcp", "pbx.example.com", 5070, None, "sip", False, True, True),
    ("tls:pbx.example.com:5061", "tls", "pbx.example.com", 5061, None, "sip", True, True, True),
    ("tls:pbx.example.com", "tls", "pbx.example.com", 5061, None, "sip", True, False, True),
    ("TCP:10.0.0.1", "tcp", "10.0.0.1", 5060, None, "sip", False, False, True),
    ("127.0.0.1:7048;transport=tcp", "tcp", "127.0.0.1", 7048, None, "sip", False, True, True),
    ("pbx.example.com;transport=TLS", "tls", "pbx.example.com", 5061, None, "sip", True, False,
     True),
    ("pbx.example.com", "udp", "pbx.example.com", 5060, None, "sip", False, False, False),
    ("127.0.0.1:7048", "udp", "127.0.0.1", 7048, None, "sip", False, True, False),
    ("sip:6961@widecloud.example.com:7048;transport=tcp", "tcp", "widecloud.example.com", 7048,
     None, "sip", False, True, True),
    ("sip:widecloud.example.com:7048;transport=udp", "udp", "widecloud.example.com", 7048,
     None, "sip", False, True, True),
    ("<sip:6961@127.0.0.1;transport=tls;lr>", "tls", "127.0.0.1", 5061, None, "sip", True, False,
     True),
    ("sip:6961@example.com", "udp", "example.com", 5060, None, "sip", False, False, False),
    ("sips:pbx.example.com", "tls", "pbx.example.com", 5061, None, "sips", True, False, False),
    ("sips:6961@pbx.example.com:5062;transport=tcp", "tls", "pbx.example.com", 5062, None, "sips",
     True, True, True),
    ("wss://pbx.example.com:8089/ws", "wss", "pbx.example.com", 8089, "/ws", "wss", True, True,
     True),
    ("ws://pbx.example.com/ws", "ws", "pbx.example.com", 80, "/ws", "ws", False, False, True),
    ("wss://pbx.example.com", "wss", "pbx.example.com", 443, "/", "wss", True, False, True),
    ("wss://[::1]:8089/ws", "wss", "::1", 8089, "/ws", "wss", True, True, True),
    ("[::1]:7048", "udp", "::1", 7048, None, "sip", False, True, False),
    ("[::1]", "udp", "::1", 5060, None, "sip", False, False, False),
    ("::1", "udp", "::1", 5060, None, "sip", False, False, False),
    ("tcp:[2001:db8::5]:5070", "tcp", "2001:db8::5", 5070, None, "sip", False, True, True),
    ("localhost", "udp", "localhost", 5060, None, "sip", False, False, False),
    ("  udp:127.0.0.1:5060  ", "udp", "127.0.0.1", 5060, None, "sip", False, True, True),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0].strip() for c in CASES])
def test_target_forms(case):
    text, transport, host, port, path, scheme, secure, port_explicit, transport_explicit = case
    t = parse_target(text)
    assert (t.transport, t.host, t.port, t.path, t.scheme, t.secure) == (
        transport, host, port, path, scheme, secure)
    assert (t.port_explicit, t.transport_explicit) == (port_explicit, transport_explicit)
    assert Target.parse(text) == t
    # the canonical string parses back to the same place
    again = parse_target(str(t))
    assert (again.transport, again.host, again.port, again.path) == (transport, host, port, path)


def test_user_is_kept_and_a_password_is_dropped():
    t = parse_target("sip:6961:secret@pbx.example.com")
    assert t.user == "6961"
    assert "secret" not in repr(t) and "secret" not in str(t)


def test_uri_and_url():
    assert parse_target("tcp:127.0.0.1:7048").uri("6961") == "sip:6961@127.0.0.1:7048;transport=tcp"
    assert parse_target("127.0.0.1").uri() == "sip:127.0.0.1:5060"
    assert parse_target("sips:pbx.example.com").uri("1") == "sips:1@pbx.example.com:5061"
    assert parse_target("wss://h:8089/ws").url == "wss://h:8089/ws"
    assert parse_target("udp:h").url is None
    assert parse_target("[::1]:7048").address == ("::1", 7048)


ERRORS = [
    ("", "empty"),
    ("   ", "empty"),
    ("udp:", "host is missing"),
    ("sip:", "host is missing"),
    ("sip:6961@", "host is missing"),
    ("sctp:pbx.example.com", "'sctp:' is not a known prefix"),
    ("pbx.example.com:abc", "'abc' is not a port number"),
    ("pbx.example.com:70000", "port 70000 is out of range"),
    ("pbx.example.com:0", "port 0 is out of range"),
    ("http://pbx.example.com/ws", "unsupported URL scheme 'http'"),
    ("sips:pbx.example.com;transport=udp", "transport=udp is not allowed"),
    ("pbx.example.com;transport=sctp", "unknown transport 'sctp'"),
    ("999.1.1.1", "not a valid IPv4 address"),
    ("[::1", "unclosed '['"),
    ("[fe80::zz]:5060", "not an IPv6 address"),
    ("foo:bar:baz", "write IPv6 as [addr]:port"),
    ("wss://", "host is missing"),
    ("pbx example.com", "white space"),
    ("-bad-.example", "not a valid host name"),
    ("udp:host;transport=tcp", "parameters are not allowed"),
]


@pytest.mark.parametrize("text,problem", ERRORS, ids=[e[0] or "empty" for e in ERRORS])
def test_bad_targets_say_what_is_wrong_and_what_is_expected(text, problem):
    with pytest.raises(TargetError) as info:
        parse_target(text)
    assert isinstance(info.value, ValueError)
    assert problem in str(info.value)
    assert "expected host[:port]" in str(info.value)
    assert "wss://host[:port]/path" in str(info.value)
