"""CPU per call of `sipclient load call`, lean engine vs core engine, one process.

Each engine runs ``--calls N --rate max --concurrency 50 --processes 1`` against the same
``sipp -sn uas`` on loopback; its CPU is the user + system time of the ``sipclient load``
process (``RUSAGE_CHILDREN``) minus that of a 1-call run (interpreter start-up, imports).
CPU time is steadier than calls/s on a shared machine.

Run: ``python bench/load_cpu_per_call.py [--calls 6000] [--core-calls 1500]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.load.sipp import SippUas  # noqa: E402


def cpu_of(target: str, calls: int, engine: str) -> tuple[float, dict]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, "-m", "sipclient", "load", "call", target, "600", "--rate", "max",
         "--concurrency", "50", "--calls", str(calls), "--json", "-q", "--engine", engine],
        capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        return cpu, json.loads(out.stdout)
    except ValueError:
        raise SystemExit(f"sipclient load failed (exit {out.returncode}): {out.stderr[-800:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=6000, help="calls of the lean run")
    ap.add_argument("--core-calls", type=int, default=1500, help="calls of the core run")
    a = ap.parse_args()
    with SippUas() as uas:
        for engine, n in (("lean", a.calls), ("core", a.core_calls)):
            base, _ = cpu_of(uas.target, 1, engine)
            total, r = cpu_of(uas.target, n, engine)
            print(f"{engine:5} {(total - base) / (n - 1) * 1e6:7.0f} us CPU per call "
                  f"(user+sys); {r['completed']}/{n} completed, {r['failed']} failed, "
                  f"{r['calls_per_second']:.0f} calls/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
