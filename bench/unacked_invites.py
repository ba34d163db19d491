"""N INVITEs to ``sipclient answer`` that are never ACKed (issue #13, RFC 3261 13.3.1.4).

    .venv/bin/python bench/unacked_invites.py [--calls 1000] [--rate 200] [--t1 0.5]
        [--rounds R] [--warmup W]

Starts ``sipclient answer --no-register`` on a free loopback port (a subprocess), sends N
INVITEs from one raw UDP socket, each retransmitted like a UAC does (timer A) until a
response comes (offer ``a=inactive``: the media session and its ports are
set up, no RTP is paced, so the machine's two cores measure signalling and cleanup), never
ACKs the 200s, answers each BYE with 200. Prints, for the answering process:

* how long after its first 200 each dialog ended with a BYE (max, and how many within
  64*T1 + 1 s);
* file descriptors and resident memory before the first INVITE, at the peak, and once every
  dialog has ended and left (64*T1 later: the agent keeps an ended call for late
  retransmissions, like timer L); with ``--rounds R`` the same after each round (CPython
  keeps freed memory for reuse, so RSS stays near its first peak: growth from round to
  round is what a leak would show).

Every INVITE gets a final answer: 200, or 503 when the pool of ``unconfirmed_calls`` (100)
is full of calls still ringing because the answerer is behind (sipclient.agent.admission;
answered calls beyond the pool are parked: media stopped at once, BYE after 64*T1).

Exit status 0 when every INVITE got its 200 or 503, every dialog ended within 64*T1 + 1 s
and the descriptors are back to their level before (+2), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sipclient.lab.probe import free_udp_port  # noqa: E402
from sipclient.proto.message import parse_message  # noqa: E402
from sipclient.proto.transaction import build_response  # noqa: E402

SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 9 RTP/AVP 0 8\r\na=inactive\r\n")


def invite(port: int, mine: int, call_id: str) -> bytes:
    return (f"INVITE sip:1002@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{mine};branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
            f"From: <sip:bench@127.0.0.1>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:1002@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Max-Forwards: 70\r\nContact: <sip:bench@127.0.0.1:{mine}>\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n"
            ).encode() + SDP


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=200.0, help="INVITEs per second")
    ap.add_argument("--t1", type=float, default=0.5)
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the N calls; memory after each round shows any growth")
    ap.add_argument("--warmup", type=int, default=0, metavar="W",
                    help="first W un-ACKed INVITEs that end and leave before 'before' is "
                         "taken (the modules and tables a first call loads stay for good)")
    args = ap.parse_args()
    limit = 64 * args.t1
    port = free_udp_port()
    argv = [sys.executable, "-m", "sipclient", "answer", "--no-register", "-s",
            f"udp:127.0.0.1:{port}", "-u", "1002", "--t1", str(args.t1)]
    out = tempfile.NamedTemporaryFile("w+", prefix="unacked-answer-", suffix=".log")
    # its output goes to a file: a pipe nobody reads would fill and stall the answerer
    proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    mine = sock.getsockname()[1]
    first_200: dict[str, float] = {}
    refused: set[str] = set()
    bye_at: dict[str, float] = {}
    peak_fds = peak_rss = 0

    #: Call-ID -> [INVITE bytes, next retransmission, interval, first sent] until a response
    pending: dict[str, list] = {}
    retransmissions = 0
    last_sample = 0.0

    def pump(until: float) -> None:
        nonlocal peak_fds, peak_rss, retransmissions, last_sample
        while True:
            now = time.monotonic()
            left = until - now
            if left <= 0:
                return
            for call_id, p in list(pending.items()):  # timer A, until timer B (17.1.1.2)
                if now - p[3] > limit:
                    del pending[call_id]
                elif now >= p[1]:
                    sock.sendto(p[0], ("127.0.0.1", port))
                    retransmissions += 1
                    p[2] *= 2
                    p[1] = now + p[2]
            if now - last_sample > 0.2:
                last_sample = now
                peak_fds, peak_rss = max(peak_fds, fds(proc.pid)), max(peak_rss,
                                                                       rss_kb(proc.pid))
            ready, _, _ = select.select([sock], [], [], min(left, 0.02))
            if not ready:
                continue
            data = sock.recv(65535)
            now = time.monotonic()
            msg = parse_message(data)
            pending.pop(msg.call_id, None)
            if data.startswith(b"SIP/2.0 200") and b" INVITE\r\n" in data:
                first_200.setdefault(msg.call_id, now)
            elif data.startswith(b"SIP/2.0 503") and b" INVITE\r\n" in data:
                refused.add(msg.call_id)  # dropped while ringing (unconfirmed_calls)
            elif data.startswith(b"BYE "):
                bye_at.setdefault(msg.call_id, now)
                sock.sendto(bytes(build_response(msg, 200)), ("127.0.0.1", port))

    def send_invite(name: str, until: float) -> None:
        """One INVITE under a new Call-ID, retransmitted by pump() until answered."""
        call_id = f"{name}-{uuid.uuid4().hex[:8]}"
        data = invite(port, mine, call_id)
        sock.sendto(data, ("127.0.0.1", port))
        now = time.monotonic()
        pending[call_id] = [data, now + args.t1, args.t1, now]
        pump(until)

    try:
        deadline = time.monotonic() + 20
        while "waiting for calls" not in Path(out.name).read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"answer did not start:\n{Path(out.name).read_text()}")
            time.sleep(0.05)
        time.sleep(0.5)
        fds_cold, rss_cold = fds(proc.pid), rss_kb(proc.pid)
        start = time.monotonic()
        for n in range(args.warmup):
            send_invite(f"warmup-{n}", start + (n + 1) / args.rate)
        if args.warmup:
            pump(time.monotonic() + 2 * limit + 4)  # ended, then gone from the agent
            first_200.clear(), bye_at.clear(), refused.clear()
            retransmissions = 0
        fds0, rss0 = fds(proc.pid), rss_kb(proc.pid)
        peak_fds, peak_rss = fds0, rss0
        after_rounds: list[tuple[int, int]] = []
        for rnd in range(args.rounds):
            start = time.monotonic()
            for n in range(args.calls):
                send_invite(f"unacked-{rnd}-{n}", start + (n + 1) / args.rate)
            sent = time.monotonic() - start
            pump(time.monotonic() + limit + 2)
            while len(bye_at) < len(first_200) and time.monotonic() < start + sent + 3 * limit:
                pump(time.monotonic() + 1)
            fds_ended, rss_ended = fds(proc.pid), rss_kb(proc.pid)
            pump(time.monotonic() + limit + 2)  # ended calls leave the agent after 64*T1
            fds1, rss1 = fds(proc.pid), rss_kb(proc.pid)
            after_rounds.append((fds1, rss1))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()
    took = [bye_at[c] - first_200[c] for c in first_200 if c in bye_at]
    within = sum(1 for t in took if t <= limit + 1)
    print(f"{args.rounds} x {args.calls} INVITEs ({sent:.1f} s each), T1 {args.t1} s (64*T1 = {limit:g} s), "
          f"{retransmissions} INVITE retransmissions (timer A)")
    print(f"refused 503 while ringing (the pool of unconfirmed_calls full, the answerer "
          f"behind): {len(refused)}")
    print(f"answered (200): {len(first_200)}; ended with BYE: {len(bye_at)}; "
          f"within 64*T1 + 1 s: {within}; slowest {max(took, default=0):.2f} s, "
          f"fastest {min(took, default=0):.2f} s")
    print(f"descriptors: before {fds0}, peak {peak_fds}, all ended {fds_ended}, "
          f"after 64*T1 more {fds1}")
    if args.warmup:
        print(f"warm-up: {args.warmup} un-ACKed INVITEs ended and gone; the process went "
              f"{fds_cold} -> {fds0} descriptors, {rss_cold / 1024:.1f} -> {rss0 / 1024:.1f} MiB")
    print(f"resident memory: before {rss0 / 1024:.1f} MiB, peak {peak_rss / 1024:.1f} MiB, "
          f"all ended {rss_ended / 1024:.1f} MiB, after {rss1 / 1024:.1f} MiB")
    print(f"RSS after / before: {100 * rss1 / rss0:.0f} %")
    if args.rounds > 1:
        print("after each round: " + ", ".join(f"{f} fds / {r / 1024:.1f} MiB"
                                               for f, r in after_rounds))
    ok = (within == len(first_200) and len(first_200) + len(refused) == args.calls * args.rounds
          and fds1 <= fds0 + 2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
