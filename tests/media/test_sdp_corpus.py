"""Every SDP of the corpus parses strictly and round-trips byte for byte; broken ones are
refused in strict mode with their line number and read in lenient mode."""

import pytest

from sipclient.media.sdp import SdpParseError, parse_sdp

try:
    from tests.media.sdp_corpus import BROKEN, GOOD, load_bytes
except ImportError:  # run from tests/media
    from sdp_corpus import BROKEN, GOOD, load_bytes


def test_corpus_is_there():
    assert len(GOOD) >= 15 and len(BROKEN) >= 2


@pytest.mark.parametrize("name", GOOD)
def test_round_trip_and_views(name):
    data = load_bytes(name)
    sdp = parse_sdp(data)
    assert bytes(sdp) == data and not sdp.warnings
    sdp.origin, sdp.session_name, sdp.connection, sdp.direction
    for i, m in enumerate(sdp.media):
        m.rtpmaps, m.fmtps, m.ptime, m.maxptime, m.rtcp, m.rtcp_mux, m.payload_types
        sdp.media_connection(i), sdp.media_direction(i)
        for pt in m.payload_types:
            m.rtpmap(pt)
    assert parse_sdp(str(sdp)) == sdp


@pytest.mark.parametrize("name", BROKEN)
def test_broken_strict_and_lenient(name):
    data = load_bytes(name)
    with pytest.raises(SdpParseError) as info:
        parse_sdp(data)
    assert info.value.lineno >= 1 and info.value.line in data.decode()
    sdp = parse_sdp(data, lenient=True)
    assert sdp.warnings


def load(name):
    return parse_sdp(load_bytes(name))


def test_seed_offer():
    sdp = load("seed001_invite.sdp")
    (m,) = sdp.media
    assert (m.media, m.port, m.proto) == ("audio", 6000, "RTP/AVP")
    assert m.payload_types == (18, 0, 8, 101)
    assert [(r.encoding, r.clock_rate) for r in m.rtpmaps.values()] == [
        ("G729", 8000), ("PCMU", 8000), ("PCMA", 8000), ("telephone-event", 8000)]
    assert m.fmtp(18) == "annexb=no" and m.fmtp(101) == "0-15"
    assert m.ptime == 20 and sdp.media_direction(0) == "sendrecv"
    assert sdp.media_connection(0).host == "192.168.15.121"
    assert sdp.origin.version == 3818509910 and sdp.session_name == "Intelbras"


def test_seed_typo_line_number():
    data = load_bytes("seed001_aptime_typo.sdp")
    with pytest.raises(SdpParseError) as info:
        parse_sdp(data)
    err = info.value
    assert (err.lineno, err.line) == (13, "aptime:20")
    assert "line 13" in str(err) and "aptime:20" in str(err)
    lenient = parse_sdp(data, lenient=True)
    assert lenient.media[0].ptime is None and lenient.media_direction(0) == "sendrecv"
    assert lenient.warnings == ("line 13: not a <type>=<value> line: 'aptime:20' (skipped)",)


def test_webrtc_attributes_survive():
    sdp = load("webrtc_chrome_offer.sdp")
    m = sdp.media[0]
    assert m.proto == "UDP/TLS/RTP/SAVPF" and m.rtcp_mux
    assert m.rtcp.port == 9 and m.rtcp.address == "0.0.0.0"
    assert sdp.attribute("group") == "BUNDLE audio"
    assert m.attribute("setup") == "actpass" and len(m.attribute_values("candidate")) == 3
    assert m.rtpmap(111).channels == 2 and m.fmtp(111) == "minptime=10;useinbandfec=1"
    names = [a.name for a in m.attributes]
    assert names.index("ice-ufrag") < names.index("fingerprint") < names.index("ssrc")


def test_static_payload_without_rtpmap():
    m = load("gateway_183_early_media.sdp").media[0]
    assert 8 not in m.rtpmaps and m.rtpmap(8).encoding == "PCMA" and m.maxptime == 30


def test_hold_forms():
    assert load("hold_c0_sendonly.sdp").media_connection(0).is_hold
    assert load("hold_sendonly_reoffer.sdp").media_direction(0) == "sendonly"


def test_rejected_image_stream():
    sdp = load("audio_and_rejected_t38.sdp")
    assert [m.media for m in sdp.media] == ["audio", "image"]
    assert sdp.media[1].rejected and not sdp.media[1].is_rtp and sdp.media[1].payload_types == ()
