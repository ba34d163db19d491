"""Parse + serialize throughput of sipclient's core next to the PyPI package `sipmessage`.

Both libraries do the same work in the same process on the same messages: a realistic
INVITE with SDP (as the Intelbras phone in seed 001 sends it, with credentials) and the
200 OK with SDP that Asterisk answers. Two workloads are timed:

- ``parse+serialize``: bytes in, message object, bytes out (a proxy or recorder's job);
- ``parse+views+serialize``: the same, also reading Via, From tag, To, Call-ID and CSeq
  (a user agent's job).

Run: ``make bench`` or ``python bench/parse_serialize.py [--seconds S]``.
"""

from __future__ import annotations

import argparse
import time

import sipmessage

import sipclient

SDP = (
    b"v=0\r\n"
    b"o=- 3818509910 3818509910 IN IP4 192.168.15.121\r\n"
    b"s=Intelbras\r\n"
    b"c=IN IP4 192.168.15.121\r\n"
    b"t=0 0\r\n"
    b"m=audio 6000 RTP/AVP 18 0 8 101\r\n"
    b"a=rtpmap:18 G729/8000\r\n"
    b"a=fmtp:18 annexb=no\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)

INVITE = (
    b"INVITE sip:944511712@widecloud.example.com:7048;transport=udp SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.168.15.121:5060;rport;branch=z9hG4bKpJJa5vvdLmT21JLJq2JmXfZ588N4KI5JtqHm\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "RAMAL - 6961" <sip:6961@widecloud.example.com>;tag=Uk8TFV1EBRrHU0fEDiZaoaFHKLrCtMuznZ\r\n'
    b"To: <sip:944511712@widecloud.example.com>\r\n"
    b'Contact: <sip:6961@192.168.15.121:5060;transport=udp>;+sip.instance="<urn:uuid:80:8f:e8:77:f5>"\r\n'
    b"Call-ID: Z1bycsRcVdqBAOyicF3xSZocQ8Wnu3pRmQNO\r\n"
    b"CSeq: 14545 INVITE\r\n"
    b"Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, REFER, OPTIONS, INFO, PUBLISH, REGISTER, SUBSCRIBE, NOTIFY\r\n"
    b"Supported: replaces\r\n"
    b"User-Agent: Telephone_TIP125\r\n"
    b'Authorization: Digest username="6961", realm="asterisk", nonce="1609521111/e77ebd577852317e85e4cfd479d3c3", '
    b'uri="sip:944511712@widecloud.example.com:7048;transport=udp", response="12c56ed0827828fe3e1c43211be2067c", '
    b'algorithm=md5, cnonce="cf4nYIbocl8SsGhwsI3Xj2yVMmYStDx0zT", opaque="6c9b520111a7b797", qop=auth, nc=00000001\r\n'
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)

OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.168.15.121:5060;rport=60185;received=72.44.22.20;branch=z9hG4bKpJJa5vvdLmT21JLJq2JmXfZ588N4KI5JtqHm\r\n"
    b"Record-Route: <sip:131.196.224.38:7048;lr>\r\n"
    b"Call-ID: Z1bycsRcVdqBAOyicF3xSZocQ8Wnu3pRmQNO\r\n"
    b'From: "RAMAL - 6961" <sip:6961@widecloud.example.com>;tag=Uk8TFV1EBRrHU0fEDiZaoaFHKLrCtMuznZ\r\n'
    b"To: <sip:944511712@widecloud.example.com>;tag=1a7e9c2b-5d0f-4b8e-9a51-7c3e2d1f0a6b\r\n"
    b"CSeq: 14545 INVITE\r\n"
    b"Server: Asterisk PBX 16.28.0~dfsg-0+deb11u3\r\n"
    b"Contact: <sip:131.196.224.38:7048>\r\n"
    b"Allow: OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, MESSAGE, REFER\r\n"
    b"Supported: 100rel, timer, replaces, norefersub\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)


def ours_plain(data: bytes) -> bytes:
    return bytes(sipclient.parse_message(data))


def theirs_plain(data: bytes) -> bytes:
    return bytes(sipmessage.Message.parse(data))


def ours_views(data: bytes) -> bytes:
    msg = sipclient.parse_message(data)
    msg.top_via.branch, msg.from_.tag, msg.to.uri, msg.call_id, msg.cseq.seq
    return bytes(msg)


def theirs_views(data: bytes) -> bytes:
    msg = sipmessage.Message.parse(data)
    msg.via[0].parameters.get("branch"), msg.from_address.parameters.get("tag"), msg.to_address.uri, msg.call_id, msg.cseq.sequence
    return bytes(msg)


def rate(func, data: bytes, seconds: float) -> float:
    """Messages per second, best of three runs of about ``seconds / 3`` each."""
    func(data)  # warm up, and fail early if the library rejects the message
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for _ in range(200):
                func(data)
            n += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    print(f"sipclient {sipclient.__version__} vs sipmessage {sipmessage.__version__}")
    print(f"{'workload':<24}{'message':<10}{'sipclient/s':>14}{'sipmessage/s':>14}{'ratio':>8}")
    for workload, ours, theirs in (
        ("parse+serialize", ours_plain, theirs_plain),
        ("parse+views+serialize", ours_views, theirs_views),
    ):
        for name, data in (("INVITE", INVITE), ("200 OK", OK_200)):
            a = rate(ours, data, args.seconds)
            b = rate(theirs, data, args.seconds)
            print(f"{workload:<24}{name:<10}{a:>14,.0f}{b:>14,.0f}{a / b:>7.1f}x")


if __name__ == "__main__":
    main()
