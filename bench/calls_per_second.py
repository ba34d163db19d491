"""Calls per second: one process of ours next to sipp, against the same sipp UAS.

A call is INVITE, (100,) 180, 200, ACK, BYE, 200, no media, on UDP over loopback. Both
clients call the same ``sipp -sn uas`` in the same run:

- ours: ONE :class:`sipclient.agent.Agent` (one process, one event loop, one UDP socket,
  no registration) keeps a bounded number of calls in flight (``--inflight 10,50,100``:
  each value is tried and the best is kept) for ``--calls`` calls or ``--seconds``
  seconds, whichever ends first. A call counts as completed when its INVITE got a 200 and
  its BYE got a 200; anything else (another status, a timeout) is a failure. The agent gets
  a no-media session (a fixed SDP; no RTP socket per call) and no trace recording;
- sipp: ``sipp -sn uac -r <high> -l <limit> -m <N>``; its completed calls come from its own
  final statistics (successful/failed), its rate from the wall time of the run.

Everything is bounded in time (the whole run stops by itself in well under a minute) and
stays on 127.0.0.1. Prints a table and the ratio ours/sipp.

Run: ``python bench/calls_per_second.py [--calls 3000] [--seconds 6] [--inflight 10,50,100]
[--sipp-calls 20000] [--loop auto|asyncio|uvloop|both] [--profile FILE]`` (``--profile``
writes cProfile stats of our best in-flight setting's run to FILE and prints the top
entries and the Python function calls per completed call, a measure that does not drift). ``--loop both`` runs every setting on asyncio's loop and on uvloop. Each of our
rows also gives the CPU time of our process per call (``cpu µs/call``): on a shared machine
it drifts less than calls/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.agent import Agent, AgentConfig  # noqa: E402
from sipclient.io.loop import loop_name  # noqa: E402
from sipclient.io.loop import run as run_loop  # noqa: E402
from sipclient.lab.probe import free_udp_port, port_in_use  # noqa: E402

HOST = "127.0.0.1"
CALL_TIMEOUT = 5.0  # one call (INVITE to BYE's 200) may take at most this long


# ---------------------------------------------------------------------------- helpers

def sipp_argv(scenario: str, port: int, *extra: str) -> list[str]:
    """sipp on HOST:port, its media and control ports free, no keyboard."""
    return ["sipp", "-sn", scenario, "-i", HOST, "-p", str(port), "-bind_local",
            "-mi", HOST, "-mp", str(free_udp_port(also=(2,))), "-cp", str(free_udp_port()),
            "-nostdin", *extra]


class SippUas:
    """``sipp -sn uas`` in the background for the whole run (killed at the end); ``extra``
    arguments are appended (``-rtp_echo`` for bench/simultaneous_calls.py)."""

    def __init__(self, workdir: Path, lifetime: float, *extra: str) -> None:
        self.port = free_udp_port()
        self.workdir = workdir
        self.argv = sipp_argv("uas", self.port, "-timeout", f"{int(lifetime)}s",
                              "-trace_err", "-error_file", str(workdir / "uas_errors.log"),
                              *extra)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> SippUas:
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not port_in_use(HOST, self.port, socket.SOCK_DGRAM):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"sipp UAS did not start: {' '.join(self.argv)}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Result:
    who: str
    setting: str
    completed: int
    failed: int
    seconds: float
    cpu: float = 0.0  # process CPU seconds (ours only)

    @property
    def cpu_per_call(self) -> float:
        return self.cpu / self.completed * 1e6 if self.completed else 0.0

    @property
    def cps(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0


# ---------------------------------------------------------------------------- ours

class NoMedia:
    """A media session without media: a fixed SDP offer (RTP to the discard port), no
    socket. ``Agent(config, media_factory=lambda agent: NoMedia(agent.local_ip))``."""

    def __init__(self, address: str) -> None:
        self._sdp = (f"v=0\r\no=- 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\n"
                     "t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                     "a=sendrecv\r\n").encode()

    async def start(self) -> None:
        pass

    def offer(self) -> bytes:
        return self._sdp

    def answer(self, remote_sdp: bytes) -> bytes:
        return self._sdp

    def accept(self, remote_sdp: bytes) -> None:
        pass

    def hold(self) -> None:
        pass

    def unhold(self) -> None:
        pass

    async def close(self) -> None:
        pass


async def one_call(agent: Agent, uri: str) -> bool:
    """INVITE ... 200, ACK, BYE ... 200: True when both finals were 200."""
    call = await agent.call(uri)
    try:
        final = await call.wait_final()
        if final.status != 200:
            return False
        resp, _ = await call.in_dialog("BYE")
        return resp.status == 200
    finally:
        call._end("bench")  # noqa: SLF001 - the BYE above already ended it
        agent.sessions.pop(call.call_id, None)  # a long run must not keep every call


async def ours(uas_port: int, inflight: int, calls: int, seconds: float,
               loop_name: str = "asyncio") -> Result:
    config = AgentConfig(user="bench", server=f"udp:{HOST}:{uas_port}", local_address=HOST,
                         cleanup_timeout=2.0, record_trace=False)
    agent = Agent(config, media_factory=lambda a: NoMedia(a.local_ip))
    uri = f"sip:service@{HOST}:{uas_port}"
    completed = failed = started = 0
    async with agent:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        c0 = time.process_time()
        deadline = t0 + seconds

        async def worker() -> None:
            nonlocal completed, failed, started
            while started < calls and loop.time() < deadline:
                started += 1
                try:
                    async with asyncio.timeout(CALL_TIMEOUT):  # no extra task per call
                        ok = await one_call(agent, uri)
                except Exception:  # noqa: BLE001 - a timeout or a transport error: a failure
                    ok = False
                if ok:
                    completed += 1
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(inflight)))
        elapsed = loop.time() - t0
        cpu = time.process_time() - c0
    return Result("sipclient (1 process)", f"{inflight} in flight, {loop_name}", completed,
                  failed, elapsed, cpu)


def run_ours(uas_port: int, inflight: int, calls: int, seconds: float,
             profile: str | None = None, loop: str = "asyncio") -> Result:
    main = ours(uas_port, inflight, calls, seconds, loop)
    if profile is None:
        return run_loop(main, loop=loop)
    import cProfile
    import pstats

    prof = cProfile.Profile()
    result = prof.runcall(run_loop, main, loop=loop)
    prof.dump_stats(profile)
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    if result.completed:  # a stable measure on a shared machine, unlike calls/s
        print(f"profiled run: {result.completed} completed, {stats.total_calls} Python "
              f"function calls = {stats.total_calls / result.completed:.0f} per completed call")
    return result


# ---------------------------------------------------------------------------- sipp

_STAT = re.compile(r"^\s*(Successful call|Failed call)\s*\|\s*\d+\s*\|\s*(\d+)", re.M)


def run_sipp_uac(workdir: Path, uas_port: int, calls: int, rate: int, limit: int,
                 timeout: float) -> Result:
    argv = sipp_argv("uac", free_udp_port(), f"{HOST}:{uas_port}", "-r", str(rate),
                     "-l", str(limit), "-m", str(calls), "-timeout", f"{int(timeout)}s",
                     "-trace_stat", "-stf", str(workdir / "uac_stat.csv"), "-fd", "1",
                     "-trace_err", "-error_file", str(workdir / "uac_errors.log"))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        raise SystemExit("sipp UAC did not stop in time") from None
    elapsed = time.perf_counter() - t0
    out = proc.stdout.decode(errors="replace")
    counts = dict(_STAT.findall(out))  # the last screen (the final one) wins
    completed = int(counts.get("Successful call", 0))
    failed = int(counts.get("Failed call", 0))
    if proc.returncode != 0 or completed + failed != calls:
        print(f"warning: sipp UAC exit {proc.returncode}, {completed} successful + {failed} "
              f"failed of {calls} (see {workdir})", file=sys.stderr)
    return Result("sipp -sn uac", f"-r {rate} -l {limit} -m {calls}", completed, failed,
                  elapsed)


# ---------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=3000, help="our calls per setting (default 3000)")
    p.add_argument("--seconds", type=float, default=6.0,
                   help="stop our run of a setting after S seconds (default 6)")
    p.add_argument("--inflight", default="10,50,100", help="in-flight limits to try")
    p.add_argument("--sipp-calls", type=int, default=20000, help="sipp UAC calls (default 20000)")
    p.add_argument("--sipp-rate", type=int, default=20000, help="sipp -r (default 20000)")
    p.add_argument("--sipp-limit", type=int, default=50, help="sipp -l (default 50)")
    p.add_argument("--profile", metavar="FILE", help="cProfile our best setting into FILE")
    p.add_argument("--loop", default="auto", choices=("auto", "asyncio", "uvloop", "both"),
                   help="our event loop (auto: uvloop when installed; both: each setting twice)")
    args = p.parse_args(argv)
    if shutil.which("sipp") is None:
        print("sipp not found: run `make lab-deps` (Debian package sip-tester)", file=sys.stderr)
        return 2
    settings = [int(x) for x in args.inflight.split(",") if x.strip()]
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [loop_name(args.loop)]
    sipp_timeout = 20.0
    lifetime = (len(settings) * len(loops) * (args.seconds + CALL_TIMEOUT + 2) + sipp_timeout
                + 15)
    workdir = Path(tempfile.mkdtemp(prefix="sipclient-cps-"))
    results: list[Result] = []
    with SippUas(workdir, lifetime) as uas:
        for loop in loops:
            for n in settings:
                r = run_ours(uas.port, n, args.calls, args.seconds, loop=loop)
                print(f"  ours, {n:4d} in flight, {loop}: {r.completed} completed, {r.failed} "
                      f"failed in {r.seconds:.2f} s = {r.cps:.0f} calls/s, "
                      f"{r.cpu_per_call:.0f} cpu µs/call", flush=True)
                results.append(r)
        best = max(results, key=lambda r: r.cps)
        if args.profile:
            n = int(best.setting.split()[0])
            run_ours(uas.port, n, args.calls, args.seconds, profile=args.profile,
                     loop=best.setting.split()[-1])
        time.sleep(0.2)
        sipp = run_sipp_uac(workdir, uas.port, args.sipp_calls, args.sipp_rate,
                            args.sipp_limit, sipp_timeout)
        print(f"  sipp: {sipp.completed} completed, {sipp.failed} failed in "
              f"{sipp.seconds:.2f} s = {sipp.cps:.0f} calls/s", flush=True)

    print()
    print(f"{'client':24} {'setting':28} {'completed':>9} {'failed':>6} {'seconds':>8} "
          f"{'calls/s':>8} {'cpu µs/call':>11}")
    for r in [*results, sipp]:
        mark = " *" if r is best else ""
        cpu = f"{r.cpu_per_call:11.0f}" if r.cpu else f"{'-':>11}"
        print(f"{r.who:24} {r.setting:28} {r.completed:9d} {r.failed:6d} {r.seconds:8.2f} "
              f"{r.cps:8.0f} {cpu}{mark}")
    for loop in loops:
        mine = [r for r in results if r.setting.endswith(loop)]
        top = max(mine, key=lambda r: r.cps)
        print(f"best on {loop}: {top.cps:.0f} calls/s ({top.setting}), ratio "
              f"{top.cps / sipp.cps if sipp.cps else float('nan'):.3f}")
    ratio = best.cps / sipp.cps if sipp.cps else float("nan")
    print(f"\nours/sipp = {best.cps:.0f} / {sipp.cps:.0f} = {ratio:.3f} "
          f"(* = our best setting; same sipp UAS, loopback UDP, {os.cpu_count()} CPUs)")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
