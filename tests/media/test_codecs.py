"""The codec registry: static payload types (RFC 3551 table 4), framing, errors."""

from __future__ import annotations

import numpy as np
import pytest

from sipclient.media.audio import dominant_frequency, tone
from sipclient.media.codecs import CODECS, CodecUnavailable, by_name, by_payload_type
from sipclient.media.codecs._native import load_library
from sipclient.proto.errors import LocalProtocolError, ParseError

EXPECTED = {  # name: (payload type, frame samples, frame bytes, bytes per 20 ms)
    "PCMU": (0, 1, 1, 160),
    "GSM": (3, 160, 33, 33),
    "PCMA": (8, 1, 1, 160),
    "G729": (18, 80, 10, 20),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registry_by_name_and_payload_type(name):
    pt, frame_samples, frame_bytes, per_20ms = EXPECTED[name]
    codec = by_name(name.lower())
    assert codec is by_payload_type(pt) is CODECS[name]
    assert (codec.payload_type, codec.clock_rate) == (pt, 8000)
    assert (codec.frame_samples, codec.frame_bytes) == (frame_samples, frame_bytes)
    assert codec.samples_per_20ms == 160 and codec.bytes_per_20ms == per_20ms
    assert codec.bytes_per_packet(40) == 2 * per_20ms
    assert codec.rtpmap == f"{name}/8000"


def test_lookup_forms_and_unknown_codecs():
    assert by_name("PCMU/8000") is by_name("pcmu") is CODECS["PCMU"]
    assert by_name("G729/8000/1") is by_name("G.729") is CODECS["G729"]
    with pytest.raises(KeyError, match="opus"):
        by_name("opus/48000/2")
    with pytest.raises(KeyError):
        by_name("PCMU/16000")
    with pytest.raises(KeyError):
        by_payload_type(101)


def test_g729_ptime_must_be_whole_frames():
    assert CODECS["G729"].samples_per_packet(30) == 240
    with pytest.raises(ValueError):
        CODECS["GSM"].samples_per_packet(30)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_codec_carries_a_tone_through_a_stream(name):
    codec = CODECS[name]
    assert codec.available()
    signal = tone(1000, -10, 1.0)
    encoder, decoder = codec.encoder(), codec.decoder()
    out = []
    for frame in signal.reshape(-1, 160):  # 20 ms packets, as an RTP stream would carry them
        payload = encoder.encode(frame)
        assert len(payload) == codec.bytes_per_20ms
        out.append(decoder.decode(payload))
    encoder.close()
    decoder.close()
    decoded = np.concatenate(out)
    assert decoded.dtype == np.int16 and decoded.size == signal.size
    assert dominant_frequency(decoded[400:]) == pytest.approx(1000, rel=0.01)


@pytest.mark.parametrize("name", ["GSM", "G729"])
def test_partial_frames_are_errors(name):
    codec = CODECS[name]
    with pytest.raises(LocalProtocolError):
        codec.encode(np.zeros(codec.frame_samples + 1, dtype=np.int16))
    with pytest.raises(ParseError):
        codec.decode(b"\xd0" * (codec.frame_bytes + 1))


def test_missing_library_names_the_debian_package():
    with pytest.raises(CodecUnavailable) as info:
        load_library("libnot-there.so.9", "not-there-at-all", codec="G729", package="libbcg729-0")
    assert info.value.package == "libbcg729-0"
    assert "libbcg729-0" in str(info.value) and "G729" in str(info.value)


def test_state_is_freed_and_cannot_be_reused():
    encoder = CODECS["GSM"].encoder()
    encoder.close()
    encoder.close()  # idempotent
    with pytest.raises(ValueError):
        encoder.encode(np.zeros(160, dtype=np.int16))
