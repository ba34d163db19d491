"""Errors of capture decoding."""

from __future__ import annotations


class CaptureError(Exception):
    """The file is not a capture, or its structure is broken where reading cannot go on.

    ``str()`` names the file and the byte offset: ``"x.pcap: offset 24: ..."``."""

    def __init__(self, reason: str, *, path: str = "", offset: int | None = None) -> None:
        self.reason, self.path, self.offset = reason, path, offset
        where = path
        if offset is not None:
            where = f"{path}: offset {offset}" if path else f"offset {offset}"
        super().__init__(f"{where}: {reason}" if where else reason)


class DecodeError(Exception):
    """One packet cannot be decoded (truncated, garbled): counted and skipped."""
