"""SDP, the Session Description Protocol (RFC 4566): parse and build, as values.

A description is kept as its lines, in order: session-level lines (``v= o= s= c= t= a=`` ...)
and one :class:`MediaDescription` per ``m=`` line with the lines under it. Typed views
(:attr:`SessionDescription.origin`, :attr:`MediaDescription.rtpmaps`, ``direction`` ...) are
parsed on access, so an SDP full of attributes this module does not know (ICE candidates,
DTLS fingerprints, ``a=ssrc``, ``a=group:BUNDLE``, preconditions) round-trips unchanged:
``str(parse_sdp(text)) == text`` for any well-formed text with CRLF line endings.

Strict or lenient (``parse_sdp(data, lenient=...)``), strict by default: remote garbage raises
:class:`SdpParseError` (a :class:`~sipclient.proto.errors.ParseError`) naming the line number
and the line, as the rest of the core does. Phones send broken SDP (seed 001's first INVITE
had ``aptime:20``), and a test harness must still read it: with ``lenient=True`` a bad line is
skipped and described in :attr:`SessionDescription.warnings` instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterable

from sipclient.media.sdp_fields import (
    DIRECTIONS, STATIC_PAYLOAD_TYPES, Attribute, Connection, Line, Origin, RtcpAttribute, RtpMap,
    SdpParseError, is_port_number, parse_number,
)

__all__ = [
    "DIRECTIONS", "STATIC_PAYLOAD_TYPES", "Attribute", "Connection", "Line", "MediaDescription",
    "Origin", "RtcpAttribute", "RtpMap", "SdpParseError", "SessionDescription", "parse_sdp",
]

_LINE = re.compile(r"([a-z])=(.*)\Z", re.S)


class _Lines:
    """Typed views shared by session and media sections (both are a list of lines)."""

    lines: tuple[Line, ...]

    def values(self, type_: str) -> list[str]:
        """Values of every ``<type_>=`` line, in order."""
        return [ln.value for ln in self.lines if ln.type == type_]

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        return tuple(Attribute.parse(v) for v in self.values("a"))

    def attribute(self, name: str) -> str | None:
        """The value of the first ``a=<name>`` (``""`` for a property attribute)."""
        for attr in self.attributes:
            if attr.name == name:
                return "" if attr.value is None else attr.value
        return None

    def attribute_values(self, name: str) -> list[str]:
        return [a.value or "" for a in self.attributes if a.name == name]

    @property
    def connection(self) -> Connection | None:
        found = self.values("c")
        return Connection.parse(found[0]) if found else None

    @property
    def direction(self) -> str | None:
        """The explicit direction attribute at this level, if any (RFC 4566 6)."""
        found = [a.name for a in self.attributes if a.name in DIRECTIONS and a.value is None]
        return found[-1] if found else None


@dataclass(frozen=True)
class MediaDescription(_Lines):
    """``m=<media> <port>[/<count>] <proto> <fmt> ...`` and the lines under it (5.14)."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    lines: tuple[Line, ...] = ()
    port_count: int | None = None

    @classmethod
    def build(cls, media: str, port: int, proto: str, formats: Iterable[str | int], *,
              connection: Connection | None = None,
              attributes: Iterable[Attribute | tuple[str, str | None] | str] = ()
              ) -> MediaDescription:
        lines = [Line("c", str(connection))] if connection else []
        lines += [Line("a", str(_attr(a))) for a in attributes]
        return cls(media, port, proto, tuple(str(f) for f in formats), tuple(lines))

    @classmethod
    def parse_m_line(cls, text: str) -> MediaDescription:
        parts = text.split()
        if len(parts) < 3:
            raise ValueError("m= needs media, port and proto")
        port, _, count = parts[1].partition("/")
        if not is_port_number(port) or (count and not count.isdigit()):
            raise ValueError("m= port is not a port number")
        return cls(parts[0], int(port), parts[2], tuple(parts[3:]),
                   port_count=int(count) if count else None)

    @property
    def m_value(self) -> str:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        return " ".join([self.media, port, self.proto, *self.formats])

    def __str__(self) -> str:
        return "".join(f"{ln}\r\n" for ln in (Line("m", self.m_value), *self.lines))

    @property
    def is_rtp(self) -> bool:
        return "RTP/" in self.proto

    @property
    def payload_types(self) -> tuple[int, ...]:
        """The RTP payload types of the format list, in the offered order."""
        return tuple(int(f) for f in self.formats if f.isdigit()) if self.is_rtp else ()

    @property
    def rtpmaps(self) -> dict[int, RtpMap]:
        out: dict[int, RtpMap] = {}
        for value in self.attribute_values("rtpmap"):
            rm = RtpMap.parse(value)
            out.setdefault(rm.payload_type, rm)
        return out

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        """The mapping of a format: its ``a=rtpmap``, else the RFC 3551 static default."""
        found = self.rtpmaps.get(payload_type)
        if found is None and payload_type in STATIC_PAYLOAD_TYPES:
            name, rate, ch = STATIC_PAYLOAD_TYPES[payload_type]
            found = RtpMap(payload_type, name, rate, None if ch == 1 else ch)
        return found

    @property
    def fmtps(self) -> dict[str, str]:
        """``a=fmtp:<format> <parameters>`` by format (RFC 4566 6)."""
        out: dict[str, str] = {}
        for value in self.attribute_values("fmtp"):
            fmt, _, params = value.partition(" ")
            out.setdefault(fmt, params.strip())
        return out

    def fmtp(self, fmt: int | str) -> str | None:
        return self.fmtps.get(str(fmt))

    @property
    def ptime(self) -> int | None:
        """``a=ptime`` in ms (fractions rounded), if present."""
        value = self.attribute("ptime")
        return round(parse_number(value)) if value else None

    @property
    def maxptime(self) -> int | None:
        value = self.attribute("maxptime")
        return round(parse_number(value)) if value else None

    @property
    def rtcp(self) -> RtcpAttribute | None:
        value = self.attribute("rtcp")
        return RtcpAttribute.parse(value) if value else None

    @property
    def rtcp_mux(self) -> bool:
        """``a=rtcp-mux`` (RFC 5761 5.1.1)."""
        return self.attribute("rtcp-mux") is not None

    @property
    def rejected(self) -> bool:
        """Port 0: a rejected or disabled stream (RFC 3264 6, 8.2)."""
        return self.port == 0

    # -- modifiers (new values) --------------------------------------------------------------
    def with_port(self, port: int) -> MediaDescription:
        return replace(self, port=port)

    def with_lines(self, lines: Iterable[Line]) -> MediaDescription:
        return replace(self, lines=tuple(lines))

    def with_direction(self, direction: str) -> MediaDescription:
        """Replace any direction attribute by ``direction`` (appended if there was none)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}")
        return replace(self, lines=_set_direction(self.lines, direction))

    def with_connection(self, connection: Connection | None) -> MediaDescription:
        """Set (or with ``None`` drop) the media-level ``c=``; a new one goes after ``i=``."""
        if connection is None:
            return replace(self, lines=tuple(ln for ln in self.lines if ln.type != "c"))
        if any(ln.type == "c" for ln in self.lines):
            return replace(self, lines=tuple(Line("c", str(connection)) if ln.type == "c"
                                             else ln for ln in self.lines))
        lines = list(self.lines)
        idx = next((i for i, ln in enumerate(lines) if ln.type != "i"), len(lines))
        lines.insert(idx, Line("c", str(connection)))
        return replace(self, lines=tuple(lines))


def _attr(a: Attribute | tuple[str, str | None] | str) -> Attribute:
    if isinstance(a, Attribute):
        return a
    if isinstance(a, str):
        return Attribute.parse(a)
    return Attribute(a[0], a[1])


def _set_direction(lines: tuple[Line, ...], direction: str) -> tuple[Line, ...]:
    out, done = [], False
    for ln in lines:
        if ln.type == "a" and ln.value in DIRECTIONS:
            if not done:
                out.append(Line("a", direction))
                done = True
            continue
        out.append(ln)
    if not done:
        out.append(Line("a", direction))
    return tuple(out)


@dataclass(frozen=True)
class SessionDescription(_Lines):
    """A whole SDP (RFC 4566 5): session-level ``lines`` and ``media`` descriptions."""

    lines: tuple[Line, ...]
    media: tuple[MediaDescription, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def build(cls, origin: Origin, media: Iterable[MediaDescription], *,
              session_name: str = "-", connection: Connection | None = None,
              attributes: Iterable[Attribute | tuple[str, str | None] | str] = (),
              timing: str = "0 0") -> SessionDescription:
        """``v=0``, ``o=``, ``s=``, ``c=`` (if given), ``t=``, session attributes, media."""
        lines = [Line("v", "0"), Line("o", str(origin)), Line("s", session_name)]
        if connection is not None:
            lines.append(Line("c", str(connection)))
        lines.append(Line("t", timing))
        lines += [Line("a", str(_attr(a))) for a in attributes]
        return cls(tuple(lines), tuple(media))

    def __str__(self) -> str:
        return "".join(f"{ln}\r\n" for ln in self.lines) + "".join(str(m) for m in self.media)

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")

    @property
    def version(self) -> int:
        return int(self.values("v")[0])

    @property
    def origin(self) -> Origin:
        return Origin.parse(self.values("o")[0])

    @property
    def session_name(self) -> str | None:
        found = self.values("s")
        return found[0] if found else None

    def media_connection(self, index: int) -> Connection | None:
        """The connection of a media stream: its own ``c=``, else the session's (5.7)."""
        return self.media[index].connection or self.connection

    def media_direction(self, index: int) -> str:
        """The direction of a media stream: media level, session level, else sendrecv."""
        return self.media[index].direction or self.direction or "sendrecv"

    def with_origin(self, origin: Origin) -> SessionDescription:
        return replace(self, lines=tuple(Line("o", str(origin)) if ln.type == "o" else ln
                                         for ln in self.lines))

    def with_media(self, media: Iterable[MediaDescription]) -> SessionDescription:
        return replace(self, media=tuple(media))

    def with_connection(self, connection: Connection) -> SessionDescription:
        """Set the session-level ``c=`` (placed after ``o= s= i= u= e= p=`` when new)."""
        if any(ln.type == "c" for ln in self.lines):
            lines = [Line("c", str(connection)) if ln.type == "c" else ln for ln in self.lines]
        else:
            lines = list(self.lines)
            idx = next((i for i, ln in enumerate(lines) if ln.type in "btrzka"), len(lines))
            lines.insert(idx, Line("c", str(connection)))
        return replace(self, lines=tuple(lines))


# -- parsing ---------------------------------------------------------------------------------
def _check_line(ln: Line) -> None:
    """Validate the typed lines this module reads; raise ValueError with the reason."""
    if ln.type == "v" and ln.value.strip() != "0":
        raise ValueError("unsupported SDP version")
    if ln.type == "o":
        Origin.parse(ln.value)
    elif ln.type == "c":
        Connection.parse(ln.value)
    elif ln.type == "a":
        attr = Attribute.parse(ln.value)
        if attr.name == "rtpmap":
            RtpMap.parse(attr.value or "")
        elif attr.name == "fmtp" and not (attr.value or "").strip():
            raise ValueError("fmtp without a format")
        elif attr.name in ("ptime", "maxptime"):
            parse_number(attr.value or "")
        elif attr.name == "rtcp":
            RtcpAttribute.parse(attr.value or "")


def parse_sdp(data: bytes | str, *, lenient: bool = False) -> SessionDescription:
    """Parse an SDP body (RFC 4566 5; CRLF or bare LF line endings).

    Strict (default): the first bad line raises :class:`SdpParseError` with its number.
    Lenient: bad lines are skipped and listed in ``warnings``; a missing ``v=``/``o=``/``s=``
    is only a warning too. Either way the lines kept are kept raw and in order.
    """
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    raw_lines = re.split(r"\r?\n", text)
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    warnings: list[str] = []
    session: list[Line] = []
    media: list[MediaDescription] = []
    current: list[Line] = []
    offset = 0

    def problem(detail: str, lineno: int, line: str, at: int) -> None:
        if not lenient:
            raise SdpParseError(detail, lineno=lineno, line=line, offset=at)
        warnings.append(f"line {lineno}: {detail}: {line!r} (skipped)")

    for lineno, raw in enumerate(raw_lines, 1):
        at, offset = offset, offset + len(raw.encode("utf-8", "surrogateescape")) + 2
        m = _LINE.match(raw.rstrip("\r"))
        if not m:
            problem("not a <type>=<value> line", lineno, raw, at)
            continue
        ln = Line(m.group(1), m.group(2))
        if lineno == 1 and ln.type != "v":
            problem("an SDP starts with v=", lineno, raw, at)
        try:
            if ln.type == "m":
                new = MediaDescription.parse_m_line(ln.value)
                if not new.formats:
                    warnings.append(f"line {lineno}: m= line without formats: {raw!r}")
            else:
                _check_line(ln)
        except ValueError as exc:
            problem(str(exc), lineno, raw, at)
            continue
        if ln.type == "m":
            if media:
                media[-1] = media[-1].with_lines(current)
            media.append(new)
            current = []
        elif media:
            current.append(ln)
        else:
            session.append(ln)
    if media:
        media[-1] = media[-1].with_lines(current)
    for type_, name in (("v", "version"), ("o", "origin"), ("s", "session name")):
        if not any(ln.type == type_ for ln in session):
            if not lenient:
                raise SdpParseError(f"no {type_}= ({name}) line", lineno=1,
                                    line=raw_lines[0] if raw_lines else "", offset=0)
            warnings.append(f"no {type_}= ({name}) line")
    return SessionDescription(tuple(session), tuple(media), tuple(warnings))
