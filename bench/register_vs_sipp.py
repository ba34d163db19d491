"""`sipclient load register` of 1,000 distinct users next to sipp registering the same users,
against one Kamailio registrar (sipclient.lab.kamailio), in the same run.

Each registration is REGISTER, 401, REGISTER with the user's digest, 200 on UDP over
loopback. Kamailio gets accounts 1001-2000 with the lab's passwords; both clients register
every user once, with the same cap in flight, as fast as they can:

- ours: ``sipclient load register udp:127.0.0.1:<port> --users 1001-2000 --lab-accounts
  --calls 1000 --rate max --concurrency C --processes auto --json``; registrations/s is its
  JSON ``calls_per_second`` (first REGISTER to the last 200);
- sipp: ``sipp -sf bench/sipp/register_digest.xml -inf users.csv -m 1000 -l C -r 100000``;
  registrations/s = its successful calls over its wall time.

Prints both and the ratio ours/sipp (target >= 1.0, all answered 200).

Run: ``python bench/register_vs_sipp.py [--users 1000] [--concurrency 50]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.lab.config import LabConfig  # noqa: E402
from sipclient.lab.kamailio import KamailioLab  # noqa: E402
from sipclient.lab.probe import free_udp_port  # noqa: E402
from sipclient.load.sipp import sipp_uac  # noqa: E402

HERE = Path(__file__).parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--processes", default="auto")
    a = ap.parse_args()
    cfg = LabConfig()
    users = [str(u) for u in range(1001, 1001 + a.users)]
    accounts = {u: cfg.password(u) for u in users}
    port = free_udp_port()
    with tempfile.TemporaryDirectory() as tmp, KamailioLab(tmp, port, accounts) as lab:
        cmd = [sys.executable, "-m", "sipclient", "load", "register", lab.server("udp"),
               "--users", f"{users[0]}-{users[-1]}", "--lab-accounts", "--calls",
               str(a.users), "--rate", "max", "--concurrency", str(a.concurrency),
               "--processes", a.processes, "--timeout", "8", "--json", "-q",
               "--max-failed", "100%"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        try:
            r = json.loads(out.stdout)
        except ValueError:
            raise SystemExit(f"sipclient load failed (exit {out.returncode}): "
                             f"{out.stderr[-800:]}")
        inf = Path(tmp) / "users.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(
            f"{u};[authentication username={u} password={accounts[u]}];\n" for u in users))
        s = sipp_uac("127.0.0.1", port, calls=a.users, concurrency=a.concurrency,
                     scenario=HERE / "sipp" / "register_digest.xml", inf=inf)
    ratio = r["calls_per_second"] / s.calls_per_second if s.calls_per_second else 0.0
    ok_ours = r["by_status"].get("200", 0)
    print(f"{'client':34} {'200 OK':>7} {'failed':>7} {'seconds':>8} {'reg/s':>9}")
    print(f"{'sipclient load (' + str(r['processes']) + ' processes)':34} {ok_ours:>7} "
          f"{r['failed']:>7} {r['elapsed_s']:>8.2f} {r['calls_per_second']:>9.1f}")
    print(f"{'sipp (register_digest.xml)':34} {s.successful:>7} {s.failed:>7} "
          f"{s.elapsed_s:>8.2f} {s.calls_per_second:>9.1f}")
    print(f"REGISTER round trip ms (ours): p50 {r['register_ms']['p50']} "
          f"p99 {r['register_ms']['p99']} max {r['register_ms']['max']}")
    print(f"ratio ours/sipp registrations/s: {ratio:.2f} (target >= 1.0, all 200)")
    return 0 if ratio >= 1.0 and ok_ours == a.users and s.successful == a.users else 1


if __name__ == "__main__":
    sys.exit(main())
