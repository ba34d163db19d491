"""The values of single SDP lines (RFC 4566 5, 6; RFC 3605): ``o=``, ``c=``, ``a=rtpmap``,
``a=rtcp`` and attributes in general, each a frozen value with ``parse()`` and ``__str__``
that round-trip. :mod:`sipclient.media.sdp` builds whole descriptions from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sipclient.proto.errors import ParseError

__all__ = [
    "DIRECTIONS", "STATIC_PAYLOAD_TYPES", "Attribute", "Connection", "Line", "Origin",
    "RtcpAttribute", "RtpMap", "SdpParseError",
]

#: RFC 4566 6 / RFC 3264 5.1: the four direction attributes.
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

#: RFC 3551 table 4 (audio) and 5 (video): static payload type -> (encoding, rate, channels).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1), 3: ("GSM", 8000, 1), 4: ("G723", 8000, 1), 5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1), 7: ("LPC", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1),
    10: ("L16", 44100, 2), 11: ("L16", 44100, 1), 12: ("QCELP", 8000, 1), 13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1), 15: ("G728", 8000, 1), 16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1), 18: ("G729", 8000, 1), 25: ("CelB", 90000, 1),
    26: ("JPEG", 90000, 1), 28: ("nv", 90000, 1), 31: ("H261", 90000, 1),
    32: ("MPV", 90000, 1), 33: ("MP2T", 90000, 1), 34: ("H263", 90000, 1),
}

_RTPMAP = re.compile(r"(\d{1,3}) +([^/\s]+)/(\d+)(?:/(\S+))?\s*\Z")


class SdpParseError(ParseError):
    """A malformed SDP line: ``lineno`` (1-based) and ``line`` say which one (RFC 4566 5)."""

    def __init__(self, detail: str, *, lineno: int, line: str, offset: int | None = None) -> None:
        self.detail, self.lineno, self.line = detail, lineno, line
        super().__init__(f"SDP line {lineno}: {detail}: {line!r}", header="SDP", offset=offset,
                         status_hint=488)

    def __reduce__(self):  # type: ignore[override]
        return (_rebuild, (self.detail, self.lineno, self.line, self.offset))


def _rebuild(detail: str, lineno: int, line: str, offset: int | None) -> SdpParseError:
    return SdpParseError(detail, lineno=lineno, line=line, offset=offset)


@dataclass(frozen=True)
class Line:
    """One ``<type>=<value>`` line, kept raw (RFC 4566 5)."""

    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}={self.value}"


@dataclass(frozen=True)
class Attribute:
    """``a=<name>[:<value>]`` (RFC 4566 5.13); a property attribute has ``value=None``."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Attribute:
        name, sep, value = text.partition(":")
        return cls(name, value if sep else None)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`` (5.2)."""

    username: str
    session_id: str
    version: int
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    @classmethod
    def parse(cls, text: str) -> Origin:
        parts = text.split()
        if len(parts) != 6:
            raise ValueError("o= needs 6 fields")
        if not parts[2].isdigit():
            raise ValueError("o= session version is not a number")
        return cls(parts[0], parts[1], int(parts[2]), parts[3], parts[4], parts[5])

    def __str__(self) -> str:
        return (f"{self.username} {self.session_id} {self.version} {self.nettype} "
                f"{self.addrtype} {self.address}")


@dataclass(frozen=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (5.7); ``address`` keeps any
    multicast ``/ttl/count`` suffix, :attr:`host` drops it."""

    address: str
    addrtype: str = "IP4"
    nettype: str = "IN"

    @classmethod
    def parse(cls, text: str) -> Connection:
        parts = text.split()
        if len(parts) != 3:
            raise ValueError("c= needs 3 fields")
        return cls(parts[2], parts[1], parts[0])

    @property
    def host(self) -> str:
        return self.address.split("/")[0]

    @property
    def is_hold(self) -> bool:
        """``c=IN IP4 0.0.0.0``: the RFC 2543 way to put a stream on hold (RFC 3264 8.4)."""
        return self.host in ("0.0.0.0", "::")

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`` (RFC 4566 6)."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    @classmethod
    def parse(cls, text: str) -> RtpMap:
        m = _RTPMAP.match(text)
        if not m or (m.group(4) is not None and not m.group(4).isdigit()):
            raise ValueError("malformed rtpmap")
        return cls(int(m.group(1)), m.group(2), int(m.group(3)),
                   int(m.group(4)) if m.group(4) else None)

    def __str__(self) -> str:
        ch = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{ch}"


@dataclass(frozen=True)
class RtcpAttribute:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605)."""

    port: int
    address: str | None = None
    addrtype: str = "IP4"
    nettype: str = "IN"

    @classmethod
    def parse(cls, text: str) -> RtcpAttribute:
        parts = text.split()
        if len(parts) not in (1, 4) or not is_port_number(parts[0]):
            raise ValueError("malformed rtcp attribute")
        if len(parts) == 1:
            return cls(int(parts[0]))
        return cls(int(parts[0]), parts[3], parts[2], parts[1])

    def __str__(self) -> str:
        if self.address is None:
            return str(self.port)
        return f"{self.port} {self.nettype} {self.addrtype} {self.address}"


def is_port_number(text: str) -> bool:
    return text.isdigit() and int(text) <= 65535


def parse_number(text: str) -> float:
    """A non-negative decimal (``a=ptime:20``, ``a=ptime:2.5``)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError("not a non-negative number")
    return value
