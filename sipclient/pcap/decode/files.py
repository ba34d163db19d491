"""Capture file formats: classic pcap and pcapng.

:class:`CaptureFile` takes the whole file's bytes (a ``bytes`` or an ``mmap``) and
:meth:`CaptureFile.records` yields ``(frame, time, linktype, data)`` tuples, frame numbers
counted from 1 as Wireshark does, ``time`` in seconds since the epoch (float), ``data`` the
captured bytes. A record cut short at the end of the file stops the iteration and sets
:attr:`CaptureFile.truncated` to a sentence naming the frame and offset (Wireshark: "cut
short in the middle of a packet"); a file that is not a capture raises
:class:`~sipclient.pcap.decode.errors.CaptureError` from the constructor.

pcap: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html (magic a1b2c3d4 for
microseconds, a1b23c4d for nanoseconds, either byte order). pcapng:
draft-ietf-opsawg-pcapng (SHB with its byte-order magic, IDB with ``if_tsresol`` and
``if_tsoffset``, EPB, SPB, the obsolete PB; several sections and interfaces).
"""

from __future__ import annotations

import struct
from typing import Iterator

from sipclient.pcap.decode.errors import CaptureError

Record = tuple[int, float, int, bytes]

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


class CaptureFile:
    """One capture file's records; ``file_type`` is ``"pcap"`` or ``"pcapng"``."""

    def __init__(self, data: bytes, path: str = "") -> None:
        self.data = data
        self.path = path
        self.truncated: str | None = None
        self.problems: list[str] = []
        self.comments: dict[int, str] = {}     # frame -> pcapng opt_comment of its block
        head = bytes(data[:4])
        if head in _PCAP_MAGICS:
            self.file_type = "pcap"
            if len(data) < 24:
                raise CaptureError("pcap file header cut short (24 bytes needed)", path=path,
                                   offset=len(data))
            endian, self._unit = _PCAP_MAGICS[head]
            self._endian = endian
            major, minor, _zone, _sigfigs, self.snaplen, linktype = struct.unpack_from(
                endian + "HHiIII", data, 4)
            self.linktype = linktype & 0x0FFFFFFF     # upper bits: FCS length
        elif head == _PCAPNG_SHB:
            self.file_type = "pcapng"
            if len(data) < 28:
                raise CaptureError("pcapng section header block cut short", path=path,
                                   offset=len(data))
            if bytes(data[8:12]) not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                raise CaptureError("pcapng section header without its byte-order magic",
                                   path=path, offset=8)
            self.linktype = -1
        else:
            raise CaptureError(f"not a pcap or pcapng file (starts with {head.hex() or 'nothing'})",
                               path=path, offset=0)

    def records(self) -> Iterator[Record]:
        if self.file_type == "pcap":
            return self._pcap_records()
        return self._pcapng_records()

    # -- classic pcap ------------------------------------------------------------------------
    def pcap_layout(self) -> tuple:
        """For a reader that walks a classic pcap itself: the record header's
        ``unpack_from``, seconds per timestamp unit, the link type."""
        return struct.Struct(self._endian + "IIII").unpack_from, self._unit, self.linktype

    def cut_short(self, frame: int, offset: int, announced: int | None) -> None:
        """Note where a classic pcap ends in the middle of record ``frame``."""
        end = len(self.data)
        if announced is None:
            self.truncated = (f"{self.path}: cut short in the header of packet {frame} "
                              f"(offset {offset})")
        elif announced > 0x4000000:
            self.truncated = (f"{self.path}: packet {frame} at offset {offset} announces "
                              f"{announced} bytes: the file is damaged")
        else:
            self.truncated = (f"{self.path}: cut short in the middle of packet {frame} "
                              f"(offset {offset}: {announced} bytes announced, "
                              f"{end - offset - 16} present)")

    def _pcap_records(self) -> Iterator[Record]:
        data, unit, linktype = self.data, self._unit, self.linktype
        header = struct.Struct(self._endian + "IIII")
        unpack = header.unpack_from
        end = len(data)
        offset = 24
        frame = 0
        while offset < end:
            frame += 1
            if offset + 16 > end:
                self.cut_short(frame, offset, None)
                return
            sec, frac, incl, _orig = unpack(data, offset)
            start = offset + 16
            stop = start + incl
            if stop > end or incl > 0x4000000:
                self.cut_short(frame, offset, incl)
                return
            yield frame, sec + frac * unit, linktype, data[start:stop]
            offset = stop

    # -- pcapng ------------------------------------------------------------------------------
    def _pcapng_records(self) -> Iterator[Record]:
        data = self.data
        end = len(data)
        offset = 0
        frame = 0
        endian = "<"
        interfaces: list[tuple[int, float, float]] = []   # linktype, unit, offset seconds
        while offset < end:
            if offset + 12 > end:
                self.truncated = f"{self.path}: cut short in a pcapng block header (offset {offset})"
                return
            if bytes(data[offset:offset + 4]) == _PCAPNG_SHB:
                magic = bytes(data[offset + 8:offset + 12])
                if magic == b"\x4d\x3c\x2b\x1a":
                    endian = "<"
                elif magic == b"\x1a\x2b\x3c\x4d":
                    endian = ">"
                else:
                    raise CaptureError("pcapng section header without its byte-order magic",
                                       path=self.path, offset=offset + 8)
                interfaces = []
            btype, blen = struct.unpack_from(endian + "II", data, offset)
            if blen < 12 or blen % 4:
                self.truncated = (f"{self.path}: pcapng block at offset {offset} has a bad "
                                  f"length {blen}: the file is damaged")
                return
            if offset + blen > end:
                self.truncated = (f"{self.path}: cut short in the middle of a pcapng block "
                                  f"(offset {offset}: {blen} bytes announced, "
                                  f"{end - offset} present)")
                return
            body = offset + 8
            body_end = offset + blen - 4
            if btype == 1:                                   # Interface Description Block
                linktype, = struct.unpack_from(endian + "H", data, body)
                unit, ts_offset = _idb_options(data, body + 8, body_end, endian)
                interfaces.append((linktype, unit, ts_offset))
            elif btype in (6, 2):                            # Enhanced / obsolete Packet Block
                frame += 1
                if btype == 6:
                    iface, hi, lo, caplen, _orig = struct.unpack_from(endian + "IIIII", data, body)
                else:
                    iface, _drops, hi, lo, caplen, _orig = struct.unpack_from(
                        endian + "HHIIII", data, body)
                start = body + 20
                if iface >= len(interfaces) or start + caplen > body_end:
                    self.problems.append(f"frame {frame}: bad interface or length in the "
                                         f"packet block at offset {offset}")
                else:
                    linktype, unit, ts_offset = interfaces[iface]
                    ts = ((hi << 32) | lo) * unit + ts_offset
                    options = start + ((caplen + 3) & ~3)
                    if options + 4 <= body_end:
                        comment = _comment(data, options, body_end, endian)
                        if comment is not None:
                            self.comments[frame] = comment
                    yield frame, ts, linktype, data[start:start + caplen]
            elif btype == 3:                                 # Simple Packet Block
                frame += 1
                if not interfaces:
                    self.problems.append(f"frame {frame}: simple packet block without an "
                                         f"interface (offset {offset})")
                else:
                    orig, = struct.unpack_from(endian + "I", data, body)
                    caplen = min(orig, body_end - body - 4)
                    yield frame, 0.0, interfaces[0][0], data[body + 4:body + 4 + caplen]
            offset += blen


def _comment(data: bytes, offset: int, end: int, endian: str) -> str | None:
    """The ``opt_comment`` (1) of a packet block's options, if any."""
    while offset + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", data, offset)
        if code == 0:
            return None
        if code == 1:
            return bytes(data[offset + 4:offset + 4 + length]).decode("utf-8", "replace")
        offset += 4 + ((length + 3) & ~3)
    return None


def _idb_options(data: bytes, offset: int, end: int, endian: str) -> tuple[float, float]:
    """``if_tsresol`` (9) and ``if_tsoffset`` (14) of an IDB: (seconds per unit, offset)."""
    unit, ts_offset = 1e-6, 0.0
    while offset + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", data, offset)
        if code == 0:
            break
        value = offset + 4
        if code == 9 and length >= 1:
            res = data[value]
            unit = 2.0 ** -(res & 0x7F) if res & 0x80 else 10.0 ** -res
        elif code == 14 and length >= 8:
            ts_offset = float(struct.unpack_from(endian + "q", data, value)[0])
        offset = value + ((length + 3) & ~3)
    return unit, ts_offset
