"""G.729 Annex A (RTP payload type 18, RFC 3551 4.5.6) through bcg729 and ctypes.

One frame is 80 samples (10 ms at 8 kHz) and 10 bytes; 20 ms of audio is 2 frames, 20 bytes.
An Annex B comfort-noise (SID) frame is 2 bytes and may only end a payload (RFC 3551 4.5.6).
bcg729's API (``bcg729/encoder.h``, ``bcg729/decoder.h``, version 1.1)::

    ctx *initBcg729EncoderChannel(uint8_t enableVAD);
    void closeBcg729EncoderChannel(ctx *);
    void bcg729Encoder(ctx *, const int16_t inputFrame[80], uint8_t bitStream[10],
                       uint8_t *bitStreamLength);            /* 10, 2 (SID) or 0 (no TX) */
    ctx *initBcg729DecoderChannel(void);
    void closeBcg729DecoderChannel(ctx *);
    void bcg729Decoder(ctx *, const uint8_t bitStream[], uint8_t bitStreamLength,
                       uint8_t frameErasureFlag, uint8_t SIDFrameFlag,
                       uint8_t rfc3389PayloadFlag, int16_t signal[80]);

The encoder runs with VAD off (every frame is a 10-byte speech frame), so the output is
always plain G.729A. Each direction of each stream owns one stateful encoder/decoder.
Needs ``libbcg729.so.0`` (Debian ``libbcg729-0``).
"""

from __future__ import annotations

import ctypes
from functools import cache

import numpy as np
import numpy.typing as npt

from sipclient.media.codecs._native import NativeState, check_payload, frames_of, load_library

__all__ = ["G729Encoder", "G729Decoder", "FRAME_SAMPLES", "FRAME_BYTES", "SID_BYTES", "load"]

FRAME_SAMPLES = 80
FRAME_BYTES = 10
SID_BYTES = 2

_I16P = ctypes.POINTER(ctypes.c_int16)
_U8P = ctypes.POINTER(ctypes.c_uint8)
_U8 = ctypes.c_uint8


@cache
def load() -> ctypes.CDLL:
    """bcg729 with argument/return types set; raises CodecUnavailable when missing."""
    lib = load_library("libbcg729.so.0", "bcg729", codec="G729", package="libbcg729-0")
    lib.initBcg729EncoderChannel.restype = ctypes.c_void_p
    lib.initBcg729EncoderChannel.argtypes = [_U8]
    lib.closeBcg729EncoderChannel.restype = None
    lib.closeBcg729EncoderChannel.argtypes = [ctypes.c_void_p]
    lib.bcg729Encoder.restype = None
    lib.bcg729Encoder.argtypes = [ctypes.c_void_p, _I16P, _U8P, _U8P]
    lib.initBcg729DecoderChannel.restype = ctypes.c_void_p
    lib.initBcg729DecoderChannel.argtypes = []
    lib.closeBcg729DecoderChannel.restype = None
    lib.closeBcg729DecoderChannel.argtypes = [ctypes.c_void_p]
    lib.bcg729Decoder.restype = None
    lib.bcg729Decoder.argtypes = [ctypes.c_void_p, _U8P, _U8, _U8, _U8, _U8, _I16P]
    return lib


class _Channel(NativeState):
    _WHAT = "G.729"
    _CLOSE = ""

    def __init__(self) -> None:
        super().__init__(load())

    def _free(self, handle: int) -> None:
        getattr(self._lib, self._CLOSE)(handle)


class G729Encoder(_Channel):
    """Stateful G.729A encoder (VAD off): whole 80-sample frames in, 10 bytes per frame out."""

    _CLOSE = "closeBcg729EncoderChannel"

    def _open(self) -> int:
        return self._lib.initBcg729EncoderChannel(0)

    def encode(self, samples: npt.ArrayLike) -> bytes:
        frames = frames_of(samples, FRAME_SAMPLES, "G729")
        handle = self._live_handle()
        out = np.zeros((len(frames), FRAME_BYTES), dtype=np.uint8)
        length = _U8(0)
        for pcm, code in zip(frames, out):
            self._lib.bcg729Encoder(
                handle, pcm.ctypes.data_as(_I16P), code.ctypes.data_as(_U8P), ctypes.byref(length)
            )
            if length.value != FRAME_BYTES:  # cannot happen with VAD off
                raise RuntimeError(f"bcg729 produced a {length.value}-byte frame with VAD off")
        return out.tobytes()


class G729Decoder(_Channel):
    """Stateful G.729A decoder: 10-byte frames (and a trailing 2-byte SID) in, int16 out."""

    _CLOSE = "closeBcg729DecoderChannel"

    def _open(self) -> int:
        return self._lib.initBcg729DecoderChannel()

    def decode(self, payload: bytes | bytearray | memoryview) -> np.ndarray:
        data = bytes(payload)
        check_payload(data, FRAME_BYTES, "G729", extra=(SID_BYTES,))
        handle = self._live_handle()
        count = len(data) // FRAME_BYTES
        has_sid = len(data) % FRAME_BYTES == SID_BYTES
        codes = np.frombuffer(data, dtype=np.uint8).copy()
        out = np.empty((count + has_sid, FRAME_SAMPLES), dtype=np.int16)
        for index in range(count + has_sid):
            sid = index == count
            frame = codes[index * FRAME_BYTES : index * FRAME_BYTES + (SID_BYTES if sid else FRAME_BYTES)]
            self._lib.bcg729Decoder(
                handle, frame.ctypes.data_as(_U8P), len(frame), 0, int(sid), 0,
                out[index].ctypes.data_as(_I16P),
            )
        return out.reshape(-1)

    def conceal(self, frames: int = 1) -> np.ndarray:
        """Audio for ``frames`` lost frames (G.729 frame erasure concealment, 80 samples each)."""
        handle = self._live_handle()
        blank = np.zeros(FRAME_BYTES, dtype=np.uint8)
        out = np.empty((frames, FRAME_SAMPLES), dtype=np.int16)
        for pcm in out:
            self._lib.bcg729Decoder(
                handle, blank.ctypes.data_as(_U8P), 0, 1, 0, 0, pcm.ctypes.data_as(_I16P)
            )
        return out.reshape(-1)
