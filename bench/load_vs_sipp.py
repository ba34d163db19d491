"""`sipclient load call --processes auto` next to `sipp -sn uac`, same `sipp -sn uas`, same run.

A call is INVITE, 180, 200, ACK, BYE, 200 on UDP over loopback, no media. Both clients get
the same number of calls and the same cap on calls in flight, as fast as they can:

- ours: ``sipclient load call udp:127.0.0.1:<uas> 600 --processes auto --rate max
  --concurrency C --calls N --json``; calls/s is its JSON ``calls_per_second`` (completed
  calls from the first INVITE to the last BYE's 200) and, for the record, over the whole
  command's wall time (process start-up included);
- sipp: ``sipp -sn uac -r 100000 -l C -m N``; calls/s = its successful calls over its wall
  time.

With ``--rate R`` both are asked for R calls/s instead (``--rate R`` / ``-r R``): the ratio
then says whether we sustain a rate sipp sustains, rather than who is faster.

Prints both and the ratio ours/sipp (target >= 1.0 with 0 failed on both sides). Bounded: a
side that has not finished in ``--timeout`` seconds is stopped. ``--repeat K`` runs the pair
K times (ours, sipp, ours, sipp ...: on a shared machine one pair is noisy) and judges the
median ratio.

Run: ``python bench/load_vs_sipp.py [--calls 4000] [--concurrency 50] [--processes auto]
[--rate R] [--repeat K]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.load.sipp import SippUas, sipp_uac  # noqa: E402


def ours(target: str, calls: int, concurrency: int, processes: str,
         timeout: float, rate: float | None) -> tuple[dict, float]:
    cmd = [sys.executable, "-m", "sipclient", "load", "call", target, "600", "--rate",
           "max" if rate is None else str(rate),
           "--concurrency", str(concurrency), "--calls", str(calls), "--processes",
           processes, "--timeout", "8", "--json", "-q", "--max-failed", "100%"]
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    try:
        return json.loads(out.stdout), wall
    except ValueError:
        raise SystemExit(f"sipclient load failed (exit {out.returncode}): {out.stderr[-800:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--processes", default="auto")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--rate", type=float, default=None, help="ask both for R calls/s")
    ap.add_argument("--repeat", type=int, default=1, help="run the pair K times; median")
    a = ap.parse_args()
    ratios, failed = [], 0
    with SippUas() as uas:
        for _ in range(max(1, a.repeat)):
            ratio, f = pair(uas, a)
            ratios.append(ratio)
            failed += f
    ratios.sort()
    median = ratios[len(ratios) // 2]
    if len(ratios) > 1:
        print(f"ratios: {', '.join(f'{x:.2f}' for x in ratios)}; median {median:.2f}")
    return 0 if median >= 1.0 and failed == 0 else 1


def pair(uas: SippUas, a: argparse.Namespace) -> tuple[float, int]:
    r, wall = ours(uas.target, a.calls, a.concurrency, a.processes, a.timeout, a.rate)
    s = sipp_uac(uas.host, uas.port, calls=a.calls, concurrency=a.concurrency,
                 timeout=a.timeout, **({"rate": a.rate} if a.rate else {}))
    ratio = r["calls_per_second"] / s.calls_per_second if s.calls_per_second else 0.0
    print(f"{'client':34} {'completed':>9} {'failed':>7} {'seconds':>8} {'calls/s':>9}")
    print(f"{'sipclient load (' + str(r['processes']) + ' processes)':34} "
          f"{r['completed']:>9} {r['failed']:>7} {r['elapsed_s']:>8.2f} "
          f"{r['calls_per_second']:>9.1f}")
    print(f"{'  same, over the command wall time':34} {'':>9} {'':>7} {wall:>8.2f} "
          f"{r['completed'] / wall:>9.1f}")
    print(f"{'sipp -sn uac':34} {s.successful:>9} {s.failed:>7} {s.elapsed_s:>8.2f} "
          f"{s.calls_per_second:>9.1f}")
    print(f"setup ms (ours): p50 {r['setup_ms']['p50']} p99 {r['setup_ms']['p99']} "
          f"max {r['setup_ms']['max']}; failures {r['by_reason'] or 'none'}")
    asked = f"both asked for {a.rate:g} calls/s" if a.rate else "as fast as each can"
    print(f"ratio ours/sipp calls/s: {ratio:.2f} ({asked}; target >= 1.0, 0 failed)")
    return ratio, r["failed"] + s.failed


if __name__ == "__main__":
    sys.exit(main())
