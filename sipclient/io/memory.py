"""Give memory back to the system once a burst is over (issue 13: RSS after 1,000 un-ACKed
INVITEs must come back to its level).

CPython frees objects into its own pools and glibc keeps freed heap pages for reuse, so the
resident size stays at a burst's peak long after the objects are gone. :func:`release`
forgets the header parse memo (:func:`sipclient.proto.views.clear_memo`), collects reference
cycles and asks glibc to return every free page (``malloc_trim(0)``, through ctypes; a no-op
where the C library has no such call, e.g. musl or macOS). It costs a few milliseconds: the
agent calls it when the last of its ended calls leaves (64*T1 after the end) and no call is
up, never while media of a live call runs.

Trimming returns whole free pages of the C heap, but CPython's own small-object allocator
(pymalloc) takes 1 MiB arenas and gives one back only when not a single object in it lives:
after a burst a few hundred survivors (a report line, a cached value) keep most of the
arenas it touched, and RSS stays near its peak. A process that waits for bursts for days
(``sipclient answer``) therefore runs on the C allocator (``PYTHONMALLOC=malloc``, a
documented CPython setting), where a survivor keeps a 4 KiB page instead of a 1 MiB arena:
:func:`use_c_allocator` re-executes the process with it at start, unless ``PYTHONMALLOC`` is
already set (``PYTHONMALLOC=pymalloc`` keeps CPython's default).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys

from sipclient.proto.views import clear_memo

__all__ = ["release", "use_c_allocator"]

_trim = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = getattr(_libc, "malloc_trim", None)
except OSError:  # pragma: no cover - no C library by that name
    pass


def release() -> bool:
    """Collect garbage and trim the C heap; True when the heap could be trimmed."""
    clear_memo()
    gc.collect()
    if _trim is None:  # pragma: no cover - not glibc
        return False
    _trim(0)
    return True


def use_c_allocator() -> None:
    """Re-execute this process (same pid, arguments and environment) with
    ``PYTHONMALLOC=malloc``, so that :func:`release` can give a burst's memory back (see
    the module docstring). Nothing happens when ``PYTHONMALLOC`` is set already (the
    re-executed process, or a user's choice), without glibc's ``malloc_trim``, or when the
    interpreter's command line is unknown. Call it first thing, before any output."""
    if os.environ.get("PYTHONMALLOC") or _trim is None:
        return
    argv = getattr(sys, "orig_argv", None)
    if not argv or not sys.executable:  # pragma: no cover - an embedded interpreter
        return
    os.environ["PYTHONMALLOC"] = "malloc"
    os.execv(sys.executable, argv)
