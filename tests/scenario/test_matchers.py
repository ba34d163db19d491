"""expect's conditions (sipclient.scenario.matchers) and send_raw's builder: pure."""

from __future__ import annotations

import pytest

from sipclient.proto.message import parse_message
from sipclient.scenario.matchers import (Conditions, MatchError, StatusSpec, capture_values,
                                         sdp_summary)
from sipclient.scenario.steps.media import media_problems
from sipclient.scenario.steps.raw import build_raw

SDP = ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=Asterisk\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 12000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n")
OK = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport=5070\r\n"
      "From: <sip:1001@lab>;tag=a\r\nTo: <sip:600@lab>;tag=b\r\nCall-ID: abc@host\r\n"
      "CSeq: 2 INVITE\r\nContact: <sip:600@127.0.0.1:7048>\r\nServer: Asterisk PBX 16.28\r\n"
      "Content-Type: application/sdp\r\n"
      f"Content-Length: {len(SDP)}\r\n\r\n{SDP}").encode()
INVITE = ("INVITE sip:1002@lab SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7048;branch=z9hG4bK2\r\n"
          "From: \"Alice\" <sip:1001@lab>;tag=x\r\nTo: <sip:1002@lab>\r\nCall-ID: other@host\r\n"
          "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


def test_status_specs() -> None:
    assert StatusSpec.parse(200).matches(200) and not StatusSpec.parse(200).matches(202)
    assert StatusSpec.parse("2xx").matches(202)
    spec = StatusSpec.parse([180, 183])
    assert spec.matches(183) and not spec.matches(100) and str(spec) == "180 or 183"
    for bad in ("20", "700", "abc", True, []):
        with pytest.raises(MatchError):
            StatusSpec.parse(bad)


def test_selection_by_direction_status_method_and_call() -> None:
    ok, invite = parse_message(OK), parse_message(INVITE)
    cond = Conditions.from_args({"agent": "a", "status": "2xx"})
    assert cond.selects(ok, "in") and not cond.selects(ok, "out") and not cond.selects(invite, "in")
    assert Conditions.from_args({"method": "INVITE", "out": True}).selects(invite, "out")
    assert not Conditions.from_args({"method": "INVITE"}, call_id="abc@host").selects(invite, "in")
    with pytest.raises(MatchError):
        Conditions.from_args({"method": "INVITE", "status": 200})


def test_header_regexes_and_sdp_conditions() -> None:
    ok = parse_message(OK)
    good = Conditions.from_args({"status": 200, "headers": {"Server": "^Asterisk",
                                                             "contact": "<sip:600@"},
                                 "sdp": {"codecs": ["PCMA", "PCMU"], "direction": "sendonly"}})
    assert good.problems(ok) == []
    bad = Conditions.from_args({"status": 200, "headers": {"Server": "^FreeSWITCH",
                                                            "X-Missing": "."},
                                "sdp": {"codecs": ["PCMU", "PCMA"], "direction": "sendrecv"}})
    problems = bad.problems(ok)
    assert len(problems) == 4
    assert any("Server: 'Asterisk PBX 16.28' does not match /^FreeSWITCH/" in p for p in problems)
    assert any("no X-Missing header" in p for p in problems)
    assert any("['PCMA', 'PCMU'] do not include ['PCMU', 'PCMA']" in p for p in problems)
    assert any("direction is sendonly, not sendrecv" in p for p in problems)
    assert "with Server matching /^FreeSWITCH/" in bad.describe()
    assert bad.describe().startswith("a 200 response received")
    no_sdp = Conditions.from_args({"method": "INVITE", "sdp": {"codecs": ["PCMU"]}})
    assert no_sdp.problems(parse_message(INVITE)) == ["no SDP with an audio stream in the body"]
    with pytest.raises(MatchError, match="headers.Contact: bad regular expression"):
        Conditions.from_args({"status": 200, "headers": {"Contact": "(("}})


def test_sdp_summary_leaves_out_telephone_event() -> None:
    assert sdp_summary(SDP.encode()) == (["PCMA", "PCMU"], "sendonly")
    assert sdp_summary(b"") is None


def test_captures() -> None:
    invite = parse_message(INVITE)
    values = capture_values(invite, {"cid": {"header": "Call-ID"},
                                     "who": {"header": "From", "regex": r"<sip:(\d+)@"},
                                     "line": {"header": "To", "regex": r"sip:\d+"}})
    assert values == {"cid": "other@host", "who": "1001", "line": "sip:1002"}
    with pytest.raises(MatchError, match="capture x: the message has no Contact header"):
        capture_values(invite, {"x": {"header": "Contact"}})
    with pytest.raises(MatchError, match="does not match"):
        capture_values(invite, {"x": {"header": "From", "regex": "nothing-like-this"}})


def test_media_conditions_in_words() -> None:
    stats = {"codec": "PCMU", "packets_received": 150, "lost": 3, "mos": 4.1,
             "dominant_hz": 996.0, "dtmf_received": "12"}
    asked, wrong = media_problems(stats, {"codec": "pcmu", "tone": 1000, "max_loss": 0.05,
                                          "min_mos": 4, "min_packets": 100})
    assert wrong == [] and "a 1000 Hz tone (within 25 Hz)" in asked
    _, wrong = media_problems(stats, {"codec": "PCMA", "tone": 440, "dtmf": "1234",
                                      "max_loss": 0.01, "min_mos": 4.3, "min_packets": 200})
    assert len(wrong) == 6
    assert "the tone received is 996 Hz, not 440 Hz (within 25)" in wrong
    assert "DTMF received '12', not '1234'" in wrong
    assert any(w.startswith("2.0 % lost (3 of 153 packets)") for w in wrong)
    _, wrong = media_problems({**stats, "dominant_hz": None}, {"tone": 1000})
    assert wrong and wrong[0].startswith("no tone received")


def test_raw_messages_get_crlf_and_a_right_content_length() -> None:
    data = build_raw("OPTIONS sip:600@lab SIP/2.0\nCall-ID: x\nContent-Length: 99\n\nhello\n")
    assert data == (b"OPTIONS sip:600@lab SIP/2.0\r\nCall-ID: x\r\nContent-Length: 7\r\n\r\n"
                    b"hello\r\n")
    kept = build_raw("OPTIONS sip:600@lab SIP/2.0\nl: 99\n", keep_length=True)
    assert kept == b"OPTIONS sip:600@lab SIP/2.0\r\nl: 99\r\n\r\n"
    assert build_raw("BYE sip:x SIP/2.0\r\n").endswith(b"Content-Length: 0\r\n\r\n")
