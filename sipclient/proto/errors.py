"""Errors of the protocol core.

Two kinds, as in h11: :class:`ParseError` is *remote* garbage (the peer, a file or a capture
sent something malformed) and carries where it went wrong and the SIP status a server would
answer with; :class:`LocalProtocolError` is *local* misuse (our own code asked for something
the protocol does not allow). Nothing else escapes the core on bad input.
"""

from __future__ import annotations


class SipError(Exception):
    """Base class of every error the core raises on purpose."""


class ParseError(SipError, ValueError):
    """Malformed input from the outside world.

    ``header`` names the header being parsed (``None`` for the start line or framing),
    ``offset`` is the byte offset into the message where the problem was found (when known),
    and ``status_hint`` is the response a UAS should send (400 by default).
    """

    def __init__(
        self,
        reason: str,
        *,
        header: str | None = None,
        offset: int | None = None,
        status_hint: int = 400,
    ) -> None:
        self.reason = reason
        self.header = header
        self.offset = offset
        self.status_hint = status_hint
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.header is not None:
            where.append(f"header {self.header}")
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        return f"{self.reason} ({', '.join(where)})" if where else self.reason

    def __reduce__(self):  # keep pickling (xdist, multiprocessing) working
        return (_rebuild_parse_error, (self.reason, self.header, self.offset, self.status_hint))


def _rebuild_parse_error(reason, header, offset, status_hint):
    return ParseError(reason, header=header, offset=offset, status_hint=status_hint)


class LocalProtocolError(SipError):
    """Our own code tried something the protocol forbids (a bug or misuse, not remote input)."""
