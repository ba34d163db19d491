"""CPU per registration: `sipclient load register` (lean engine) vs sipp, same Kamailio.

Registrations/s on a 2-core machine shared with Kamailio follow the CPU each client spends
per registration (Kamailio's own, about 200 us, is the same for both), and CPU time is
steadier than a rate on a shared machine. Each side registers N distinct users and removes
them again, and its user + system CPU (``RUSAGE_CHILDREN``) is taken minus that of the same
with 1 user (interpreter start-up, imports, sipp's start):

- ours: ``sipclient load register ... --users 1001-(1000+N) --lab-accounts --calls N
  --rate max --concurrency C --processes P --json`` (its unregistration included);
- sipp: ``register_digest.xml`` then ``register_clear.xml`` with the same users (as
  bench/register_vs_sipp.py runs them).

Both are REGISTER, 401, REGISTER with the digest, 200, twice per user. ``--repeat K``
alternates the two K times and prints the medians.

Run: ``python bench/register_cpu.py [--users 1000] [--repeat 3] [--processes 1]``
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
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


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ours(target: str, n: int, a: argparse.Namespace) -> float:
    before = _cpu()
    out = subprocess.run(
        [sys.executable, "-m", "sipclient", "load", "register", target, "--users",
         f"1001-{1000 + n}", "--lab-accounts", "--calls", str(n), "--rate", "max",
         "--concurrency", str(a.concurrency), "--processes", a.processes, "--engine", "lean",
         "--timeout", "8", "--json", "-q", "--max-failed", "100%"],
        capture_output=True, text=True, timeout=180)
    cpu = _cpu() - before
    try:
        r = json.loads(out.stdout)
    except ValueError:
        raise SystemExit(f"sipclient load failed (exit {out.returncode}): "
                         f"{out.stderr[-800:]}") from None
    if r["by_status"].get("200", 0) != n:
        raise SystemExit(f"sipclient load: {r['by_status']} of {n}")
    return cpu


def sipp(port: int, n: int, inf: Path, a: argparse.Namespace) -> float:
    before = _cpu()
    for scenario in ("register_digest.xml", "register_clear.xml"):
        s = sipp_uac("127.0.0.1", port, calls=n, concurrency=a.concurrency,
                     scenario=HERE / "sipp" / scenario, inf=inf)
        if s.successful != n:
            raise SystemExit(f"sipp {scenario}: {s.successful} of {n} answered 200")
    return _cpu() - before


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, default in (("--users", 1000), ("--concurrency", 50), ("--repeat", 3)):
        ap.add_argument(flag, type=int, default=default)
    ap.add_argument("--processes", default="1")
    a = ap.parse_args()
    cfg = LabConfig()
    users = [str(u) for u in range(1001, 1001 + a.users)]
    accounts = {u: cfg.password(u) for u in users}
    with tempfile.TemporaryDirectory() as tmp, \
            KamailioLab(tmp, free_udp_port(), accounts) as lab:
        inf = Path(tmp) / "users.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(
            f"{u};[authentication username={u} password={accounts[u]}];\n" for u in users))
        target = lab.server("udp")
        sides = {"ours": lambda n: ours(target, n, a),
                 "sipp": lambda n: sipp(lab.sip_port, n, inf, a)}
        per: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(max(1, a.repeat)):
            for name, run in sides.items():
                start_up = run(1)  # what 1 user costs: start-up, imports
                per[name].append((run(a.users) - start_up) / (a.users - 1) / 2 * 1e6)
            print("us CPU per registration (user+sys): " + ", ".join(
                f"{name} {values[-1]:.0f}" for name, values in per.items()))
    print(f"median of {a.repeat}: " + ", ".join(
        f"{name} {statistics.median(values):.0f} us" for name, values in per.items())
        + f" (--processes {a.processes}, {a.users} users, {a.concurrency} in flight)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
