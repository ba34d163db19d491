"""REGISTER messages per second of ``sipclient pcap diagnose``, next to tshark reading the same SIP.

Generates (in a temporary directory, never the repository) a capture of ``--phones`` phones
(default 500), each registering ``--refreshes`` times (default 20: REGISTER, 401, REGISTER
with credentials, 200), every phone from its own private address and NAT port, with a
registrar answering with ``received``/``rport``; every tenth phone answers its challenges
late (a stale nonce), and two phones share one public address and port (seed 001). Then, in
the same run, it times:

- ours: ``python -m sipclient pcap diagnose FILE --json`` in a subprocess (interpreter
  start included) and ``read_capture`` + ``diagnose`` in-process;
- tshark: ``tshark -n -r FILE -q -z sip,stat`` (reading and counting the same SIP messages,
  which is less than a diagnosis: the ratio is an upper bound of what the diagnosis costs);

checks the verdicts (``stale-nonce`` on the slow phones, ``same-source-port-conflict`` on the
two sharing a port, ``ok`` elsewhere) and prints messages per second and the ratio.

Run: ``python bench/pcap_diagnose.py [--phones 500] [--refreshes 20] [--keep]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sipclient.pcap.writer import PcapWriter  # noqa: E402

REGISTRAR = ("203.0.113.5", 5060)


def _register(user: int, src: tuple[str, int], cseq: int, branch: str, auth: str = "") -> bytes:
    host = src[0]
    return (f"REGISTER sip:pbx.example SIP/2.0\r\nVia: SIP/2.0/UDP {host}:5060;rport;"
            f"branch={branch}\r\nFrom: <sip:{user}@pbx.example>;tag=f{user}\r\n"
            f"To: <sip:{user}@pbx.example>\r\nCall-ID: reg-{user}@{host}\r\n"
            f"CSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{host}:5060>\r\nExpires: 600\r\n"
            f"User-Agent: bench-phone/{user % 7}\r\n{auth}Content-Length: 0\r\n\r\n").encode()


def _response(request: bytes, status: str, public: tuple[str, int], extra: str = "") -> bytes:
    head = request.split(b"\r\n\r\n")[0].decode().split("\r\n")[1:]
    keep = []
    for line in head:
        name = line.split(":", 1)[0].lower()
        if name == "via":
            line = line.replace(";rport", f";rport={public[1]};received={public[0]}")
        if name == "to" and not status.startswith("100"):
            line += ";tag=srv"
        if name in ("via", "from", "to", "call-id", "cseq"):
            keep.append(line)
    return (f"SIP/2.0 {status}\r\n" + "\r\n".join(keep) + f"\r\n{extra}Content-Length: 0"
            "\r\n\r\n").encode()


def generate(path: Path, phones: int, refreshes: int) -> int:
    """Write the capture; returns the number of SIP messages."""
    messages = 0
    with path.open("wb") as f:
        w = PcapWriter(f)
        t = 1_700_000_000.0
        for r in range(refreshes):
            for p in range(phones):
                user = 2000 + p
                src = (f"10.{p // 250}.{p % 250}.{10 + r % 2}", 5060)
                public = ("198.51.100.7", 40000 + (p if p != 1 else 0))   # 0 and 1 share
                slow = p % 10 == 9
                nonce = f"{int(t)}{p:05d}{r:03d}"
                challenge = (f'WWW-Authenticate: Digest realm="pbx",nonce="{nonce}",'
                             f'algorithm=MD5\r\n')
                reg = _register(user, src, 2 * r + 1, f"z9hG4bK{p}a{r}")
                w.write(t, "udp", src, REGISTRAR, reg)
                w.write(t + 0.002, "udp", REGISTRAR, src, _response(reg, "401 Unauthorized",
                                                                      public, challenge))
                delay = 40.0 if slow else 0.05
                auth = (f'Authorization: Digest username="{user}",realm="pbx",nonce="{nonce}",'
                        f'uri="sip:pbx.example",response="0123456789abcdef0123456789abcdef",'
                        f'algorithm=MD5\r\n')
                again = _register(user, src, 2 * r + 2, f"z9hG4bK{p}b{r}", auth)
                w.write(t + delay, "udp", src, REGISTRAR, again)
                if slow:
                    w.write(t + delay + 0.002, "udp", REGISTRAR, src, _response(
                        again, "401 Unauthorized", public,
                        challenge.replace(nonce, nonce + "x")))
                else:
                    w.write(t + delay + 0.002, "udp", REGISTRAR, src, _response(
                        again, "200 OK", public,
                        f"Contact: <sip:{user}@{src[0]}:5060>;expires=600\r\n"))
                messages += 4
                t += 0.01
            t += 300.0
    return messages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phones", type=int, default=500)
    ap.add_argument("--refreshes", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the generated capture")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="pcap-diagnose-bench-"))
    path = tmp / "registrations.pcap"
    try:
        started = time.perf_counter()
        messages = generate(path, args.phones, args.refreshes)
        print(f"capture: {path} ({path.stat().st_size // 1000} kB, {messages} SIP messages, "
              f"{args.phones} phones x {args.refreshes} registrations; generated in "
              f"{time.perf_counter() - started:.1f} s)")

        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "sipclient", "pcap", "diagnose", str(path),
                              "--json"], capture_output=True, text=True, cwd=ROOT)
        ours_sub = time.perf_counter() - started
        report = json.loads(out.stdout)

        from sipclient.pcap.diagnose import diagnose
        from sipclient.pcap.read import read_capture

        started = time.perf_counter()
        in_process = diagnose(read_capture(str(path)).sip)
        ours_in = time.perf_counter() - started

        started = time.perf_counter()
        shark = subprocess.run(["tshark", "-n", "-r", str(path), "-q", "-z", "sip,stat"],
                               capture_output=True, text=True)
        tshark = time.perf_counter() - started
        if shark.returncode != 0:
            print(f"tshark failed: {shark.stderr.strip()}")
            return 1

        codes = {}
        for r in report:
            codes.setdefault(tuple(r["codes"]), []).append(r["aor"].split(":")[1].split("@")[0])
        slow = sorted(str(2000 + p) for p in range(args.phones) if p % 10 == 9)
        expected = {("stale-nonce",): slow,
                    ("same-source-port-conflict",): ["2000", "2001"]}
        right = (sorted(codes.get(("stale-nonce",), [])) == expected[("stale-nonce",)]
                 and sorted(codes.get(("same-source-port-conflict",), []))
                 == expected[("same-source-port-conflict",)]
                 and len(report) == len(in_process) == args.phones)
        shown = ", ".join(f"{'/'.join(k)} {len(v)}" for k, v in sorted(codes.items()))
        print(f"verdicts: {shown}; as generated: {'yes' if right else 'NO'}")
        print()
        for label, seconds in (("ours, subprocess: python -m sipclient pcap diagnose FILE --json",
                                ours_sub),
                               ("ours, in-process: read_capture + diagnose", ours_in),
                               ("tshark: tshark -n -r FILE -q -z sip,stat", tshark)):
            print(f"{label:<66} {seconds:7.2f} s  {messages / seconds:>10,.0f} messages/s")
        print()
        print(f"ratio (tshark time / ours, subprocess): {tshark / ours_sub:.2f}x")
        return 0 if right else 1
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
