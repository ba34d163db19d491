"""RTCP packets (RFC 3550 6): SR, RR, SDES, BYE, compound, RTT, RFC 5761 demux."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipclient.media.rtcp import (
    Bye, ReceiverReport, ReportBlock, RtcpUnknown, SdesChunk, SenderReport, SourceDescription,
    build_compound, is_rtcp, ntp_from_unix, ntp_middle32, ntp_to_unix, parse_compound,
    round_trip_time,
)
from sipclient.media.rtp import RtpPacket
from sipclient.proto.errors import ParseError

BLOCK = ReportBlock(0x3796CB71, 64, -3, 0x1_0005, 123, 0xB7052000, 0x00054000)


def test_report_block_wire_format():
    data = bytes(BLOCK)
    assert len(data) == 24 and data[4] == 64 and data[5:8] == b"\xff\xff\xfd"   # -3, 24-bit
    assert ReportBlock.parse(data, 0) == BLOCK
    with pytest.raises(ValueError):
        ReportBlock(1, 0, 0x800000, 0, 0)


def test_sr_sdes_bye_compound():
    sr = SenderReport(0x1234, ntp_from_unix(1609521111.5), 160000, 1000, 160000, (BLOCK,))
    sdes = SourceDescription.cname(0x1234, "alice@10.0.0.5")
    bye = Bye((0x1234,), "call ended")
    data = build_compound([sr, sdes, bye])
    assert data[1] == 200 and len(data) % 4 == 0
    assert int.from_bytes(data[2:4], "big") == (4 + 24 + 24) // 4 - 1      # words - 1
    parsed = parse_compound(data)
    assert parsed == [sr, sdes, bye]
    assert parsed[1].chunks[0].cname == "alice@10.0.0.5"
    assert abs(ntp_to_unix(parsed[0].ntp_timestamp) - 1609521111.5) < 1e-6


def test_rr_and_unknown_types_round_trip():
    rr = ReceiverReport(0xABCDEF01, (BLOCK, BLOCK), extension=b"\x00\x00\x00\x01")
    app = RtcpUnknown(204, 3, b"\x00\x00\x00\x01name" + b"data")
    fb = RtcpUnknown(205, 1, bytes(8))
    assert parse_compound(build_compound([rr, app, fb])) == [rr, app, fb]
    assert parse_compound(bytes(ReceiverReport(5))) == [ReceiverReport(5)]


def test_sdes_items_and_padding_boundaries():
    for n in range(0, 9):
        chunk = SdesChunk(9, ((1, b"x" * n), (6, b"tool")))
        sdes = SourceDescription((chunk, chunk))
        assert parse_compound(bytes(sdes)) == [sdes]
    assert Bye((1, 2)) == parse_compound(bytes(Bye((1, 2))))[0]


def test_padding_bit_on_last_packet():
    rr = bytes(ReceiverReport(7))
    header = bytes([rr[0] | 0x20, rr[1]]) + (len(rr) // 4).to_bytes(2, "big")
    padded = header + rr[4:] + b"\x00\x00\x00\x04"
    assert parse_compound(padded) == [ReceiverReport(7)]


@pytest.mark.parametrize("data, what", [
    (b"\x80\xc8", "RTCP packet of 2 bytes"),
    (b"\x40\xc9\x00\x01" + bytes(4), "version 1"),
    (b"\x80\xc9\x00\x05" + bytes(4), "runs past"),
    (b"\x81\xc9\x00\x01" + bytes(4), "too short for 1 report"),
    (b"\x81\xca\x00\x01\x00\x00\x00\x01", "SDES chunk without its null item"),
    (b"\x81\xca\x00\x02\x00\x00\x00\x01\x01\x09ab", "SDES item runs past"),
    (b"\x82\xcb\x00\x01\x00\x00\x00\x01", "BYE shorter"),
    (b"\x81\xcb\x00\x02\x00\x00\x00\x01\x09abc", "reason runs past"),
    (b"\xa0\xc9\x00\x01\x00\x00\x00\x00", "padding count 0"),
    (bytes(ReceiverReport(1)) + b"\x80", "header runs past"),
])
def test_parse_errors(data, what):
    with pytest.raises(ParseError) as info:
        parse_compound(data)
    assert what in str(info.value)


def test_round_trip_time_rfc3550_figure_2():
    # A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s), DLSR = 0x0005:4000 (5.25 s)
    arrival = 0xB7108000 << 16
    assert round_trip_time(arrival, 0xB7052000, 0x00054000) == pytest.approx(6.125)
    assert round_trip_time(arrival, 0, 0) is None
    assert ntp_middle32(arrival) == 0xB7108000


def test_demux_rfc5761():
    assert is_rtcp(bytes(ReceiverReport(1))) and is_rtcp(bytes(Bye((1,))))
    assert not is_rtcp(bytes(RtpPacket(0, 1, 2, 3)))
    assert not is_rtcp(bytes(RtpPacket(96, 1, 2, 3, marker=True)))
    assert not is_rtcp(b"\x80")


blocks = st.builds(ReportBlock, st.integers(0, 2**32 - 1), st.integers(0, 255),
                   st.integers(-0x800000, 0x7FFFFF), *[st.integers(0, 2**32 - 1)] * 4)
ssrc = st.integers(0, 2**32 - 1)
packet = st.one_of(
    st.builds(SenderReport, ssrc, st.integers(0, 2**64 - 1), ssrc, ssrc, ssrc,
              st.lists(blocks, max_size=4).map(tuple)),
    st.builds(ReceiverReport, ssrc, st.lists(blocks, max_size=4).map(tuple)),
    st.builds(SourceDescription, st.lists(st.builds(
        SdesChunk, ssrc, st.lists(st.tuples(st.integers(1, 8), st.binary(max_size=30)),
                                  max_size=3).map(tuple)), max_size=3).map(tuple)),
    st.builds(Bye, st.lists(ssrc, max_size=5).map(tuple), st.none() | st.text(max_size=40)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(packet, min_size=1, max_size=4))
def test_hypothesis_compound_round_trip(packets):
    data = build_compound(packets)
    parsed = parse_compound(data)
    assert parsed == packets and build_compound(parsed) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_hypothesis_garbage_is_parse_error_only(data):
    try:
        parse_compound(data)
    except ParseError:
        pass
