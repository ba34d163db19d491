"""Packets per second of ``sipclient pcap summary`` next to tshark, on the same capture.

Generates (into a temporary directory, never the repository) a classic pcap of at least
``--packets`` packets (default 1,000,000), mostly RTP: ``--calls`` simultaneous G.711 calls
(PCMA and PCMU alternating), each INVITE/100/180/200/ACK with SDP, then both directions
sending 20 ms RTP packets (some lost, some reordered, arrival jitter), then BYE/200. The
file is written directly (Ethernet/IPv4/UDP headers packed by hand): the point is to time
the reader, not the writer.

Then, in the same run, times:

- ours: ``python -m sipclient pcap summary FILE --json`` in a subprocess (interpreter start
  included), and ``read_capture`` + ``summary_dict`` in-process;
- tshark: ``tshark -n -r FILE -q -z rtp,streams -z sip,stat`` (the same streams with their
  packets/lost/jitter, and the SIP message statistics), which computes what our summary
  shows;
- dpkt: a reader built on dpkt (``dpkt.pcap.Reader``, ``Ethernet`` -> ``IP`` -> ``UDP``
  objects per packet), doing the least a summary needs: SIP counted, each RTP packet's SSRC
  and sequence number taken (no statistics at all). It is the floor of a dpkt-based
  summary: the reason the hot path of ``read_capture`` reads headers in place instead;

checks that both found the same RTP streams with the same packet and loss counts, and prints
packets/s of each and the ratio. ``--profile`` prints our top functions (cProfile).

Run: ``python bench/pcap_summary.py [--packets 1000000] [--calls 50] [--keep]
[--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sipclient.pcap.read import read_capture  # noqa: E402
from sipclient.pcap.summary import summary_dict  # noqa: E402

TSHARK_ARGS = ["-n", "-q", "-z", "rtp,streams", "-z", "sip,stat"]


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class Writer:
    """Ethernet/IPv4/UDP records into a classic pcap (microseconds)."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.count = 0
        self.ident = 0
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"

    def udp(self, t: float, src: str, sport: int, dst: str, dport: int, payload: bytes) -> None:
        self.ident = (self.ident + 1) & 0xFFFF
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), self.ident, 0, 64, 17, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
        ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
        frame = self.eth + ip + struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        sec = int(t)
        self.fh.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)))
        self.fh.write(frame)
        self.count += 1


def sip(first: str, call_id: str, cseq: str, body: str = "") -> bytes:
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    return (f"{first}\r\nVia: SIP/2.0/UDP 10.1.0.1:5060;branch=z9hG4bK{call_id}{cseq.split()[0]}"
            f"\r\nFrom: <sip:1001@bench>;tag=a{call_id}\r\nTo: <sip:2001@bench>;tag=b\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\n{ctype}Content-Length: {len(body)}\r\n\r\n"
            f"{body}").encode()


def sdp(ip: str, port: int, pt: int) -> str:
    name = {0: "PCMU", 8: "PCMA"}[pt]
    return (f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {name}/8000\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\n")


def generate(path: Path, packets: int, calls: int, seed: int = 1) -> dict:
    """Write the capture; returns what was put in it (streams with their sent/lost)."""
    rng = random.Random(seed)
    ticks = packets // (2 * calls) + 1
    t0 = 1_700_000_000.0
    caller, callee = "10.1.0.1", "10.2.0.1"
    streams = {}
    with path.open("wb", buffering=1 << 20) as fh:
        w = Writer(fh)
        for c in range(calls):
            cid = f"bench-{c}"
            pt = 8 if c % 2 == 0 else 0
            a_port, b_port = 20000 + 2 * c, 40000 + 2 * c
            t = t0 + c * 0.01
            w.udp(t, caller, 5060, callee, 5060,
                  sip("INVITE sip:2001@bench SIP/2.0", cid, "1 INVITE", sdp(caller, a_port, pt)))
            w.udp(t + 0.001, callee, 5060, caller, 5060, sip("SIP/2.0 100 Trying", cid, "1 INVITE"))
            w.udp(t + 0.1, callee, 5060, caller, 5060, sip("SIP/2.0 180 Ringing", cid, "1 INVITE"))
            w.udp(t + 0.5, callee, 5060, caller, 5060,
                  sip("SIP/2.0 200 OK", cid, "1 INVITE", sdp(callee, b_port, pt)))
            w.udp(t + 0.51, caller, 5060, callee, 5060, sip("ACK sip:2001@bench SIP/2.0", cid,
                                                             "1 ACK"))
            for direction, (src, sport, dst, dport) in enumerate(
                    [(caller, a_port, callee, b_port), (callee, b_port, caller, a_port)]):
                ssrc = 0x10000000 + 2 * c + direction
                streams[ssrc] = {"call": c, "pt": pt, "src": (src, sport), "dst": (dst, dport),
                                 "seq0": rng.randrange(65536), "ts0": rng.randrange(1 << 32),
                                 "sent": 0}
        payloads = {pt: bytes([0xD5 if pt == 8 else 0xFF]) * 160 for pt in (0, 8)}
        start = t0 + calls * 0.01 + 1.0
        header = struct.Struct("!BBHII")
        held: list = []
        for i in range(ticks):
            base = start + i * 0.02
            for ssrc, s in streams.items():
                if w.count >= packets - 4 * calls and i > 0:
                    break
                if rng.random() < 0.005:                       # lost on the way
                    continue
                data = header.pack(0x80, s["pt"] | (0x80 if i == 0 else 0),
                                   (s["seq0"] + i) & 0xFFFF, (s["ts0"] + 160 * i) & 0xFFFFFFFF,
                                   ssrc) + payloads[s["pt"]]
                arrival = base + rng.uniform(0, 0.004)
                if rng.random() < 0.002:                       # arrives after the next one
                    held.append((arrival + 0.02, s, data))
                    continue
                w.udp(arrival, *s["src"], *s["dst"], data)
                s["sent"] += 1
            for arrival, s, data in held:
                w.udp(arrival, *s["src"], *s["dst"], data)
                s["sent"] += 1
            held = []
            if w.count >= packets - 4 * calls:
                break
        end = start + (i + 1) * 0.02
        for c in range(calls):
            cid = f"bench-{c}"
            w.udp(end + c * 0.001, caller, 5060, callee, 5060,
                  sip("BYE sip:2001@bench SIP/2.0", cid, "2 BYE"))
            w.udp(end + c * 0.001 + 0.0005, callee, 5060, caller, 5060,
                  sip("SIP/2.0 200 OK", cid, "2 BYE"))
        while w.count < packets:                                 # pad with OPTIONS pings
            w.udp(end + 1 + w.count * 1e-4, caller, 5060, callee, 5060,
                  sip("OPTIONS sip:2001@bench SIP/2.0", f"ping-{w.count}", "1 OPTIONS"))
        total = w.count
    return {"packets": total, "streams": streams}


def run_ours_subprocess(path: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sipclient", "pcap", "summary", str(path),
                           "--json"], capture_output=True, text=True, cwd=ROOT, check=True)
    return time.perf_counter() - start, json.loads(proc.stdout)


def run_ours_inprocess(path: Path, profile: bool) -> float:
    prof = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if prof:
        prof.enable()
    summary_dict(read_capture(str(path)))
    if prof:
        prof.disable()
    elapsed = time.perf_counter() - start
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())
    return elapsed


def run_dpkt(path: Path) -> tuple[float, dict[int, int], int]:
    """Seconds, SSRC -> packets, SIP messages, with dpkt's packet objects."""
    import dpkt

    start = time.perf_counter()
    streams: dict[int, int] = {}
    sip_count = 0
    with open(path, "rb") as fh:
        for _ts, buf in dpkt.pcap.Reader(fh):
            ip = dpkt.ethernet.Ethernet(buf).data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.udp.UDP):
                continue
            payload = ip.data.data
            if payload[:8] == b"SIP/2.0 " or payload[:12].split(b" ")[0].isupper() \
                    and b" SIP/2.0\r\n" in payload[:200]:
                sip_count += 1
            elif len(payload) >= 12 and payload[0] & 0xC0 == 0x80 and payload[1] & 0x7F < 72:
                rtp = dpkt.rtp.RTP(payload)
                streams[rtp.ssrc] = streams.get(rtp.ssrc, 0) + 1
    return time.perf_counter() - start, streams, sip_count


def run_tshark(path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(["tshark", "-r", str(path), *TSHARK_ARGS], capture_output=True,
                          text=True, check=True)
    return time.perf_counter() - start, proc.stdout


def tshark_streams(text: str) -> dict[int, tuple[int, int]]:
    """SSRC -> (packets, lost) from tshark's rtp,streams table."""
    out = {}
    for line in text.splitlines():
        m = re.search(r"(0x[0-9A-Fa-f]{8})\s+\S+.*?\s(\d+)\s+(-?\d+)\s+\(", line)
        if m:
            out[int(m.group(1), 16)] = (int(m.group(2)), int(m.group(3)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--keep", action="store_true", help="keep the generated capture")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if not shutil.which("tshark"):
        sys.exit("tshark is missing (make lab-deps)")
    tmp = Path(tempfile.mkdtemp(prefix="pcap-bench-"))
    path = tmp / "bench.pcap"
    t = time.perf_counter()
    made = generate(path, args.packets, args.calls)
    n = made["packets"]
    print(f"capture: {path} ({path.stat().st_size / 1e6:.0f} MB, {n} packets, "
          f"{len(made['streams'])} RTP streams of {args.calls} G.711 calls; "
          f"generated in {time.perf_counter() - t:.1f} s)")

    t_sub, ours = run_ours_subprocess(path)
    t_in = run_ours_inprocess(path, args.profile)
    t_tshark, tshark_out = run_tshark(path)
    t_dpkt, dpkt_streams, dpkt_sip = run_dpkt(path)

    theirs = tshark_streams(tshark_out)
    mine = {int(s["ssrc"], 16): (s["packets"], s["lost"]) for s in ours["rtp"]["streams"]}
    sent = {ssrc: s["sent"] for ssrc, s in made["streams"].items()}
    agree = mine == theirs
    print(f"streams: ours {len(mine)}, tshark {len(theirs)}; packets and lost "
          f"{'identical' if agree else 'DIFFER'}; packets as generated: "
          f"{'yes' if all(mine.get(k, (0,))[0] == v for k, v in sent.items()) else 'NO'}")
    if not agree:
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))[:5]
        for k in diff:
            print(f"  0x{k:08X}: ours {mine.get(k)}, tshark {theirs.get(k)}")
    m = re.search(r"Number of SIP messages: (\d+)", tshark_out)
    print(f"SIP messages: ours {ours['sip']['messages']} in {len(ours['sip']['dialogs'])} "
          f"dialogs, tshark {m.group(1) if m else '?'}")
    same = {k: v[0] for k, v in mine.items()} == dpkt_streams
    print(f"dpkt reader: {len(dpkt_streams)} RTP streams, packets per SSRC "
          f"{'identical to ours' if same else 'DIFFER from ours'}; {dpkt_sip} SIP messages")
    print()
    cmd_ours = "python -m sipclient pcap summary FILE --json"
    cmd_tshark = "tshark -r FILE " + " ".join(TSHARK_ARGS)
    rows = [(f"ours, subprocess: {cmd_ours}", t_sub),
            ("ours, in-process: read_capture + summary_dict", t_in),
            (f"tshark: {cmd_tshark}", t_tshark),
            ("dpkt, in-process: Reader + Ethernet/IP/UDP/RTP objects, no stats", t_dpkt)]
    for name, secs in rows:
        print(f"{name:<72} {secs:7.2f} s  {n / secs:>10,.0f} packets/s")
    print(f"\nratio (tshark time / ours, subprocess): {t_tshark / t_sub:.2f}x "
          f"({'faster' if t_sub < t_tshark else 'slower'} than tshark)")
    print(f"ratio (dpkt time / ours, in-process): {t_dpkt / t_in:.2f}x "
          f"({'faster' if t_in < t_dpkt else 'slower'} than the dpkt reader, which computes "
          f"no statistics)")
    if args.keep:
        print(f"kept {path}")
    else:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
