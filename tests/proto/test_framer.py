"""Stream framing and keep-alives (RFC 3261 sec. 18.3, RFC 5626 sec. 3.5.1, RFC 7118)."""

from pathlib import Path

import pytest

from sipclient.proto.errors import ParseError
from sipclient.proto.framer import (KeepAlivePing, KeepAlivePong, StreamFramer,
                                    frame_websocket_message)
from sipclient.proto.message import Request, Response

DATA = Path(__file__).resolve().parent.parent / "data" / "messages"
INVITE = (DATA / "seed001_invite1.sip").read_bytes()
OK = (DATA / "asterisk_183_sdp.sip").read_bytes()
REG = (DATA / "seed001_register.sip").read_bytes()


def test_one_byte_chunks():
    f = StreamFramer()
    events = []
    stream = INVITE + OK
    for i in range(len(stream)):
        events += f.feed(stream[i:i + 1])
    assert [bytes(e) for e in events] == [INVITE, OK]
    assert isinstance(events[0], Request) and isinstance(events[1], Response)
    assert f.buffered == 0 and not f.broken


def test_several_messages_and_keepalives_in_one_chunk():
    f = StreamFramer()
    events = f.feed(b"\r\n\r\n" + REG + b"\r\n" + INVITE + OK[:10])
    assert [type(e) for e in events] == [KeepAlivePing, Request, KeepAlivePong, Request]
    assert events[0].answer == b"\r\n"
    assert f.feed(OK[10:]) and f.buffered == 0


@pytest.mark.parametrize("split", [1, 7, 100, len(INVITE) - 296, len(INVITE) - 1])
def test_split_anywhere(split):
    f = StreamFramer()
    assert f.feed(INVITE[:split]) == []
    (msg,) = f.feed(INVITE[split:])
    assert bytes(msg) == INVITE and msg.body.startswith(b"v=0")


def test_lone_crlf_is_a_pong_and_split_ping_waits_for_its_end():
    f = StreamFramer()
    assert f.feed(b"\r\n") == [KeepAlivePong()]
    assert f.feed(b"\r\n\r") == []
    assert f.feed(b"\n") == [KeepAlivePing()]


def test_missing_content_length_breaks_the_stream():
    f = StreamFramer()
    with pytest.raises(ParseError) as info:
        f.feed(REG.replace(b"Content-Length: 0\r\n", b""))
    assert info.value.header == "Content-Length" and f.broken
    with pytest.raises(ParseError):
        f.feed(b"\r\n")


def test_too_big_breaks_the_stream():
    f = StreamFramer(max_message_size=500)
    with pytest.raises(ParseError) as info:
        f.feed(INVITE)
    assert f.broken and info.value.status_hint == 513
    g = StreamFramer(max_message_size=100)
    with pytest.raises(ParseError):
        for i in range(0, 200, 10):
            g.feed(b"x" * 10)  # no end of headers in sight
    assert g.broken


def test_framed_but_malformed_message_is_recoverable():
    bad = b"INVITE sip:a SIP/2.0\r\nBad Line\r\nContent-Length: 0\r\n\r\n"
    f = StreamFramer()
    with pytest.raises(ParseError):
        f.feed(REG + bad + OK)
    assert not f.broken
    events = f.feed(b"")  # what was framed before the error, then the rest
    assert [bytes(e) for e in events] == [REG, OK]
    assert f.feed(b"") == []


def test_websocket_frames():
    assert frame_websocket_message(b"\r\n\r\n") is None
    assert frame_websocket_message("  \r\n") is None
    msg = frame_websocket_message(REG.decode().replace("Content-Length: 0\r\n", ""))
    assert msg.cseq.seq == 57949
    with pytest.raises(ParseError):
        frame_websocket_message(b"garbage\r\n\r\n")
