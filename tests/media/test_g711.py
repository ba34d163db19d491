"""G.711 μ-law / A-law: bit-exact with audioop (the reference Sun g711.c rules) for every input."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest

from sipclient.media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13+: the digests below still pin audioop's output
        audioop = None

ALL_LINEAR = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))

# sha256 of audioop.lin2ulaw/lin2alaw over all 65536 inputs (-32768..32767, little-endian)
# and of audioop.ulaw2lin/alaw2lin over all 256 codes, computed with CPython 3.11's audioop.
AUDIOOP_SHA256 = {
    "lin2ulaw": "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a",
    "lin2alaw": "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b",
    "ulaw2lin": "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827",
    "alaw2lin": "e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174",
}
OURS = {
    "lin2ulaw": lambda: ulaw_encode(ALL_LINEAR),
    "lin2alaw": lambda: alaw_encode(ALL_LINEAR),
    "ulaw2lin": lambda: ulaw_decode(ALL_CODES).astype("<i2").tobytes(),
    "alaw2lin": lambda: alaw_decode(ALL_CODES).astype("<i2").tobytes(),
}


@pytest.mark.skipif(audioop is None, reason="audioop was removed in Python 3.13")
@pytest.mark.parametrize("name", sorted(OURS))
def test_bit_exact_with_audioop(name):
    function = getattr(audioop, name)
    argument = ALL_LINEAR.astype("<i2").tobytes() if name.startswith("lin") else ALL_CODES
    assert OURS[name]() == function(argument, 2)


@pytest.mark.parametrize("name", sorted(OURS))
def test_matches_audioop_digest(name):
    assert hashlib.sha256(OURS[name]()).hexdigest() == AUDIOOP_SHA256[name]


def test_known_values_from_g711_tables():
    samples = np.array([0, -1, 1, 32767, -32768, 100, -100], dtype=np.int16)
    assert list(ulaw_encode(samples)) == [0xFF, 0x7E, 0xFF, 0x80, 0x00, 0xF2, 0x72]
    assert list(alaw_encode(samples)) == [0xD5, 0x55, 0xD5, 0xAA, 0x2A, 0xD3, 0x53]
    assert ulaw_decode(bytes([0x00, 0x7F, 0x80, 0xFF])).tolist() == [-32124, 0, 32124, 0]
    assert alaw_decode(bytes([0x55, 0xD5, 0x2A, 0xAA])).tolist() == [-8, 8, -32256, 32256]


@pytest.mark.parametrize("encode,decode", [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_round_trip_error_is_bounded(encode, decode):
    decoded = decode(encode(ALL_LINEAR)).astype(np.int64)
    error = np.abs(decoded - ALL_LINEAR.astype(np.int64))
    # logarithmic quantisation: the error grows with the magnitude, about 1/16 of it at most
    assert np.all(error <= np.abs(ALL_LINEAR.astype(np.int64)) / 16 + 8)
    assert len(encode(ALL_LINEAR)) == ALL_LINEAR.size


def test_codes_round_trip_except_negative_zero():
    assert [c for c in range(256) if alaw_encode(alaw_decode(ALL_CODES))[c] != c] == []
    # μ-law has two zeros: 0x7F ("-0") decodes to 0, which encodes as 0xFF
    assert [c for c in range(256) if ulaw_encode(ulaw_decode(ALL_CODES))[c] != c] == [0x7F]


def test_accepts_lists_and_2d_arrays():
    assert ulaw_encode([0, 1000]) == ulaw_encode(np.array([[0], [1000]], dtype=np.int16))
    assert ulaw_decode(bytearray(b"\x80")).dtype == np.int16
