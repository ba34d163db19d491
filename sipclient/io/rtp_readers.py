"""One readiness for every RTP socket of the process: :class:`RtpReaders`.

Each call has its own RTP socket (the port its SDP announced), so N calls are N sockets. The
event loop would wake one callback per ready socket (a handle, a context switch into it,
one ``recvfrom`` that often finds a single packet); with hundreds of calls that overhead
costs as much as the packets themselves. Where the system has ``epoll`` (Linux), the RTP
sockets are registered with one epoll set of their own, and the event loop watches only that
set: one callback per loop iteration asks the set which sockets are ready and calls their
readers in one pass. Elsewhere each socket is watched by the loop itself
(``loop.add_reader``), as before. The set is level-triggered: a reader that leaves data
behind (it reads a bounded batch) is called again on the next pass.
"""

from __future__ import annotations

import asyncio
import logging
import select
import weakref
from collections.abc import Callable

__all__ = ["RtpReaders"]

log = logging.getLogger(__name__)


class RtpReaders:
    """The RTP sockets of one loop (see the module docstring)."""

    #: ready sockets handled per pass (the rest are reported again on the next)
    MAX_EVENTS = 1024

    _of: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RtpReaders] = (
        weakref.WeakKeyDictionary())

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> RtpReaders:
        readers = cls._of.get(loop)
        if readers is None:
            readers = cls._of[loop] = cls(loop)
        return readers

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._readers: dict[int, Callable[[], None]] = {}
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._watched = False

    def add(self, fd: int, reader: Callable[[], None]) -> None:
        """Call ``reader()`` whenever ``fd`` has something to read."""
        if self._epoll is None:
            self.loop.add_reader(fd, reader)
            return
        self._readers[fd] = reader
        self._epoll.register(fd, select.EPOLLIN)
        if not self._watched:
            self.loop.add_reader(self._epoll.fileno(), self._ready)
            self._watched = True

    def remove(self, fd: int) -> None:
        if self._epoll is None:
            self.loop.remove_reader(fd)
            return
        if self._readers.pop(fd, None) is not None:
            try:
                self._epoll.unregister(fd)
            except OSError:  # closed already
                pass
        if not self._readers and self._watched:
            self.loop.remove_reader(self._epoll.fileno())
            self._watched = False

    def _ready(self) -> None:
        assert self._epoll is not None
        readers = self._readers
        for fd, _ in self._epoll.poll(0, self.MAX_EVENTS):
            reader = readers.get(fd)
            if reader is None:
                continue
            try:
                reader()
            except Exception:  # noqa: BLE001 - one broken reader must not starve the rest
                log.exception("RTP reader of fd %d", fd)
