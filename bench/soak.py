"""Soak: one process registers, calls 600 (the lab's echo) with media, hangs up, in a loop.

Issue 18's must-show: 0 failures, RSS and descriptors flat after warm-up, with the numbers at
start (after warm-up), 10 min and 30 min. A lab of its own is started on free ports
(``claim_test_lab("soak")``, as the tests do) and stopped at the end, also on Ctrl-C/SIGTERM.

Every cycle: REGISTER (with its digest round), INVITE 600 with a 1000 Hz tone, ``--talk``
seconds of RTP both ways (the echo must come back: the dominant frequency is checked), BYE.
One agent lives for the whole run, as a long-running softclient would. Each minute a line:
elapsed, cycles, failures, RSS (MB, from /proc/self/status) and open descriptors
(/proc/self/fd); with ``--json FILE`` the same rows go to FILE as JSON lines.

Run (low priority, it is long): ``nice -n 19 python bench/soak.py --minutes 30 [--talk 2]
[--json soak.jsonl]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.agent import Agent, AgentConfig  # noqa: E402
from sipclient.lab import Lab  # noqa: E402
from sipclient.lab.testing import claim_test_lab  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def cycle(agent: Agent, talk: float) -> str | None:
    """One register/call/hang-up round; None when it went well, else what went wrong."""
    reg = await agent.register()
    if not reg.ok:
        return f"register: {reg.status}"
    call = await agent.call("600")
    final = await call.wait_final(10)
    if final.status != 200:
        return f"call: {final.status}"
    await asyncio.sleep(talk)
    stats = call.media.stats() if hasattr(call.media, "stats") else []
    await call.hangup()
    await call.wait_ended(10)
    if not stats or not stats[0].get("packets_received"):
        return "no RTP came back"
    hz = stats[0].get("dominant_hz")
    if hz is None or abs(hz - 1000) > 50:
        return f"echo at {hz} Hz, not 1000"
    return None


async def soak(args: argparse.Namespace, lab: Lab) -> dict:
    account = next(a for a in lab.accounts() if not a.webrtc)
    cfg = AgentConfig(user=account.extension, password=account.password,
                      server=f"udp:{lab.config.probe_host}:{lab.config.sip_port}",
                      codecs=("PCMU",), play="tone:1000", cleanup_timeout=5.0)
    rows, failures, cycles = [], [], 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Agent(cfg) as agent:
        started = time.monotonic()
        next_row = 0.0
        base = None
        while not stop.is_set() and time.monotonic() - started < args.minutes * 60:
            try:
                problem = await asyncio.wait_for(cycle(agent, args.talk), 30)
            except Exception as exc:  # noqa: BLE001 - a soak counts every kind of failure
                problem = f"{type(exc).__name__}: {exc}"
            cycles += 1
            if problem:
                failures.append((cycles, problem))
                print(f"cycle {cycles}: FAILED {problem}", flush=True)
            elapsed = time.monotonic() - started
            if cycles == args.warmup:
                base = {"rss_mb": round(rss_mb(), 1), "fds": fds(), "minute": elapsed / 60}
            if elapsed >= next_row:
                row = {"minute": round(elapsed / 60, 1), "cycles": cycles,
                       "failures": len(failures), "rss_mb": round(rss_mb(), 1), "fds": fds(),
                       "trace_entries": len(getattr(agent, "trace", ()))}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(row) + "\n")
                next_row += 60
    end = {"minute": round((time.monotonic() - started) / 60, 1), "cycles": cycles,
           "failures": len(failures), "rss_mb": round(rss_mb(), 1), "fds": fds()}
    return {"after_warmup": base, "rows": rows, "end": end, "failures": failures[:20]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--talk", type=float, default=2.0, help="seconds of media per call")
    p.add_argument("--warmup", type=int, default=20, help="cycles before the baseline")
    p.add_argument("--json", metavar="FILE", help="append each row to FILE (JSON lines)")
    args = p.parse_args()
    config, claim = claim_test_lab("soak", extra_offset=900)
    lab = Lab(config)
    try:
        lab.up()
        print(f"lab up: udp:{config.probe_host}:{config.sip_port}", flush=True)
        result = asyncio.run(soak(args, lab))
    finally:
        lab.down()
        if claim is not None:
            claim.release()
    print(json.dumps({"summary": result}), flush=True)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
