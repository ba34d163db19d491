"""Simultaneous G.711 calls: how many one process holds with p99 send-time error < 2 ms.

One process of ours (one asyncio event loop) holds N simultaneous PCMU calls with 20 ms
packets and real media (:class:`sipclient.agent.media.RealMedia`: a 1000 Hz tone is encoded,
paced and sent, the echo is received, jitter-buffered, decoded and analysed). The peer is
NOT in our process (that would halve what we measure):

- ``--peer asterisk`` (default): the lab's Asterisk echo (extension 600), a lab of its own
  started by this script (``LabConfig.from_env().with_port_offset(700)``, run directory
  ``run/lab-bench-simcalls``, RTP ranges apart from other labs), stopped at the end, also on
  Ctrl-C / SIGTERM / failure. Calls authenticate with the lab's digest accounts; several
  agents (accounts 1001...) share the calls round-robin, each agent holding many calls;
- ``--peer process``: a second Python process of ours (this script with ``--serve-peer``)
  with one agent that auto-answers every call and sends its own 1000 Hz tone back (what
  comes back is the same kind of stream an echo gives). Use it when Asterisk is the
  bottleneck;
- ``--peer sipp``: ``sipp -sn uas -rtp_echo``, a peer that costs us nothing (C, one
  process): it answers every call and echoes our RTP back.

``--level full|packets`` is the media level of our calls (``AgentConfig(media_level=...)``):
``full`` decodes, jitter-buffers and analyses what comes back (the tone check), ``packets``
sends pre-encoded payloads and only counts what comes back (RFC 3550 loss, jitter,
sequence), as SIPp's rtp_stream does (its tone column stays 0).

For each N of the series (``--series 2,4,6,...``: fine steps where the knee was found) the
calls are set up (INVITE, 401, INVITE with credentials, 200, ACK), allowed ``--warmup``
seconds to settle, then held for ``--hold`` seconds (the measurement window), then hung up.
In the window we collect:

- **send-time error** of every packet of every stream: the time the packet was actually
  handed to the socket minus its scheduled deadline ``t0 + n * 20 ms``, both read from the
  event loop's clock (``loop.time()``, monotonic). The session arms its timer 0.5 ms early
  (``RtpSession.EARLY``: epoll rounds timeouts up to whole ms), so a slightly negative error
  is possible; we report percentiles of ``|error|`` (as ``RtpSession.send_late_ms`` does):
  p50, p99, max across all streams. It measures how late our own loop is: every packet of
  every call, every decode and every SIP message share one thread;
- packets sent vs expected (window / 20 ms per stream: a stalled loop skips frames, which
  shows here), packets received and lost (RFC 3550 counting, what the peer sent back), how
  many streams heard the 1000 Hz tone back (the media really went round);
- the process's CPU (``time.process_time``) over the window, in total and per call, and the
  peer's CPU (Asterisk's or our peer process's, from /proc).

The run stops at the first N where p99 >= 2 ms, a packet is lost or a call fails (not
answered, or streams missing); it prints a table and "sustains N calls with p99 < 2 ms" (the largest N that
passed). The whole run is bounded (``--budget`` seconds, default 240) and stops by itself.

Machine caveats: the numbers belong to the machine they were taken on. On the 2-core
machine this was written on, Asterisk (or the peer process) runs on the same 2 cores as us,
and other work may be running too: the peer's CPU takes time our loop could use, and a
busy neighbour shows up directly in the p99 (the ``others%`` column: machine CPU that is
neither ours nor the peer's, over the window; 100 = one core). Loopback UDP only; no network
delay or loss.

Run: ``python bench/simultaneous_calls.py [--peer asterisk|process|sipp]
[--level full|packets] [--series 5,10,20,40] [--keep-going]
[--hold 8] [--warmup 1] [--budget 240] [--profile FILE]``
(``--profile``: cProfile of the whole run into FILE, top entries printed).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.agent import Agent, AgentConfig  # noqa: E402
from sipclient.io.loop import run as run_loop  # noqa: E402

HOST = "127.0.0.1"
PTIME = 0.020
TONE = 1000.0
P99_LIMIT_MS = 2.0
LAB_OFFSET = 700
LAB_RTP = (40000, 44999)  # Asterisk's RTP range in our lab (other labs use 10000-20000)
OUR_RTP = (45000, 49999)  # our agents' RTP range
PEER_RTP = (50000, 54999)  # the peer process's RTP range
DEFAULT_SERIES = "2,4,6,8,10,12,15,20,25,30,40,50,60,80,100,120,160,200,250,300"


@dataclass
class Step:
    n: int
    answered: int = 0
    failed: int = 0
    setup_s: float = 0.0
    window_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    sent: int = 0
    expected: int = 0
    received: int = 0
    lost: int = 0
    tone_ok: int = 0
    cpu_s: float = 0.0
    peer_cpu_s: float = 0.0
    gc_runs: int = 0
    gc_max_ms: float = 0.0
    others_cpu_s: float = 0.0  # the rest of the machine: neither us nor the peer

    @property
    def ok(self) -> bool:
        return (self.failed == 0 and self.answered == self.n and self.p99_ms < P99_LIMIT_MS
                and self.lost == 0)

    def row(self) -> str:
        loss = 100 * self.lost / (self.received + self.lost) if self.received + self.lost else 0.0
        cpu = 100 * self.cpu_s / self.window_s if self.window_s else 0.0
        peer = 100 * self.peer_cpu_s / self.window_s if self.window_s else 0.0
        per_call = cpu / self.n if self.n else 0.0
        others = 100 * self.others_cpu_s / self.window_s if self.window_s else 0.0
        return (f"{self.n:5d} {self.answered:5d} {self.failed:4d} {self.setup_s:6.2f} "
                f"{self.p50_ms:7.3f} {self.p99_ms:7.3f} {self.max_ms:8.3f} "
                f"{self.sent:7d}/{self.expected:<7d} {self.received:8d} {loss:6.2f} "
                f"{self.tone_ok:4d} {cpu:6.1f} {per_call:7.2f} {peer:6.1f} {others:7.1f} "
                f"{self.gc_runs:4d} {self.gc_max_ms:6.1f}  "
                f"{'ok' if self.ok else 'FAIL'}")


HEADER = (f"{'N':>5} {'up':>5} {'fail':>4} {'setup':>6} {'p50ms':>7} {'p99ms':>7} "
          f"{'max ms':>8} {'sent/expected':>15} {'received':>8} {'loss%':>6} {'tone':>4} "
          f"{'cpu%':>6} {'%/call':>7} {'peer%':>6} {'others%':>7} {'gc':>4} {'gc ms':>6}")


# ---------------------------------------------------------------------------- CPU of others

def proc_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (and their threads), seconds; 0 for gone ones."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- GC pauses

class GcPauses:
    """Durations (s) of the garbage collector's runs, per generation, while installed."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._start))


GC = GcPauses()
gc.callbacks.append(GC)


# ---------------------------------------------------------------------------- one step

async def hold_calls(agents: list[Agent], uri: str, n: int, hold: float, warmup: float,
                     peer_pids: list[int]) -> Step:
    step = Step(n)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    calls = []
    for i in range(n):
        calls.append(await agents[i % len(agents)].call(uri))
    finals = await asyncio.gather(*(c.wait_final(timeout=15) for c in calls),
                                  return_exceptions=True)
    up = [c for c, f in zip(calls, finals) if not isinstance(f, BaseException) and f.status == 200]
    step.answered, step.failed = len(up), n - len(up)
    step.setup_s = loop.time() - t0
    try:
        await asyncio.sleep(warmup)
        # streams whose RTP has not started (no negotiation) count as failures
        rtps = [c.media.rtp for c in up if getattr(c.media, "rtp", None) is not None
                and c.media.rtp.params is not None]
        step.failed += len(up) - len(rtps)
        marks = [(len(r.send_late), r.sender.packets_sent, r.receive_totals()) for r in rtps]
        cpu0, peer0, w0 = time.process_time(), proc_cpu_seconds(peer_pids), loop.time()
        gc0, busy0 = len(GC.pauses), machine_busy_seconds()
        await asyncio.sleep(hold)
        w1, cpu1, peer1 = loop.time(), time.process_time(), proc_cpu_seconds(peer_pids)
        step.others_cpu_s = max(0.0, machine_busy_seconds() - busy0 - (cpu1 - cpu0)
                                - (peer1 - peer0))  # tick rounding can make it dip below 0
        pauses = [d for _, d in GC.pauses[gc0:]]
        step.gc_runs, step.gc_max_ms = len(pauses), 1000 * max(pauses, default=0.0)
        step.window_s, step.cpu_s, step.peer_cpu_s = w1 - w0, cpu1 - cpu0, peer1 - peer0
        errors = []
        for r, (i0, sent0, tot0) in zip(rtps, marks):
            errors.append(np.abs(np.asarray(r.send_late[i0:])))
            step.sent += r.sender.packets_sent - sent0
            tot = r.receive_totals()
            step.received += int(tot["packets"] - tot0["packets"])
            step.lost += int(tot["lost"] - tot0["lost"])
        for c in up:
            hz = c.media.dominant_hz(since=w0)
            step.tone_ok += hz is not None and abs(hz - TONE) < 20
        step.expected = round(step.window_s / PTIME) * len(rtps)
        if errors and sum(len(e) for e in errors):
            all_err = np.concatenate(errors) * 1000
            step.p50_ms, step.p99_ms, step.max_ms = (float(np.percentile(all_err, 50)),
                                                     float(np.percentile(all_err, 99)),
                                                     float(all_err.max()))
    finally:
        await asyncio.gather(*(asyncio.wait_for(c.hangup(), 10) for c in calls),
                             return_exceptions=True)
        for agent in agents:  # a long run must not keep every ended call
            for cid in [k for k, s in agent.sessions.items() if s.is_ended]:
                agent.sessions.pop(cid, None)
        await asyncio.sleep(0.5)  # BYEs answered, RTP ports released
    return step


async def run_series(args: argparse.Namespace, configs: list[AgentConfig], uri: str,
                     peer_pids: list[int], deadline: float) -> list[Step]:
    steps: list[Step] = []
    series = [int(x) for x in args.series.split(",") if x.strip()]
    agents = [Agent(cfg) for cfg in configs]
    for agent in agents:
        await agent.open()
    try:
        for n in series:
            left = deadline - time.monotonic()
            if left < args.hold + args.warmup + 10:
                print(f"  (time budget spent: stopping before N={n})", flush=True)
                break
            try:
                step = await asyncio.wait_for(
                    hold_calls(agents, uri, n, args.hold, args.warmup, peer_pids), left)
            except asyncio.TimeoutError:
                print(f"  N={n}: time budget spent during the step", flush=True)
                break
            steps.append(step)
            print("  " + step.row(), flush=True)
            if not step.ok and not args.keep_going:
                break
    finally:
        await asyncio.gather(*(a.close() for a in agents), return_exceptions=True)
    return steps


# ---------------------------------------------------------------------------- the peers

Peer = tuple[list[AgentConfig], str, list[int], str]  # agent configs, URI to call, pids, text


def asterisk_peer(args: argparse.Namespace, stack: list) -> Peer:
    from sipclient.lab import Lab
    from sipclient.lab.config import LabConfig, default_run_dir

    config = LabConfig.from_env().with_port_offset(LAB_OFFSET).replace(
        run_dir=default_run_dir("lab-bench-simcalls"), rtp_start=LAB_RTP[0],
        rtp_end=LAB_RTP[1], sip_debug=False)
    lab = Lab(config)
    stack.append(lab.down)  # registered before up(): a failed boot is stopped too
    t0 = time.monotonic()
    lab.up()
    print(f"lab up in {time.monotonic() - t0:.1f} s: {config.endpoints()['udp']}, "
          f"asterisk pid {lab.pids()}", flush=True)
    configs = []
    for account in lab.accounts()[: args.agents]:
        if account.webrtc:
            continue
        configs.append(AgentConfig(
            user=account.extension, password=account.password,
            server=f"udp:{config.probe_host}:{config.sip_port}", local_address=HOST,
            codecs=("PCMU",), play=f"tone:{TONE:g}", rtp_ports=OUR_RTP,
            record_trace=False, cleanup_timeout=3.0))
    desc = f"Asterisk echo (600), lab on SIP port {config.sip_port}, {len(configs)} agents"
    return configs, "600", lab.pids(), desc


def process_peer(args: argparse.Namespace, stack: list) -> Peer:
    argv = [sys.executable, __file__, "--serve-peer"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def stop() -> None:  # EOF on its stdin ends the peer; then TERM, then KILL
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            pass
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    stack.append(stop)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # "port N" once listening
    if not line.startswith("port "):
        raise SystemExit(f"peer process did not start ({line!r})")
    port = int(line.split()[1])
    configs = [AgentConfig(user=f"bench{i}", server=f"udp:{HOST}:{port}", local_address=HOST,
                           codecs=("PCMU",), play=f"tone:{TONE:g}", rtp_ports=OUR_RTP,
                           record_trace=False, cleanup_timeout=3.0)
               for i in range(args.agents)]
    desc = f"peer process of ours (pid {proc.pid}, auto-answer, 1000 Hz tone back)"
    return configs, f"sip:echo@{HOST}:{port}", [proc.pid], desc


def sipp_peer(args: argparse.Namespace, stack: list) -> Peer:
    import shutil
    import tempfile

    from calls_per_second import SippUas

    if shutil.which("sipp") is None:
        raise SystemExit("sipp not found: run `make lab-deps` (Debian package sip-tester)")
    workdir = Path(tempfile.mkdtemp(prefix="sipclient-simcalls-"))
    uas = SippUas(workdir, args.budget + 30, "-rtp_echo")
    uas.__enter__()
    stack.append(lambda: (uas.__exit__(None, None, None),
                          shutil.rmtree(workdir, ignore_errors=True)))
    assert uas.proc is not None
    configs = [AgentConfig(user=f"bench{i}", server=f"udp:{HOST}:{uas.port}", local_address=HOST,
                           codecs=("PCMU",), play=f"tone:{TONE:g}", rtp_ports=OUR_RTP,
                           record_trace=False, cleanup_timeout=3.0, media_level=args.level)
               for i in range(args.agents)]
    desc = f"sipp -sn uas -rtp_echo (pid {uas.proc.pid}), media level {args.level}"
    return configs, f"sip:service@{HOST}:{uas.port}", [uas.proc.pid], desc


async def serve_peer() -> None:
    """The ``--serve-peer`` process: one agent auto-answering every call with real media."""
    config = AgentConfig(user="echo", server=f"udp:{HOST}:9", local_address=HOST,
                         codecs=("PCMU",), play=f"tone:{TONE:g}", rtp_ports=PEER_RTP,
                         record_trace=False, cleanup_timeout=1.0)
    async with Agent(config) as agent:
        agent.auto_answer = 0.0
        print(f"port {agent.endpoint.transport.local_address[1]}", flush=True)

        async def drain() -> None:  # the queue of answered calls; hung-up calls forgotten
            while True:
                await agent.next_incoming()
                for cid in [k for k, s in agent.sessions.items() if s.is_ended]:
                    agent.sessions.pop(cid, None)
        task = asyncio.ensure_future(drain())
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
        task.cancel()


# ---------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer", choices=("asterisk", "process", "sipp"), default="asterisk")
    p.add_argument("--level", choices=("full", "packets"), default="full",
                   help="media level of our calls (default full)")
    p.add_argument("--series", default=DEFAULT_SERIES, help=f"N values (default {DEFAULT_SERIES})")
    p.add_argument("--hold", type=float, default=8.0, help="measurement window, s (default 8)")
    p.add_argument("--warmup", type=float, default=1.0, help="settle after setup, s (default 1)")
    p.add_argument("--agents", type=int, default=4, help="agents sharing the calls (default 4)")
    p.add_argument("--budget", type=float, default=240.0, help="whole run bound, s (default 240)")
    p.add_argument("--profile", metavar="FILE", help="cProfile the series into FILE")
    p.add_argument("--keep-going", action="store_true",
                   help="go on after a failed step (CPU per call at every N of the series)")
    p.add_argument("--serve-peer", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_peer:
        asyncio.run(serve_peer())
        return 0

    def on_term(signum: int, frame: object) -> None:  # SIGTERM: the same path as Ctrl-C
        signal.raise_signal(signal.SIGINT)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with & (ignored)
    deadline = time.monotonic() + args.budget
    cleanup: list = []
    steps: list[Step] = []
    try:
        setup = {"asterisk": asterisk_peer, "process": process_peer,
                 "sipp": sipp_peer}[args.peer]
        configs, uri, peer_pids, desc = setup(args, cleanup)
        configs = [replace(c, media_level=args.level) for c in configs]
        print(f"peer: {desc}; {os.cpu_count()} CPUs; hold {args.hold:g} s after "
              f"{args.warmup:g} s warm-up; PCMU 20 ms, media level {args.level} "
              f"(tone {TONE:g} Hz)", flush=True)
        print("  " + HEADER, flush=True)
        coro = run_series(args, configs, uri, peer_pids, deadline)
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            steps = prof.runcall(run_loop, coro)
            prof.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
        else:
            steps = run_loop(coro)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        for stop in reversed(cleanup):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - report, keep stopping the rest
                print(f"cleanup: {exc}", file=sys.stderr)

    if not steps:
        return 1
    print()
    print(f"peer: {desc}")
    print(HEADER)
    for step in steps:
        print(step.row())
    passed = [s.n for s in steps if s.ok]
    if args.keep_going:  # "sustains" is the largest N below the first failure
        first_fail = next((s.n for s in steps if not s.ok), None)
        passed = [n for n in passed if first_fail is None or n < first_fail]
    print("\ncolumns: up = answered calls; p50/p99/max = |send-time error| over every packet "
          "of every stream in the window; loss% = received loss; tone = streams hearing "
          f"{TONE:g} Hz back; cpu% = our process over the window (100 = one core); peer% = "
          "the peer's CPU; others% = the rest of the machine (other users' processes); "
          "gc / gc ms = garbage collections in the window, the longest")
    if passed:
        stopped = next((s for s in steps if not s.ok), None)
        why = (f"; N={stopped.n} failed (p99 {stopped.p99_ms:.3f} ms, {stopped.failed} "
               f"failed calls)" if stopped else "; the series ended before any failure")
        print(f"sustains {max(passed)} calls with p99 < {P99_LIMIT_MS:g} ms{why}")
    else:
        print(f"sustains 0 calls with p99 < {P99_LIMIT_MS:g} ms (the first step failed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
