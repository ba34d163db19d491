"""Framing SIP messages on byte streams (RFC 3261 sec. 18.3; RFC 5626 sec. 3.5.1, 4.4.1;
RFC 7118 sec. 5).

On a stream (TCP, TLS) a message ends where its Content-Length says; a chunk read from
the socket may hold part of a message or several, so :class:`StreamFramer` keeps a
receive buffer. Between messages, RFC 5626 keep-alives appear: a double CRLF is a *ping*
(answer it with a single CRLF) and a single CRLF is the *pong*.

On a WebSocket (RFC 7118), each text or binary message carries exactly one SIP message
and needs no Content-Length: use :func:`frame_websocket_message`.

Errors: a message that cannot be framed (no or a bad Content-Length, bigger than
``max_message_size``) leaves the stream unusable: :class:`ParseError` is raised and
:attr:`StreamFramer.broken` becomes ``True`` (close the connection, sec. 18.3: "the
transport... MUST close the connection"). A message that is framed correctly but
malformed inside raises :class:`ParseError` with ``broken`` still ``False``: it is
dropped and the events already framed are returned by the next :meth:`StreamFramer.feed`
(``feed(b"")`` is fine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sipclient.proto.errors import LocalProtocolError, ParseError
from sipclient.proto.message import Message, parse_message

__all__ = ["StreamFramer", "KeepAlivePing", "KeepAlivePong", "frame_websocket_message"]


@dataclass(frozen=True)
class KeepAlivePing:
    """A CRLFCRLF keep-alive ping (RFC 5626 sec. 3.5.1): answer with ``b"\\r\\n"``."""

    answer: bytes = b"\r\n"


@dataclass(frozen=True)
class KeepAlivePong:
    """A single CRLF between messages: the pong to our ping (RFC 5626 sec. 4.4.1)."""


_CL_LINE_RE = re.compile(rb"\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


class StreamFramer:
    """Cut a byte stream into SIP messages and keep-alives.

    >>> f = StreamFramer()
    >>> f.feed(b"\\r\\n\\r\\n")
    [KeepAlivePing(answer=b'\\r\\n')]

    A lone CRLF at the very end of what has arrived is reported as a pong at once (a
    client waiting for its pong should not wait for more bytes); a ping split between
    two reads would then show as two pongs, which peers do not do in practice.
    """

    def __init__(self, max_message_size: int = 65536) -> None:
        if max_message_size <= 0:
            raise LocalProtocolError("max_message_size must be positive")
        self.max_message_size = max_message_size
        self._buf = bytearray()
        self._pending: list[Message | KeepAlivePing | KeepAlivePong] = []
        self._broken: ParseError | None = None
        self._need: int | None = None  # total length of the message being received
        self._scan = 0  # where to resume looking for the end of the headers

    @property
    def broken(self) -> bool:
        """True once the stream cannot be framed any more: close the connection."""
        return self._broken is not None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet framed."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message | KeepAlivePing | KeepAlivePong]:
        """Add received bytes; return every complete message and keep-alive, in order."""
        if self._broken is not None:
            raise ParseError(f"stream already broken: {self._broken.reason}",
                             header=self._broken.header)
        self._buf += data
        events, self._pending = self._pending, []
        buf = self._buf
        while buf:
            if self._need is None:
                # between messages: keep-alives (RFC 5626 sec. 3.5.1)
                if buf[0] == 13 or buf[0] == 10:
                    if buf.startswith(b"\r\n\r\n"):
                        del buf[:4]
                        events.append(KeepAlivePing())
                        continue
                    if buf.startswith(b"\r\n"):
                        if len(buf) == 3 and buf[2] == 13:
                            break  # "\r\n\r": wait for the rest of a ping
                        del buf[:2]
                        events.append(KeepAlivePong())
                        continue
                    if buf.startswith(b"\n"):  # a bare LF: tolerate as a pong
                        del buf[:1]
                        events.append(KeepAlivePong())
                        continue
                    break  # a lone "\r": wait
                end = buf.find(b"\r\n\r\n", self._scan)
                if end < 0:
                    self._scan = max(0, len(buf) - 3)
                    if len(buf) > self.max_message_size:
                        self._fail(ParseError(
                            f"no end of headers within {self.max_message_size} bytes",
                            offset=self.max_message_size, status_hint=513))
                    break
                head_len = end + 4
                m = _CL_LINE_RE.search(buf, 0, end)
                if m is None:
                    self._fail(ParseError("message on a stream without Content-Length "
                                          "(RFC 3261 sec. 18.3)", header="Content-Length",
                                          offset=end))
                value = m.group(1).strip()
                if not value.isdigit():
                    self._fail(ParseError(f"bad Content-Length {value[:40]!r} on a stream",
                                          header="Content-Length", offset=m.start() + 1))
                total = head_len + int(value)
                if total > self.max_message_size:
                    self._fail(ParseError(f"message of {total} bytes is bigger than the "
                                          f"limit of {self.max_message_size}",
                                          header="Content-Length", offset=m.start() + 1,
                                          status_hint=513))
                self._need = total
                self._scan = 0
            if len(buf) < self._need:
                break
            chunk = bytes(buf[: self._need])
            del buf[: self._need]
            self._need = None
            try:
                events.append(parse_message(chunk))
            except ParseError:
                # framed but malformed: drop it, keep the stream, hand back what we have
                self._pending = events
                raise
        return events

    def _fail(self, exc: ParseError) -> None:
        self._broken = exc
        self._buf.clear()
        raise exc


def frame_websocket_message(data: bytes | str) -> Message | None:
    """The SIP message carried by one WebSocket message (RFC 7118 sec. 5).

    Text frames may be given as ``str``. A frame holding only whitespace (Asterisk sends
    ``"\\r\\n\\r\\n"`` keep-alives on WebSockets) returns ``None``. Content-Length is
    optional; when present it frames the body as for a datagram.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data.strip():
        return None
    return parse_message(bytes(data))
