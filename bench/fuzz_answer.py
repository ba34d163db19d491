"""Hostile traffic at a live ``sipclient answer``: descriptors, RSS, tracebacks, legit calls.

Issue 18's must-show: 100,000 mutated datagrams plus 1,000 un-ACKed INVITEs and 5,000 OPTIONS
at a live ``sipclient answer`` (``--no-register``, on loopback): 0 tracebacks, a legitimate
call still works during and after, and within 2 minutes the descriptors are back where they
started and RSS within 25 % of it. The datagrams are crafted with scapy
(tests/hostile/fuzz.py) from ever new source ports.

Prints one JSON object: datagrams sent by kind, the agent's RSS (MB) and open descriptors
before, right after, and after the settle time, the legit calls' statuses (during, after),
the number of tracebacks in its stderr, and how long each phase took. Needs root (raw socket).

Run: ``nice python bench/fuzz_answer.py [--mutated 100000] [--invites 1000] [--options 5000]
[--settle 120] [--rate 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.lab.probe import free_udp_port  # noqa: E402
from tests.hostile.fuzz import Sender, datagrams, legit_call, request, sdp  # noqa: E402


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def proc_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def wait_ready(port: int, proc: subprocess.Popen) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe.settimeout(0.5)
    options = request(random.Random(0), "OPTIONS", f"127.0.0.1:{port}", 0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        probe.sendto(options, ("127.0.0.1", port))
        try:
            if probe.recv(65535).startswith(b"SIP/2.0 "):
                return
        except (socket.timeout, ConnectionRefusedError):
            time.sleep(0.3)
    raise SystemExit("sipclient answer did not come up")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mutated", type=int, default=100_000)
    p.add_argument("--invites", type=int, default=1000, help="valid INVITEs never ACKed")
    p.add_argument("--options", type=int, default=5000)
    p.add_argument("--settle", type=float, default=120.0, help="seconds to wait after")
    p.add_argument("--rate", type=float, default=2000.0, help="datagrams per second at most")
    p.add_argument("--stderr", metavar="FILE", help="keep the agent's stderr in FILE")
    args = p.parse_args()
    port = free_udp_port()
    argv = [sys.executable, "-m", "sipclient", "answer", "--no-register", "-s",
            "udp:127.0.0.1:9", "-u", "1002", "--local-address", "127.0.0.1", "--local-port",
            str(port), "--json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: dict = {"port": port}
    try:
        wait_ready(port, proc)
        pid = proc.pid
        out["before"] = {"rss_mb": proc_rss_mb(pid), "fds": proc_fds(pid)}
        sender = Sender("127.0.0.1", port)
        rng = random.Random(1)
        target = f"127.0.0.1:{port}"
        kinds: dict[str, int] = {}
        plan = ([("invite-unacked", request(rng, "INVITE", target, 10_000_000 + n,
                                            sdp(random.Random(n)) if n % 2 else
                                            b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
                                            b"c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                                            b"m=audio 9 RTP/AVP 0\r\n"))
                 for n in range(args.invites)]
                + [("options", request(rng, "OPTIONS", target, 20_000_000 + n))
                   for n in range(args.options)])
        total = args.mutated + len(plan)
        during = None
        t0 = time.monotonic()
        gen = datagrams(target, args.mutated, seed=18)
        for n in range(total):
            if n % 20 == 0 and plan:
                kind, payload = plan.pop()
            else:
                kind, payload = next(gen, None) or plan.pop()
            sender.send(payload)
            kinds[kind] = kinds.get(kind, 0) + 1
            if n == total // 2:
                during = asyncio.run(legit_call(port, 15))
            ahead = n / args.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        sender.close()
        out["send_seconds"] = round(time.monotonic() - t0, 1)
        out["sent"] = kinds
        out["right_after"] = {"rss_mb": proc_rss_mb(pid), "fds": proc_fds(pid)}
        out["call_during"] = during
        out["call_after"] = asyncio.run(legit_call(port, 15))
        settle_until = time.monotonic() + args.settle
        samples = []
        while time.monotonic() < settle_until:
            time.sleep(10)
            samples.append({"t": round(args.settle - (settle_until - time.monotonic())),
                            "rss_mb": proc_rss_mb(pid), "fds": proc_fds(pid)})
        out["settle_samples"] = samples
        out["after_settle"] = samples[-1] if samples else out["right_after"]
        out["call_after_settle"] = asyncio.run(legit_call(port, 15))
        out["alive"] = proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        out["exit_code"] = proc.returncode
        if args.stderr:
            Path(args.stderr).write_text(err)
        out["tracebacks"] = err.count("Traceback")
        out["stderr_lines"] = len(err.splitlines())
        out["stderr_tail"] = err.splitlines()[-5:]
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
