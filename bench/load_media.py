"""Simultaneous calls with media: `sipclient load call --media packets|full` held against
`sipp -sn uas -rtp_echo` (every RTP packet comes back).

All calls are started at ``--rate`` and held ``--hold`` seconds, so ``--calls`` are up at
the same time once the ramp is over. Prints completed/failed, and over all streams: packets
sent and received, loss, max jitter, the worst stream's p99 send-time error (how late packets
left against the media clock) and, with ``full``, how many calls heard their 1000 Hz tone.
The issue's targets: 500 calls at ``packets`` for 60 s with 0 loss and p99 send-time error
< 2 ms; 100 at ``full`` all hearing their tone.

Run: ``python bench/load_media.py [--calls 500] [--hold 60] [--level packets]
[--rate 100] [--processes auto]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.load.sipp import SippUas  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--hold", type=float, default=60.0)
    ap.add_argument("--level", choices=("packets", "full"), default="packets")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--processes", default="auto")
    ap.add_argument("--engine", choices=("auto", "lean", "core"), default="auto")
    a = ap.parse_args()
    with SippUas(extra=("-rtp_echo",)) as uas:
        cmd = [sys.executable, "-m", "sipclient", "load", "call", uas.target, "600",
               "--calls", str(a.calls), "--rate", str(a.rate), "--hold", str(a.hold),
               "--media", a.level, "--engine", a.engine, "--processes", a.processes, "--concurrency",
               str(a.calls), "--json", "-q", "--max-loss", "0%"]
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=a.hold + a.calls / a.rate + 120)
    try:
        r = json.loads(out.stdout)
    except ValueError:
        raise SystemExit(f"sipclient load failed (exit {out.returncode}): {out.stderr[-800:]}")
    m = r.get("media") or {}
    print(f"{a.calls} calls, --media {a.level}, held {a.hold:g} s, {r['processes']} processes")
    print(f"completed {r['completed']}, failed {r['failed']} {r['by_reason'] or ''}")
    print(f"packets sent {m.get('packets_sent')}, received {m.get('packets_received')}, "
          f"lost {m.get('lost')} ({m.get('loss', 0):.3%})")
    print(f"jitter max {m.get('jitter_ms_max')} ms; send-time error p99 (worst stream) "
          f"{m.get('send_error_p99_ms_max')} ms")
    if a.level == "full":
        print(f"tone heard back: {m.get('tone_heard')} of {m.get('streams')}")
    ok = (r["failed"] == 0 and m.get("lost") == 0
          and (m.get("send_error_p99_ms_max") or 99) < 2.0
          and (a.level != "full" or m.get("tone_heard") == r["completed"]))
    print("targets met" if ok else "targets NOT met (0 failed, 0 lost, p99 send error < 2 ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
