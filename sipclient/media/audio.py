"""Audio for the media layer: sources, a WAV recorder and analysers, over numpy int16 at 8 kHz.

Levels follow AES17: dBFS is the RMS level relative to a full-scale *sine*, so a sine of peak
32767 reads 0 dBFS and ``tone(1000, level_dbfs=-10)`` measures -10.0 with :func:`level_dbfs`.

* Sources (:class:`Source`): :class:`ToneSource` (one or more sines, each at the given level,
  phase-continuous across reads), :class:`SilenceSource`, :class:`WavSource` (any PCM WAV;
  stereo is mixed down by averaging, other rates are resampled with windowed-sinc band-limited
  interpolation, see :func:`resample`). ``source.frames(160)`` yields 20 ms frames.
* Sink: :class:`WavRecorder` (8 kHz mono 16-bit) keeps the RIFF header sizes right on disk
  every ``flush_seconds`` of audio and on close, so a run that dies leaves a valid WAV.
* Analysers: :func:`dominant_frequency` (Hann window + FFT + Gaussian peak interpolation),
  :func:`level_dbfs` (RMS), :func:`speech_share` / :func:`silence_share` (frame energy threshold).
"""

from __future__ import annotations

import math
import os
import struct
import wave
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "SAMPLE_RATE",
    "FULL_SCALE",
    "Source",
    "ToneSource",
    "SilenceSource",
    "WavSource",
    "WavRecorder",
    "tone",
    "silence",
    "read_wav",
    "write_wav",
    "resample",
    "to_mono",
    "dominant_frequency",
    "level_dbfs",
    "speech_share",
    "silence_share",
]

SAMPLE_RATE = 8000
FULL_SCALE = 32767.0  # peak of a 0 dBFS sine


def _amplitude(level: float) -> float:
    return FULL_SCALE * 10.0 ** (level / 20.0)


def _to_int16(signal: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(signal), -32768, 32767).astype(np.int16)


# --- sources ------------------------------------------------------------------------------


class Source:
    """A stream of int16 mono samples. ``read(n)`` returns exactly ``n`` samples (zero-padded
    past the end of a finite source); ``frames(n)`` yields frames until a finite source ends."""

    sample_rate: int = SAMPLE_RATE

    def read(self, count: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def exhausted(self) -> bool:
        """True once a finite source has delivered all its samples (never for endless ones)."""
        return False

    def frames(self, size: int = 160, count: int | None = None) -> Iterator[np.ndarray]:
        """Frames of ``size`` samples: ``count`` of them, or until the source is exhausted."""
        produced = 0
        while (count is None or produced < count) and not self.exhausted:
            yield self.read(size)
            produced += 1


class ToneSource(Source):
    """Endless sum of sines, each at ``level_dbfs`` (AES17), phase-continuous between reads."""

    def __init__(
        self, frequencies: float | Sequence[float], level_dbfs: float = -10.0,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        self.frequencies = [float(f) for f in np.atleast_1d(frequencies)]
        self.level_dbfs = level_dbfs
        self.sample_rate = sample_rate
        self._position = 0

        # whole-Hz tones repeat every rate / gcd(f, rate) samples: one period is computed
        # once and read in a ring (the same samples, bit for bit, as computing them)
        self._period: np.ndarray | None = None
        if all(f.is_integer() and f > 0 for f in self.frequencies):
            length = 1
            for f in self.frequencies:
                length = math.lcm(length, sample_rate // math.gcd(int(f), sample_rate))
            # whole periods filling a second at least: a frame is mostly one slice
            self._period = self._compute(0, length * -(-sample_rate // length))

    def _compute(self, position: int, count: int) -> np.ndarray:
        n = np.arange(position, position + count, dtype=np.float64)
        signal = np.zeros(count)
        for frequency in self.frequencies:
            # phase from (position * f) mod rate keeps precision over long runs
            signal += np.sin(2 * np.pi * ((n * frequency) % self.sample_rate) / self.sample_rate)
        return _to_int16(signal * _amplitude(self.level_dbfs))

    def read(self, count: int) -> np.ndarray:
        position, self._position = self._position, self._position + count
        if self._period is None:
            return self._compute(position, count)
        period = self._period
        start = position % len(period)
        if start + count <= len(period):
            return period[start:start + count].copy()
        return np.take(period, np.arange(start, start + count), mode="wrap")


class SilenceSource(Source):
    """Endless digital silence."""

    def read(self, count: int) -> np.ndarray:
        return np.zeros(count, dtype=np.int16)


class WavSource(Source):
    """A WAV file as 8 kHz mono int16 (mixed down and resampled on load); ``loop`` repeats it."""

    def __init__(self, path: str | os.PathLike[str], *, loop: bool = False,
                 sample_rate: int = SAMPLE_RATE) -> None:
        self.samples = read_wav(path, sample_rate=sample_rate)
        self.sample_rate = sample_rate
        self.loop = loop and self.samples.size > 0
        self._position = 0

    @property
    def exhausted(self) -> bool:
        return not self.loop and self._position >= self.samples.size

    def read(self, count: int) -> np.ndarray:
        if self.loop:
            index = (self._position + np.arange(count)) % self.samples.size
            self._position = (self._position + count) % self.samples.size
            return self.samples[index]
        chunk = self.samples[self._position : self._position + count]
        self._position += count
        return np.concatenate([chunk, np.zeros(count - chunk.size, dtype=np.int16)])


def tone(frequencies: float | Sequence[float], level_dbfs: float = -10.0, duration: float = 1.0,
         sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``duration`` seconds of a tone (each frequency at ``level_dbfs``) as int16 samples."""
    return ToneSource(frequencies, level_dbfs, sample_rate).read(round(duration * sample_rate))


def silence(duration: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``duration`` seconds of zeros."""
    return np.zeros(round(duration * sample_rate), dtype=np.int16)


# --- WAV files and conversion -------------------------------------------------------------


def to_mono(frames: np.ndarray) -> np.ndarray:
    """(samples, channels) -> samples, averaging the channels (int16 in, int16 out)."""
    if frames.ndim == 1:
        return frames
    return _to_int16(frames.astype(np.float64).mean(axis=1))


def resample(samples: npt.ArrayLike, from_rate: int, to_rate: int, zero_crossings: int = 16) -> np.ndarray:
    """Resample int16 audio by windowed-sinc band-limited interpolation (polyphase form).

    Output sample ``n`` sits at input position ``n * from_rate / to_rate``; it is the input
    convolved with a Kaiser-windowed sinc (``zero_crossings`` per side) centred there. With
    ``L/M = to_rate/from_rate`` in lowest terms there are only ``L`` distinct fractional
    positions, so the kernels are computed once (a polyphase bank). When downsampling, the
    sinc is widened to low-pass at 0.95 x the new Nyquist frequency, so nothing aliases.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if from_rate == to_rate or x.size == 0:
        return _to_int16(x)
    common = math.gcd(from_rate, to_rate)
    up, down = to_rate // common, from_rate // common
    cutoff = min(1.0, to_rate / from_rate) * 0.95  # relative to the input Nyquist
    half = int(math.ceil(zero_crossings / cutoff))
    offsets = np.arange(-half + 1, half + 1)
    distance = (np.arange(up) / up)[:, None] - offsets[None, :]  # (phase, tap)
    bank = cutoff * np.sinc(cutoff * distance) * _kaiser(distance / (half + 1), 8.0)
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    count = x.size * up // down
    out = np.empty(count)
    for start in range(0, count, 8192):
        n = np.arange(start, min(start + 8192, count), dtype=np.int64) * down
        taps = (n // up)[:, None] + offsets[None, :] + half
        out[start : start + n.size] = np.einsum("ij,ij->i", padded[taps], bank[n % up])
    return _to_int16(out)


def _kaiser(relative: np.ndarray, beta: float) -> np.ndarray:
    """Kaiser window evaluated at ``relative`` positions in [-1, 1] (0 outside)."""
    inside = np.clip(1.0 - relative**2, 0.0, None)
    return np.i0(beta * np.sqrt(inside)) / np.i0(beta) * (np.abs(relative) <= 1.0)


def read_wav(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A PCM WAV (8/16/24/32-bit, any channels and rate) as mono int16 at ``sample_rate``."""
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2")
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        data = (bytes3[:, 2].astype(np.int8).astype(np.int16) << 8) | bytes3[:, 1]
    elif width == 4:
        data = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    else:
        raise ValueError(f"{path}: unsupported sample width {width}")
    mono = to_mono(data.astype(np.int16).reshape(-1, channels))
    return resample(mono, rate, sample_rate) if rate != sample_rate else mono.copy()


def write_wav(path: str | os.PathLike[str], samples: npt.ArrayLike, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV."""
    with WavRecorder(path, sample_rate=sample_rate) as recorder:
        recorder.write(samples)


# --- the recorder -------------------------------------------------------------------------

_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


class WavRecorder:
    """Records mono 16-bit PCM to a WAV file that stays valid if the process dies.

    The header is written first with the sizes so far; every ``flush_seconds`` of audio (and
    on :meth:`flush` / :meth:`close`) the data is flushed to the OS and the RIFF and data
    sizes are rewritten. A crash loses at most the audio since the last flush.
    """

    def __init__(self, path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE,
                 flush_seconds: float = 0.5) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.flush_every = max(1, round(flush_seconds * sample_rate))
        self.samples_written = 0
        self._unflushed = 0
        #: why the recording stopped early (a full disk...), with the path; None: it did not
        self.error: str | None = None
        self._file: BinaryIO | None = open(self.path, "wb")
        try:
            self._write_header()
            self._file.flush()
        except OSError as exc:  # nothing recorded: no 0-byte or header-only file is left
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
            self.path.unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

    def _write_header(self) -> None:
        assert self._file is not None
        data_bytes = 2 * self.samples_written
        self._file.seek(0)
        self._file.write(_HEADER.pack(
            b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 1, self.sample_rate,
            2 * self.sample_rate, 2, 16, b"data", data_bytes,
        ))
        self._file.seek(0, os.SEEK_END)

    @property
    def duration(self) -> float:
        """Seconds recorded so far."""
        return self.samples_written / self.sample_rate

    def write(self, samples: npt.ArrayLike) -> None:
        """Append int16 samples."""
        if self._file is None:
            raise ValueError(f"recorder for {self.path} is closed")
        if self.error is not None:
            return  # stopped early: said in ``error``
        pcm = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
        try:
            self._file.write(pcm.astype("<i2").tobytes())
        except OSError as exc:
            self._fail(exc)
            return
        self.samples_written += pcm.size
        self._unflushed += pcm.size
        if self._unflushed >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Push the data to the OS and make the header sizes match it."""
        if self._file is None or self.error is not None:
            return
        try:
            self._file.flush()
            self._write_header()
            self._file.flush()
        except OSError as exc:
            self._fail(exc)
            return
        self._unflushed = 0

    def _fail(self, exc: OSError) -> None:
        """A write failed (ENOSPC...): keep what is on disk, stop, and say so."""
        self.error = (f"recording {self.path} stopped after {self.duration:.1f} s: "
                      f"{exc.strerror or exc}")
        try:
            self._write_header()  # the sizes of what did reach the disk, if it still can
            self._file.flush()    # type: ignore[union-attr]
        except OSError:
            pass

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._file is not None:
            self.flush()
            try:
                self._file.close()
            except OSError as exc:
                if self.error is None:
                    self._fail(exc)
            self._file = None

    def __enter__(self) -> "WavRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- analysers ----------------------------------------------------------------------------


def dominant_frequency(samples: npt.ArrayLike, sample_rate: int = SAMPLE_RATE) -> float:
    """Frequency (Hz) of the strongest spectral peak: Hann window, zero-padded FFT, and
    Gaussian (log-parabolic) interpolation of the peak bin. 0.0 for silence."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size < 3 or not np.any(x != x[0]):
        return 0.0
    x = (x - x.mean()) * np.hanning(x.size)
    size = 1 << max(13, int(math.ceil(math.log2(x.size))) + 1)
    magnitude = np.abs(np.fft.rfft(x, size))
    peak = int(np.argmax(magnitude[1:-1])) + 1
    left, centre, right = np.log(magnitude[peak - 1 : peak + 2] + 1e-12)
    denominator = left - 2 * centre + right
    shift = 0.5 * (left - right) / denominator if denominator else 0.0
    return float((peak + shift) * sample_rate / size)


def level_dbfs(samples: npt.ArrayLike) -> float:
    """RMS level in dBFS (AES17: a full-scale sine is 0 dBFS); -inf for digital silence."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    rms = math.sqrt(float(np.mean(x * x))) if x.size else 0.0
    return 20.0 * math.log10(rms * math.sqrt(2.0) / FULL_SCALE) if rms > 0 else -math.inf


def _frame_levels(samples: npt.ArrayLike, frame: int) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    frames = x[: x.size - x.size % frame].reshape(-1, frame)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(rms * math.sqrt(2.0) / FULL_SCALE)


def speech_share(samples: npt.ArrayLike, threshold_dbfs: float = -45.0, frame: int = 160) -> float:
    """Share (0..1) of whole ``frame``-sample frames whose level is above ``threshold_dbfs``."""
    levels = _frame_levels(samples, frame)
    return float(np.mean(levels > threshold_dbfs)) if levels.size else 0.0


def silence_share(samples: npt.ArrayLike, threshold_dbfs: float = -45.0, frame: int = 160) -> float:
    """Share (0..1) of whole frames at or below ``threshold_dbfs`` (1 - :func:`speech_share`)."""
    levels = _frame_levels(samples, frame)
    return float(np.mean(levels <= threshold_dbfs)) if levels.size else 0.0
