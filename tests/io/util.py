"""Helpers for the transport tests: real SIP messages (the tests are ``async def`` tests run
by pytest-asyncio, each bounded by ``asyncio.timeout``)."""

from __future__ import annotations


def register(n: int = 1, via: str = "SIP/2.0/UDP 127.0.0.2:5099", call_id: str = "reg-1") -> bytes:
    """A REGISTER like the Intelbras phone in the seed document sends (no body)."""
    return (
        "REGISTER sip:127.0.0.1:7048;transport=udp SIP/2.0\r\n"
        f"Via: {via};rport;branch=z9hG4bKPj{n:06d}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:5545@127.0.0.1>;tag=wzBPCjLkJpGUxEIE\r\n"
        "To: <sip:5545@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {n} REGISTER\r\n"
        "User-Agent: Telephone_TIP125\r\n"
        "Contact: <sip:5545@127.0.0.2:5099;transport=udp>\r\n"
        "Expires: 90\r\n"
        "Content-Length: 0\r\n"
        "\r\n"
    ).encode()


SDP = (
    "v=0\r\n"
    "o=- 3818509910 3818509910 IN IP4 127.0.0.2\r\n"
    "s=sipclient\r\n"
    "c=IN IP4 127.0.0.2\r\n"
    "t=0 0\r\n"
    "m=audio 10000 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=sendrecv\r\n"
)


def invite(n: int = 1, via: str = "SIP/2.0/TCP 127.0.0.2:5099") -> bytes:
    """An INVITE with an SDP body (Content-Length framing matters)."""
    body = SDP.encode()
    return (
        "INVITE sip:944511712@127.0.0.1:7048;transport=tcp SIP/2.0\r\n"
        f"Via: {via};rport;branch=z9hG4bKinv{n:04d}\r\n"
        "Max-Forwards: 70\r\n"
        'From: "RAMAL - 6961" <sip:6961@127.0.0.1>;tag=Uk8TfV1E\r\n'
        "To: <sip:944511712@127.0.0.1>\r\n"
        "Contact: <sip:6961@127.0.0.2:5099;transport=tcp>\r\n"
        f"Call-ID: inv-{n}\r\n"
        f"CSeq: {14544 + n} INVITE\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode() + body


def ok(request: bytes) -> bytes:
    """A 200 OK echoing the request's Via, From, To, Call-ID and CSeq."""
    head = request.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").split("\r\n")
    names = ("via", "from", "to", "call-id", "cseq")
    keep = [h for h in head[1:] if h.split(":", 1)[0].lower() in names]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()
