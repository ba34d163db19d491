"""RTP packets and the sender (RFC 3550 5.1, RFC 3551 4.1); RTP port choice."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipclient.media.ports import RtpPortAllocator
from sipclient.media.rtp import RtpExtension, RtpPacket, RtpSender, seq_delta, ts_delta
from sipclient.proto.errors import LocalProtocolError, ParseError

KNOWN = bytes.fromhex("80 08 1e 61 00 00 05 78 37 96 cb 71") + b"\xd5" * 160


def test_parse_known_packet():
    p = RtpPacket.parse(KNOWN)
    assert (p.version, p.payload_type, p.sequence_number) == (2, 8, 7777)
    assert (p.timestamp, p.ssrc) == (1400, 0x3796CB71)
    assert not p.marker and p.payload == b"\xd5" * 160 and p.csrc == () and p.extension is None
    assert bytes(p) == KNOWN and len(p) == len(KNOWN)


def test_all_header_fields():
    p = RtpPacket(101, 65535, 0xFFFFFFFF, 1, b"\x01\x02\x03\x04", marker=True, csrc=(7, 8),
                  extension=RtpExtension(0xBEDE, b"\x10\xff\x00\x00"), padding=3)
    data = bytes(p)
    assert data[0] == 0x80 | 0x20 | 0x10 | 2 and data[1] == 0x80 | 101
    assert data[-3:] == b"\x00\x00\x03" and len(data) == len(p) == 12 + 8 + 8 + 4 + 3
    assert RtpPacket.parse(data) == p


@pytest.mark.parametrize("data, what", [
    (b"\x80\x00", "< 12"),
    (b"\x40" + bytes(11), "version 1"),
    (b"\x82" + bytes(11) + b"\x00\x00\x00\x01", "CSRC"),
    (b"\x90" + bytes(11) + b"\x00\x00\x00\x05", "extension runs past"),
    (b"\x90" + bytes(11) + b"\x00", "extension header"),
    (b"\xa0" + bytes(11) + b"\x00\x00\x00\x00", "padding count 0"),
    (b"\xa0" + bytes(11) + b"\x00\x00\x00\x09", "padding count 9"),
])
def test_parse_errors(data, what):
    with pytest.raises(ParseError) as info:
        RtpPacket.parse(data)
    assert what in str(info.value) and info.value.offset is not None


def test_field_ranges_checked():
    with pytest.raises(ValueError):
        RtpPacket(128, 0, 0, 0)
    with pytest.raises(ValueError):
        RtpPacket(0, 70000, 0, 0)
    with pytest.raises(ValueError):
        RtpExtension(1, b"\x00")


packets = st.builds(
    RtpPacket, st.integers(0, 127), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1), st.binary(max_size=200), st.booleans(),
    st.lists(st.integers(0, 2**32 - 1), max_size=15).map(tuple),
    st.none() | st.builds(RtpExtension, st.integers(0, 0xFFFF),
                          st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4])),
    st.integers(0, 255))


@settings(max_examples=300, deadline=None)
@given(packets)
def test_hypothesis_round_trip(p):
    assert RtpPacket.parse(bytes(p)) == p and len(bytes(p)) == len(p)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_hypothesis_garbage_is_parse_error_only(data):
    try:
        p = RtpPacket.parse(data)
    except ParseError:
        return
    assert RtpPacket.parse(bytes(p)) == p


def test_serial_arithmetic():
    assert seq_delta(0, 65535) == 1 and seq_delta(65535, 0) == -1 and seq_delta(5, 5) == 0
    assert ts_delta(10, 2**32 - 10) == 20 and ts_delta(2**32 - 10, 10) == -20


def test_sender_random_start_and_steps():
    s = RtpSender(0, 160, rng=random.Random(1))
    again = RtpSender(0, 160, rng=random.Random(1))
    assert (s.ssrc, s.sequence_number, s.timestamp) == (
        again.ssrc, again.sequence_number, again.timestamp)
    p1, p2, p3 = (s.packet(b"x" * 160) for _ in range(3))
    assert p1.marker and not p2.marker and not p3.marker                # first of a talkspurt
    assert p2.sequence_number == (p1.sequence_number + 1) & 0xFFFF
    assert p3.timestamp == (p1.timestamp + 320) & 0xFFFFFFFF
    assert s.packets_sent == 3 and s.octets_sent == 480


def test_sender_wraps_and_talkspurts():
    s = RtpSender(8, 160, ssrc=1, sequence_number=65535, timestamp=2**32 - 160)
    a, b = s.packet(b""), s.packet(b"")
    assert (a.sequence_number, b.sequence_number) == (65535, 0)
    assert (a.timestamp, b.timestamp) == (2**32 - 160, 0)
    s.skip(800)                                     # 100 ms of silence, no packets
    c = s.packet(b"")
    assert c.marker and c.timestamp == 160 + 800 and c.sequence_number == 1
    s.start_talkspurt()
    assert s.packet(b"").marker
    e1 = s.packet(b"ev", payload_type=101, advance=False, marker=True)
    e2 = s.packet(b"ev", payload_type=101, advance=False)
    assert e1.timestamp == e2.timestamp and e2.sequence_number == e1.sequence_number + 1
    assert e1.payload_type == 101 and s.payload_type == 8


# -- ports ------------------------------------------------------------------------------------
def test_ports_even_in_range_and_distinct():
    alloc = RtpPortAllocator(rng=random.Random(3))
    ports = {alloc.allocate() for _ in range(200)}
    assert len(ports) == 200 and all(p % 2 == 0 and 10000 <= p and p + 1 <= 20000 for p in ports)


def test_ports_failure_release_and_exhaustion():
    alloc = RtpPortAllocator(7001, 7006, rng=random.Random(0))       # 7002, 7004 only
    assert alloc.capacity == 2
    a = alloc.allocate()
    alloc.failed(a)                                                  # bind failed: skip it
    b = alloc.allocate()
    assert {a, b} == {7002, 7004}
    with pytest.raises(LocalProtocolError):
        alloc.allocate()
    alloc.release(b)
    assert alloc.allocate() == b
    alloc.forget_failures()
    assert alloc.allocate() == a
    with pytest.raises(LocalProtocolError):
        RtpPortAllocator(7001, 7002)
