"""First-call latency of ``sipclient answer`` (issue #13): the time from an INVITE to the
first response, for the first call into a fresh ``answer`` process and for the next ones.
A proxy retransmits after T1 (500 ms), so the first call must not be slower than later ones.

    .venv/bin/python bench/answer_first_call.py [--calls 5]

Starts ``sipclient answer --no-register --answer-after 0.2`` on a free loopback port in a
subprocess, sends each INVITE from a raw UDP socket and prints the milliseconds to the first
response of that Call-ID (180 Ringing, or 100 Trying). The calls are never ACKed (they end
by themselves after 64*T1); the answerer is terminated at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sipclient.lab.probe import free_udp_port  # noqa: E402


def invite(port: int, mine: int, call_id: str, n: int) -> bytes:
    sdp = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           b"m=audio 40000 RTP/AVP 0 8\r\n")
    return (f"INVITE sip:1002@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{mine};branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
            f"From: <sip:bench@127.0.0.1>;tag={n}\r\nTo: <sip:1002@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"Contact: <sip:bench@127.0.0.1:{mine}>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n").encode() + sdp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5)
    args = ap.parse_args()
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sipclient", "answer", "--no-register", "-s",
         f"udp:127.0.0.1:{port}", "-u", "1002", "--answer-after", "0.2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert proc.stdout is not None
        print(proc.stdout.readline().strip())  # "waiting for calls on ..."
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        mine = sock.getsockname()[1]
        for n in range(args.calls):
            call_id = f"bench-{n}-{uuid.uuid4().hex}"
            t0 = time.perf_counter()
            sock.sendto(invite(port, mine, call_id, n), ("127.0.0.1", port))
            data = sock.recv(65535)
            while call_id.encode() not in data:  # a late message of the previous call
                data = sock.recv(65535)
            ms = 1000 * (time.perf_counter() - t0)
            print(f"call {n + 1}: first response {data.split(b' ', 2)[1].decode()} "
                  f"after {ms:.1f} ms")
            time.sleep(0.5)  # 180 and 200 follow; never ACKed: each call ends after 64*T1
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
