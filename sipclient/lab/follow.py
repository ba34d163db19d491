"""Waiting on a lab process's own events instead of polling: a line appearing in one of its
log files (Linux inotify on the log directory) or the process's exit (a pidfd, or any file
descriptor that becomes readable when it ends, e.g. ``podman wait``'s output).

    found = wait_for_text(run_dir / "log" / "full", b"Asterisk Ready.", deadline,
                          exits=[pidfd_of(proc.pid)])

Each wake-up is an event (the file changed, the process ended, the deadline passed); the
file is read from where the last read stopped, so a long log is read once.
"""

from __future__ import annotations

import ctypes
import os
import select
import time
from pathlib import Path

__all__ = ["LogFollower", "wait_for_text", "pidfd_of", "wait_exited", "wait_readable"]

_IN_MODIFY = 0x002
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100


class LogFollower:
    """The bytes appended to ``path`` (which may not exist yet), woken by inotify. Its
    directory is created when missing (a container creates its logs there later)."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        watch = libc.inotify_add_watch(fd, os.fsencode(self.path.parent),
                                       _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO)
        if watch < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, f"inotify_add_watch {self.path.parent}")
        self._fd = fd
        self._offset = offset  # where reading starts (the size before a run: its lines only)
        self._tail = b""
        self._seen = 0

    def fileno(self) -> int:
        return self._fd

    def contains(self, needle: bytes) -> bool:
        """Whether ``needle`` was written to the file so far (reads only what is new)."""
        return self.count(needle) > 0

    def count(self, needle: bytes) -> int:
        """How many times ``needle`` was written to the file so far (reads only what is
        new; one follower counts one needle)."""
        try:
            while os.read(self._fd, 65536):  # drain the events that woke us
                pass
        except BlockingIOError:
            pass
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self._seen
        self._offset += len(data)
        chunk = self._tail + data
        self._seen += chunk.count(needle)  # the tail is too short to hold a counted one
        self._tail = chunk[len(chunk) - len(needle) + 1:] if len(needle) > 1 else b""
        return self._seen

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> LogFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pidfd_of(pid: int) -> int | None:
    """A descriptor readable once process ``pid`` ended (None: it is already gone)."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


def wait_for_text(path: Path, needle: bytes, deadline: float, *,
                  exits: list[int] = (), count: int = 1, offset: int = 0) -> str:
    """Wait until ``needle`` is in the file at ``path`` (``count`` times: "found"), one of
    ``exits`` became readable (its process ended: "exited") or ``time.monotonic()`` reached
    ``deadline`` ("timeout"). Reading starts at byte ``offset``."""
    with LogFollower(path, offset) as log:
        while True:
            if log.count(needle) >= count:
                return "found"
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            ready, _, _ = select.select([log, *exits], [], [], left)
            if any(fd in ready for fd in exits) and log.count(needle) < count:
                return "exited"


def wait_exited(pids: list[int], seconds: float) -> bool:
    """Wait until every process of ``pids`` ended (True) or ``seconds`` passed (False)."""
    return wait_readable([fd for fd in map(pidfd_of, pids) if fd is not None], seconds)


def wait_readable(fds: list[int], seconds: float) -> bool:
    """Wait until every descriptor of ``fds`` (pidfds: their processes ended) is readable
    (True) or ``seconds`` passed (False); closes them all."""
    deadline = time.monotonic() + seconds
    fds = list(fds)
    try:
        while fds:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select(fds, [], [], left)
            for fd in ready:
                fds.remove(fd)
                os.close(fd)
        return True
    finally:
        for fd in fds:
            os.close(fd)
