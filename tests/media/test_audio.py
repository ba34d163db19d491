"""Audio sources, the WAV recorder and the analysers."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import wave

import numpy as np
import pytest

from sipclient.media.audio import (
    SilenceSource,
    ToneSource,
    WavRecorder,
    WavSource,
    dominant_frequency,
    level_dbfs,
    read_wav,
    resample,
    silence,
    silence_share,
    speech_share,
    tone,
    write_wav,
)
from sipclient.media.codecs import CODECS


@pytest.mark.parametrize("frequency", [200, 440, 697, 1000, 1633, 2500, 3400])
def test_dominant_frequency_within_1_percent(frequency):
    assert dominant_frequency(tone(frequency, -20, 1.0)) == pytest.approx(frequency, rel=0.01)
    assert dominant_frequency(tone(frequency, -20, 0.02)) == pytest.approx(frequency, rel=0.01)


@pytest.mark.parametrize("name", sorted(CODECS))
def test_dominant_frequency_after_each_codec(name):
    codec = CODECS[name]
    decoded = codec.decode(codec.encode(tone(1000, -10, 1.0)))
    assert dominant_frequency(decoded[320:]) == pytest.approx(1000, rel=0.01)


def test_levels_follow_aes17():
    assert level_dbfs(tone(1000, 0, 1.0)) == pytest.approx(0, abs=0.01)
    assert level_dbfs(tone(1000, -10, 1.0)) == pytest.approx(-10, abs=0.01)
    assert level_dbfs(tone([697, 1209], -10, 1.0)) == pytest.approx(-10 + 10 * math.log10(2), abs=0.05)
    assert level_dbfs(silence(0.1)) == -math.inf
    assert dominant_frequency(silence(0.1)) == 0.0


def test_speech_and_silence_shares():
    signal = np.concatenate([tone(440, -20, 0.6), silence(0.4)])
    assert speech_share(signal) == pytest.approx(0.6)
    assert silence_share(signal) == pytest.approx(0.4)
    quiet_noise = np.random.default_rng(1).normal(0, 50, 8000).astype(np.int16)  # about -53 dBFS
    assert speech_share(quiet_noise) == 0.0


def test_sources_make_continuous_frames():
    source = ToneSource(1000, -10)
    frames = list(source.frames(160, count=50))
    assert len(frames) == 50 and all(f.shape == (160,) and f.dtype == np.int16 for f in frames)
    assert np.array_equal(np.concatenate(frames), tone(1000, -10, 1.0))  # phase continuous
    assert not np.any(SilenceSource().read(160))


def test_wav_round_trip(tmp_path):
    path = tmp_path / "tone.wav"
    signal = tone([440, 1000], -12, 0.5)
    write_wav(path, signal)
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert wav.getnframes() == signal.size
    assert np.array_equal(read_wav(path), signal)
    source = WavSource(path)
    frames = list(source.frames(160))
    assert len(frames) == 25 and np.array_equal(np.concatenate(frames), signal)
    assert source.exhausted
    looped = WavSource(path, loop=True)
    assert looped.read(signal.size + 10)[-10:].tolist() == signal[:10].tolist()


def _write_raw_wav(path, frames: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1] if frames.ndim == 2 else 1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames.astype("<i2").tobytes())


def test_16khz_stereo_wav_is_mixed_down_and_resampled(tmp_path):
    left = tone(1000, -10, 1.0, sample_rate=16000)
    right = tone([1000, 6000], -10, 1.0, sample_rate=16000)  # 6 kHz must not alias to 2 kHz
    path = tmp_path / "stereo16k.wav"
    _write_raw_wav(path, np.stack([left, right], axis=1), 16000)
    samples = read_wav(path)
    assert samples.size == 8000
    assert dominant_frequency(samples) == pytest.approx(1000, rel=0.01)
    assert level_dbfs(samples) == pytest.approx(-10, abs=0.2)  # the 6 kHz half is filtered out


@pytest.mark.parametrize("rate", [16000, 44100, 48000, 11025])
def test_resampling_keeps_the_tone(rate):
    out = resample(tone(1000, -10, 1.0, sample_rate=rate), rate, 8000)
    assert out.size == 8000
    assert dominant_frequency(out) == pytest.approx(1000, rel=0.001)
    assert level_dbfs(out[100:-100]) == pytest.approx(-10, abs=0.1)


def test_recorder_keeps_header_in_step(tmp_path):
    path = tmp_path / "rec.wav"
    with WavRecorder(path, flush_seconds=0.1) as recorder:
        for frame in ToneSource(440, -10).frames(160, count=25):
            recorder.write(frame)
        assert recorder.duration == 0.5
        with wave.open(str(path)) as wav:  # readable while still recording
            assert wav.getnframes() == 4000
    with wave.open(str(path)) as wav:
        assert wav.getnframes() == 4000


def test_recorder_leaves_a_valid_wav_when_the_process_dies(tmp_path):
    path = tmp_path / "crash.wav"
    script = textwrap.dedent(f"""
        import os
        from sipclient.media.audio import ToneSource, WavRecorder
        recorder = WavRecorder({str(path)!r}, flush_seconds=0.2)
        for frame in ToneSource(1000, -10).frames(160, count=60):  # 1.2 s
            recorder.write(frame)
        os._exit(1)  # killed: no close(), no buffer flush, no atexit
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == 1, result.stderr.decode()
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 8000 and wav.getnchannels() == 1
        recorded = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert recorded.size >= 8000  # at most the last flush interval is lost
    assert dominant_frequency(recorded) == pytest.approx(1000, rel=0.01)


def test_tone_source_period_ring_gives_the_computed_samples():
    """Whole-Hz tones are read from one precomputed period: the same samples, bit for bit,
    as computing every read (any read size, across the period's end, long runs)."""
    import numpy as np

    from sipclient.media import audio

    for freqs in ([1000], [697, 1209], [350, 440], [440.5]):
        ring, computed = audio.ToneSource(freqs), audio.ToneSource(freqs)
        for n in (160, 7, 3000, 160, 8000, 50, 160):
            want = computed._compute(computed._position, n)
            computed._position += n
            got = ring.read(n)
            assert got.dtype == np.int16 and np.array_equal(got, want), freqs
