"""RFC 4733 telephone-events (sender plan, receiver dedup) and SIP INFO DTMF bodies."""

from __future__ import annotations

import random

import pytest

from sipclient.media.dtmf import (
    DtmfReceiver,
    DtmfSender,
    InfoDtmf,
    TelephoneEvent,
    digit_to_event,
    info_body,
    parse_info_body,
)
from sipclient.proto.errors import LocalProtocolError, ParseError


def test_payload_layout_rfc4733_section_2_3():
    event = TelephoneEvent(event=11, end=True, volume=10, duration=800)
    assert event.encode() == bytes([11, 0x80 | 10, 0x03, 0x20])
    assert TelephoneEvent.parse(event.encode()) == event
    assert TelephoneEvent.parse(b"\x05\x4a\x00\xa0") == TelephoneEvent(5, False, 10, 160)  # R bit ignored
    assert event.digit == "#" and TelephoneEvent(16).digit is None


def test_bad_payloads_and_fields():
    with pytest.raises(ParseError):
        TelephoneEvent.parse(b"\x05\x0a\x00")
    with pytest.raises(LocalProtocolError):
        TelephoneEvent(5, volume=64)
    with pytest.raises(LocalProtocolError):
        digit_to_event("E")
    assert [digit_to_event(d) for d in "09*#ad"] == [0, 9, 10, 11, 12, 15]


def test_sender_packet_sequence_for_one_digit():
    packets = DtmfSender(duration_ms=100, interval_ms=20).packets("5", timestamp=48000, start=1.0)
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert {p.timestamp for p in packets} == {48000}
    assert [p.event.duration for p in packets] == [160, 320, 480, 640, 800, 800, 800]
    assert [p.event.end for p in packets] == [False] * 4 + [True] * 3
    assert [round(p.at, 3) for p in packets] == [1.0, 1.02, 1.04, 1.06, 1.08, 1.1, 1.12]
    assert {p.event.event for p in packets} == {5}
    assert packets[-1].payload == bytes([5, 0x8A, 0x03, 0x20])


def test_sender_duration_gap_and_sequences():
    sender = DtmfSender(duration_ms=200, gap_ms=50, interval_ms=20)
    one = sender.packets("#", 0)
    assert len(one) == 9 + 3 and one[-1].event.duration == 1600
    packets = sender.sequence("12", timestamp=0xFFFFFF00, start=0.0)
    first = [p for p in packets if p.event.event == 1]
    second = [p for p in packets if p.event.event == 2]
    assert {p.timestamp for p in second} == {(0xFFFFFF00 + 2000) & 0xFFFFFFFF}  # wraps
    assert second[0].marker and second[0].at == pytest.approx(0.25)
    assert len(first) == len(second)
    with pytest.raises(LocalProtocolError):
        DtmfSender(duration_ms=9000)  # beyond the 16-bit duration field at 8 kHz


def _stream(digits: str) -> list[tuple[bytes, int]]:
    return [(p.payload, p.timestamp) for p in DtmfSender().sequence(digits, timestamp=1000)]


def test_receiver_reports_each_digit_once_with_its_duration():
    receiver = DtmfReceiver()
    digits = [d for payload, ts in _stream("123#") for d in receiver.receive(payload, ts)]
    assert [d.digit for d in digits] == list("123#")
    assert all(d.ended and d.duration == 800 and d.duration_ms() == 100 for d in digits)
    assert receiver.flush() == []


def test_receiver_survives_loss_duplicates_and_retransmitted_ends():
    rng = random.Random(4733)
    stream = _stream("5500*")
    lossy = []
    for index, packet in enumerate(stream):
        if index % 7 in (0, 1):  # the start packets of every digit are lost
            continue
        lossy += [packet] * rng.choice([1, 2, 3])  # duplicates
    lossy += stream[-3:]  # the end packets arrive yet again, late
    receiver = DtmfReceiver()
    digits = [d for payload, ts in lossy for d in receiver.receive(payload, ts)] + receiver.flush()
    assert "".join(d.digit for d in digits) == "5500*"


def test_receiver_closes_a_digit_whose_end_packets_were_lost():
    stream = _stream("78")
    without_ends = [p for p in stream if not TelephoneEvent.parse(p[0]).end]
    receiver = DtmfReceiver()
    digits = [d for payload, ts in without_ends for d in receiver.receive(payload, ts)]
    assert [(d.digit, d.ended, d.duration) for d in digits] == [("7", False, 640)]
    assert [(d.digit, d.ended) for d in receiver.flush()] == [("8", False)]


def test_receiver_ignores_late_packets_of_an_older_event():
    stream = _stream("12")
    receiver = DtmfReceiver()
    receiver.receive(*stream[7])  # digit 2 starts first (reordering)
    assert receiver.receive(*stream[0]) == []  # a late packet of digit 1
    assert [d.digit for p in stream[8:] for d in receiver.receive(*p)] == ["2"]


@pytest.mark.parametrize("digit", list("0123456789*#ABCD"))
def test_info_dtmf_relay_round_trip(digit):
    body = info_body(digit, duration_ms=160)
    assert body == f"Signal={digit}\r\nDuration=160\r\n".encode()
    assert parse_info_body("application/dtmf-relay", body) == InfoDtmf(digit, 160)
    plain = info_body(digit, content_type="application/dtmf")
    assert plain == digit.encode()
    assert parse_info_body("Application/DTMF", plain) == InfoDtmf(digit)


def test_info_parsing_is_forgiving_of_real_world_variants():
    assert parse_info_body("application/dtmf-relay", "signal= 5\nduration = 250") == InfoDtmf("5", 250)
    assert parse_info_body("application/dtmf-relay;charset=x", b"Signal=11\r\n") == InfoDtmf("#", None)
    assert parse_info_body("application/dtmf", b"b\r\n") == InfoDtmf("B")


@pytest.mark.parametrize("content_type,body", [
    ("application/dtmf-relay", "Duration=160"),
    ("application/dtmf-relay", "Signal=Z\r\nDuration=160"),
    ("application/dtmf-relay", "Signal=1\r\nDuration=long"),
    ("application/dtmf", ""),
    ("text/plain", "Signal=1"),
])
def test_info_garbage_is_a_parse_error(content_type, body):
    with pytest.raises(ParseError):
        parse_info_body(content_type, body)
