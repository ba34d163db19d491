"""Offer/answer (RFC 3264): offers from a preference list, answers, hold/resume, late offer,
early media, re-offers."""

import pytest

from sipclient.media.offer_answer import (
    Codec, MediaConfig, answer_direction, build_answer, build_offer, negotiate,
)
from sipclient.media.sdp import Origin, parse_sdp
from sipclient.media.sdp_session import SdpSession
from sipclient.proto.errors import LocalProtocolError, ParseError


try:
    from tests.media.sdp_corpus import load_bytes
except ImportError:  # run from tests/media
    from sdp_corpus import load_bytes

ORIGIN = Origin("-", "77", 77, address="10.0.0.5")


def seed_offer():
    return parse_sdp(load_bytes("seed001_invite.sdp"))


def cfg(*codecs, **kw):
    codecs = codecs or ("PCMU", "PCMA", "telephone-event")
    return MediaConfig("10.0.0.5", kw.pop("port", 12000), codecs=codecs, **kw)


def test_offer_from_preferences():
    offer = build_offer(cfg("G729", "PCMU", "PCMA", "GSM", "opus", "telephone-event"), ORIGIN)
    m = offer.media[0]
    assert m.payload_types == (18, 0, 8, 3, 96, 101)
    assert m.fmtp(18) == "annexb=no" and m.fmtp(101) == "0-15"
    assert m.rtpmap(96).encoding == "opus" and m.rtpmap(96).channels == 2
    assert m.ptime == 20 and offer.media_direction(0) == "sendrecv"
    assert offer.connection.host == "10.0.0.5" and m.port == 12000
    assert str(offer) == str(parse_sdp(bytes(offer)))


def test_offer_dynamic_types_avoid_telephone_event():
    offer = build_offer(cfg("opus", "iLBC", "telephone-event", telephone_event_pt=96), ORIGIN)
    assert offer.media[0].payload_types == (97, 98, 96)


def test_unknown_codec_refused():
    with pytest.raises(ValueError):
        cfg("NOPE")


def test_seed_offer_answered_by_pcma_only():
    answer, neg = build_answer(seed_offer(), cfg("PCMA"), ORIGIN)
    m = answer.media[0]
    assert m.payload_types == (8,) and m.port == 12000
    assert answer.media_direction(0) == "sendrecv"
    s = neg.audio
    assert s.codec == Codec("PCMA", 8, 8000, 1, 20, None)
    assert s.telephone_event is None                      # we did not want it
    assert (s.remote_address, s.remote_port) == ("192.168.15.121", 6000)
    assert (s.remote_rtcp_address, s.remote_rtcp_port) == ("192.168.15.121", 6001)
    assert not s.rtcp_mux
    assert s.direction == "sendrecv" and s.sends and s.receives and not s.remote_hold
    assert neg.remote_version == 3818509910


def test_seed_offer_answered_with_telephone_event():
    answer, neg = build_answer(seed_offer(), cfg("PCMA", "PCMU", "telephone-event"), ORIGIN)
    assert answer.media[0].payload_types == (0, 8, 101)       # offerer's order (RFC 3264 6.1)
    assert neg.audio.codec.name == "PCMU" and neg.audio.telephone_event == 101
    assert answer.media[0].fmtp(101) == "0-15"
    ours = cfg("PCMA", "PCMU", "telephone-event", prefer="ours")
    answer, neg = build_answer(seed_offer(), ours, ORIGIN)
    assert answer.media[0].payload_types == (8, 0, 101) and neg.audio.codec.name == "PCMA"


def test_g729_only_against_pcmu_only_is_rejected_with_port_zero():
    offer = build_offer(cfg("G729"), ORIGIN)
    answer, neg = build_answer(offer, cfg("PCMU"), ORIGIN)
    assert answer.media[0].port == 0 and answer.media[0].formats == ("18",)
    assert neg.streams == () and neg.rejected == (0,) and neg.warnings
    back = negotiate(offer, answer, cfg("G729"))
    assert back.streams == () and back.rejected == (0,)


def test_dynamic_payload_numbers_of_the_offerer_are_kept():
    offer = parse_sdp(load_bytes("late_offer_200.sdp"))     # telephone-event 96
    answer, neg = build_answer(offer, cfg("PCMA", "telephone-event"), ORIGIN)
    assert answer.media[0].payload_types == (8, 96) and neg.audio.telephone_event == 96
    assert neg.audio.codec.ptime == 30                                  # their a=ptime


def test_webrtc_offer_intersection():
    offer = parse_sdp(load_bytes("webrtc_chrome_offer.sdp"))
    answer, neg = build_answer(offer, cfg("opus", "PCMU", "telephone-event", rtcp_mux=True), ORIGIN)
    m = answer.media[0]
    # telephone-event at the first codec's rate (opus: 48 kHz, PT 110 in Chrome's offer)
    assert m.proto == "UDP/TLS/RTP/SAVPF" and m.payload_types == (111, 0, 110)
    assert neg.audio.telephone_event == 110 and m.rtpmap(110).clock_rate == 48000
    assert m.rtpmap(111).channels == 2 and neg.audio.codec.clock_rate == 48000
    assert m.rtcp_mux and neg.audio.rtcp_mux and neg.audio.remote_rtcp_port == 55695
    _, neg = build_answer(offer, cfg("PCMU", "telephone-event"), ORIGIN)
    assert neg.audio.telephone_event == 126                           # the 8 kHz one
    assert not neg.audio.rtcp_mux and neg.audio.remote_rtcp_port == 9  # a=rtcp:9


def test_audio_and_image_second_stream_rejected():
    offer = parse_sdp(load_bytes("audio_and_rejected_t38.sdp"))
    answer, neg = build_answer(offer, cfg("PCMA"), ORIGIN)
    assert [m.port for m in answer.media] == [12000, 0]
    assert answer.media[1].media == "image" and neg.rejected == (1,)


@pytest.mark.parametrize("offered, ours, expected", [
    ("sendrecv", "sendrecv", "sendrecv"), ("sendonly", "sendrecv", "recvonly"),
    ("recvonly", "sendrecv", "sendonly"), ("inactive", "sendrecv", "inactive"),
    ("sendrecv", "sendonly", "sendonly"), ("sendonly", "sendonly", "inactive"),
    ("sendrecv", "recvonly", "recvonly"), ("recvonly", "recvonly", "inactive"),
])
def test_answer_direction_table(offered, ours, expected):
    assert answer_direction(offered, ours) == expected


def test_hold_offers_answered():
    for name, remote_hold in (("hold_sendonly_reoffer.sdp", True), ("hold_c0_sendonly.sdp", True)):
        answer, neg = build_answer(parse_sdp(load_bytes(name)), cfg("PCMA"), ORIGIN)
        assert answer.media_direction(0) == "recvonly"
        assert neg.audio.direction == "recvonly" and not neg.audio.sends
        assert neg.audio.remote_hold is remote_hold
    c0 = parse_sdp("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                   "m=audio 4000 RTP/AVP 0\r\n")
    answer, neg = build_answer(c0, cfg("PCMU"), ORIGIN)
    assert answer.media_direction(0) == "recvonly" and neg.audio.remote_hold


def test_negotiate_reads_the_answer():
    offer = build_offer(cfg("PCMU", "PCMA", "telephone-event"), ORIGIN)
    answer = parse_sdp(load_bytes("asterisk_183_answer.sdp"))   # G729 + te 101
    with pytest.raises(ParseError):
        negotiate(offer, answer.with_media(answer.media * 2), cfg())
    neg = negotiate(offer, answer, cfg())
    assert neg.streams == () and neg.rejected == (0,)            # G729 was never offered
    pcma = answer.with_media([answer.media[0].__class__(
        "audio", 14508, "RTP/AVP", ("8", "101"), answer.media[0].lines[2:])])
    neg = negotiate(offer, pcma, cfg())
    s = neg.audio
    assert (s.codec.name, s.codec.payload_type, s.telephone_event) == ("PCMA", 8, 101)
    assert (s.remote_address, s.remote_port) == ("131.196.224.38", 14508)
    assert s.codec.samples_per_packet == 160


# -- the stateful session -------------------------------------------------------------------
def test_session_normal_call_with_early_media():
    uac = SdpSession(cfg("PCMA", "telephone-event"), session_id=1000)
    uas = SdpSession(cfg("PCMA", "PCMU", "telephone-event", port=14000), session_id=5000)
    offer = uac.create_offer()
    assert uac.pending_offer is offer and offer.origin.version == 1000
    answer, neg_uas = uas.receive_offer(bytes(offer))
    early = uac.receive_answer(bytes(answer))                # the 183
    assert early.audio.remote_port == 14000 and not early.repeated
    final = uac.receive_answer(bytes(answer))                # the 200: same o= version
    assert final.repeated and final.streams == early.streams
    assert neg_uas.audio.remote_port == 12000 and neg_uas.audio.codec.name == "PCMA"


def test_session_changed_answer_in_200_replaces_the_early_one():
    uac = SdpSession(cfg("PCMA", "PCMU"), session_id=1)
    offer = uac.create_offer()
    a1, _ = build_answer(offer, cfg("PCMA", port=20000), Origin("-", "9", 9, address="10.0.0.9"))
    a2, _ = build_answer(offer, cfg("PCMA", port=20002), Origin("-", "9", 10, address="10.0.0.9"))
    assert uac.receive_answer(a1).audio.remote_port == 20000
    second = uac.receive_answer(a2)
    assert not second.repeated and second.audio.remote_port == 20002


def test_session_late_offer():
    uac = SdpSession(cfg("PCMU", "telephone-event"), session_id=10)
    uas = SdpSession(cfg("PCMU", "PCMA", "telephone-event", port=16000), session_id=20)
    offer_in_200 = uas.create_offer()                          # INVITE had no body
    answer_in_ack, neg = uac.receive_offer(offer_in_200)
    assert neg.audio.remote_port == 16000 and answer_in_ack.media[0].payload_types == (0, 101)
    back = uas.receive_answer(answer_in_ack)
    assert back.audio.codec.name == "PCMU" and back.audio.remote_port == 12000
    with pytest.raises(LocalProtocolError):
        SdpSession(cfg(), session_id=1).receive_answer(answer_in_ack)


def test_session_hold_resume_and_versions():
    a = SdpSession(cfg("PCMA"), session_id=300)
    b = SdpSession(cfg("PCMA", port=14000), session_id=900)
    first = a.create_offer()
    b_answer, _ = b.receive_offer(first)
    a.receive_answer(b_answer)
    same = a.create_offer()                                     # nothing changed
    assert same.origin.version == 300
    a.hold()
    hold = a.create_offer()
    assert hold.origin.version == 301 and hold.media_direction(0) == "sendonly"
    answer, neg_b = b.receive_offer(hold)
    assert answer.media_direction(0) == "recvonly" and neg_b.audio.remote_hold
    assert answer.origin.version == 901                         # b's answer changed
    assert a.receive_answer(answer).audio.direction == "sendonly"
    a.resume()
    resume = a.create_offer()
    assert resume.origin.version == 302 and resume.media_direction(0) == "sendrecv"
    answer, neg_b = b.receive_offer(resume)
    assert answer.media_direction(0) == "sendrecv" and not neg_b.audio.remote_hold
    assert a.receive_answer(answer).audio.direction == "sendrecv"


def test_session_hold_styles():
    s = SdpSession(cfg("PCMU"), session_id=1)
    s.hold("c0")
    offer = s.create_offer()
    assert offer.connection.is_hold and offer.media_direction(0) == "sendrecv"
    s.hold("inactive")
    assert s.create_offer().media_direction(0) == "inactive"
    r = SdpSession(cfg("PCMU", direction="recvonly"), session_id=1)
    r.hold()
    assert r.create_offer().media_direction(0) == "inactive"      # RFC 3264 8.4
    with pytest.raises(LocalProtocolError):
        s.hold("mute")


def test_session_reads_broken_phone_sdp():
    s = SdpSession(cfg("G729", "PCMU"), session_id=1)
    answer, neg = s.receive_offer(load_bytes("seed001_aptime_typo.sdp"))
    assert neg.audio.codec.name == "G729" and neg.audio.codec.fmtp == "annexb=no"


# -- ports a socket cannot reach (issue 18) ---------------------------------------------------
def _remote(port: int, *extra: str) -> bytes:
    lines = ["v=0", "o=- 1 1 IN IP4 10.0.0.9", "s=-", "c=IN IP4 10.0.0.9", "t=0 0",
             f"m=audio {port} RTP/AVP 0", *extra]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_an_offer_on_port_65535_is_answered_with_no_media_and_says_why():
    answer, neg = build_answer(parse_sdp(_remote(65535)), cfg(), ORIGIN)
    assert neg.streams == () and neg.rejected == (0,)
    assert answer.media[0].port == 0
    assert any("65536" in w for w in neg.warnings), neg.warnings


def test_an_answer_on_port_65535_gives_no_stream_instead_of_rtcp_to_65536():
    offer = build_offer(cfg(), ORIGIN)
    neg = negotiate(offer, parse_sdp(_remote(65535)), cfg())
    assert neg.audio is None and neg.rejected == (0,)
    assert any("RTCP on 65536" in w for w in neg.warnings)


@pytest.mark.parametrize("extra", [("a=rtcp:40000",), ("a=rtcp-mux",)])
def test_port_65535_is_fine_when_rtcp_goes_elsewhere(extra):
    _, neg = build_answer(parse_sdp(_remote(65535, *extra)), cfg(rtcp_mux=True), ORIGIN)
    s = neg.audio
    assert s is not None and s.remote_port == 65535 and s.remote_rtcp_port <= 65535


@pytest.mark.parametrize("conn", ["c=IN IP4 pbx.example.com", "c=IN IP4 999.1.1.1",
                                  "c=IN IP4 \udcff\udcfe"])
def test_a_connection_address_that_is_no_ip_gives_no_stream(conn):
    offer = _remote(4000).decode("utf-8", "surrogateescape").replace("c=IN IP4 10.0.0.9", conn)
    _, neg = build_answer(parse_sdp(offer.encode("utf-8", "surrogateescape"), lenient=True),
                          cfg(), ORIGIN)
    assert neg.audio is None and any("not an IP address" in w for w in neg.warnings)


def test_an_offer_without_any_connection_address_gives_no_stream():
    # issue 18: RTP and RTCP went to ("", port): a ValueError traceback in the RTCP timer
    # and the call's RTP sockets left open after it ended
    offer = _remote(4000).replace(b"c=IN IP4 10.0.0.9\r\n", b"")
    assert b"c=" not in offer
    _, neg = build_answer(parse_sdp(offer, lenient=True), cfg(), ORIGIN)
    assert neg.audio is None and any("no c= address" in w for w in neg.warnings)
