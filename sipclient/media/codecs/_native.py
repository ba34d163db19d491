"""Loading the native codec libraries (libgsm, bcg729) through ctypes, with a clear error.

Only the runtime shared object is needed (``libgsm.so.1`` from Debian's ``libgsm1``,
``libbcg729.so.0`` from ``libbcg729-0``); no headers, no compiler. A missing library raises
:class:`CodecUnavailable`, which names the Debian package to install
(``scripts/install-lab-deps.sh`` installs both).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import numpy as np
import numpy.typing as npt

from sipclient.media.codecs.registry import CodecUnavailable  # noqa: F401 - raised here
from sipclient.proto.errors import LocalProtocolError, ParseError

__all__ = ["CodecUnavailable", "NativeState", "load_library", "frames_of", "check_payload"]


@cache
def _load_cached(soname: str, stem: str) -> ctypes.CDLL | None:
    for candidate in (soname, ctypes.util.find_library(stem)):
        if not candidate:
            continue
        try:
            return ctypes.CDLL(candidate)
        except OSError:
            continue
    return None


def load_library(soname: str, stem: str, *, codec: str, package: str) -> ctypes.CDLL:
    """``ctypes.CDLL(soname)`` (or whatever ``find_library(stem)`` finds), else CodecUnavailable."""
    lib = _load_cached(soname, stem)
    if lib is None:
        raise CodecUnavailable(codec, soname, package)
    return lib


def frames_of(samples: npt.ArrayLike, frame_samples: int, codec: str) -> np.ndarray:
    """Samples as a C-contiguous int16 array of shape (frames, frame_samples).

    A sample count that is not a whole number of frames is local misuse.
    """
    pcm = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
    if pcm.size % frame_samples:
        raise LocalProtocolError(
            f"{codec} encodes whole frames of {frame_samples} samples, got {pcm.size}"
        )
    return pcm.reshape(-1, frame_samples)


def check_payload(payload: bytes, frame_bytes: int, codec: str, extra: tuple[int, ...] = ()) -> None:
    """A payload that is not whole frames (or whole frames plus one of ``extra``) is garbage."""
    if len(payload) % frame_bytes and (len(payload) % frame_bytes) not in extra:
        raise ParseError(
            f"{codec} payload of {len(payload)} bytes is not a whole number of "
            f"{frame_bytes}-byte frames",
            offset=len(payload) - len(payload) % frame_bytes,
        )


class NativeState:
    """A codec state owned by a C library: ``_open()`` returns the handle, ``_free(handle)``
    releases it. Closed once, by :meth:`close`, the ``with`` block or the garbage collector."""

    _WHAT = "codec"

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._handle: int | None = None
        self._lib = lib
        handle = self._open()
        if not handle:
            raise MemoryError(f"{self._WHAT} state initialisation failed")
        self._handle = handle

    def _open(self) -> int:
        raise NotImplementedError

    def _free(self, handle: int) -> None:
        raise NotImplementedError

    def _live_handle(self) -> int:
        if self._handle is None:
            raise ValueError(f"{self._WHAT} codec state used after close()")
        return self._handle

    def close(self) -> None:
        """Free the native state (idempotent; also done by the garbage collector)."""
        if self._handle is not None:
            self._free(self._handle)
            self._handle = None

    def __enter__(self):  # noqa: ANN204 - returns the subclass instance
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
