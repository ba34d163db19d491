"""RFC 5118 (SIP torture test messages for IPv6): each message of tests/data/rfc5118 (in the
shapes of the RFC's section 4) is parsed, its IPv6 addresses read where a user agent reads
them, and round-tripped byte for byte; one edited is re-serialized and parses the same."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sipclient.cli import EXIT_DATAERR, EXIT_OK, Env, main
from sipclient.media.sdp import parse_sdp
from sipclient.proto.errors import ParseError
from sipclient.proto.message import parse_message



def message_check(*files: str) -> tuple[int, str, str]:
    env = Env(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(["message", "check", *files], env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()

DATA = Path(__file__).resolve().parent.parent / "data" / "rfc5118"

#: file -> (Request-URI host, port), top Via (host, port, received), first Contact host
EXPECTED = {
    "ipv6-good.sip": (("[2001:db8::10]", None), ("[2001:db8::9:1]", None, None),
                      "[2001:db8::1]"),
    # 4.3: the port is inside the brackets, so it is part of the address: no port
    "port-ambiguous.sip": (("[2001:db8::10:5070]", None), ("[2001:db8::9:1]", None, None),
                           "[2001:db8::1]"),
    "port-unambiguous.sip": (("[2001:db8::10]", 5070), ("[2001:db8::9:1]", None, None),
                             "[2001:db8::1]"),
    "via-received-param-with-delim.sip": (("[2001:db8::10]", None),
                                          ("[2001:db8::9:1]", None, "[2001:db8::9:255]"),
                                          None),
    "via-received-param-no-delim.sip": (("[2001:db8::10]", None),
                                        ("[2001:db8::9:1]", None, "2001:db8::9:255"),
                                        "[2001:db8::9:1]"),
    "ipv6-in-sdp.sip": (("[2001:db8::10]", None), ("[2001:db8::20]", None, None),
                        "[2001:db8::20]"),
    "ipv4-mapped-ipv6.sip": (("example.com", None), ("[::ffff:192.0.2.10]", 19823, None),
                             "[::ffff:192.0.2.2]"),
    "mult-ip-in-header.sip": (("host.example.net", None), ("[2001:db8::9:1]", 6050, None),
                              None),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parsed_and_round_tripped(name: str) -> None:
    data = (DATA / name).read_bytes()
    msg = parse_message(data)
    msg.check_views()
    assert bytes(msg) == data  # untouched: byte-exact
    (uri_host, uri_port), (via_host, via_port, received), contact = EXPECTED[name]
    assert (msg.uri_parsed.host, msg.uri_parsed.port) == (uri_host, uri_port)
    via = msg.top_via
    assert (via.host, via.port, via.params.get("received")) == (via_host, via_port, received)
    if contact is not None:
        assert msg.contact[0].uri.host == contact
    # edited: re-serialized from the parsed values, it parses to the same views
    msg.headers["Max-Forwards"] = "69"
    again = parse_message(bytes(msg))
    assert [str(v) for v in again.via] == [str(v) for v in msg.via]
    assert again.uri == msg.uri and again.body == msg.body
    assert again.headers["Max-Forwards"] == "69"


@pytest.mark.parametrize("name, address", [("ipv6-in-sdp.sip", "2001:db8::20"),
                                           ("ipv4-mapped-ipv6.sip", "::ffff:192.0.2.128")])
def test_sdp_ip6_connection(name: str, address: str) -> None:
    sdp = parse_sdp(parse_message((DATA / name).read_bytes()).body)
    assert f"c=IN IP6 {address}" in str(sdp).replace("\r\n", "\n").splitlines()


def test_unbracketed_ipv6_request_uri_is_rejected() -> None:
    # 4.4 (ipv6-bad): an IPv6 address in a SIP URI must be bracketed
    with pytest.raises(ParseError):
        parse_message((DATA / "ipv6-bad.sip").read_bytes()).check_views()
    code, out, _ = message_check(str(DATA / "ipv6-bad.sip"))
    assert code == EXIT_DATAERR and "ipv6-bad.sip" in out


def test_message_check_accepts_the_valid_ones() -> None:
    code, out, err = message_check(*(str(DATA / n) for n in sorted(EXPECTED)))
    assert code == EXIT_OK, out + err
