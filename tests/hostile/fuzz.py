"""Hostile datagrams for a live agent, crafted with scapy (issue 18's network fuzzer).

:func:`datagrams` yields ``(kind, payload)``: well-formed requests the agent must handle
(OPTIONS, INVITE that is never ACKed), the same with bad SDP (ports 65535, 70000, -1, a
``c=`` that is no address, ``a=rtcp:99999``, a missing ``m=``), and mutations of them (bytes
flipped, inserted, cut; Content-Length lying; headers repeated or huge; NUL and invalid
UTF-8; CRLF floods). Seeded: the same seed gives the same datagrams.

:class:`Sender` puts them on the wire with scapy (IP/UDP built by scapy, sent through a raw
socket), each from its own source port so that every datagram is a new peer to the agent.
Loopback only. Used by tests/hostile/test_fuzz_answer.py and bench/fuzz_answer.py.
"""

from __future__ import annotations

import asyncio
import random
from typing import Iterator

from scapy.layers.inet import IP, UDP
from scapy.packet import Raw
from scapy.supersocket import L3RawSocket

from sipclient.agent import Agent, AgentConfig, SipTimeout

BAD_M_LINES = ("m=audio 65535 RTP/AVP 0", "m=audio 70000 RTP/AVP 0", "m=audio -1 RTP/AVP 0",
               "m=audio 65534/4 RTP/AVP 0", "m=audio 4000 RTP/AVP", "m=audio x RTP/AVP 0",
               "m=video 65535 RTP/AVP 96", "m=audio 0 RTP/AVP 0", "m=audio 4000 UDP/TLS 0")
BAD_LINES = ("c=IN IP4 999.999.1.1", "c=IN IP6 ::zz", "a=rtcp:99999", "a=rtcp:65535",
             "a=rtpmap:0 PCMU/0", "a=ptime:-20", "a=fmtp:", "o=- x y IN IP4 1.2.3.4", "v=9")


def sdp(rng: random.Random) -> bytes:
    m = rng.choice(BAD_M_LINES) if rng.random() < 0.7 else "m=audio 4000 RTP/AVP 0 101"
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", m,
             "a=rtpmap:0 PCMU/8000", "a=sendrecv"]
    for _ in range(rng.randrange(3)):
        lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(BAD_LINES))
    if rng.random() < 0.1:
        lines = [ln for ln in lines if not ln.startswith("m=")]
    return ("\r\n".join(lines) + "\r\n").encode()


def request(rng: random.Random, method: str, target: str, n: int, body: bytes = b"") -> bytes:
    branch = f"z9hG4bK-fz{n}-{rng.randrange(1 << 30)}"
    head = [f"{method} sip:1002@{target} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{rng.randrange(1024, 65535)};branch={branch};rport",
            "Max-Forwards: 70", f"From: <sip:fuzz{n}@127.0.0.1>;tag=f{n}",
            f"To: <sip:1002@{target}>", f"Call-ID: fuzz-{n}-{rng.randrange(1 << 30)}@h",
            f"CSeq: {rng.randrange(1, 1 << 20)} {method}", f"Contact: <sip:fuzz{n}@127.0.0.1:9>"]
    if body:
        head.append("Content-Type: application/sdp")
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        how = rng.randrange(9)
        if how == 0 and buf:                                     # flip bytes
            for _ in range(rng.randrange(1, 8)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif how == 1:                                           # insert junk
            at = rng.randrange(len(buf) + 1)
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        elif how == 2 and buf:                                   # cut
            del buf[rng.randrange(len(buf)):]
        elif how == 3:                                           # Content-Length lies
            value = rng.choice([b"-1", b"99999999", b"0", b"1e3", b"18446744073709551616"])
            buf = bytearray(bytes(buf).replace(b"Content-Length: ", b"Content-Length: "
                                               + value + b"\r\nX-Was: ", 1))
        elif how == 4:                                           # a header repeated
            line = rng.choice([b"Via: SIP/2.0/UDP 1.2.3.4\r\n", b"CSeq: 1 INVITE\r\n",
                               b"Call-ID: x\r\n", b"To: <sip:a@b>;tag=1\r\n"])
            at = bytes(buf).find(b"\r\n") + 2
            buf[at:at] = line * rng.randrange(1, 200)
        elif how == 5:                                           # one huge header
            at = bytes(buf).find(b"\r\n") + 2
            buf[at:at] = b"X-Big: " + b"A" * rng.randrange(1000, 60000) + b"\r\n"
        elif how == 6:                                           # NUL / bad UTF-8
            at = rng.randrange(len(buf) + 1)
            buf[at:at] = rng.choice([b"\x00", b"\xff\xfe", b"\xc3\x28", b"\r", b"\n\n"])
        elif how == 7:                                           # a folded or empty line
            buf = bytearray(bytes(buf).replace(b"\r\n", rng.choice([b"\r\n \r\n", b"\n",
                                                                   b"\r\n\r\n"]), 1))
        else:                                                    # CRLF flood
            buf[:0] = b"\r\n" * rng.randrange(1, 2000)
    return bytes(buf[:65000])


def datagrams(target: str, count: int, seed: int = 18) -> Iterator[tuple[str, bytes]]:
    """``count`` hostile datagrams for the agent at ``target`` (host:port)."""
    rng = random.Random(seed)
    for n in range(count):
        roll = rng.random()
        if roll < 0.15:
            yield "options", request(rng, "OPTIONS", target, n)
        elif roll < 0.30:
            yield "invite-bad-sdp", request(rng, "INVITE", target, n, sdp(rng))
        elif roll < 0.35:
            yield "garbage", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1500)))
        else:
            method = rng.choice(["INVITE", "OPTIONS", "BYE", "ACK", "CANCEL", "INFO",
                                 "REGISTER", "NOTIFY", "UPDATE", "PRACK"])
            body = sdp(rng) if method in ("INVITE", "UPDATE") else b""
            yield "mutated", mutate(rng, request(rng, method, target, n, body))


class Sender:
    """Datagrams to host:port from ever new source ports, through scapy's raw L3 socket."""

    def __init__(self, host: str, port: int, seed: int = 18) -> None:
        self.host, self.port = host, port
        self.rng = random.Random(seed)
        self.socket = L3RawSocket()
        self.sent = 0

    def send(self, payload: bytes) -> None:
        packet = IP(dst=self.host) / UDP(sport=self.rng.randrange(20000, 60000),
                                         dport=self.port) / Raw(load=payload)
        try:
            self.socket.send(packet)
        except OSError:  # EMSGSIZE for an oversized one: the kernel refuses, nothing sent
            return
        self.sent += 1

    def close(self) -> None:
        self.socket.close()


async def legit_call(port: int, timeout: float = 10.0) -> int | str:
    """An ordinary call from 1001 to the ``answer`` under fire on ``port``: its final
    status (a 200 is held half a second and hung up), or why none came."""
    cfg = AgentConfig(user="1001", server=f"udp:127.0.0.1:{port}", local_address="127.0.0.1",
                      cleanup_timeout=3.0)
    async with Agent(cfg) as agent:
        call = await agent.call(f"sip:1002@127.0.0.1:{port}")
        try:
            final = await call.wait_final(timeout)
        except SipTimeout as exc:
            return str(exc)
        if final.status == 200:
            await asyncio.sleep(0.5)
            await call.hangup()
        return final.status
