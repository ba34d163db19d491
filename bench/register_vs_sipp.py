"""`sipclient load register` of N distinct users next to sipp registering the same users,
against one Kamailio registrar (sipclient.lab.kamailio), in the same run.

Each registration is REGISTER, 401, REGISTER with the user's digest, 200 on UDP over
loopback. Kamailio gets accounts 1001-(1000+N) with the lab's passwords; both clients
register every user once, with the same cap in flight, as fast as they can:

- ours: ``sipclient load register udp:127.0.0.1:<port> --users 1001-2000 --lab-accounts
  --calls 1000 --rate max --concurrency C --processes auto --json``; registrations/s is its
  JSON ``calls_per_second`` (first REGISTER to the last 200; its own unregistration at the
  end, outside that window, leaves the registrar empty);
- sipp: ``sipp -sf bench/sipp/register_digest.xml -inf users.csv -m N -l C -r 100000``
  (the same users in the same order, each with its own password); registrations/s is its
  successful calls over its own clock (its statistics' Start Time to Current Time: its
  start-up and exit left out, as ours are). Then, unmeasured, ``register_clear.xml``
  removes sipp's bindings (``Contact: *``, ``Expires: 0``), so each side meets an empty
  registrar.

``--repeat K`` runs the pair K times against the same Kamailio, alternating who goes first
(ours, sipp; sipp, ours; ...), and judges the median ratio: one pair on a shared machine is
noisy. Prints each pair, the ratios and the median (target >= 1.0, all answered 200).

Run: ``python bench/register_vs_sipp.py [--users 1000] [--concurrency 50] [--repeat 3]
[--processes auto] [--engine lean|core]``
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
from sipclient.load.sipp import SippResult, sipp_uac  # noqa: E402

HERE = Path(__file__).parent


def ours(target: str, users: list[str], a: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "sipclient", "load", "register", target,
           "--users", f"{users[0]}-{users[-1]}", "--lab-accounts", "--calls",
           str(len(users)), "--rate", "max", "--concurrency", str(a.concurrency),
           "--processes", a.processes, "--engine", a.engine, "--timeout", "8", "--json",
           "-q", "--max-failed", "100%"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    try:
        return json.loads(out.stdout)
    except ValueError:
        raise SystemExit(f"sipclient load failed (exit {out.returncode}): "
                         f"{out.stderr[-800:]}") from None


def sipp(port: int, users: list[str], inf: Path, a: argparse.Namespace) -> SippResult:
    s = sipp_uac("127.0.0.1", port, calls=len(users), concurrency=a.concurrency,
                 scenario=HERE / "sipp" / "register_digest.xml", inf=inf)
    clear = sipp_uac("127.0.0.1", port, calls=len(users), concurrency=a.concurrency,
                     scenario=HERE / "sipp" / "register_clear.xml", inf=inf)
    if clear.successful != len(users):
        raise SystemExit(f"sipp could not remove its bindings ({clear.successful} of "
                         f"{len(users)} answered 200)")
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--processes", default="auto")
    ap.add_argument("--engine", default="lean", choices=("lean", "core"))
    ap.add_argument("--repeat", type=int, default=3, help="run the pair K times; median")
    a = ap.parse_args()
    cfg = LabConfig()
    users = [str(u) for u in range(1001, 1001 + a.users)]
    accounts = {u: cfg.password(u) for u in users}
    ratios: list[float] = []
    all_ok = True
    print(f"{'client':34} {'200 OK':>7} {'failed':>7} {'seconds':>8} {'reg/s':>9}")
    with tempfile.TemporaryDirectory() as tmp, \
            KamailioLab(tmp, free_udp_port(), accounts) as lab:
        inf = Path(tmp) / "users.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(
            f"{u};[authentication username={u} password={accounts[u]}];\n" for u in users))
        for k in range(max(1, a.repeat)):
            if k % 2 == 0:
                r = ours(lab.server("udp"), users, a)
                s = sipp(lab.sip_port, users, inf, a)
            else:
                s = sipp(lab.sip_port, users, inf, a)
                r = ours(lab.server("udp"), users, a)
            ok_ours = r["by_status"].get("200", 0)
            mine = f"sipclient load ({r['processes']} proc, {a.engine})"
            print(f"{mine:34} {ok_ours:>7} {r['failed']:>7} {r['elapsed_s']:>8.3f} "
                  f"{r['calls_per_second']:>9.1f}")
            print(f"{'sipp (register_digest.xml)':34} {s.successful:>7} {s.failed:>7} "
                  f"{s.own_elapsed_s:>8.3f} {s.own_calls_per_second:>9.1f}"
                  f"   (over its wall time {s.elapsed_s:.3f} s: {s.calls_per_second:.1f})")
            ratio = r["calls_per_second"] / s.own_calls_per_second \
                if s.own_calls_per_second else 0.0
            ratios.append(ratio)
            all_ok &= ok_ours == a.users and s.successful == a.users and r["failed"] == 0
            print(f"  {'ours first' if k % 2 == 0 else 'sipp first'}: REGISTER round trip "
                  f"ms (ours) p50 {r['register_ms']['p50']} p99 {r['register_ms']['p99']}; "
                  f"retransmissions {r['retransmissions']}; ratio {ratio:.2f}")
    ratios.sort()
    median = ratios[len(ratios) // 2]
    print(f"ratios ours/sipp registrations/s: {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"median {median:.2f} (target >= 1.0, all answered 200: "
          f"{'yes' if all_ok else 'NO'})")
    return 0 if median >= 1.0 and all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
