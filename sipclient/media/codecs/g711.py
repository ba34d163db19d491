"""G.711 μ-law (PCMU) and A-law (PCMA), ITU-T G.711 (11/1988), tables 1a/1b and 2a/2b.

Pure numpy and table-driven: the four tables (65,536 linear -> code per law, 256 code ->
linear per law) are built once at import from the segment rules of the reference
implementation (Sun's ``g711.c``, the same rules CPython's ``audioop`` used), so encoding and
decoding are single fancy-indexing operations and bit-exact with ``audioop.lin2ulaw`` /
``lin2alaw`` / ``ulaw2lin`` / ``alaw2lin`` for 16-bit samples:

* μ-law takes the 14 most significant bits (``x >> 2``), clips the magnitude at 8159, adds
  the bias 33 and codes segment and 4-bit step; the code is inverted (all bits) on the wire.
* A-law takes the 13 most significant bits (``x >> 3``), codes segment and step of the
  magnitude (``-x - 1`` for negatives) and inverts the even bits (``^ 0x55``, ``0xD5`` with
  the sign bit set for non-negative samples).

Both codecs are stateless: one byte per sample, 8000 Hz, 160 bytes per 20 ms (RFC 3551 4.5.14).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "ulaw_encode",
    "ulaw_decode",
    "alaw_encode",
    "alaw_decode",
    "ULAW_ENCODE_TABLE",
    "ULAW_DECODE_TABLE",
    "ALAW_ENCODE_TABLE",
    "ALAW_DECODE_TABLE",
]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _segment(magnitude: np.ndarray, seg_end: np.ndarray) -> np.ndarray:
    """The first segment whose end is >= the magnitude (8 when beyond the last one)."""
    return np.searchsorted(seg_end, magnitude, side="left")


def _build_ulaw_encode() -> np.ndarray:
    linear = np.arange(-32768, 32768, dtype=np.int64) >> 2  # 14-bit
    mask = np.where(linear < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(linear), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = _segment(magnitude, _ULAW_SEG_END)
    code = (seg << 4) | ((magnitude >> (seg + 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code) ^ mask
    return _index_by_uint16(code)


def _build_alaw_encode() -> np.ndarray:
    linear = np.arange(-32768, 32768, dtype=np.int64) >> 3  # 13-bit
    mask = np.where(linear >= 0, 0xD5, 0x55)
    magnitude = np.where(linear >= 0, linear, -linear - 1)
    seg = _segment(magnitude, _ALAW_SEG_END)
    step = np.where(seg < 2, magnitude >> 1, magnitude >> np.maximum(seg, 1)) & 0xF
    code = np.where(seg >= 8, 0x7F, (seg << 4) | step) ^ mask
    return _index_by_uint16(code)


def _index_by_uint16(code_for_linear: np.ndarray) -> np.ndarray:
    """Reorder a table built for -32768..32767 so that it is indexed by the uint16 view."""
    return np.roll(code_for_linear.astype(np.uint8), -32768)


def _build_ulaw_decode() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int64) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _build_alaw_decode() -> np.ndarray:
    a = np.arange(256, dtype=np.int64) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


ULAW_ENCODE_TABLE: np.ndarray = _build_ulaw_encode()
ALAW_ENCODE_TABLE: np.ndarray = _build_alaw_encode()
ULAW_DECODE_TABLE: np.ndarray = _build_ulaw_decode()
ALAW_DECODE_TABLE: np.ndarray = _build_alaw_decode()
for _table in (ULAW_ENCODE_TABLE, ALAW_ENCODE_TABLE, ULAW_DECODE_TABLE, ALAW_DECODE_TABLE):
    _table.setflags(write=False)


def _as_uint16(samples: npt.ArrayLike) -> np.ndarray:
    return np.ascontiguousarray(samples, dtype=np.int16).reshape(-1).view(np.uint16)


def _codes(payload: bytes | bytearray | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(payload), dtype=np.uint8)


def ulaw_encode(samples: npt.ArrayLike) -> bytes:
    """16-bit linear PCM -> μ-law bytes (one per sample)."""
    return ULAW_ENCODE_TABLE[_as_uint16(samples)].tobytes()


def alaw_encode(samples: npt.ArrayLike) -> bytes:
    """16-bit linear PCM -> A-law bytes (one per sample)."""
    return ALAW_ENCODE_TABLE[_as_uint16(samples)].tobytes()


def ulaw_decode(payload: bytes | bytearray | memoryview) -> np.ndarray:
    """μ-law bytes -> int16 samples (a new, writable array)."""
    return ULAW_DECODE_TABLE[_codes(payload)]


def alaw_decode(payload: bytes | bytearray | memoryview) -> np.ndarray:
    """A-law bytes -> int16 samples (a new, writable array)."""
    return ALAW_DECODE_TABLE[_codes(payload)]
