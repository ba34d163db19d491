"""Give memory back to the system once a burst is over (issue 13: RSS after 1,000 un-ACKed
INVITEs must come back to its level).

CPython frees objects into its own pools and glibc keeps freed heap pages for reuse, so the
resident size stays at a burst's peak long after the objects are gone. :func:`release`
collects reference cycles and asks glibc to return every free page (``malloc_trim(0)``,
through ctypes; a no-op where the C library has no such call, e.g. musl or macOS). It costs
a few milliseconds: the agent calls it when the last of its ended calls leaves (64*T1 after
the end) and no call is up, never while media of a live call runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

__all__ = ["release"]

_trim = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = getattr(_libc, "malloc_trim", None)
except OSError:  # pragma: no cover - no C library by that name
    pass


def release() -> bool:
    """Collect garbage and trim the C heap; True when the heap could be trimmed."""
    gc.collect()
    if _trim is None:  # pragma: no cover - not glibc
        return False
    _trim(0)
    return True
