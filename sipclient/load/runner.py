"""A whole load run: one engine in this process, or one per core in worker processes.

``await run(spec, processes, stopping, on_live)`` returns the merged snapshot
(:func:`sipclient.load.stats.merge`). With ``processes == 1`` the engine runs here; with
more, each worker is ``python -m sipclient.load.worker`` fed its share of the spec
(:meth:`LoadSpec.share`: its part of the rate, concurrency and calls, its own local address
or source port, every N-th ``${i}``) as JSON on stdin (the password never appears in the
process list). Workers print one JSON line a second (``{"live": ...}``) and a last one with
their snapshot (``{"final": ...}``) or ``{"error": "..."}``.

Stopping (Ctrl-C, SIGTERM): ``stopping`` is set by the command; the workers get SIGTERM
(Ctrl-C on a terminal reaches them too) and end like the in-process engine: no new
instance, held calls hang up, registrations are removed, then they print their snapshot.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import Any, Awaitable, Callable

from sipclient.load.engine import run_load
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats, merge

__all__ = ["run", "run_here", "driver_for", "auto_processes", "WorkerFailed"]

LiveCallback = Callable[[dict[str, Any]], None]


class WorkerFailed(RuntimeError):
    """A worker process could not start its engine (bad target, bind error...)."""


def auto_processes() -> int:
    """``--processes auto``: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def driver_for(spec: LoadSpec) -> Any:
    if spec.kind == "run":
        from sipclient.load.scenario import ScenarioDriver
        return ScenarioDriver(spec)
    if spec.kind in ("call", "register"):
        from sipclient.load import leanrun
        why = leanrun.lean_supported(spec)
        if spec.engine == "lean" and why is not None:
            raise ValueError(f"--engine lean: {why}")
        if spec.engine != "core" and why is None:
            lean = leanrun.LeanCallDriver if spec.kind == "call" else leanrun.LeanRegisterDriver
            return lean(spec)
        if spec.kind == "call":
            from sipclient.load.calls import CallDriver
            return CallDriver(spec)
        from sipclient.load.register import RegisterDriver
        return RegisterDriver(spec)
    raise ValueError(f"unknown load kind {spec.kind!r}")


async def run_here(spec: LoadSpec, stopping: asyncio.Event,
                   on_live: LiveCallback | None = None,
                   ready: Callable[[], Awaitable[None]] | None = None) -> dict[str, Any]:
    """The engine of one process; returns its snapshot. ``ready``, when given, is awaited
    once the driver is open and before the first instance (a worker waits there for the
    others, so that every process starts at the same time)."""
    driver = driver_for(spec)
    await driver.open()
    if ready is not None:
        try:
            await ready()
        except BaseException:
            await driver.close()
            raise
    stats = LoadStats(spec.start_epoch or time.time())
    ticker = asyncio.ensure_future(_tick(stats, on_live)) if on_live else None
    try:
        if hasattr(driver, "run_all"):  # the lean engine paces its own calls
            await driver.run_all(stats, stopping)
        else:
            await run_load(spec, driver, stats, stopping,
                           first_index=spec.process_index + 1, index_step=spec.processes)
    finally:
        if ticker is not None:
            ticker.cancel()
        stats.retransmissions = getattr(driver, "retransmissions", 0)
        await driver.close()
    if on_live is not None:
        on_live(stats.live())
    return stats.snapshot()


async def _tick(stats: LoadStats, on_live: LiveCallback) -> None:
    while True:
        await asyncio.sleep(1.0)
        on_live(stats.live())


async def run(spec: LoadSpec, processes: int, stopping: asyncio.Event,
              on_live: LiveCallback | None = None) -> dict[str, Any]:
    """The whole run, merged."""
    spec = LoadSpec.from_json({**spec.to_json(), "start_epoch": spec.start_epoch or time.time()})
    if processes <= 1:
        return merge([await run_here(spec.share(0, 1), stopping, on_live)])
    return await _run_workers(spec, processes, stopping, on_live)


async def _run_workers(spec: LoadSpec, processes: int, stopping: asyncio.Event,
                       on_live: LiveCallback | None) -> dict[str, Any]:
    procs = []
    for k in range(processes):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sipclient.load.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(spec.share(k, processes).to_json()).encode() + b"\n")
        await proc.stdin.drain()
        procs.append(proc)
    lives: list[dict[str, Any]] = [{} for _ in procs]
    finals: list[dict[str, Any] | None] = [None for _ in procs]
    errors: list[str] = []
    ready: set[int] = set()

    def release() -> None:
        """Every worker is ready (or one cannot be): "go" to all, at the same moment."""
        for p in procs:
            if p.stdin is not None and not p.stdin.is_closing():
                try:
                    p.stdin.write(b"go\n")
                except (ConnectionError, RuntimeError):
                    pass
                p.stdin.close()

    async def read(k: int) -> None:
        stream = procs[k].stdout
        assert stream is not None
        while line := await stream.readline():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "ready" in msg:
                ready.add(k)
                if len(ready) == len(procs):
                    release()
            elif "live" in msg:
                lives[k] = msg["live"]
                if on_live is not None:
                    on_live(_sum_live(lives))
            elif "final" in msg:
                finals[k] = msg["final"]
            elif "error" in msg:
                errors.append(msg["error"])
                stopping.set()  # one worker cannot run: stop the others
        release()  # this worker ended before "go": the others must not wait for it

    async def forward_stop() -> None:
        await stopping.wait()
        release()
        for p in procs:
            if p.returncode is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass

    forwarder = asyncio.ensure_future(forward_stop())
    try:
        await asyncio.gather(*(read(k) for k in range(len(procs))))
        for p in procs:
            await p.wait()
    finally:
        forwarder.cancel()
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    if errors:
        raise WorkerFailed(errors[0])
    missing = [k for k, f in enumerate(finals) if f is None]
    if missing:
        raise WorkerFailed(f"worker process {missing[0]} ended without a result "
                           f"(exit {procs[missing[0]].returncode})")
    merged = merge([f for f in finals if f is not None])
    if on_live is not None:
        on_live(_sum_live([{"attempted": merged["attempted"], "completed": merged["completed"],
                            "failed": merged["failed"], "in_flight": merged["in_flight"]}]))
    return merged


def _sum_live(lives: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"attempted": 0, "completed": 0, "failed": 0, "in_flight": 0}
    p99s = []
    for live in lives:
        for key in out:
            out[key] += live.get(key, 0)
        if live.get("setup_p99_ms") is not None:
            p99s.append(live["setup_p99_ms"])
    out["setup_p99_ms"] = max(p99s) if p99s else None  # the worst process's p99
    return out
