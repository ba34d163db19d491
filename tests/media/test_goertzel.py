"""In-band DTMF: the Goertzel detector finds digits made by audio.py and rejects non-DTMF."""

from __future__ import annotations

import numpy as np
import pytest

from sipclient.media.audio import silence, tone
from sipclient.media.codecs import CODECS
from sipclient.media.dtmf import DTMF_FREQUENCIES
from sipclient.media.goertzel import DtmfDetector, detect_dtmf, goertzel_power

ALL = "0123456789*#ABCD"
LEAD = 0.033  # not block aligned on purpose


def keyed(digits: str, on: float = 0.05, off: float = 0.05, level: float = -10.0) -> np.ndarray:
    parts = [silence(LEAD)]
    for digit in digits:
        parts += [tone(DTMF_FREQUENCIES[digit], level, on), silence(off)]
    return np.concatenate(parts)


def speech_like(seconds: float = 2.0, seed: int = 7) -> np.ndarray:
    """A voiced sound: a wandering pitch with harmonics shaped by formants at 700 and 1200 Hz
    (right among the DTMF rows and columns), syllable-rate amplitude, plus breath noise."""
    rng = np.random.default_rng(seed)
    n = np.arange(int(seconds * 8000))
    pitch = 120 + 25 * np.sin(2 * np.pi * 3 * n / 8000)
    phase = 2 * np.pi * np.cumsum(pitch) / 8000
    voice = np.zeros(n.size)
    for harmonic in range(1, 30):
        frequency = harmonic * 120
        weight = np.exp(-((frequency - 700) / 150) ** 2) + np.exp(-((frequency - 1200) / 200) ** 2) + 0.1
        voice += weight / harmonic**0.5 * np.sin(harmonic * phase)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * n / 8000)
    signal = voice * envelope / np.max(np.abs(voice)) * 12000 + rng.normal(0, 800, n.size)
    return np.clip(signal, -32768, 32767).astype(np.int16)


def test_goertzel_matches_the_dft_magnitude():
    block = tone(770, -6, 102 / 8000)[None, :].astype(float)
    power = goertzel_power(block, [770, 1336], 8000)
    n = np.arange(102)
    dft = np.abs(np.sum(block[0] * np.exp(-2j * np.pi * 770 * n / 8000))) ** 2
    assert power[0, 0] == pytest.approx(dft, rel=1e-9)
    assert power[0, 1] < power[0, 0] / 100


def test_detects_all_sixteen_digits_at_minus_10_dbfs_50ms_on_off():
    detected = detect_dtmf(keyed(ALL))
    assert "".join(d.digit for d in detected) == ALL
    for index, digit in enumerate(detected):
        assert digit.start == pytest.approx(LEAD + 0.1 * index, abs=0.015)
        assert 0.025 <= digit.duration <= 0.065


@pytest.mark.parametrize("name", ["PCMU", "PCMA"])
def test_survives_g711(name):
    signal = keyed(ALL)
    signal = signal[: signal.size // 160 * 160]
    codec = CODECS[name]
    assert "".join(d.digit for d in detect_dtmf(codec.decode(codec.encode(signal)))) == ALL


def test_streaming_in_20ms_frames_gives_the_same_digits():
    signal = keyed("147*2580#369")
    detector = DtmfDetector()
    streamed = [d for frame in np.array_split(signal, signal.size // 160) for d in detector.feed(frame)]
    streamed += detector.flush()
    assert streamed == detect_dtmf(signal)


def test_repeated_digit_needs_a_gap():
    assert "".join(d.digit for d in detect_dtmf(keyed("55", off=0.05))) == "55"
    held = np.concatenate([silence(0.02), tone(DTMF_FREQUENCIES["5"], -10, 0.3), silence(0.05)])
    assert [d.digit for d in detect_dtmf(held)] == ["5"]


@pytest.mark.parametrize("signal", [
    pytest.param(tone(1000, -10, 1.0), id="1000Hz"),
    pytest.param(tone([697, 1000], -10, 1.0), id="row-plus-1000Hz"),
    pytest.param(tone([697, 770], -10, 1.0), id="two-rows"),
    pytest.param(speech_like(), id="speech-like"),
    pytest.param(np.random.default_rng(3).normal(0, 4000, 16000).astype(np.int16), id="white-noise"),
])
def test_rejects_non_dtmf(signal):
    assert detect_dtmf(signal) == []


def test_rejects_too_short_too_quiet_and_twisted_tones():
    assert detect_dtmf(keyed("5", on=0.015)) == []
    assert detect_dtmf(keyed("5", level=-45)) == []
    row, column = DTMF_FREQUENCIES["5"]
    twisted = tone(row, -6, 0.1) + tone(column, -20, 0.1)  # column 14 dB below the row
    assert detect_dtmf(twisted) == []


def test_goertzel_power_equals_the_goertzel_recurrence():
    """The matrix form gives the same value as the classic second-order recurrence."""
    import numpy as np

    from sipclient.media.goertzel import goertzel_power

    rng = np.random.default_rng(7)
    blocks = rng.normal(size=(9, 102)) * 3000
    freqs = [697, 770, 852, 941, 1209, 1336, 1477, 1633, 1000.5]
    omega = 2 * np.pi * np.asarray(freqs) / 8000
    coeff = 2 * np.cos(omega)
    s1 = np.zeros((blocks.shape[0], len(freqs)))
    s2 = np.zeros_like(s1)
    for n in range(blocks.shape[1]):
        s1, s2 = blocks[:, n:n + 1] + coeff * s1 - s2, s1
    expected = s1 * s1 + s2 * s2 - coeff * s1 * s2
    assert np.allclose(goertzel_power(blocks, freqs, 8000), expected, rtol=1e-9, atol=1e-6)
