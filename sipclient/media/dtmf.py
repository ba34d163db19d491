"""DTMF out of band: RFC 4733 telephone-events over RTP, and SIP INFO bodies.

* :class:`TelephoneEvent` is the 4-byte payload of RFC 4733 sec. 2.3 (event, E bit, volume,
  duration in timestamp units).
* :class:`DtmfSender` plans the packets of a digit (sec. 2.5.1): the first with the RTP marker
  bit, then one update per packet interval with the *same* RTP timestamp and a growing
  duration, then the final duration three times with the E bit. The RTP layer stamps sequence
  numbers and SSRC; ``DtmfPacket.at`` says when (seconds from the digit's start) to send each.
* :class:`DtmfReceiver` turns received payloads (duplicated, reordered, start packets lost,
  end packets retransmitted) into each digit exactly once (sec. 2.5.2): an event is keyed by
  its RTP timestamp.
* ``application/dtmf-relay`` (``Signal=5\\r\\nDuration=160\\r\\n``, duration in ms) and
  ``application/dtmf`` (``5``) bodies for SIP INFO: :func:`info_body` / :func:`parse_info_body`.

Also the DTMF tone pairs of ITU-T Q.23 (:data:`DTMF_FREQUENCIES`) used by the in-band side.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sipclient.proto.errors import LocalProtocolError, ParseError

__all__ = [
    "DIGITS",
    "DTMF_FREQUENCIES",
    "ROW_FREQUENCIES",
    "COLUMN_FREQUENCIES",
    "TelephoneEvent",
    "DtmfPacket",
    "DtmfSender",
    "DtmfDigit",
    "DtmfReceiver",
    "InfoDtmf",
    "digit_to_event",
    "event_to_digit",
    "info_body",
    "parse_info_body",
]

#: RFC 4733 sec. 3.2 table 3: events 0-15 are the DTMF digits in this order.
DIGITS = "0123456789*#ABCD"

ROW_FREQUENCIES = (697, 770, 852, 941)
COLUMN_FREQUENCIES = (1209, 1336, 1477, 1633)
_KEYPAD = ("123A", "456B", "789C", "*0#D")
#: ITU-T Q.23: digit -> (row Hz, column Hz).
DTMF_FREQUENCIES: dict[str, tuple[int, int]] = {
    key: (ROW_FREQUENCIES[r], COLUMN_FREQUENCIES[c])
    for r, keys in enumerate(_KEYPAD)
    for c, key in enumerate(keys)
}

_EVENT = struct.Struct("!BBH")


def digit_to_event(digit: str) -> int:
    """'0'-'9', '*', '#', 'A'-'D' (any case) -> event code 0-15."""
    index = DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if index < 0:
        raise LocalProtocolError(f"not a DTMF digit: {digit!r}")
    return index


def event_to_digit(event: int) -> str | None:
    """Event code -> digit, or None for the non-DTMF events (16 flash, tones...)."""
    return DIGITS[event] if 0 <= event < len(DIGITS) else None


@dataclass(frozen=True)
class TelephoneEvent:
    """The RFC 4733 sec. 2.3 payload: event, end bit, volume (0..63, -dBm0), duration."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.event <= 255 and 0 <= self.volume <= 63 and 0 <= self.duration <= 0xFFFF):
            raise LocalProtocolError(f"telephone-event field out of range: {self}")

    @property
    def digit(self) -> str | None:
        return event_to_digit(self.event)

    def encode(self) -> bytes:
        return _EVENT.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)

    @classmethod
    def parse(cls, payload: bytes | bytearray | memoryview) -> "TelephoneEvent":
        """The first event of a payload (sec. 2.3); shorter than 4 bytes is a ParseError."""
        data = bytes(payload)
        if len(data) < _EVENT.size:
            raise ParseError(f"telephone-event payload of {len(data)} bytes (needs 4)", offset=0)
        event, flags, duration = _EVENT.unpack_from(data)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)  # R bit (0x40) ignored


@dataclass(frozen=True)
class DtmfPacket:
    """One planned RTP packet: send at ``at`` seconds after the digit starts."""

    at: float
    timestamp: int
    marker: bool
    event: TelephoneEvent

    @property
    def payload(self) -> bytes:
        return self.event.encode()


@dataclass(kw_only=True, eq=False)
class DtmfSender:
    """Plans RFC 4733 packets for digits (sec. 2.5.1), sans I/O.

    ``duration_ms`` is each digit's length, ``gap_ms`` the pause before the next digit,
    ``interval_ms`` the packet interval (the stream's ptime), ``end_packets`` how many times
    the final (E) packet is sent, one interval apart.
    """

    clock_rate: int = 8000
    interval_ms: int = 20
    duration_ms: int = 100
    gap_ms: int = 100
    volume: int = 10
    end_packets: int = 3

    def __post_init__(self) -> None:
        if (self.duration_ms <= 0 or self.interval_ms <= 0 or self.end_packets < 1
                or self.gap_ms < 0):
            raise LocalProtocolError("DTMF duration, interval and end packets must be positive")
        if self.clock_rate * self.duration_ms // 1000 > 0xFFFF:
            raise LocalProtocolError(
                f"a {self.duration_ms} ms event overflows the 16-bit duration field")

    def _units(self, ms: int) -> int:
        return self.clock_rate * ms // 1000

    def packets(self, digit: str, timestamp: int, start: float = 0.0) -> list[DtmfPacket]:
        """The packets of one digit whose event starts at RTP ``timestamp``."""
        event = digit_to_event(digit)
        step, total = self._units(self.interval_ms), self._units(self.duration_ms)
        timestamp &= 0xFFFFFFFF
        packets: list[DtmfPacket] = []
        elapsed = step
        while elapsed < total:
            packets.append(DtmfPacket(
                start + (elapsed - step) / self.clock_rate, timestamp, not packets,
                TelephoneEvent(event, False, self.volume, elapsed),
            ))
            elapsed += step
        final = TelephoneEvent(event, True, self.volume, total)
        first_end = start + max(0, total - step) / self.clock_rate
        for repeat in range(self.end_packets):
            packets.append(DtmfPacket(
                first_end + repeat * self.interval_ms / 1000, timestamp,
                not packets, final,
            ))
        return packets

    def sequence(self, digits: str, timestamp: int, start: float = 0.0) -> list[DtmfPacket]:
        """Packets for several digits: each starts ``duration + gap`` after the previous one."""
        packets: list[DtmfPacket] = []
        pitch = self._units(self.duration_ms + self.gap_ms)
        for index, digit in enumerate(digits):
            packets += self.packets(
                digit, timestamp + index * pitch,
                start + index * (self.duration_ms + self.gap_ms) / 1000,
            )
        return packets


@dataclass(frozen=True)
class DtmfDigit:
    """A received digit: its event, RTP timestamp, duration (timestamp units), and whether
    an end packet was seen (False when it was closed by a newer event or :meth:`flush`)."""

    digit: str | None
    event: int
    timestamp: int
    duration: int
    ended: bool

    def duration_ms(self, clock_rate: int = 8000) -> float:
        return 1000.0 * self.duration / clock_rate


class DtmfReceiver:
    """Turns telephone-event packets into digits, each exactly once (RFC 4733 sec. 2.5.2).

    Packets of one event share an RTP timestamp. A digit is reported when its first end
    packet arrives, when a packet with a newer timestamp starts another event, or on
    :meth:`flush`. Retransmitted end packets and late packets of finished events are ignored.
    """

    def __init__(self, memory: int = 32) -> None:
        self._current: tuple[int, int] | None = None  # (timestamp, event)
        self._current_duration = 0
        self._finished: list[tuple[int, int]] = []
        self._memory = memory

    def _finish(self, ended: bool) -> DtmfDigit:
        assert self._current is not None
        timestamp, event = self._current
        self._finished = (self._finished + [self._current])[-self._memory :]
        self._current = None
        return DtmfDigit(event_to_digit(event), event, timestamp, self._current_duration, ended)

    def receive(self, payload: bytes | bytearray | memoryview, timestamp: int) -> list[DtmfDigit]:
        """Feed one packet's payload and RTP timestamp; returns the digits it completes."""
        info = TelephoneEvent.parse(payload)
        key = (timestamp & 0xFFFFFFFF, info.event)
        if key in self._finished:
            return []  # duplicate or retransmitted end packet
        done: list[DtmfDigit] = []
        if self._current != key:
            if self._current is not None:
                if _older(key[0], self._current[0]):
                    return []  # a late packet of an event we never saw: too late to report
                done.append(self._finish(ended=False))
            self._current, self._current_duration = key, 0
        self._current_duration = max(self._current_duration, info.duration)
        if info.end:
            done.append(self._finish(ended=True))
        return done

    def flush(self) -> list[DtmfDigit]:
        """Report the event in progress (its end packets were lost or the stream stopped)."""
        return [self._finish(ended=False)] if self._current is not None else []


def _older(timestamp: int, than: int) -> bool:
    """RTP timestamp order with wrap-around (RFC 3550 sec. 5.1 arithmetic)."""
    return 0 < ((than - timestamp) & 0xFFFFFFFF) < 0x80000000


# --- SIP INFO -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InfoDtmf:
    """A digit carried in a SIP INFO body; ``duration_ms`` is None when the body has none."""

    digit: str
    duration_ms: int | None = None


def info_body(digit: str, duration_ms: int = 160,
              content_type: str = "application/dtmf-relay") -> bytes:
    """The INFO body for ``digit``: ``Signal=5\\r\\nDuration=160\\r\\n`` or just ``5``."""
    digit = DIGITS[digit_to_event(digit)]
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/dtmf-relay":
        return f"Signal={digit}\r\nDuration={int(duration_ms)}\r\n".encode("ascii")
    if kind == "application/dtmf":
        return digit.encode("ascii")
    raise LocalProtocolError(f"no DTMF body for content type {content_type!r}")


def _parse_digit(text: str) -> str:
    text = text.strip().upper()
    if text in ("10", "11"):  # some agents send the event number for * and #
        return DIGITS[int(text)]
    if len(text) != 1 or text not in DIGITS:
        raise ParseError(f"not a DTMF digit: {text!r}", header="Content-Type")
    return text


def parse_info_body(content_type: str, body: bytes | str) -> InfoDtmf:
    """Parse an ``application/dtmf-relay`` or ``application/dtmf`` INFO body (ParseError if bad)."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/dtmf":
        return InfoDtmf(_parse_digit(text))
    if kind != "application/dtmf-relay":
        raise ParseError(f"not a DTMF content type: {content_type!r}", header="Content-Type")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if "signal" not in fields:
        raise ParseError("dtmf-relay body without Signal=", header="Content-Type")
    duration = fields.get("duration")
    if duration is not None and not duration.isdigit():
        raise ParseError(f"dtmf-relay Duration is not a number: {duration!r}", header="Content-Type")
    return InfoDtmf(_parse_digit(fields["signal"]), int(duration) if duration is not None else None)
