"""TCP stream reassembly, one direction at a time (RFC 9293 3.4, 3.10.7.4).

:class:`TcpDirection` receives the segments of one direction in capture order and hands back
the bytes that became contiguous: a retransmitted segment (all of its bytes already
delivered) gives nothing, an overlapping one gives only its new bytes, an early one is held
until the gap before it is filled. The sequence space starts after the SYN when it was
captured, else at the first segment seen (a capture that starts mid-connection).
A gap that is never filled (a segment lost by the capture) would stall the stream, so after
``max_held`` bytes waiting the stream skips to the held data and counts the gap.
"""

from __future__ import annotations

SYN = 0x02
FIN = 0x01
RST = 0x04


class TcpDirection:
    """The reassembly state of one direction of one TCP connection."""

    __slots__ = ("next_seq", "held", "held_bytes", "max_held", "gaps", "retransmissions")

    def __init__(self, max_held: int = 1 << 20) -> None:
        self.next_seq: int | None = None
        self.held: dict[int, bytes] = {}
        self.held_bytes = 0
        self.max_held = max_held
        self.gaps = 0
        self.retransmissions = 0

    def segment(self, seq: int, flags: int, payload: bytes) -> bytes:
        """Account for one segment; return the newly contiguous bytes (maybe empty)."""
        if flags & SYN:
            self.next_seq = (seq + 1) & 0xFFFFFFFF
            self.held.clear()
            self.held_bytes = 0
            seq = (seq + 1) & 0xFFFFFFFF
        if not payload:
            return b""
        if self.next_seq is None:
            self.next_seq = seq
        # position relative to what is expected, in serial arithmetic (RFC 1982)
        rel = ((seq - self.next_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if rel < 0:
            if rel + len(payload) <= 0:
                self.retransmissions += 1
                return b""
            payload = payload[-rel:]                 # overlap: keep only the new bytes
            rel = 0
        if rel > 0:
            key = (self.next_seq + rel) & 0xFFFFFFFF
            if len(payload) > len(self.held.get(key, b"")):
                self.held_bytes += len(payload) - len(self.held.get(key, b""))
                self.held[key] = payload
            if self.held_bytes > self.max_held:
                return self._skip_gap()
            return b""
        out = [payload]
        self.next_seq = (self.next_seq + len(payload)) & 0xFFFFFFFF
        if self.held:
            out.extend(self._drain())
        return b"".join(out)

    def _drain(self) -> list[bytes]:
        out = []
        progress = True
        while self.held and progress:
            progress = False
            for key in list(self.held):
                rel = ((key - self.next_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                if rel > 0:
                    continue
                data = self.held.pop(key)
                self.held_bytes -= len(data)
                if rel + len(data) > 0:
                    data = data[-rel:] if rel else data
                    out.append(data)
                    self.next_seq = (self.next_seq + len(data)) & 0xFFFFFFFF
                    progress = True
        return out

    def _skip_gap(self) -> bytes:
        """Give up on a hole the capture never filled: continue at the earliest held byte."""
        first = min(self.held, key=lambda k: (k - self.next_seq) & 0xFFFFFFFF)
        self.gaps += 1
        self.next_seq = first
        return b"".join(self._drain())
