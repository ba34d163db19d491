"""GSM 06.10 full rate (RTP payload type 3, RFC 3551 4.5.8) through libgsm and ctypes.

One frame is 160 samples (20 ms at 8 kHz) and 33 bytes (a 4-bit 0xD signature and 260 bits).
libgsm's API (``gsm.h``)::

    gsm  gsm_create(void);
    void gsm_destroy(gsm);
    void gsm_encode(gsm, gsm_signal *source /* int16[160] */, gsm_byte *c /* uint8[33] */);
    int  gsm_decode(gsm, gsm_byte *c, gsm_signal *target);   /* 0, or -1 on a bad frame */

The codec is stateful (long-term predictor, filters), so each direction of each stream owns
one :class:`GsmEncoder` / :class:`GsmDecoder`. Needs ``libgsm.so.1`` (Debian ``libgsm1``).
"""

from __future__ import annotations

import ctypes
from functools import cache

import numpy as np
import numpy.typing as npt

from sipclient.media.codecs._native import NativeState, check_payload, frames_of, load_library
from sipclient.proto.errors import ParseError

__all__ = ["GsmEncoder", "GsmDecoder", "FRAME_SAMPLES", "FRAME_BYTES", "load"]

FRAME_SAMPLES = 160
FRAME_BYTES = 33
_SIGNATURE = 0xD0  # the high nibble of byte 0 of every GSM 06.10 frame

_I16P = ctypes.POINTER(ctypes.c_int16)
_U8P = ctypes.POINTER(ctypes.c_uint8)


@cache
def load() -> ctypes.CDLL:
    """libgsm with argument/return types set; raises CodecUnavailable when missing."""
    lib = load_library("libgsm.so.1", "gsm", codec="GSM", package="libgsm1")
    lib.gsm_create.restype = ctypes.c_void_p
    lib.gsm_create.argtypes = []
    lib.gsm_destroy.restype = None
    lib.gsm_destroy.argtypes = [ctypes.c_void_p]
    lib.gsm_encode.restype = None
    lib.gsm_encode.argtypes = [ctypes.c_void_p, _I16P, _U8P]
    lib.gsm_decode.restype = ctypes.c_int
    lib.gsm_decode.argtypes = [ctypes.c_void_p, _U8P, _I16P]
    return lib


class _GsmState(NativeState):
    _WHAT = "GSM"

    def __init__(self) -> None:
        super().__init__(load())

    def _open(self) -> int:
        return self._lib.gsm_create()

    def _free(self, handle: int) -> None:
        self._lib.gsm_destroy(handle)


class GsmEncoder(_GsmState):
    """Stateful GSM 06.10 encoder: whole 160-sample frames in, 33 bytes per frame out."""

    def encode(self, samples: npt.ArrayLike) -> bytes:
        frames = frames_of(samples, FRAME_SAMPLES, "GSM").copy()  # gsm_encode's source is not const
        handle = self._live_handle()
        out = np.empty((len(frames), FRAME_BYTES), dtype=np.uint8)
        for pcm, code in zip(frames, out):
            self._lib.gsm_encode(handle, pcm.ctypes.data_as(_I16P), code.ctypes.data_as(_U8P))
        return out.tobytes()


class GsmDecoder(_GsmState):
    """Stateful GSM 06.10 decoder: 33-byte frames in, 160 int16 samples per frame out."""

    def decode(self, payload: bytes | bytearray | memoryview) -> np.ndarray:
        data = bytes(payload)
        check_payload(data, FRAME_BYTES, "GSM")
        handle = self._live_handle()
        codes = np.frombuffer(data, dtype=np.uint8).reshape(-1, FRAME_BYTES).copy()
        out = np.empty((len(codes), FRAME_SAMPLES), dtype=np.int16)
        for index, (code, pcm) in enumerate(zip(codes, out)):
            if code[0] & 0xF0 != _SIGNATURE or self._lib.gsm_decode(
                handle, code.ctypes.data_as(_U8P), pcm.ctypes.data_as(_I16P)
            ):
                raise ParseError("GSM frame without the 0xD signature", offset=index * FRAME_BYTES)
        return out.reshape(-1)
