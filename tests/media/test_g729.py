"""G.729A via bcg729: our packets decode with FFmpeg's own G.729 decoder (through PyAV)."""

from __future__ import annotations

import numpy as np
import pytest

from sipclient.media.audio import dominant_frequency, level_dbfs, tone
from sipclient.media.codecs.g729 import G729Decoder, G729Encoder

try:
    from tests.media.pyav_ref import pyav_decode
except ImportError:  # pragma: no cover - run from inside tests/media
    from pyav_ref import pyav_decode

SETTLE = 320


@pytest.mark.parametrize("frequency", [1000, 440])
@pytest.mark.parametrize("packet_bytes", [10, 20])  # one frame, or 20 ms = two frames per packet
def test_our_packets_decode_with_pyav_to_the_same_tone(frequency, packet_bytes):
    with G729Encoder() as encoder:
        payload = encoder.encode(tone(frequency, -10, 1.0))
    assert len(payload) == 100 * 10

    theirs = pyav_decode("g729", payload, packet_bytes)
    assert theirs.size == 8000
    assert dominant_frequency(theirs[SETTLE:]) == pytest.approx(frequency, rel=0.01)
    assert level_dbfs(theirs[SETTLE:]) == pytest.approx(-10, abs=2)

    with G729Decoder() as decoder:
        ours = decoder.decode(payload)
    assert dominant_frequency(ours[SETTLE:]) == pytest.approx(frequency, rel=0.01)
    assert level_dbfs(ours[SETTLE:]) == pytest.approx(level_dbfs(theirs[SETTLE:]), abs=1)
    # G.729 (FFmpeg) and G.729A (bcg729) post-filters differ slightly: same waveform, not bits
    assert np.corrcoef(ours[SETTLE:], theirs[SETTLE:])[0, 1] > 0.99


def test_sid_frame_and_concealment_produce_audio():
    with G729Encoder() as encoder, G729Decoder() as decoder:
        speech = decoder.decode(encoder.encode(tone(1000, -10, 0.2)))
        lost = decoder.conceal(2)
        after_sid = decoder.decode(bytes(20) + b"\x00\x00")  # two frames then a 2-byte SID
    assert speech.size == 1600 and lost.size == 160 and after_sid.size == 240
    assert dominant_frequency(lost) == pytest.approx(1000, rel=0.05)  # concealment continues the tone


def test_silence_stays_quiet():
    with G729Encoder() as encoder, G729Decoder() as decoder:
        out = decoder.decode(encoder.encode(np.zeros(800, dtype=np.int16)))
    assert level_dbfs(out) < -50
