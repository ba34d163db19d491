"""SDP (RFC 4566) parse/build: views, builders, modifiers, errors with line numbers, and
hypothesis round trips."""

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipclient.media.sdp import (
    Attribute, Connection, Line, MediaDescription, Origin, RtcpAttribute, RtpMap,
    SdpParseError, SessionDescription, parse_sdp,
)
from sipclient.proto.errors import ParseError

SIMPLE = (
    "v=0\r\no=alice 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    "a=sendonly\r\n"
    "m=audio 4000/2 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\na=rtcp:4003 IN IP4 10.0.0.9\r\n"
    "a=recvonly\r\n"
    "m=video 5000 RTP/AVP 31\r\nc=IN IP4 10.0.0.2/127\r\n"
)


def test_views():
    sdp = parse_sdp(SIMPLE)
    assert sdp.version == 0 and sdp.origin == Origin("alice", "1", 2, "IN", "IP4", "10.0.0.1")
    audio, video = sdp.media
    assert (audio.port, audio.port_count, audio.formats) == (4000, 2, ("0", "96"))
    assert audio.rtpmap(96) == RtpMap(96, "opus", 48000, 2) and audio.rtpmap(0).encoding == "PCMU"
    assert audio.rtcp == RtcpAttribute(4003, "10.0.0.9")
    assert sdp.direction == "sendonly"
    assert sdp.media_direction(0) == "recvonly" and sdp.media_direction(1) == "sendonly"
    assert sdp.media_connection(0).host == "10.0.0.1"
    assert sdp.media_connection(1) == Connection("10.0.0.2/127")
    assert video.connection.host == "10.0.0.2"
    assert str(sdp) == SIMPLE


def test_bare_lf_accepted_and_written_as_crlf():
    sdp = parse_sdp(SIMPLE.replace("\r\n", "\n"))
    assert str(sdp) == SIMPLE


def test_build():
    media = MediaDescription.build(
        "audio", 10000, "RTP/AVP", [0, 101],
        attributes=[Attribute("rtpmap", "101 telephone-event/8000"), ("fmtp", "101 0-15"),
                    "ptime:20", "sendrecv"])
    sdp = SessionDescription.build(Origin("-", "42", 42, address="192.0.2.1"), [media],
                                   connection=Connection("192.0.2.1"))
    assert str(sdp) == (
        "v=0\r\no=- 42 42 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 10000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n")
    assert parse_sdp(bytes(sdp)) == sdp


def test_modifiers_are_new_values():
    sdp = parse_sdp(SIMPLE)
    m = sdp.media[0].with_direction("inactive").with_port(0)
    assert m.direction == "inactive" and m.port == 0
    assert [a.name for a in m.attributes] == ["rtpmap", "rtcp", "inactive"]
    assert sdp.media[0].direction == "recvonly"                     # untouched
    held = sdp.media[1].with_direction("sendonly")
    assert held.lines[-1] == Line("a", "sendonly")
    c = sdp.media[0].with_connection(Connection("0.0.0.0"))
    assert c.lines[0] == Line("c", "IN IP4 0.0.0.0") and c.connection.is_hold
    assert sdp.media[1].with_connection(Connection("1.2.3.4")).connection.host == "1.2.3.4"
    assert sdp.media[1].with_connection(None).connection is None
    newer = sdp.with_origin(Origin("alice", "1", 3, address="10.0.0.1"))
    assert newer.origin.version == 3 and str(newer).count("o=") == 1
    assert sdp.with_connection(Connection("::1", "IP6")).connection.addrtype == "IP6"
    with pytest.raises(ValueError):
        m.with_direction("sideways")


@pytest.mark.parametrize("text, lineno, detail", [
    ("v=0\r\no=- 1 2 IN IP4\r\ns=-\r\n", 2, "o= needs 6 fields"),
    ("v=0\r\no=- 1 x IN IP4 h\r\ns=-\r\n", 2, "not a number"),
    ("v=1\r\no=- 1 2 IN IP4 h\r\ns=-\r\n", 1, "unsupported SDP version"),
    ("o=- 1 2 IN IP4 h\r\nv=0\r\ns=-\r\n", 1, "starts with v="),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", 4, "c= needs 3 fields"),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio x RTP/AVP 0\r\n", 4, "port"),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n", 4, "port"),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio\r\n", 4, "m= needs"),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", 5, "rtpmap"),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=ptime:twenty\r\n", 5, ""),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:1 IN\r\n", 5, "rtcp"),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=fmtp:\r\n", 5, "fmtp"),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\n\r\nt=0 0\r\n", 4, "not a <type>=<value>"),
    ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nA=x\r\n", 4, "not a <type>=<value>"),
    ("v=0\r\ns=-\r\n", 1, "no o="),
])
def test_errors_name_the_line(text, lineno, detail):
    with pytest.raises(SdpParseError) as info:
        parse_sdp(text)
    err = info.value
    assert isinstance(err, ParseError) and err.lineno == lineno and detail in str(err)
    assert err.status_hint == 488
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), copy.lineno, copy.line) == (SdpParseError, err.lineno, err.line)
    lenient = parse_sdp(text, lenient=True)
    assert lenient.warnings


def test_error_offset_points_at_the_line():
    text = "v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nbroken\r\n"
    with pytest.raises(SdpParseError) as info:
        parse_sdp(text)
    assert text.encode()[info.value.offset:].startswith(b"broken")


def test_lenient_keeps_the_good_lines():
    text = ("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0 8\r\na=rtpmap:8\r\n"
            "junk\r\na=sendonly\r\n")
    sdp = parse_sdp(text, lenient=True)
    assert len(sdp.warnings) == 2 and sdp.media_direction(0) == "sendonly"
    assert "line 5" in sdp.warnings[0] and "line 6" in sdp.warnings[1]
    assert sdp.media[0].rtpmap(8).encoding == "PCMA"


def test_utf8_and_odd_bytes_round_trip():
    data = "v=0\r\no=- 1 2 IN IP4 h\r\ns=Café\r\nt=0 0\r\n".encode() + b"i=\xff\r\n"
    assert bytes(parse_sdp(data)) == data


# -- hypothesis ------------------------------------------------------------------------------
token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._",
                min_size=1, max_size=12)
value_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)
VALIDATED = {"rtpmap", "fmtp", "ptime", "maxptime", "rtcp"}
attribute = st.one_of(
    st.builds(Attribute, token.filter(lambda n: n not in VALIDATED), st.none() | value_text),
    st.builds(lambda pt, n, r, c: Attribute("rtpmap", str(RtpMap(pt, n, r, c))),
              st.integers(0, 127), token.filter(lambda s: "/" not in s),
              st.integers(1, 96000), st.none() | st.integers(1, 8)),
    st.builds(Attribute, st.sampled_from(["sendrecv", "sendonly", "recvonly", "inactive"])),
    st.builds(lambda p: Attribute("ptime", str(p)), st.integers(1, 200)),
)
media = st.builds(
    lambda kind, port, proto, fmts, attrs, conn: MediaDescription.build(
        kind, port, proto, fmts, attributes=attrs, connection=conn),
    st.sampled_from(["audio", "video", "image", "application"]), st.integers(0, 65535),
    st.sampled_from(["RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", "udptl"]),
    st.lists(st.integers(0, 127), min_size=1, max_size=6),
    st.lists(attribute, max_size=6), st.none() | st.builds(Connection, token))
session = st.builds(
    lambda user, sid, ver, addr, name, attrs, ms: SessionDescription.build(
        Origin(user, str(sid), ver, address=addr), ms, session_name=name, attributes=attrs),
    token, st.integers(0, 2**63), st.integers(0, 2**63), token, value_text.map(lambda s: s or "-"),
    st.lists(attribute, max_size=4), st.lists(media, max_size=3))


@settings(max_examples=200, deadline=None)
@given(session)
def test_hypothesis_round_trip(sdp):
    text = str(sdp)
    again = parse_sdp(text)
    assert again == sdp and str(again) == text and not again.warnings
    for i, m in enumerate(again.media):
        m.rtpmaps, m.ptime, again.media_direction(i)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_hypothesis_garbage_only_parse_errors(text):
    try:
        parse_sdp(text)
    except SdpParseError:
        pass
    parse_sdp(text, lenient=True)       # lenient never raises
