"""A placeholder media session: SDP offer/answer (RFC 3264, RFC 4566) with an RTP sink.

The real media stack (RTP, codecs, DTMF) arrives with issue 5; until then a call needs an
SDP that lists the configured codecs and a real UDP port Asterisk can send RTP to. The
port is bound, even, in 10000-20000 (the lab's RTP range), and everything it receives is
counted and discarded.

The agent talks to media only through :class:`MediaSession`, so issue 5 can swap this
module for the real one (``Agent(config, media_factory=...)``).
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["MediaSession", "RemoteSdp", "StubMedia", "parse_sdp", "CODECS"]

#: name -> (payload type, clock rate, fmtp)
CODECS: dict[str, tuple[int, int, str | None]] = {
    "PCMU": (0, 8000, None),
    "PCMA": (8, 8000, None),
    "G729": (18, 8000, "annexb=no"),
    "GSM": (3, 8000, None),
}
TELEPHONE_EVENT = (101, 8000, "0-15")
_STATIC_NAMES = {0: "PCMU", 8: "PCMA", 18: "G729", 3: "GSM", 9: "G722"}
_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                     "inactive": "inactive"}


class MediaSession(Protocol):
    """What the agent needs from a media session (RFC 3264 offer/answer)."""

    async def start(self) -> None: ...          # bind sockets
    def offer(self) -> bytes: ...               # a new offer (re-offer: version + 1)
    def answer(self, remote_sdp: bytes) -> bytes: ...   # answer a remote offer
    def accept(self, remote_sdp: bytes) -> None: ...    # the remote answer to our offer
    def hold(self) -> None: ...                 # next offer: a=sendonly
    def unhold(self) -> None: ...               # next offer: a=sendrecv
    async def close(self) -> None: ...


@dataclass
class RemoteSdp:
    """The little the stub reads from a remote SDP."""

    address: str | None = None
    port: int | None = None
    payloads: list[int] = field(default_factory=list)
    codec: str | None = None  # first payload's name
    direction: str = "sendrecv"
    rtpmap: dict[int, str] = field(default_factory=dict)


def parse_sdp(data: bytes | str) -> RemoteSdp:
    """Connection address, audio port, payload order, first codec and direction (RFC 4566
    5.7, 5.14, 6; a media-level c= or direction overrides the session-level one)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    out = RemoteSdp()
    in_audio = False
    session_dir, media_dir = None, None
    for line in text.splitlines():
        line = line.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            in_audio = value.startswith("audio ") and out.port is None
            if in_audio:
                parts = value.split()
                out.port = int(parts[1].split("/")[0]) if parts[1].split("/")[0].isdigit() else None
                out.payloads = [int(p) for p in parts[3:] if p.isdigit()]
        elif kind == "c":
            parts = value.split()
            if len(parts) >= 3 and (in_audio or out.address is None):
                out.address = parts[2].split("/")[0]
        elif kind == "a":
            if value in _DIRECTIONS:
                if in_audio:
                    media_dir = value
                elif out.port is None:
                    session_dir = value
            elif value.startswith("rtpmap:") and in_audio:
                pt, _, enc = value[7:].partition(" ")
                if pt.isdigit():
                    out.rtpmap[int(pt)] = enc.split("/")[0]
    out.direction = media_dir or session_dir or "sendrecv"
    if out.payloads:
        first = out.payloads[0]
        out.codec = out.rtpmap.get(first) or _STATIC_NAMES.get(first)
    return out


class _Sink(asyncio.DatagramProtocol):
    def __init__(self, owner: StubMedia) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.owner.packets_received += 1
        self.owner.bytes_received += len(data)


class StubMedia:
    """SDP offer/answer listing ``codecs`` (+ telephone-event 101) on a real, discarding
    RTP port. ``address`` is the IP written in ``c=`` and bound."""

    def __init__(self, address: str, codecs: tuple[str, ...] = ("PCMU", "PCMA", "G729", "GSM"),
                 port_range: tuple[int, int] = (10000, 20000)) -> None:
        unknown = [c for c in codecs if c.upper() not in CODECS]
        if unknown:
            raise ValueError(f"unknown codec(s) {unknown}; known: {', '.join(CODECS)}")
        self.address = address
        self.codecs = tuple(c.upper() for c in codecs)
        self.port_range = port_range
        self.port = 0
        self.direction = "sendrecv"
        self.remote: RemoteSdp | None = None
        self.packets_received = 0
        self.bytes_received = 0
        self._session_id = int(time.time()) & 0xFFFFFFFF
        self._version = self._session_id
        self._transport: asyncio.DatagramTransport | None = None
        self._answer_payloads: list[int] | None = None

    async def start(self) -> None:
        """Bind an even UDP port in ``port_range`` (RFC 3550 11: RTP on even ports)."""
        if self._transport is not None:
            return
        loop = asyncio.get_running_loop()
        lo, hi = self.port_range
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        for _ in range(50):
            port = random.randrange(lo + (lo % 2), hi, 2)
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((self.address, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Sink(self), sock=sock)
            self.port = port
            return
        raise OSError(f"no free even UDP port in {lo}-{hi} on {self.address}")

    # -- SDP

    def _sdp(self, payloads: list[int], direction: str) -> bytes:
        ip = "IP6" if ":" in self.address else "IP4"
        lines = ["v=0", f"o=- {self._session_id} {self._version} IN {ip} {self.address}",
                 "s=sipclient", f"c=IN {ip} {self.address}", "t=0 0",
                 f"m=audio {self.port} RTP/AVP {' '.join(str(p) for p in payloads)}"]
        by_pt = {pt: (name, rate, fmtp) for name, (pt, rate, fmtp) in CODECS.items()}
        by_pt[TELEPHONE_EVENT[0]] = ("telephone-event", TELEPHONE_EVENT[1], TELEPHONE_EVENT[2])
        for pt in payloads:
            name, rate, fmtp = by_pt[pt]
            lines.append(f"a=rtpmap:{pt} {name}/{rate}")
            if fmtp:
                lines.append(f"a=fmtp:{pt} {fmtp}")
        lines += ["a=ptime:20", f"a={direction}"]
        return ("\r\n".join(lines) + "\r\n").encode()

    def _our_payloads(self) -> list[int]:
        return [CODECS[c][0] for c in self.codecs] + [TELEPHONE_EVENT[0]]

    def offer(self) -> bytes:
        self._version += 1
        payloads = self._answer_payloads or self._our_payloads()
        return self._sdp(payloads, self.direction)

    def answer(self, remote_sdp: bytes) -> bytes:
        """Answer a remote offer: the offered codecs we support, in the offer's order, one
        direction mirrored (RFC 3264 6)."""
        self.remote = parse_sdp(remote_sdp)
        ours = set(self._our_payloads())
        common = [p for p in self.remote.payloads if p in ours]
        if not [p for p in common if p != TELEPHONE_EVENT[0]]:
            common = [p for p in self._our_payloads() if p != TELEPHONE_EVENT[0]][:1]
        self._answer_payloads = common
        self._version += 1
        direction = _ANSWER_DIRECTION.get(self.remote.direction, "sendrecv")
        if self.direction == "sendonly" and direction == "sendrecv":
            direction = "sendonly"
        return self._sdp(common, direction)

    def accept(self, remote_sdp: bytes) -> None:
        self.remote = parse_sdp(remote_sdp)

    def hold(self) -> None:
        self.direction = "sendonly"

    def unhold(self) -> None:
        self.direction = "sendrecv"

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
