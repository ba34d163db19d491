"""Header values a call repeats (From, To, Call-ID, CSeq, Via) are parsed once per
process, not once per message: the memo must never change what a message reads."""

import pytest

from sipclient.proto import views as message_mod
from sipclient.proto.errors import ParseError
from sipclient.proto.message import parse_message


def _response(from_value: str, cseq: str = "1 INVITE") -> bytes:
    return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc\r\n"
            f"From: {from_value}\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: c1@x\r\n"
            f"CSeq: {cseq}\r\nContent-Length: 0\r\n\r\n").encode()


def test_repeated_values_read_the_same_and_are_shared():
    a = parse_message(_response("<sip:a@example.com>;tag=1"))
    b = parse_message(_response("<sip:a@example.com>;tag=1"))
    assert a.from_ == b.from_ and a.from_.tag == "1"
    assert a.from_ is b.from_  # parsed once
    assert a.top_via is b.top_via and a.cseq is b.cseq


def test_a_bad_value_raises_every_time_with_its_header():
    for _ in range(2):
        msg = parse_message(_response("<sip:a@example.com>;tag=1", cseq="x INVITE"))
        with pytest.raises(ParseError) as err:
            msg.cseq  # noqa: B018
        assert err.value.header == "CSeq"


def test_the_memo_is_bounded():
    for i in range(message_mod._MEMO_MAX + 10):  # noqa: SLF001
        parse_message(_response(f"<sip:a{i}@example.com>;tag=1")).from_  # noqa: B018
    assert len(message_mod._MEMO) <= message_mod._MEMO_MAX  # noqa: SLF001
    msg = parse_message(_response("<sip:z@example.com>;tag=9"))
    assert msg.from_.uri.user == "z" and msg.from_.tag == "9"
