"""In-band DTMF detection (ITU-T Q.23 tones, Q.24-style checks) with the Goertzel algorithm.

The audio (8 kHz int16) is cut into blocks of ``block`` samples (102 = 12.75 ms by default).
For each block the Goertzel recurrence ``s[n] = x[n] + 2 cos(w) s[n-1] - s[n-2]`` gives the
power at the four row and four column frequencies (vectorised over blocks and frequencies).
A block *hits* a digit when:

* the strongest row and the strongest column are each above ``min_level_dbfs``;
* twist: the column is at most ``max_twist_db`` below the row (normal twist) and the row at
  most ``max_reverse_twist_db`` below the column (reverse twist);
* each winner beats the other three of its group by ``min_peak_ratio_db``;
* the two tones hold at least ``min_energy_share`` of the block's energy (rejects speech,
  noise and music, whose energy is spread).

Debouncing: a digit starts after hits in enough consecutive blocks to cover ``min_duration``
and ends after ``end_blocks`` blocks without it (one dropped block does not split a digit).
:class:`DtmfDetector` streams (``feed`` / ``flush``); :func:`detect_dtmf` runs on a clip.
"""

from __future__ import annotations

import functools

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sipclient.media.dtmf import COLUMN_FREQUENCIES, DTMF_FREQUENCIES, ROW_FREQUENCIES

__all__ = ["DetectedDigit", "DtmfDetector", "detect_dtmf", "goertzel_power"]

_FULL_SCALE = 32767.0
_FREQUENCIES = np.array(ROW_FREQUENCIES + COLUMN_FREQUENCIES, dtype=np.float64)
_DIGIT_AT = {pair: digit for digit, pair in DTMF_FREQUENCIES.items()}


@dataclass(frozen=True)
class DetectedDigit:
    """A detected digit: ``start`` and ``duration`` in seconds from the first sample fed."""

    digit: str
    start: float
    duration: float


def goertzel_power(blocks: np.ndarray, frequencies: npt.ArrayLike, sample_rate: int) -> np.ndarray:
    """|X(f)|^2 of each row of ``blocks`` (shape (count, N)) at each frequency -> (count, F).

    The generalised Goertzel value ``s1^2 + s2^2 - 2cos(w) s1 s2`` after N samples equals
    ``|sum x[n] e^{-jwn}|^2`` (``f`` need not fall on a DFT bin), so it is computed as two
    matrix products against a cached cos/sin basis: the same number, without a Python loop
    over samples (this runs on every received 20 ms frame of every call).
    """
    cos, sin = _basis(blocks.shape[1], tuple(np.asarray(frequencies, dtype=np.float64).ravel()),
                      sample_rate)
    blocks = np.asarray(blocks, dtype=np.float64)
    re, im = blocks @ cos, blocks @ sin
    return re * re + im * im


@functools.lru_cache(maxsize=32)
def _basis(n: int, frequencies: tuple[float, ...], sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    phase = np.outer(np.arange(n), 2 * np.pi * np.asarray(frequencies) / sample_rate)
    cos, sin = np.cos(phase), np.sin(phase)
    cos.flags.writeable = sin.flags.writeable = False
    return cos, sin


class DtmfDetector:
    """Streaming Goertzel DTMF detector; see the module docstring for the checks."""

    def __init__(
        self,
        sample_rate: int = 8000,
        block: int = 102,
        *,
        min_level_dbfs: float = -36.0,
        max_twist_db: float = 8.0,
        max_reverse_twist_db: float = 8.0,
        min_peak_ratio_db: float = 6.0,
        min_energy_share: float = 0.7,
        min_duration: float = 0.025,
        end_blocks: int = 2,
    ) -> None:
        self.sample_rate = sample_rate
        self.block = block
        # a sine of amplitude A on the Goertzel frequency gives |X|^2 ~ (A * N / 2)^2
        self._min_power = (_FULL_SCALE * 10 ** (min_level_dbfs / 20) * block / 2) ** 2
        self._max_twist = 10 ** (max_twist_db / 10)
        self._max_reverse_twist = 10 ** (max_reverse_twist_db / 10)
        self._peak_ratio = 10 ** (min_peak_ratio_db / 10)
        self._min_energy_share = min_energy_share
        self._start_blocks = max(1, math.ceil(min_duration * sample_rate / block))
        self._end_blocks = end_blocks
        self._pending = np.zeros(0, dtype=np.float64)
        self._blocks_seen = 0
        self._candidate: str | None = None  # digit hit in the latest blocks
        self._candidate_start = 0
        self._candidate_run = 0
        self._candidate_last = -1
        self._active: str | None = None  # digit confirmed and not yet ended
        self._active_start = 0
        self._active_last = 0  # index of the last block that hit the active digit

    def _classify(self, blocks: np.ndarray) -> list[str | None]:
        """Each block's digit (or None), every check vectorised over the blocks."""
        power = goertzel_power(blocks, _FREQUENCIES, self.sample_rate)
        energy = np.sum(blocks * blocks, axis=1)
        rowp, colp = power[:, :4], power[:, 4:]
        r, c = np.argmax(rowp, axis=1), np.argmax(colp, axis=1)
        at = np.arange(len(blocks))
        row, col = rowp[at, r], colp[at, c]
        # each winner beats the other three of its group: beats the second strongest (a tie
        # for the strongest fails, as the winner cannot beat its equal by the ratio)
        row_next, col_next = np.sort(rowp, axis=1)[:, -2], np.sort(colp, axis=1)[:, -2]
        ok = ((row >= self._min_power) & (col >= self._min_power)
              & (col * self._max_twist >= row) & (row * self._max_reverse_twist >= col)
              & (row >= self._peak_ratio * row_next) & (col >= self._peak_ratio * col_next)
              # tone power of an on-frequency sine: 2 |X|^2 / N is its share of sum(x^2)
              & (2 * (row + col) / self.block >= self._min_energy_share * energy))
        return [_DIGIT_AT[(ROW_FREQUENCIES[ri], COLUMN_FREQUENCIES[ci])] if hit else None
                for hit, ri, ci in zip(ok.tolist(), r.tolist(), c.tolist())]

    def _seconds(self, blocks: int) -> float:
        return blocks * self.block / self.sample_rate

    def _close_active(self) -> DetectedDigit:
        assert self._active is not None
        digit = DetectedDigit(
            self._active, self._seconds(self._active_start),
            self._seconds(self._active_last + 1 - self._active_start),
        )
        self._active = None
        return digit

    def _step(self, hit: str | None, index: int) -> list[DetectedDigit]:
        """Advance the debouncer by one block (``hit``: the block's digit or None)."""
        done: list[DetectedDigit] = []
        if self._active is not None:
            if hit == self._active:
                self._active_last = index
                return done
            if hit is None and index - self._active_last < self._end_blocks:
                return done  # a dropout shorter than end_blocks does not end the digit
            done.append(self._close_active())
        if hit is None:
            self._candidate = None
            return done
        if hit == self._candidate and self._candidate_last == index - 1:
            self._candidate_run += 1
        else:
            self._candidate, self._candidate_start, self._candidate_run = hit, index, 1
        self._candidate_last = index
        if self._candidate_run >= self._start_blocks:
            self._active, self._active_start, self._active_last = hit, self._candidate_start, index
            self._candidate = None
        return done

    def feed(self, samples: npt.ArrayLike) -> list[DetectedDigit]:
        """Feed int16 samples; returns the digits that ended within them."""
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        self._pending = np.concatenate([self._pending, x])
        count = self._pending.size // self.block
        if count == 0:
            return []
        blocks = self._pending[: count * self.block].reshape(count, self.block)
        self._pending = self._pending[count * self.block :]
        done: list[DetectedDigit] = []
        for hit in self._classify(blocks):
            done += self._step(hit, self._blocks_seen)
            self._blocks_seen += 1
        return done

    def flush(self) -> list[DetectedDigit]:
        """End of audio: report a digit still sounding."""
        return [self._close_active()] if self._active is not None else []


def detect_dtmf(samples: npt.ArrayLike, sample_rate: int = 8000, **options: float) -> list[DetectedDigit]:
    """All digits in a clip, in order (options as for :class:`DtmfDetector`)."""
    detector = DtmfDetector(sample_rate, **options)  # type: ignore[arg-type]
    return detector.feed(samples) + detector.flush()
