"""GSM 06.10 via libgsm: our packets decode with FFmpeg's own GSM decoder (through PyAV)."""

from __future__ import annotations

import numpy as np
import pytest

from sipclient.media.audio import dominant_frequency, level_dbfs, tone
from sipclient.media.codecs.gsm import GsmDecoder, GsmEncoder
from sipclient.proto.errors import ParseError

try:
    from tests.media.pyav_ref import pyav_decode
except ImportError:  # pragma: no cover - run from inside tests/media
    from pyav_ref import pyav_decode

SETTLE = 320  # skip the first 40 ms while the codec state settles


@pytest.mark.parametrize("frequency", [1000, 440])
def test_our_packets_decode_with_pyav_to_the_same_tone(frequency):
    with GsmEncoder() as encoder:
        payload = encoder.encode(tone(frequency, -10, 1.0))
    assert len(payload) == 50 * 33
    assert all(payload[i] >> 4 == 0xD for i in range(0, len(payload), 33))  # frame signature

    theirs = pyav_decode("gsm", payload, 33)
    assert theirs.dtype == np.int16 and theirs.size == 8000
    assert dominant_frequency(theirs[SETTLE:]) == pytest.approx(frequency, rel=0.01)
    assert level_dbfs(theirs[SETTLE:]) == pytest.approx(-10, abs=2)

    with GsmDecoder() as decoder:
        ours = decoder.decode(payload)
    assert dominant_frequency(ours[SETTLE:]) == pytest.approx(frequency, rel=0.01)
    # GSM 06.10 specifies the decoder bit-exactly: FFmpeg and libgsm agree sample for sample
    assert np.array_equal(ours, theirs)


def test_stateful_stream_equals_one_shot():
    signal = tone([700, 1300], -12, 0.4)
    with GsmEncoder() as whole, GsmEncoder() as stream:
        assert whole.encode(signal) == b"".join(stream.encode(f) for f in signal.reshape(-1, 160))


def test_decoder_rejects_frames_without_signature():
    with GsmDecoder() as decoder:
        with pytest.raises(ParseError) as info:
            decoder.decode(b"\xd0" + bytes(32) + bytes(33))
    assert info.value.offset == 33
